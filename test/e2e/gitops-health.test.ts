// What Argo CD and Flux see, on real objects of the real apiserver written by the real operator
// against the lab: each object is taken with `kubectl get -o json` in each state and given to the
// Argo CD health check (deploy/argocd/health.lua under Lua 5.1), and its kstatus conditions
// (Reconciling / Stalled, which Flux reads) are checked; `kubectl get -o wide` shows why an object
// is not Ready.
//   Progressing: created before any operator ran (no status); a directory waiting for its mirror
//                (MirrorNotReady); a spec edit not yet observed.
//   Degraded:    a mirror whose Secret is missing, a peer whose token Secret is missing, a
//                directory inside a tracked one (all Stalled).
//   Healthy:     all of them once what was missing exists (Ready=True, no Reconciling/Stalled).
// Last, the running operator's /metrics serves every metric the chart's alerts and dashboard use.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectionSecretYaml } from '../../lab/k8s-secrets.js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import type { Condition } from '../../src/api/conditions.js';
import { argoHealth, type Health } from '../support/argocd-health.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  API_VERSION,
  applyObjects,
  conditionOf,
  directoryObject,
  mirrorObject,
  operatorHttpPort,
  setUpE2e,
  tearDownE2e,
  type Conditioned,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';
import {
  PROMETHEUS_SERIES,
  dashboardQueries,
  exportedNames,
  metricNames,
  ruleGroups,
} from '../support/monitoring.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-gitops';
const MIRROR = 'gitops-a';
const CLUSTER_SECRET = 'gitops-ceph-a';
const TOKEN_SECRET = 'gitops-site-b-token';
let env: E2eEnv;
let operator: OperatorProcess | undefined;

interface KubeObject extends Conditioned {
  metadata: { name: string; generation?: number; deletionTimestamp?: string };
  status?: { observedGeneration?: number; conditions?: Condition[] };
}

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-gitops'] });
  // Secrets this file creates part-way, in case an earlier run on the same lab left them.
  await kubectl(env.kube, [
    '-n',
    NS,
    'delete',
    'secret',
    CLUSTER_SECRET,
    TOKEN_SECRET,
    '--ignore-not-found',
  ]);
  // The operator tracks a path only once it exists (SourceDirectoryMissing until then).
  await createSourceDirs(env.a, env.lab.sites.a.fsName, ['/gitops/top/inner']);
});

after(() => tearDownE2e(env));

function get(object: string): Promise<KubeObject> {
  return kubectlJson<KubeObject>(env.kube, ['-n', NS, 'get', object]);
}

/** The object as `kubectl get -o json` gives it, and Argo CD's verdict on exactly that. */
async function health(object: string): Promise<{ obj: KubeObject; health: Health }> {
  const obj = await get(object);
  return { obj, health: await argoHealth(obj) };
}

/**
 * Waits for Ready with this status/reason (at the object's generation), then returns the health
 * of that same object. A timeout names the Ready condition last seen.
 */
async function healthWhen(
  object: string,
  expect: { status: 'True' | 'False'; reason?: string },
  timeoutMs = 120_000,
): Promise<{ obj: KubeObject; health: Health }> {
  let last: KubeObject | undefined;
  const obj = await waitFor(
    `${object} Ready=${expect.status}${expect.reason ? ` (${expect.reason})` : ''}`,
    async () => {
      last = await get(object);
      const c = conditionOf(last);
      return c?.observedGeneration === last.metadata.generation &&
        c?.status === expect.status &&
        (!expect.reason || c.reason === expect.reason)
        ? last
        : undefined;
    },
    timeoutMs,
    500,
  ).catch((e: unknown) => {
    throw new Error(`${String(e)}; last seen: ${JSON.stringify(last?.status)}`);
  });
  return { obj, health: await argoHealth(obj) };
}

/** The kstatus condition types present with status True (Reconciling / Stalled). */
function kstatus(obj: KubeObject): string[] {
  return ['Reconciling', 'Stalled'].filter((t) => conditionOf(obj, t)?.status === 'True');
}

function peerObject(name: string): object {
  return {
    apiVersion: API_VERSION,
    kind: 'MirrorPeer',
    metadata: { name, namespace: NS },
    spec: { mirrorRef: { name: MIRROR }, bootstrapTokenSecretRef: { name: TOKEN_SECRET } },
  };
}

