/** Where gpumem's own files live, on a host install and in a source checkout alike. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory holding package.json: the repo, or $PREFIX/lib/gpumem once installed. */
export function appRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  // Compiled code runs from dist/lib, sources (tests) from lib: walk up to package.json.
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('gpumem: cannot find the installation (no package.json above ' + fileURLToPath(import.meta.url) + ')');
    dir = up;
  }
  return dir;
}

export const nativeBuild = (): string => join(appRoot(), 'native', 'build');
/** The interposer loaded into containers. */
export const interposerPath = (): string => join(nativeBuild(), 'libgpumem.so');
/** A directory holding only the interposer: what containers get, mounted read-only. */
export const interposerDir = (): string => join(nativeBuild(), 'interposer');
/** The C API driven through FFI (formats, size grammar). */
export const hostLibraryPath = (): string => join(nativeBuild(), 'libgpumem-host.so');
/** The runtime shim's client of the agent (native/src/client). */
export const createClientPath = (): string => join(nativeBuild(), 'gpumem-create');
/** The one-line /etc/ld.so.preload mounted into containers; install.sh generates it. */
export const preloadFile = (): string => join(appRoot(), 'share', 'ld.so.preload');
