/** poststop: the container is gone; so is its state. */
import { removeStateDir, stateDir } from '../state.js';
import { log } from '../log.js';
import type { OciState } from './oci-state.js';

export function poststop(state: OciState): void {
  removeStateDir(stateDir(state.id));
  log().info({ container: state.id }, 'state removed');
}
