/** What every process of a limited container gets, the main one at create and each `docker exec` one alike. */
import { containerPaths } from '../layout.js';
import { preloadVariable, withoutCapability, type SpecModifier } from '../oci/modifiers.js';

export function processEdits(): SpecModifier[] {
  return [
    // It loads the interposer even if the preload list is taken away while the container runs
    // (docker cp over /etc/ld.so.preload removes that mount), and so do its children.
    preloadVariable(containerPaths().interposer),
    // chroot into a copy of the rootfs would leave the preload list and the region behind.
    withoutCapability('CAP_SYS_CHROOT'),
  ];
}
