// One fake GPU for the containers and the host: the fake driver publishes every process's use in a
// file (FAKE_CUDA_SHARED) bind-mounted into each container, which the host's fake NVML reads, as
// the real driver shows every process of a GPU to the host.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './paths.js'

export interface FakeDevice {
  /** the host's directory, for the test's own files too (a log) */
  dir: string
  /** `docker run` options that give a container the device file */
  dockerArgs: string[]
  /** the file's path inside a container */
  inside: string
  /** environment for a host tool (gpumem ps) to see the device through the fake NVML */
  hostEnv: Record<string, string>
  cleanup: () => void
}

export const fakeDevice = (): FakeDevice => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-e2e-fake-device-'))
  chmodSync(dir, 0o755)
  const file = join(dir, 'fake-device')
  const made = spawnSync(join(ROOT, 'native/build/tests/storm'), ['--init-shared', file], { encoding: 'utf8' })
  if (made.status !== 0) throw new Error(`storm --init-shared failed: ${made.stderr}`)
  chmodSync(file, 0o666) // written by the containers' processes, whatever their uid
  const inside = '/fake-driver/fake-device'
  return {
    dir,
    dockerArgs: ['-v', `${dir}:/fake-driver`, '-e', `FAKE_CUDA_SHARED=${inside}`],
    inside,
    hostEnv: { FAKE_CUDA_SHARED: file, LD_LIBRARY_PATH: join(ROOT, 'native/build/fake') },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}
