// gpumem ps and gpumem update against a running container, through the real engine.
import t from 'tap'
import { join } from 'node:path'
import {
  MiB, docker, engineReady, installForFile, parseAlloc, run, runLimitedContainer, show,
} from './lib/docker.js'

if (await engineReady(t)) {
  let id = ''
  const gpumem = installForFile(t, async () => { if (id) await docker('rm', '-f', id) })
  t.before(async () => { id = await runLimitedContainer('64m') })
  const cli = (...args: string[]) => run(join(gpumem().prefix, 'bin', 'gpumem'), args)
  const fill = async () => {
    const r = await docker('exec', id, 'alloc-until-oom', '--block', '4m')
    return parseAlloc(r.stdout, show(r))
  }

  t.test('gpumem ps shows the running container with its 64 MiB budget', async t => {
    const r = await cli('ps')
    t.equal(r.code, 0, 'gpumem ps succeeds', { output: show(r) })
    // ID, NAME, GPU all (no GPU known), UUID -, BUDGET, USED, DRIVER, PEAK - (only per GPU), REFUSED 0
    t.match(r.stdout, new RegExp(`^${id.slice(0, 12)}\\s.*\\sall\\s+-\\s+64MiB\\s+0B\\s+0B\\s+-\\s+0\\b`, 'm'))
    const json = (await cli('ps', '--format', 'json')).stdout.trim().split('\n').map(l => JSON.parse(l))
    t.same(json.filter(j => j.container === id).map(j => j.limit), [64 * MiB])
  })

  t.test('gpumem update raises and lowers a running container\'s budget, as docker update would', async t => {
    const up = await cli('update', id.slice(0, 12), '--limit', '128m')
    t.equal(up.code, 0, 'gpumem update succeeds', { output: show(up) })
    t.equal(up.stdout.trim(), id, 'it prints the container id')
    let a = await fill()
    t.equal(a.total, 128 * MiB, 'the next program sees a 128 MiB GPU')
    t.ok(a.allocated > 124 * MiB && a.allocated <= 128 * MiB, `and can fill it: ${a.allocated} bytes`)
    const down = await cli('update', id, '--limit', '32m')
    t.equal(down.code, 0, 'lowering succeeds', { output: show(down) })
    a = await fill()
    t.equal(a.total, 32 * MiB, 'after lowering, a 32 MiB GPU')
    t.ok(a.allocated > 28 * MiB && a.allocated <= 32 * MiB, `and a fill stops at 32 MiB: ${a.allocated} bytes`)
  })

  t.test('gpumem update refuses a bad size or an unknown container with one line, changing nothing', async t => {
    const bad = await cli('update', id, '--limit', '12parsecs')
    t.equal(bad.code, 1)
    t.match(bad.stderr, /^gpumem: --limit="12parsecs" is not a valid limit; use a size like 512m, 8g or 8GiB/)
    const unknown = await cli('update', 'nosuchcontainer', '--limit', '1g')
    t.equal(unknown.code, 1)
    t.match(unknown.stderr, /no container limited by gpumem matches "nosuchcontainer"/)
    t.equal((await fill()).total, 32 * MiB, 'the budget is still 32 MiB')
  })

  t.test('gpumem update takes the container\'s name, as docker update does (asked of the engine\'s API socket)', async t => {
    const name = (await docker('inspect', '--format', '{{.Name}}', id)).stdout.trim().replace(/^\//, '')
    t.ok(name, 'docker gave the container a name')
    const up = await cli('update', name, '--limit', '48m')
    t.equal(up.code, 0, 'gpumem update by name succeeds', { output: show(up) })
    t.equal(up.stdout.trim(), id, 'it prints the container id')
    t.equal((await fill()).total, 48 * MiB, 'the next program sees a 48 MiB GPU')
    const none = await cli('update', `${name}-nosuch`, '--limit', '1g')
    t.equal(none.code, 1)
    t.match(none.stderr, /^gpumem: no container limited by gpumem matches ".*-nosuch" \(Docker: "No such container: .*-nosuch"\); see gpumem ps\n$/)
  })
}