test('objects created before any operator ran have no status: Progressing', async () => {
  await applyObjects(env.kube, [
    mirrorObject(NS, MIRROR, 'a', { cluster: { secretRef: { name: CLUSTER_SECRET } } }),
    peerObject('site-b'),
    directoryObject(NS, 'top', MIRROR, '/gitops/top'),
  ]);
  for (const object of [`cephfsmirror/${MIRROR}`, 'mirrorpeer/site-b', 'mirroreddirectory/top']) {
    const { obj, health: h } = await health(object);
    assert.equal(obj.status, undefined, `${object} has no status yet`);
    assert.deepEqual(h, {
      status: 'Progressing',
      message: 'waiting for the operator to report a status',
    });
  }
  operator = env.operator();
});

test('a mirror whose Secret is missing: Stalled, Degraded; its directory waits: Progressing', async () => {
  const m = await healthWhen(`cephfsmirror/${MIRROR}`, {
    status: 'False',
    reason: 'SecretNotFound',
  });
  assert.deepEqual(kstatus(m.obj), ['Stalled']);
  assert.equal(conditionOf(m.obj, 'Stalled')?.reason, 'SecretNotFound');
  assert.equal(conditionOf(m.obj, 'Stalled')?.observedGeneration, m.obj.metadata.generation);
  assert.deepEqual(m.health, {
    status: 'Degraded',
    message: `SecretNotFound: Secret ${CLUSTER_SECRET} does not exist`,
  });

  const d = await healthWhen('mirroreddirectory/top', {
    status: 'False',
    reason: 'MirrorNotReady',
  });
  assert.deepEqual(kstatus(d.obj), ['Reconciling']);
  assert.equal(conditionOf(d.obj, 'Reconciling')?.reason, 'Progressing');
  assert.deepEqual(d.health, {
    status: 'Progressing',
    message: `MirrorNotReady: CephFSMirror ${MIRROR} is not ready yet`,
  });

  // -o wide names the reason; the default view does not (priority 1).
  const wide = await kubectl(env.kube, ['-n', NS, 'get', 'cephfsmirror', MIRROR, '-o', 'wide']);
  assert.match(wide.split('\n')[0] ?? '', /\bREASON\b.*\bMESSAGE\b/);
  assert.match(wide, new RegExp(`SecretNotFound\\s+Secret ${CLUSTER_SECRET} does not exist`));
  const narrow = await kubectl(env.kube, ['-n', NS, 'get', 'cephfsmirror', MIRROR]);
  assert.doesNotMatch(narrow, /REASON|SecretNotFound/);
  assert.match(narrow.split('\n')[0] ?? '', /\bDAEMONS\b/);
});

test('the Secret appears: mirror and directory become Healthy, Reconciling and Stalled gone', async () => {
  await kubectl(
    env.kube,
    ['apply', '-f', '-'],
    connectionSecretYaml(CLUSTER_SECRET, NS, env.lab.sites.a),
  );
  const m = await healthWhen(`cephfsmirror/${MIRROR}`, { status: 'True' });
  assert.deepEqual(kstatus(m.obj), []);
  assert.equal(conditionOf(m.obj, 'Stalled'), undefined, 'the stale Stalled is removed');
  assert.equal(m.health.status, 'Healthy', JSON.stringify(m.health));
  assert.match(m.health.message ?? '', /^MirroringEnabled: mirroring a with \d+ daemon\(s\)$/);

  const d = await healthWhen('mirroreddirectory/top', { status: 'True', reason: 'Mirrored' });
  assert.deepEqual(kstatus(d.obj), []);
  assert.deepEqual(d.health.status, 'Healthy');
  assert.match(d.health.message ?? '', /^Mirrored: mirrored by cephfs-mirror instance \d+$/);

  const wide = await kubectl(env.kube, ['-n', NS, 'get', 'mirroreddirectory', 'top', '-o', 'wide']);
  assert.match(wide, /Mirrored\s+mirrored by cephfs-mirror instance \d+/);
  const row = await kubectl(env.kube, [
    '-n',
    NS,
    'get',
    'cephfsmirror',
    MIRROR,
    '--no-headers',
    '-o',
    'custom-columns=D:.status.instanceCount',
  ]);
  assert.ok(Number(row.trim()) >= 1, `at least one live daemon (got ${row.trim()})`);
});

