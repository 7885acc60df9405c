// The Helm chart, verified without helm: rendered by deploy/helm/render (Go's text/template with
// sprig, as helm renders), its objects checked against the operator's command line and the CRDs,
// accepted by the lab's real kube-apiserver, and the real operator run with the chart's own
// arguments *as the chart's ServiceAccount* (a static token of the lab apiserver, see
// CHART_SERVICE_ACCOUNT) through the samples flow: the RBAC is enough (no 403 in the log, every
// object Ready and deleted again) and no more than that (`kubectl auth can-i --as`).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { CHART_SERVICE_ACCOUNT } from '../../lab/kube/kube.js';
import { pickFreePorts } from '../../lab/ports.js';
import {
  API_VERSION,
  applyObjects,
  clearInstanceRecords,
  deleteAllAndWait,
  directoryObject,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson, type KubeHandle } from '../../lab/harness/kube.js';
import { startOperator, type OperatorProcess } from '../../lab/harness/operator.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';
import { waitFor } from '../../lab/harness/wait.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';

const execFileAsync = promisify(execFile);

const CHART = 'deploy/helm/cephfs-mirror-operator';
/** The release is named so that its ServiceAccount is the one the lab apiserver has a token for. */
const RELEASE = CHART_SERVICE_ACCOUNT.name;
const RELEASE_NS = CHART_SERVICE_ACCOUNT.namespace;
const SA_USER = `system:serviceaccount:${RELEASE_NS}:${RELEASE}`;
/** Where this file's CephFSMirror, MirrorPeer and MirroredDirectory live. */
const NS = 'e2e-helm-chart';
const INSTANCE_LABEL = `app.kubernetes.io/instance=${RELEASE}`;
/** An API error as the apiserver words it, or as the client reports its status. */
const FORBIDDEN = /forbidden|HTTP 403|HTTP-Code: 403/i;

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}
interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
}
interface Deployment extends KubeObject {
  spec: {
    replicas: number;
    strategy?: { type: string };
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: { serviceAccountName: string; containers: Container[] };
    };
  };
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface RoleObject extends KubeObject {
  rules: Rule[];
}
interface Binding extends KubeObject {
  roleRef: { kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace: string }>;
}
interface Rendered {
  text: string;
  objects: KubeObject[];
  /** The `# Source:` comment of every document, in order. */
  sources: string[];
}

let env: E2eEnv | undefined;
let kube: KubeHandle;
const operators: OperatorProcess[] = [];
let rendererPath: Promise<string> | undefined;

/** deploy/helm/render/build.sh: builds once (cached by the hash of main.go), prints the path. */
function renderer(): Promise<string> {
  rendererPath ??= execFileAsync('bash', ['deploy/helm/render/build.sh'], {
    timeout: 600_000,
  }).then((r) => r.stdout.trim());
  return rendererPath;
}

