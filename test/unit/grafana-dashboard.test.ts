// docs/grafana-dashboard.json queries only what gpumem exporter serves: every metric named in
// every panel's every target (and in the variables' queries) is one of the exporter's own
// registry's families, after a scrape; and every family it serves is shown somewhere.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exporterRegistry, servedMetrics } from '../../lib/metrics/registry.js';

interface Panel { title?: string; type?: string; targets?: { expr?: string }[]; panels?: Panel[] }
const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/grafana-dashboard.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
};

/** Every panel, rows' collapsed panels too. */
const allPanels = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

// PromQL words that are not metrics: keywords, and what follows `by`/`without`/`on`/... (label names).
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression (or a Grafana label_values() query) selects. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\$\{?\w+\}?/g, '') // Grafana variables
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const names: string[] = [];
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = bare.slice((m.index as number) + word.length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(word.toLowerCase())) continue; // a function call or a keyword
    if (/^\d/.test(bare.slice((m.index as number) - 1, m.index as number))) continue; // 1e9, 5m
    names.push(word);
  }
  // label_values(METRIC, LABEL): the first argument is a metric, the second a label.
  const lv = /^\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(expr.replace(/\{[^}]*\}/g, ''));
  return lv ? [lv[1] as string] : names;
}

t.test('the metric-name reader finds metrics and nothing else', async (t) => {
  t.same(metricNames('sum by (gpu_uuid) (gpumem_used_bytes{container=~"$container"})'), ['gpumem_used_bytes']);
  t.same(metricNames('100 * a_bytes{x="y"} / on(container) b_bytes'), ['a_bytes', 'b_bytes']);
  t.same(metricNames('sum(increase(errors_total{instance=~"$instance"}[1h]))'), ['errors_total']);
  t.same(metricNames('label_values(gpumem_budget_bytes{instance=~"$instance"}, container)'), ['gpumem_budget_bytes']);
  t.same(metricNames('rate(not_served_total[5m]) > 1e9'), ['not_served_total']);
});

t.test('every panel\'s every target queries only metrics the exporter serves', async (t) => {
  const exporter = exporterRegistry(async () => ({ containers: 0, samples: [], unreadable: [] }));
  await exporter.scrape();
  const served = new Set(servedMetrics(exporter));
  t.ok(served.has('gpumem_budget_bytes') && served.has('gpumem_used_bytes'), 'the served names come from the registry');
  const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
  t.ok(panels.length >= 5, 'the dashboard has panels');
  const shown = new Set<string>();
  for (const p of panels) {
    t.ok(p.targets?.length, `${p.title}: has a query`);
    for (const target of p.targets ?? []) {
      const names = metricNames(target.expr ?? '');
      t.ok(names.length > 0, `${p.title}: ${target.expr} names a metric`);
      for (const n of names) {
        t.ok(served.has(n), `${p.title}: ${n} is served by gpumem exporter`);
        shown.add(n);
      }
    }
  }
  for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    for (const n of metricNames(q)) t.ok(served.has(n), `variable ${v.name}: ${n} is served`);
  }
  t.same([...served].filter((n) => !shown.has(n)), [], 'every family the exporter serves is on the dashboard');
});
