// The chart's monitoring objects (off by default): a Service and ServiceMonitor that scrape the
// operator, a PrometheusRule whose rules pass `promtool check rules` and the unit tests of
// test/fixtures/monitoring/alerts-test.yaml (`promtool test rules`), and a Grafana dashboard; every
// metric a rule or a panel uses is one the operator's registry (src/metrics.ts) exports.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { stringify } from 'yaml';
import { OperatorMetrics } from '../../../src/metrics.js';
import {
  ALL_ON,
  NAMESPACE,
  PROMETHEUS_SERIES,
  dashboardQueries,
  exportedNames,
  metricNames,
  only,
  render,
  ruleGroups,
  type Obj,
} from '../../support/monitoring.js';

const execFileAsync = promisify(execFile);
const PROMTOOL_TESTS = 'test/fixtures/monitoring/alerts-test.yaml';
const work = mkdtempSync(join(tmpdir(), 'cmo-monitoring-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function promtool(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync('promtool', args, { cwd, timeout: 60_000 });
    return stdout + stderr;
  } catch (e) {
    const { code, stdout, stderr } = e as { code?: unknown; stdout?: string; stderr?: string };
    if (code === 'ENOENT') {
      assert.fail('promtool not found: bash scripts/install-system-deps.sh installs prometheus');
    }
    assert.fail(`promtool ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

test('the default render has no monitoring objects (their CRDs may not exist)', async () => {
  const kinds = (await render()).map((o) => o.kind);
  for (const kind of ['Service', 'ServiceMonitor', 'PrometheusRule', 'ConfigMap']) {
    assert.ok(!kinds.includes(kind), `${kind} only when enabled`);
  }
});

test('the ServiceMonitor scrapes the metrics port of the operator pods through the Service', async () => {
  const objects = await render([
    ...ALL_ON,
    '--set',
    'monitoring.serviceMonitor.labels.release=prom',
  ]);
  const service = only(objects, 'Service') as Obj & {
    spec: { selector: Record<string, string>; ports: Array<{ name: string; targetPort: string }> };
  };
  const monitor = only(objects, 'ServiceMonitor') as Obj & {
    spec: {
      selector: { matchLabels: Record<string, string> };
      namespaceSelector: { matchNames: string[] };
      endpoints: Array<{ port: string; path: string; honorLabels?: boolean }>;
    };
  };
  const deployment = only(objects, 'Deployment') as Obj & {
    spec: {
      template: {
        metadata: { labels: Record<string, string> };
        spec: { containers: Array<{ ports: Array<{ name: string }> }> };
      };
    };
  };
  const podLabels = deployment.spec.template.metadata.labels;
  for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(podLabels[k], v, k);
  const portNames = deployment.spec.template.spec.containers.flatMap((c) =>
    c.ports.map((p) => p.name),
  );
  assert.ok(
    portNames.includes(service.spec.ports[0]?.targetPort ?? ''),
    'targetPort is a pod port',
  );
  for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) {
    assert.equal(service.metadata.labels?.[k], v, `the Service carries ${k}`);
  }
  assert.deepEqual(monitor.spec.namespaceSelector.matchNames, [NAMESPACE]);
  assert.equal(monitor.spec.endpoints[0]?.port, service.spec.ports[0]?.name);
  assert.equal(monitor.spec.endpoints[0]?.path, '/metrics');
  assert.equal(monitor.spec.endpoints[0]?.honorLabels, true, "keeps the mirrors' namespace label");
  assert.equal(monitor.metadata.labels?.['release'], 'prom');
  // The rules' `up` selector names the job Prometheus gives the Service's targets.
  const rules = JSON.stringify(only(objects, 'PrometheusRule').spec);
  assert.ok(
    rules.includes(`up{job=\\"${service.metadata.name}\\"`),
    'OperatorDown watches this job',
  );
});

test('promtool check rules accepts the rendered PrometheusRule', async () => {
  const file = join(work, 'check.yaml');
  writeFileSync(file, stringify({ groups: await ruleGroups() }));
  const out = await promtool(['check', 'rules', file], work);
  assert.match(out, /SUCCESS: \d+ rules found/);
});

test('promtool test rules: each alert fires when and only when it should', async () => {
  const dir = mkdtempSync(join(work, 'unit-'));
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: await ruleGroups() }));
  copyFileSync(PROMTOOL_TESTS, join(dir, 'alerts-test.yaml'));
  const out = await promtool(['test', 'rules', 'alerts-test.yaml'], dir);
  assert.match(out, /SUCCESS/);
  // Every alert of the chart has a test.
  const tested = new Set(
    [...readFileSync(PROMTOOL_TESTS, 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]),
  );
  for (const g of await ruleGroups()) {
    for (const r of g.rules) if (r.alert) assert.ok(tested.has(r.alert), `${r.alert} is tested`);
  }
});

test('every metric the rules and the dashboard use is exported by the operator', async () => {
  const exported = exportedNames(await new OperatorMetrics().registry.metrics());
  const used = new Map<string, string>();
  for (const g of await ruleGroups()) {
    for (const r of g.rules) for (const n of metricNames(r.expr)) used.set(n, `rule ${r.alert}`);
  }
  for (const q of await dashboardQueries())
    for (const n of metricNames(q)) used.set(n, 'dashboard');
  assert.ok(used.size >= 6, `metrics found in the queries: ${[...used.keys()].join(', ')}`);
  for (const [name, where] of used) {
    assert.ok(
      exported.has(name) || PROMETHEUS_SERIES.has(name),
      `${name} (used by the ${where}) is not in the operator's /metrics`,
    );
  }
});

test('metricNames reads selectors, not functions, labels, strings or keywords', () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.95, sum by (kind, le) (rate(a_bucket{x="y:z", q!~"b c"}[5m]))) ' +
        'and on (kind) b_total > 3 or absent(up{job="j"} == 1) unless c offset 5m',
    ).sort(),
    ['a_bucket', 'b_total', 'c', 'up'],
  );
});