test('a directory inside a tracked one: Stalled, Degraded; Healthy once the other goes', async () => {
  await applyObjects(env.kube, [directoryObject(NS, 'inner', MIRROR, '/gitops/top/inner')]);
  const d = await healthWhen('mirroreddirectory/inner', {
    status: 'False',
    reason: 'SubtreeOfTracked',
  });
  assert.deepEqual(kstatus(d.obj), ['Stalled']);
  assert.deepEqual(d.health, {
    status: 'Degraded',
    message: 'SubtreeOfTracked: /gitops/top/inner is a subtree of tracked path /gitops/top',
  });
  await kubectl(env.kube, [
    '-n',
    NS,
    'delete',
    'mirroreddirectory/top',
    '--wait=true',
    '--timeout=120s',
  ]);
  const healed = await healthWhen('mirroreddirectory/inner', {
    status: 'True',
    reason: 'Mirrored',
  });
  assert.deepEqual(kstatus(healed.obj), []);
  assert.equal(healed.health.status, 'Healthy');
});

test('a peer without its token Secret: Stalled, Degraded; with a token: Healthy', async () => {
  const p = await healthWhen('mirrorpeer/site-b', { status: 'False', reason: 'SecretNotFound' });
  assert.deepEqual(kstatus(p.obj), ['Stalled']);
  assert.deepEqual(p.health, {
    status: 'Degraded',
    message: `SecretNotFound: Secret ${TOKEN_SECRET} does not exist`,
  });

  const token = await createBootstrapToken(
    env.b,
    env.lab.sites.b.fsName,
    'client.mirror_remote',
    'site-b',
  );
  await applyObjects(env.kube, [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: TOKEN_SECRET, namespace: NS },
      stringData: { token },
    },
  ]);
  const ready = await healthWhen('mirrorpeer/site-b', { status: 'True' });
  assert.deepEqual(kstatus(ready.obj), []);
  assert.equal(ready.health.status, 'Healthy');
  assert.match(
    ready.health.message ?? '',
    /^PeerAdded: mirroring to client\.mirror_remote@site-b\b/,
  );
});

test('a spec edit the operator has not observed yet: Progressing until it has', async () => {
  assert.ok(operator);
  await operator.stop();
  await kubectl(env.kube, [
    '-n',
    NS,
    'patch',
    'cephfsmirror',
    MIRROR,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { policy: { tickSeconds: 2 } } }),
  ]);
  const edited = await health(`cephfsmirror/${MIRROR}`);
  const generation = edited.obj.metadata.generation ?? 0;
  assert.ok(generation > (edited.obj.status?.observedGeneration ?? 0), 'generation moved ahead');
  assert.deepEqual(edited.health, {
    status: 'Progressing',
    message: `waiting for the operator to observe generation ${generation}`,
  });

  operator = env.operator();
  const seen = await waitFor(
    'the new generation observed',
    async () => {
      const h = await health(`cephfsmirror/${MIRROR}`);
      return h.obj.status?.observedGeneration === generation &&
        conditionOf(h.obj)?.observedGeneration === generation
        ? h
        : undefined;
    },
    90_000,
    500,
  );
  assert.equal(seen.health.status, 'Healthy', JSON.stringify(seen.health));
});

test("the running operator's /metrics serves every metric the chart's alerts and dashboard use", async () => {
  assert.ok(operator);
  const port = await operatorHttpPort(operator);
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const exported = exportedNames(text);
  const queries = [
    ...(await ruleGroups()).flatMap((g) => g.rules.map((r) => r.expr)),
    ...(await dashboardQueries()),
  ];
  const used = new Set(queries.flatMap(metricNames));
  for (const name of used) {
    assert.ok(exported.has(name) || PROMETHEUS_SERIES.has(name), `${name} in /metrics`);
  }
  // The mirror's series are there with its labels, as the alerts group them.
  assert.match(
    text,
    new RegExp(`^cephfs_mirror_instances\\{namespace="${NS}",mirror="${MIRROR}"\\} [1-9]`, 'm'),
  );
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
