/** Properties of reading and editing dockerd's daemon.json (lib/daemon/daemon-json.ts) over generated files and configs. */
import t from 'tap';
import fc from 'fast-check';
import { DaemonJsonError, formatDaemonJson, parseDaemonJson, register, unregister, type DaemonJson } from '../../lib/daemon/daemon-json.js';

const RUNS = { numRuns: 1000 };
const RT = '/usr/local/bin/gpumem-runtime';

const otherRuntime = fc.record({ path: fc.string({ minLength: 1, maxLength: 12 }) }, { noNullPrototype: true });
/** A daemon.json someone might have: other keys, other runtimes, maybe a default that is one of them (or runc). */
const config: fc.Arbitrary<DaemonJson> = fc
  .tuple(
    fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => k !== 'runtimes' && k !== 'default-runtime' && k !== '__proto__'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4, noNullPrototype: true }),
    fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== 'gpumem' && k !== '__proto__'), otherRuntime, { minKeys: 1, maxKeys: 3, noNullPrototype: true }), { nil: undefined }),
    fc.boolean(),
  )
  .map(([rest, runtimes, pickDefault]) => {
    const c: DaemonJson = { ...rest };
    if (runtimes) c.runtimes = runtimes;
    const names = Object.keys(runtimes ?? {});
    if (pickDefault) c['default-runtime'] = names[0] ?? 'runc';
    return c;
  });

t.test('any text is a JSON object, {} when empty, or one DaemonJsonError line naming the file; nothing else is thrown', async () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.json({ maxDepth: 3 }), fc.jsonValue().map((v) => JSON.stringify(v, null, 2) ?? '')), (text) => {
      try {
        const v = parseDaemonJson(text, '/etc/docker/daemon.json');
        return typeof v === 'object' && v !== null && !Array.isArray(v);
      } catch (e) {
        return e instanceof DaemonJsonError && e.message.startsWith('gpumem: /etc/docker/daemon.json ') && !e.message.includes('\n') && e.message.endsWith('(nothing was changed)');
      }
    }),
    { numRuns: 3000 },
  );
});

t.test('a config written out reads back the same', async () => {
  fc.assert(fc.property(config, (c) => formatDaemonJson(parseDaemonJson(formatDaemonJson(c), 'd')) === formatDaemonJson(c)), RUNS);
});

t.test('registering keeps every other key and runtime, chains to the previous default, and unregistering gives back the original', async () => {
  fc.assert(
    fc.property(config, fc.boolean(), (c, makeDefault) => {
      const before = formatDaemonJson(c);
      const { config: next, lowerRuntimePath } = register(c, RT, makeDefault, 'd');
      const runtimes = (next.runtimes ?? {}) as Record<string, { path: string }>;
      const prev = c['default-runtime'] as string | undefined;
      const kept = Object.keys(c).every((k) => k === 'runtimes' || (k === 'default-runtime' && makeDefault) || JSON.stringify(next[k]) === JSON.stringify(c[k]));
      const keptRuntimes = Object.entries((c.runtimes ?? {}) as Record<string, unknown>).every(([k, v]) => JSON.stringify(runtimes[k]) === JSON.stringify(v));
      const chained = lowerRuntimePath === (prev && prev !== 'runc' ? (c.runtimes as Record<string, { path: string }>)[prev]!.path : undefined);
      const back = formatDaemonJson(unregister(next, prev, 'd'));
      return kept && keptRuntimes && runtimes.gpumem?.path === RT && chained && back === before && formatDaemonJson(c) === before;
    }),
    RUNS,
  );
});
