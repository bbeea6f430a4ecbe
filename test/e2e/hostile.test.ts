// Hostile images and volumes through the real engine: each container is refused with one line or
// runs held to its budget, and no file of the host's changes.
import t from 'tap'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  GPUMEM_RUN, IMAGE, INSIDE, MiB, cidfile, docker, dockerRun, engineReady, installForFile, parseAlloc, run, show, stateEntries,
} from './lib/docker.js'
import { applyEntries, hostileCases } from './lib/hostile-images.js'

const LIMIT = ['--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=64m']

// Every regular file directly in these host directories, hashed (a link or a stub would change it).
const hostFiles = (dirs: string[]): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const d of dirs.filter(existsSync)) {
    for (const n of readdirSync(d)) {
      const p = join(d, n)
      const st = lstatSync(p)
      out[p] = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'other'
    }
  }
  return out
}

// One image per case, imported from the test image's own rootfs with the case's entries applied;
// a label holds the case and the base image id, so an unchanged case is not imported again.
async function hostileImage(base: string, baseId: string, c: ReturnType<typeof hostileCases>[number]): Promise<string> {
  const name = `gpumem-hostile:${c.name}`
  const want = createHash('sha256').update(baseId + JSON.stringify(c.entries)).digest('hex').slice(0, 16)
  const have = await docker('image', 'inspect', '-f', '{{ index .Config.Labels "io.gpumem.test.case" }}', name)
  if (have.code === 0 && have.stdout.trim() === want) return name
  const work = mkdtempSync(join(tmpdir(), 'gpumem-hostile-'))
  try {
    const rootfs = join(work, 'rootfs')
    cpSync(base, rootfs, { recursive: true, verbatimSymlinks: true })
    applyEntries(rootfs, c.entries)
    const r = await run('sh', ['-c', `tar -C "$1" -c . | docker import --change "LABEL io.gpumem.test.case=$2" - "$3"`, 'sh', rootfs, want, name], { timeoutMs: 120_000 })
    if (r.code !== 0) throw new Error(`docker import of ${name} failed: ${show(r)}`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return name
}

if (await engineReady(t)) {
  let base = ''
  let baseId = ''
  const scratch = mkdtempSync(join(tmpdir(), 'gpumem-e2e-hostile-'))
  const gpumem = installForFile(t, async () => { rmSync(scratch, { recursive: true, force: true }) })
  t.before(async () => {
    const id = await docker('image', 'inspect', '-f', '{{.Id}}', IMAGE)
    baseId = id.stdout.trim()
    base = join(scratch, 'base')
    mkdirSync(base)
    const c = await docker('create', IMAGE, 'true')
    if (c.code !== 0) throw new Error(show(c))
    const cid = c.stdout.trim()
    const x = await run('sh', ['-c', 'docker export "$1" | tar -C "$2" -x', 'sh', cid, base], { timeoutMs: 120_000 })
    await docker('rm', '-f', cid)
    if (x.code !== 0) throw new Error(`docker export failed: ${show(x)}`)
  })

  t.test('images with links, devices, FIFOs or directories at gpumem\'s mount targets are refused in one line or run limited; host files untouched', async t => {
    const watched = ['/etc', '/usr/local/lib/gpumem', join(gpumem().prefix, 'lib/gpumem/native/build'), join(gpumem().prefix, 'lib/gpumem/share'), GPUMEM_RUN]
    const before = hostFiles(watched)
    const cases = hostileCases()
    t.ok(cases.filter(c => c.expect === 'refused').length >= 30, `${cases.length} images, at least 30 hostile`)
    let refused = 0
    for (const c of cases) {
      const image = await hostileImage(base, baseId, c)
      const cid = cidfile()
      const r = await docker('run', '--rm', '--cidfile', cid.path, '-e', 'FAKE_CUDA_DEVICE_MEM=1g', ...LIMIT, image, 'alloc-until-oom', '--block', '4m')
      const id = cid.read()
      cid.cleanup()
      // The engine may repair an image before gpumem sees it (its init layer makes /etc a real
      // directory): then the container must run limited. Either way never unlimited.
      if (r.code === 125) {
        refused++
        t.not(c.expect, 'limited', `${c.name}: refused, though nothing in it is unsafe`, { output: show(r) })
        const line = r.stderr.split('\n').find(l => l.includes('gpumem:')) ?? ''
        t.match(line, `gpumem: the image has a `, `${c.name}: refused, gpumem says why`, { output: show(r) })
        if (c.names) t.match(line, ` at ${c.names}, `, `${c.name}: naming ${c.names}`)
        t.notMatch(r.stdout, /"allocated"/, `${c.name}: the program never ran`)
        if (id) {
          t.same(stateEntries(id), [], `${c.name}: nothing left in ${GPUMEM_RUN}`)
          await docker('rm', '-f', id)
        }
      } else {
        t.equal(r.code, 0, `${c.name}: runs`, { output: show(r) })
        const a = parseAlloc(r.stdout, show(r))
        t.ok(a.total === 64 * MiB && a.allocated <= 64 * MiB, `${c.name}: held to 64 MiB (${a.allocated} bytes of ${a.total})`)
        if (c.expect === 'limited') continue
        t.comment(`${c.name}: the engine repaired the image; it ran limited`)
      }
    }
    t.ok(refused >= 30, `${refused} hostile images refused by gpumem`)
    t.same(hostFiles(watched), before, 'no host file changed, none appeared')
  })

  t.test('a volume over a mount target or gpumem\'s state is refused and leaves no stub in the host directory; a tmpfs over /run is fine', async t => {
    const dir = mkdtempSync(join(scratch, 'volume-'))
    for (const [dest, says] of [['/usr/local', '/usr/local/lib/gpumem'], ['/etc', '/etc/ld.so.preload'], ['/run/gpumem', '/run/gpumem/config']] as const) {
      const r = await dockerRun([...LIMIT, '-v', `${dir}:${dest}`], ['true'])
      t.equal(r.code, 125, `-v DIR:${dest} is refused`, { output: show(r) })
      t.match(r.stderr, `covers ${says}, where gpumem mounts`, `-v DIR:${dest}: the message names ${says}`)
    }
    t.same(readdirSync(dir), [], 'nothing was created in the host directory')
    const state = await dockerRun([...LIMIT, '-v', `${GPUMEM_RUN}:/gpumem-state`], ['true'])
    t.equal(state.code, 125, show(state))
    t.match(state.stderr, `reaches gpumem's state (${GPUMEM_RUN}), which no container may see`)
    const ok = await dockerRun([...LIMIT, '--tmpfs', '/run'], ['alloc-until-oom', '--block', '4m'])
    t.equal(ok.code, 0, show(ok))
    t.equal(parseAlloc(ok.stdout, show(ok)).total, 64 * MiB, 'with --tmpfs /run the container is limited')
  })

  t.test('a container cannot grow its accounting region over the host\'s /run, and its region\'s mount goes with it', async t => {
    const cid = cidfile()
    t.teardown(cid.cleanup)
    const r = await docker('run', '-d', '--cidfile', cid.path, ...LIMIT, IMAGE, 'sleep', '300')
    t.equal(r.code, 0, show(r))
    const id = cid.read()
    const region = join(GPUMEM_RUN, id, 'shared', 'accounting')
    const size = statSync(region).size
    const dd = await docker('exec', id, 'dd', 'if=/dev/zero', `of=${INSIDE.accounting}`, 'bs=1M', 'count=200', 'seek=1', 'conv=notrunc')
    t.not(dd.code, 0, 'writing 200 MiB into the region fails')
    t.match(dd.stderr, /No space left on device/, show(dd))
    t.ok(statSync(region).size <= 3 * size, `the host's copy stays small (${statSync(region).size} bytes; the region is ${size})`)
    const rm = await docker('rm', '-f', id)
    t.equal(rm.code, 0, show(rm))
    t.notMatch(readFileSync('/proc/self/mountinfo', 'utf8'), id, 'no mount of the container\'s is left on the host')
    t.same(stateEntries(id), [], `nothing left in ${GPUMEM_RUN}`)
  })

  t.test('docker cp over the preload list or the interposer of a running container does not switch its limit off, for the main process tree or docker exec; chroot is not allowed in either', async t => {
    const cid = cidfile()
    t.teardown(cid.cleanup)
    const r = await docker('run', '-d', '--cidfile', cid.path, '-e', 'FAKE_CUDA_DEVICE_MEM=1g', ...LIMIT, IMAGE,
      'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.1; done; exec alloc-until-oom --block 4m')
    t.equal(r.code, 0, show(r))
    const id = cid.read()
    t.teardown(() => docker('rm', '-f', id).then(() => undefined))
    const empty = join(scratch, 'empty')
    writeFileSync(empty, '')
    const junk = join(scratch, 'libgpumem.so')
    writeFileSync(junk, 'not an ELF\n')
    for (const [from, to] of [[empty, INSIDE.preload], [junk, INSIDE.interposer]]) {
      const cp = await docker('cp', from!, `${id}:${to}`)
      t.comment(`docker cp onto ${to}: exit ${cp.code} ${cp.stderr.trim()}`)
    }
    const exec = await docker('exec', '-e', 'FAKE_CUDA_DEVICE_MEM=1g', id, 'alloc-until-oom', '--block', '4m')
    const e = parseAlloc(exec.stdout, show(exec))
    t.ok(e.total === 64 * MiB && e.allocated <= 64 * MiB, `after docker cp, a docker exec process is held to 64 MiB (${e.allocated} of ${e.total})`)
    const chroot = await docker('exec', id, 'chroot', '/', 'true')
    t.not(chroot.code, 0, 'chroot is refused to a docker exec process')
    t.match(chroot.stderr, /Operation not permitted/, show(chroot))
    const main = await docker('exec', id, 'sh', '-c', 'grep CapBnd /proc/1/status')
    t.match(main.stdout, /CapBnd:\s+0+[0-9a-f]*/, show(main))
    t.equal(BigInt(`0x${main.stdout.trim().split(/\s+/)[1]}`) & (1n << 18n), 0n, 'the main process has no CAP_SYS_CHROOT in its bounding set')
    await docker('exec', id, 'touch', '/tmp/go')
    const w = await docker('wait', id)
    t.equal(w.stdout.trim(), '0', 'the main process finished')
    const logs = await docker('logs', id)
    const a = parseAlloc(logs.stdout, show(logs))
    t.ok(a.total === 64 * MiB && a.allocated <= 64 * MiB, `the main process tree is still held to 64 MiB (${a.allocated} of ${a.total})`)
  })
}