async function render(args: string[] = [], chart = CHART): Promise<Rendered> {
  const { stdout } = await execFileAsync(await renderer(), [
    RELEASE,
    chart,
    '--namespace',
    RELEASE_NS,
    ...args,
  ]);
  const docs = parseAllDocuments(stdout);
  assert.ok(Array.isArray(docs), 'the output is a YAML stream');
  const objects = docs.map((d) => {
    assert.deepEqual(d.errors, [], 'every document is valid YAML');
    return d.toJS() as KubeObject;
  });
  const sources = [...stdout.matchAll(/^# Source: (.+)$/gm)].map((m) => m[1] as string);
  assert.equal(sources.length, objects.length, 'every document names its template');
  return { text: stdout, objects, sources };
}

/** A failing render: its exit code and stderr. */
async function renderFailure(
  args: string[],
  chart: string,
): Promise<{ code: number; err: string }> {
  try {
    await execFileAsync(await renderer(), [RELEASE, chart, ...args]);
  } catch (e) {
    const { code, stderr } = e as { code: number; stderr: string };
    return { code, err: stderr };
  }
  assert.fail(`rendering ${chart} ${args.join(' ')} succeeded`);
}

function only<T extends KubeObject>(r: Rendered, kind: string, name?: string): T {
  const found = r.objects.filter((o) => o.kind === kind && (!name || o.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''} in the render`);
  return found[0] as T;
}

function operatorContainer(r: Rendered): Container {
  const containers = only<Deployment>(r, 'Deployment').spec.template.spec.containers;
  assert.equal(containers.length, 1);
  return containers[0] as Container;
}

/** `--name=value` / `--name` arguments as a map (the value of a repeated flag is its list). */
function flagsOf(args: string[]): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  for (const arg of args) {
    assert.match(arg, /^--[a-z-]+(=.*)?$/, `argument ${arg} has the --flag[=value] form`);
    const [name, ...rest] = arg.split('=');
    flags.set(name as string, [...(flags.get(name as string) ?? []), rest.join('=')]);
  }
  return flags;
}

interface CliOption {
  takesValue: boolean;
  choices?: string[];
}

let cliHelp: Promise<Map<string, CliOption>> | undefined;

/** The options of `cephfs-mirror-operator run`, from its own --help (commander). */
function cliOptions(): Promise<Map<string, CliOption>> {
  cliHelp ??= execFileAsync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'run', '--help'], {
    timeout: 60_000,
  }).then(({ stdout }) => {
    const options = new Map<string, CliOption>();
    // Commander wraps descriptions at 80 columns: a continuation line belongs to the option above.
    const entries = stdout.split(/\n(?=\s+-)/).map((e) => e.replace(/\s*\n\s*/g, ' '));
    for (const entry of entries) {
      const m = /^\s+(?:-\w, )?(--[a-z-]+)( <[\w-]+>)?\s/.exec(entry);
      if (!m) continue;
      const choices = /choices: ((?:"[^"]*"(?:, )?)+)/.exec(entry)?.[1];
      options.set(m[1] as string, {
        takesValue: m[2] !== undefined,
        ...(choices
          ? { choices: [...choices.matchAll(/"([^"]*)"/g)].map((c) => c[1] as string) }
          : {}),
      });
    }
    return options;
  });
  return cliHelp;
}

/** Every argument after `run` is an option of the real CLI, with a value exactly when it takes one. */
async function assertCliAccepts(args: string[]): Promise<Map<string, string[]>> {
  assert.equal(args[0], 'run', 'the container runs the `run` command');
  const options = await cliOptions();
  assert.ok(options.has('--metrics-port'), 'the CLI help was parsed');
  const flags = flagsOf(args.slice(1));
  for (const [name, values] of flags) {
    const option = options.get(name);
    assert.ok(option, `the operator CLI has ${name} (options: ${[...options.keys()].join(' ')})`);
    for (const value of values) {
      assert.equal(value !== '', option.takesValue, `${name} given a value iff it takes one`);
      if (option.choices) assert.ok(option.choices.includes(value), `${name}=${value} is allowed`);
    }
  }
  return flags;
}

function assertProbesHitMetricsPort(container: Container, port: number): void {
  const named = container.ports?.find((p) => p.name === 'metrics');
  assert.equal(named?.containerPort, port, 'the metrics containerPort is --metrics-port');
  const probes = { livenessProbe: '/healthz', readinessProbe: '/readyz' } as const;
  for (const [probe, path] of Object.entries(probes)) {
    const get = container[probe as keyof typeof probes]?.httpGet;
    assert.equal(get?.path, path, `${probe} path`);
    const target =
      typeof get?.port === 'string' ? container.ports?.find((p) => p.name === get.port) : get;
    assert.equal(
      typeof get?.port === 'number'
        ? get.port
        : target && 'containerPort' in target
          ? target.containerPort
          : undefined,
      port,
      `${probe} hits the metrics port`,
    );
  }
}

/** GET http://127.0.0.1:port/path: status and body. */
async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: await res.text() };
}

/** Templates checked by tests of their own (the daemons' RBAC, the PersistentVolume grant). */
const OWN_TESTS = /\/rbac-(daemons|volumes)\.yaml$/;

/** `kubectl auth can-i` as the chart's ServiceAccount (admin impersonates it). */
async function canI(args: string[]): Promise<boolean> {
  try {
    const { stdout } = await execFileAsync('kubectl', [
      '--kubeconfig',
      kube.kubeconfigPath,
      'auth',
      'can-i',
      `--as=${SA_USER}`,
      ...args,
    ]);
    return stdout.trim() === 'yes';
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    if (stdout?.trim() === 'no') return false; // can-i exits 1 for "no"
    throw new Error(`kubectl auth can-i ${args.join(' ')}: ${stderr ?? String(e)}`);
  }
}

/** The rendered objects except the Deployment (which would never run: the lab has no nodes). */
function rbacYaml(r: Rendered): string {
  const docs = r.text.split(/^---\n/m).filter((d) => d.trim() !== '');
  return docs.filter((d) => !/^kind: Deployment$/m.test(d)).join('---\n');
}

/** Removes every object a render of this release put on the apiserver, and its Lease. */
async function removeChartObjects(): Promise<void> {
  await kubectl(kube, [
    'delete',
    'clusterrole,clusterrolebinding',
    '-l',
    INSTANCE_LABEL,
    '--ignore-not-found',
  ]);
  for (const ns of [RELEASE_NS, NS]) {
    await kubectl(kube, [
      '-n',
      ns,
      'delete',
      'serviceaccount,role,rolebinding',
      '-l',
      INSTANCE_LABEL,
      '--ignore-not-found',
    ]);
  }
  await kubectl(kube, ['-n', RELEASE_NS, 'delete', 'lease', RELEASE, '--ignore-not-found']);
}

/**
 * Starts the operator with the container arguments of a render, authenticated as the chart's
 * ServiceAccount. Appended after them: the metrics server on loopback only (the pod binds its
 * own IP, `$(POD_IP)`, which only a kubelet expands), and debug logging, where the operator reports a failed Event write.
 */
function startAsServiceAccount(container: Container, podName: string): OperatorProcess {
  const args = container.args ?? [];
  const op = startOperator(
    { ...kube, kubeconfigPath: kube.serviceAccountKubeconfigPath },
    [...args.slice(1), '--metrics-host=127.0.0.1', '--log-level=debug'],
    { POD_NAME: podName },
  );
  operators.push(op);
  return op;
}

async function waitHealthyAndReady(port: number): Promise<void> {
  await waitFor(
    '/healthz to answer ok on the chart metrics port',
    async () => {
      const r = await httpGet(port, '/healthz');
      return r.status === 200 && r.body.trim() === 'ok';
    },
    60_000,
    500,
  );
  await waitFor(
    '/readyz to answer 200',
    async () => (await httpGet(port, '/readyz')).status === 200,
    60_000,
    500,
  );
}

function assertNoForbidden(op: OperatorProcess): void {
  const log = readFileSync(op.logPath, 'utf8');
  const bad = log.split('\n').filter((l) => FORBIDDEN.test(l));
  assert.deepEqual(bad, [], `no API call of the operator was refused (log ${op.logPath})`);
}

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-helm-chart'] });
  kube = env.kube;
  await applyObjects(kube, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: RELEASE_NS } },
  ]);
  await removeChartObjects();
  await renderer();
});

after(async () => {
  for (const op of operators) await op.stop();
  try {
    await tearDownE2e(env);
  } finally {
    if (kube) await removeChartObjects();
  }
});

test('the renderer fails with exit code 1 and one line on a template or YAML error', async () => {
  // A value the templates need, removed by an override: a template execution error.
  const missing = await renderFailure(['--set', 'image=null'], CHART);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^Error: .*deployment\.yaml.*image.*\n$/);
  assert.equal(missing.err.split('\n').length, 2, 'one line');

  const dir = mkdtempSync(join(tmpdir(), 'cmo-chart-'));
  try {
    mkdirSync(join(dir, 'templates'));
    copyFileSync(join(CHART, 'Chart.yaml'), join(dir, 'Chart.yaml'));
    writeFileSync(join(dir, 'templates', 'bad.yaml'), 'kind: ConfigMap\ndata: [{{ .Values.x }}\n');
    const invalid = await renderFailure(['--set', 'x=1'], dir);
    assert.equal(invalid.code, 1);
    assert.match(
      invalid.err,
      /^Error: YAML parse error on cephfs-mirror-operator\/templates\/bad\.yaml: .*\n$/,
    );

    writeFileSync(
      join(dir, 'templates', 'bad.yaml'),
      'x: {{ required "x is required" .Values.x }}\n',
    );
    const required = await renderFailure([], dir);
    assert.equal(required.code, 1);
    assert.match(required.err, /x is required/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('defaults: ServiceAccount, Roles in the release namespace only, and a Deployment whose args the operator CLI takes', async () => {
  const r = await render();
  // rbac-daemons.yaml (the daemons' own RBAC) follows the same values and is checked on its own,
  // as is rbac-volumes.yaml (get on PersistentVolumes, the one cluster-scoped grant).
  const objects = r.objects.filter((_, i) => !OWN_TESTS.test(r.sources[i] ?? ''));
  assert.deepEqual(
    objects.map((o) => `${o.kind}/${o.metadata.name}`),
    [
      `ServiceAccount/${RELEASE}`,
      `Role/${RELEASE}`,
      `Role/${RELEASE}-leader-election`,
      `RoleBinding/${RELEASE}`,
      `RoleBinding/${RELEASE}-leader-election`,
      `Deployment/${RELEASE}`,
    ],
  );
  assert.ok(!objects.some((o) => o.kind.startsWith('Cluster')), 'nothing else cluster-wide');
  for (const o of objects) {
    assert.equal(o.metadata.labels?.['app.kubernetes.io/instance'], RELEASE);
    assert.equal(o.metadata.namespace, RELEASE_NS, `${o.kind} namespace`);
  }
  const sa = only(r, 'ServiceAccount');
  for (const b of objects.filter((o): o is Binding => o.kind === 'RoleBinding')) {
    assert.deepEqual(b.subjects, [
      { kind: 'ServiceAccount', name: sa.metadata.name, namespace: RELEASE_NS },
    ]);
    assert.ok(
      r.objects.some((o) => o.kind === b.roleRef.kind && o.metadata.name === b.roleRef.name),
      `${b.kind} names a rendered role`,
    );
  }

  const deployment = only<Deployment>(r, 'Deployment');
  assert.equal(deployment.spec.replicas, 1);
  assert.equal(deployment.spec.template.spec.serviceAccountName, sa.metadata.name);
  for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) {
    assert.equal(
      deployment.spec.template.metadata.labels[k],
      v,
      'the selector matches the pod labels',
    );
  }
  const container = operatorContainer(r);
  assert.equal(
    container.image,
    'ghcr.io/cephfs-mirror-operator/cephfs-mirror-operator:0.1.0',
    "tag: the chart's appVersion",
  );
  const flags = await assertCliAccepts(container.args ?? []);
  assert.deepEqual(Object.fromEntries(flags), {
    '--log-level': ['info'],
    '--log-format': ['json'],
    '--metrics-port': ['8080'],
    '--metrics-host': ['$(POD_IP)'],
    '--leader-elect': [''],
    '--lease-name': ['cephfs-mirror-operator'],
    '--lease-namespace': [RELEASE_NS],
    // Exactly what the Role grants: the release namespace.
    '--namespace': [RELEASE_NS],
  });
  assertProbesHitMetricsPort(container, 8080);
  // Every variable the chart sets is one the operator reads.
  const source = readFileSync('src/cli/run.ts', 'utf8') + readFileSync('src/main.ts', 'utf8');
  for (const e of container.env ?? []) {
    // A variable the kubelet expands into an argument (`$(POD_IP)`) is read through that argument.
    if ((container.args ?? []).some((a) => a.includes(`$(${e.name})`))) continue;
    assert.ok(source.includes(`process.env['${e.name}']`), `the operator reads ${e.name}`);
  }
  assert.equal(
    container.env?.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath,
    'metadata.name',
  );
});

test('overrides: -f and --set reach the RBAC mode and the arguments', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cmo-values-'));
  try {
    const file = join(dir, 'values.yaml');
    writeFileSync(file, 'log:\n  format: text\nwatchNamespaces: [ignored-by-set]\n');
    const r = await render([
      '-f',
      file,
      '--set',
      'replicas=2,metrics.port=9095,log.level=debug',
      '--set',
      `watchNamespaces={${NS},team-b}`,
      '--set',
      'leaderElection.leaseName=cmo-lease',
      '--set-string',
      'image.tag=1.2.3',
    ]);
    assert.equal(
      r.objects.filter(
        (o, i) => o.kind.startsWith('Cluster') && !OWN_TESTS.test(r.sources[i] ?? ''),
      ).length,
      0,
      'no cluster-wide RBAC besides get on PersistentVolumes',
    );
    const roles = r.objects.filter(
      (o): o is RoleObject => o.kind === 'Role' && o.metadata.name === RELEASE,
    );
    assert.deepEqual(
      roles.map((o) => o.metadata.namespace),
      [NS, 'team-b'],
      'a Role in each watched namespace',
    );
    const bindings = r.objects.filter(
      (o): o is Binding => o.kind === 'RoleBinding' && o.metadata.name === RELEASE,
    );
    assert.deepEqual(
      bindings.map((o) => o.metadata.namespace),
      [NS, 'team-b'],
    );
    for (const b of bindings)
      assert.deepEqual(b.subjects, [
        { kind: 'ServiceAccount', name: RELEASE, namespace: RELEASE_NS },
      ]);

    const deployment = only<Deployment>(r, 'Deployment');
    assert.equal(deployment.spec.replicas, 2);
    const container = operatorContainer(r);
    assert.equal(container.image.split(':').pop(), '1.2.3');
    const flags = await assertCliAccepts(container.args ?? []);
    assert.deepEqual(flags.get('--namespace'), [NS, 'team-b']);
    assert.deepEqual(flags.get('--log-format'), ['text']);
    assert.deepEqual(flags.get('--log-level'), ['debug']);
    assert.deepEqual(flags.get('--lease-name'), ['cmo-lease']);
    assert.deepEqual(flags.get('--metrics-port'), ['9095']);
    assertProbesHitMetricsPort(container, 9095);
    // With a Lease, a new pod waits for the old one's Lease: the default RollingUpdate is safe.
    assert.equal(deployment.spec.strategy, undefined, 'default strategy with leader election');

    const noLeader = await render(['--set', 'leaderElection.enabled=false']);
    const args = operatorContainer(noLeader).args ?? [];
    assert.ok(
      !args.some((a) => a.startsWith('--lease') || a === '--leader-elect'),
      'no leader election flags',
    );
    assert.ok(
      !noLeader.objects.some((o) => o.metadata.name.endsWith('-leader-election')),
      'no lease Role',
    );
    // Without a Lease, RollingUpdate would run the new pod beside the old one: two writers.
    assert.deepEqual(
      only<Deployment>(noLeader, 'Deployment').spec.strategy,
      { type: 'Recreate' },
      'Recreate without leader election',
    );
    // Two replicas without a Lease would both write to Ceph: the chart refuses to render that.
    const unsafe = await renderFailure(['--set', 'replicas=2,leaderElection.enabled=false'], CHART);
    assert.equal(unsafe.code, 1);
    assert.match(unsafe.err, /replicas > 1 needs leaderElection\.enabled=true/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the chart's crds/ are deploy/crds, and --include-crds renders them", async () => {
  const chartCrds = readdirSync(join(CHART, 'crds')).sort();
  assert.deepEqual(chartCrds, readdirSync('deploy/crds').sort());
  const parse = (path: string): unknown =>
    parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS());
  for (const f of chartCrds) {
    assert.deepEqual(parse(join(CHART, 'crds', f)), parse(join('deploy/crds', f)), f);
  }
  const r = await render(['--include-crds']);
  const crds = r.objects.filter((o) => o.kind === 'CustomResourceDefinition');
  assert.deepEqual(
    crds,
    chartCrds.flatMap((f) => parse(join('deploy/crds', f)) as KubeObject[]),
  );
  assert.deepEqual(
    r.sources.slice(0, crds.length),
    chartCrds.map((f) => `${RELEASE}/crds/${f}`),
  );
});

test('rbac.clusterWide=true is the opt-in to a ClusterRole and every namespace; not with watchNamespaces', async () => {
  const r = await render(['--set', 'rbac.clusterWide=true']);
  // The daemons' ClusterRole (<release>-daemons, rbac-daemons.yaml) is checked on its own.
  assert.deepEqual(
    r.objects
      .filter((o) => o.kind.startsWith('Cluster') && o.metadata.name === RELEASE)
      .map((o) => `${o.kind}/${o.metadata.name}`),
    [`ClusterRole/${RELEASE}`, `ClusterRoleBinding/${RELEASE}`],
  );
  assert.ok(
    !r.objects.some((o) => o.kind === 'Role' && o.metadata.name === RELEASE),
    'no namespaced Role besides the Lease one',
  );
  const secrets = only<RoleObject>(r, 'ClusterRole', RELEASE).rules.filter((rule) =>
    rule.resources.includes('secrets'),
  );
  assert.deepEqual(
    secrets.flatMap((rule) => rule.verbs),
    ['get', 'create', 'update'],
    'Secrets by name only, even cluster-wide',
  );
  const flags = await assertCliAccepts(operatorContainer(r).args ?? []);
  assert.equal(flags.get('--namespace'), undefined, 'no --namespace: every namespace');
  const both = await renderFailure(
    ['--set', `rbac.clusterWide=true,watchNamespaces={${NS}}`],
    CHART,
  );
  assert.equal(both.code, 1);
  assert.match(
    both.err,
    /rbac\.clusterWide=true watches every namespace: leave watchNamespaces empty/,
  );
  // The values file says why the opt-in is dangerous, next to it.
  assert.match(
    readFileSync(join(CHART, 'values.yaml'), 'utf8'),
    /# WARNING: true replaces the Roles with a ClusterRole[^]*clusterWide: false/,
  );
});

test('PersistentVolumes (cluster-scoped) get one ClusterRole with get alone; rbac.persistentVolumes=false drops it', async () => {
  const on = await render([]);
  const role = only<RoleObject>(on, 'ClusterRole', `${RELEASE}-volumes`);
  assert.deepEqual(
    role.rules.map((rule) => [rule.resources, rule.verbs]),
    [[['persistentvolumes'], ['get']]],
  );
  assert.ok(
    on.objects.some(
      (o) => o.kind === 'ClusterRoleBinding' && o.metadata.name === `${RELEASE}-volumes`,
    ),
  );
  const off = await render(['--set', 'rbac.persistentVolumes=false']);
  assert.ok(!off.objects.some((o) => o.metadata.name === `${RELEASE}-volumes`));
});

test('the apiserver accepts every rendered object (server-side dry run)', async () => {
  for (const args of [
    [],
    ['--set', `watchNamespaces={${NS}},replicas=2`],
    ['--set', 'rbac.clusterWide=true'],
  ]) {
    const r = await render(args);
    const out = await kubectl(kube, ['apply', '--dry-run=server', '-f', '-'], r.text);
    assert.match(out, new RegExp(`deployment.apps/${RELEASE} created \\(server dry run\\)`));
    assert.equal(out.trim().split('\n').length, r.objects.length, out);
  }
  // Nothing was stored.
  await assert.rejects(
    kubectl(kube, ['-n', RELEASE_NS, 'get', 'deployment', RELEASE]),
    /NotFound|not found/,
  );
});

test('the default RBAC allows what the operator does in its namespace and refuses the rest (can-i)', async () => {
  await kubectl(kube, ['apply', '-f', '-'], rbacYaml(await render()));
  const must: string[][] = [
    ['list', 'cephfsmirrors.mirror.cephfs.io', '-n', RELEASE_NS],
    ['watch', 'mirroreddirectories.mirror.cephfs.io', '-n', RELEASE_NS],
    ['update', 'mirrorpeers.mirror.cephfs.io', '-n', RELEASE_NS],
    ['create', 'mirroreddirectories.mirror.cephfs.io', '-n', RELEASE_NS],
    ['update', 'mirroreddirectories.mirror.cephfs.io', '--subresource=status', '-n', RELEASE_NS],
    ['get', 'secrets', '-n', RELEASE_NS],
    ['create', 'secrets', '-n', RELEASE_NS],
    ['update', 'secrets', '-n', RELEASE_NS],
    ['create', 'events', '-n', RELEASE_NS],
    ['create', 'leases.coordination.k8s.io', '-n', RELEASE_NS],
    ['update', 'leases.coordination.k8s.io', '-n', RELEASE_NS],
    // A claim source: the claim in the namespace, its PV (cluster-scoped) by name.
    ['get', 'persistentvolumeclaims', '-n', RELEASE_NS],
    ['get', 'persistentvolumes'],
  ];
  const mustNot: string[][] = [
    // Secrets are read by name only: never enumerated, in no namespace.
    ['list', 'secrets', '-n', RELEASE_NS],
    ['watch', 'secrets', '-n', RELEASE_NS],
    ['list', 'secrets', '--all-namespaces'],
    ['watch', 'secrets', '--all-namespaces'],
    ['delete', 'secrets', '-n', RELEASE_NS],
    // Nothing outside the watched namespace, and nothing cluster-wide.
    ['get', 'secrets', '-n', NS],
    ['get', 'secrets', '-n', 'kube-system'],
    ['create', 'secrets', '-n', 'default'],
    ['update', 'secrets', '-n', 'kube-system'],
    ['list', 'cephfsmirrors.mirror.cephfs.io', '--all-namespaces'],
    ['list', 'cephfsmirrors.mirror.cephfs.io', '-n', NS],
    ['update', 'mirroreddirectories.mirror.cephfs.io', '--subresource=status', '-n', NS],
    ['create', 'events', '-n', NS],
    ['delete', 'secrets', '-n', NS],
    ['create', 'pods', '-n', NS],
    ['get', 'configmaps', '-n', NS],
    ['update', 'customresourcedefinitions.apiextensions.k8s.io'],
    ['delete', 'customresourcedefinitions.apiextensions.k8s.io'],
    ['create', 'cephfsmirrors.mirror.cephfs.io', '-n', NS],
    ['delete', 'cephfsmirrors.mirror.cephfs.io', '-n', NS],
    ['delete', 'mirroreddirectories.mirror.cephfs.io', '-n', NS],
    ['create', 'leases.coordination.k8s.io', '-n', 'default'],
    ['delete', 'leases.coordination.k8s.io', '-n', RELEASE_NS],
    ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
    ['impersonate', 'serviceaccounts', '-n', NS],
    ['create', 'serviceaccounts/token', '-n', RELEASE_NS],
    // The one cluster-scoped grant is `get` on PersistentVolumes: nothing more on them.
    ['list', 'persistentvolumes'],
    ['watch', 'persistentvolumes'],
    ['update', 'persistentvolumes'],
    ['get', 'persistentvolumeclaims', '-n', NS],
    ['list', 'persistentvolumeclaims', '-n', RELEASE_NS],
  ];
  for (const args of must) assert.equal(await canI(args), true, `may ${args.join(' ')}`);
  for (const args of mustNot) assert.equal(await canI(args), false, `may not ${args.join(' ')}`);
});

test('the operator, run as the ServiceAccount with the chart arguments, takes the samples to Ready and deletes them', async () => {
  const [port] = (await pickFreePorts(1)) as [number];
  const r = await render(['--set', `watchNamespaces={${NS}},metrics.port=${port}`]);
  await kubectl(kube, ['apply', '-f', '-'], rbacYaml(r));
  // The Secrets of NS by name, none enumerated: the samples below need no more.
  assert.equal(await canI(['get', 'secrets', '-n', NS]), true);
  assert.equal(await canI(['list', 'secrets', '-n', NS]), false);
  assert.equal(await canI(['watch', 'secrets', '-n', NS]), false);
  assert.equal(await canI(['get', 'secrets', '-n', 'default']), false);
  assert.equal(await canI(['list', 'cephfsmirrors.mirror.cephfs.io', '-n', 'default']), false);
  const container = operatorContainer(r);
  assert.deepEqual(flagsOf((container.args ?? []).slice(1)).get('--namespace'), [NS]);
  assertProbesHitMetricsPort(container, port);
  const started = new Date(Math.floor(Date.now() / 1000) * 1000);
  const op = startAsServiceAccount(container, 'chart-pod-0');
  await waitHealthyAndReady(port);
  await waitFor(
    'the chart pod to hold the Lease',
    async () => {
      const lease = await kubectlJson<{ spec?: { holderIdentity?: string } }>(kube, [
        '-n',
        RELEASE_NS,
        'get',
        'lease',
        RELEASE,
      ]);
      return lease.spec?.holderIdentity === 'chart-pod-0';
    },
    60_000,
    500,
  );

  // The samples (deploy/samples/10-site-b.yaml, 20-site-a.yaml) in this file's namespace.
  const lab = (env as E2eEnv).lab;
  await createSourceDirs((env as E2eEnv).a, lab.sites.a.fsName, ['/helm-chart/projects']);
  await applyObjects(kube, [
    mirrorObject(NS, 'site-b', 'b', {
      bootstrapTokenSecret: {
        name: 'site-b-bootstrap',
        clientName: 'client.mirror_remote',
        siteName: 'site-b',
      },
    }),
    mirrorObject(NS, 'site-a', 'a'),
    {
      apiVersion: API_VERSION,
      kind: 'MirrorPeer',
      metadata: { name: 'site-b', namespace: NS },
      spec: {
        mirrorRef: { name: 'site-a' },
        bootstrapTokenSecretRef: { name: 'site-b-bootstrap', key: 'token' },
      },
    },
    directoryObject(NS, 'projects', 'site-a', '/helm-chart/projects'),
  ]);
  for (const obj of [
    'cephfsmirror/site-b',
    'cephfsmirror/site-a',
    'mirrorpeer/site-b',
    'mirroreddirectory/projects',
  ]) {
    await waitForReady(kube, NS, obj, { status: 'True' }, 180_000);
  }
  // The bootstrap token Secret was created by the ServiceAccount, and Events were recorded.
  const token = await kubectlJson<{ metadata: { ownerReferences?: Array<{ kind: string }> } }>(
    kube,
    ['-n', NS, 'get', 'secret', 'site-b-bootstrap'],
  );
  assert.equal(token.metadata.ownerReferences?.[0]?.kind, 'CephFSMirror');
  const events = await kubectlJson<{
    items: Array<{
      reason: string;
      involvedObject: { name: string };
      metadata: { creationTimestamp: string };
    }>;
  }>(kube, ['-n', NS, 'get', 'events']);
  const recent = events.items.filter((e) => new Date(e.metadata.creationTimestamp) >= started);
  assert.ok(
    recent.some((e) => e.reason === 'MirroringEnabled' && e.involvedObject.name === 'site-a'),
    'a MirroringEnabled Event',
  );

  // Deletion goes through the finalizers, i.e. the ServiceAccount's updates.
  await deleteAllAndWait(kube, NS);
  assertNoForbidden(op);
  assert.equal(await op.stop(), 0, 'the operator stops cleanly (and releases the Lease)');
  assertNoForbidden(op);
});

test('with rbac.clusterWide the operator needs only the ClusterRole, and still no Secret list or watch', async () => {
  // Only the opt-in's objects: the Roles of the earlier renders go.
  for (const ns of [RELEASE_NS, NS]) {
    await kubectl(kube, ['-n', ns, 'delete', 'role,rolebinding', '-l', INSTANCE_LABEL]);
  }
  const [port] = (await pickFreePorts(1)) as [number];
  const r = await render(['--set', `rbac.clusterWide=true,metrics.port=${port}`]);
  await kubectl(kube, ['apply', '-f', '-'], rbacYaml(r));
  assert.equal(await canI(['get', 'secrets', '-n', NS]), true);
  assert.equal(await canI(['get', 'secrets', '-n', 'default']), true, 'cluster-wide: the opt-in');
  assert.equal(
    await canI(['update', 'cephfsmirrors.mirror.cephfs.io', '--subresource=status', '-n', NS]),
    true,
  );
  assert.equal(await canI(['list', 'cephfsmirrors.mirror.cephfs.io', '--all-namespaces']), true);
  assert.equal(await canI(['list', 'secrets', '--all-namespaces']), false);
  assert.equal(await canI(['watch', 'secrets', '--all-namespaces']), false);
  assert.equal(await canI(['list', 'secrets', '-n', NS]), false);
  assert.equal(await canI(['delete', 'secrets', '-n', NS]), false);

  const container = operatorContainer(r);
  assert.equal(flagsOf((container.args ?? []).slice(1)).get('--namespace'), undefined);
  // The daemon's instance record from before mirroring was disabled would delay the acquire by
  // the instance timeout (see clearInstanceRecords).
  await clearInstanceRecords(env as E2eEnv);
  const op = startAsServiceAccount(container, 'chart-pod-1');
  await waitHealthyAndReady(port);
  const lab = (env as E2eEnv).lab;
  await createSourceDirs((env as E2eEnv).a, lab.sites.a.fsName, ['/helm-chart/ns']);
  await applyObjects(kube, [
    mirrorObject(NS, 'site-a', 'a'),
    directoryObject(NS, 'projects', 'site-a', '/helm-chart/ns'),
  ]);
  await waitForReady(kube, NS, 'cephfsmirror/site-a', { status: 'True' }, 120_000);
  await waitForReady(kube, NS, 'mirroreddirectory/projects', { status: 'True' }, 120_000);
  await deleteAllAndWait(kube, NS);
  assert.equal(await op.stop(), 0);
  assertNoForbidden(op);
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted((env as E2eEnv).lab);
});
