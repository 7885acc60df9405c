// The chart's monitoring objects as tests read them: rendered by deploy/helm/render, the rule
// groups of its PrometheusRule, the PromQL of its dashboard, the metric names a query selects and
// the ones a /metrics text exports. Used by the unit test of the rules and by the e2e test that
// reads a running operator's /metrics.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const execFileAsync = promisify(execFile);
export const CHART = 'deploy/helm/cephfs-mirror-operator';
/** The release the promtool unit tests were written for (job `cmo-metrics` in `cmo-system`). */
export const RELEASE = 'cmo';
export const NAMESPACE = 'cmo-system';
export const ALL_ON = [
  '--set',
  'monitoring.serviceMonitor.enabled=true',
  '--set',
  'monitoring.prometheusRule.enabled=true',
  '--set',
  'monitoring.dashboard.enabled=true',
];
/** Series Prometheus makes itself rather than scraping them. */
export const PROMETHEUS_SERIES: ReadonlySet<string> = new Set(['up']);

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
export interface RuleGroup {
  name: string;
  rules: Rule[];
}

let rendererPath: Promise<string> | undefined;
export function renderer(): Promise<string> {
  rendererPath ??= execFileAsync('bash', ['deploy/helm/render/build.sh'], {
    timeout: 600_000,
  }).then((r) => r.stdout.trim());
  return rendererPath;
}

export async function render(args: string[] = []): Promise<Obj[]> {
  const { stdout } = await execFileAsync(await renderer(), [
    RELEASE,
    CHART,
    '--namespace',
    NAMESPACE,
    ...args,
  ]);
  return parseAllDocuments(stdout).map((d) => {
    assert.deepEqual(d.errors, [], 'every document is valid YAML');
    return d.toJS() as Obj;
  });
}

export function only(objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as Obj;
}

/** The rule groups of the rendered PrometheusRule, as a Prometheus rules file. */
export async function ruleGroups(): Promise<RuleGroup[]> {
  const rule = only(await render(ALL_ON), 'PrometheusRule');
  return (rule.spec as { groups: RuleGroup[] }).groups;
}

/** Every PromQL expression of the rendered dashboard (panels and templating queries). */
export async function dashboardQueries(): Promise<string[]> {
  const cm = only(await render(ALL_ON), 'ConfigMap');
  const json = cm.data?.['cephfs-mirror-operator.json'];
  assert.ok(json, 'the dashboard JSON');
  const dashboard = JSON.parse(json) as {
    panels: Array<{ targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ type: string; query?: string }> };
  };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  for (const v of dashboard.templating.list) {
    // label_values(metric, label): only its first argument is a metric.
    const m = /^label_values\((\w+),/.exec(v.query ?? '');
    if (m?.[1]) exprs.push(m[1]);
  }
  return exprs;
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression selects (function names, labels and strings left out). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = bare.slice((m.index ?? 0) + m[0].length);
    if (/^\s*\(/.test(after) || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** The sample names a /metrics text can carry (histograms as _bucket, _sum, _count). */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}
