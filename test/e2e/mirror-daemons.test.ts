// spec.daemons: the operator creates a cephx user, a keyring in one Secret and a Deployment per
// cephfs-mirror daemon. The lab has no kubelet, so the test plays it (test/support/pod-runner.ts):
// the Deployments and Secret are read from the API server and each container's command,
// arguments and environment run as a local process against the lab. The daemons join and acquire
// directories; scaling down to one deletes one Deployment and then its user, and its directories
// fail over to the survivor with none lost; a user that exists with other caps is refused and
// left alone; deleting the mirror removes the Deployments and every user of the operator's. Ends
// with the chart's RBAC for it and the daemon crash check.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { V1Deployment, V1Secret } from '@kubernetes/client-node';
import type { Rados } from 'rados-js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import { listMirrorDaemons } from '../../src/ceph/daemon-status.js';
import { monCommand, monCommandJson } from '../../src/ceph/mon.js';
import { DAEMON_CAPS } from '../../src/ceph/mirror-daemon-users.js';
import type { CephFSMirror } from '../../src/api/resources.js';
import { LABEL_DAEMON_ID, LABEL_MIRROR_UID } from '../../src/controllers/mirror-daemons.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  applyObjects,
  conditionOf,
  deleteAllAndWait,
  directoryObject,
  isReadyNow,
  listDirectories,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  tokenPeerObjects,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { renderChart, type ChartObject } from '../support/chart-render.js';
import { PodRunner } from '../support/pod-runner.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-daemons';
const MIRROR = 'site-a';
const DIRS = ['/daemons/d1', '/daemons/d2', '/daemons/d3', '/daemons/d4'];
let env: E2eEnv;
let pods: PodRunner | undefined;
let kubelet: NodeJS.Timeout | undefined;
let uid = '';
let users: string[] = [];

/** Runs the fake kubelet's sync every second (errors are retried on the next pass). */
function startKubelet(runner: PodRunner): void {
  let busy = false;
  kubelet = setInterval(() => {
    if (busy) return;
    busy = true;
    runner
      .sync()
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, 1000);
}

async function getMirror(): Promise<CephFSMirror> {
  return kubectlJson<CephFSMirror>(env.kube, ['-n', NS, 'get', `cephfsmirror/${MIRROR}`]);
}

async function deployments(): Promise<V1Deployment[]> {
  return (await pods?.deployments()) ?? [];
}

/** The user's caps, or undefined when Ceph has no such user. */
async function userCaps(rados: Rados, entity: string): Promise<Record<string, string> | undefined> {
  try {
    const out = await monCommandJson<Array<{ caps?: Record<string, string> }>>(rados, {
      prefix: 'auth get',
      entity,
    });
    return out[0]?.caps ?? {};
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Directories each of our daemons says it mirrors (service status), by client id. */
async function daemonDirCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const d of await listMirrorDaemons(env.a)) {
    // The service map names a daemon by its id without the `cephfs-mirror.` service prefix.
    const id = users.find(
      (u) => u === `client.${d.clientId}` || u === `client.cephfs-mirror.${d.clientId}`,
    );
    const fs = d.filesystems?.find((f) => f.name === env.lab.sites.a.fsName);
    if (id && fs) counts.set(id, fs.directoryCount);
  }
  return counts;
}

before(async () => {
  env = await setUpE2e({ namespace: NS });
  await createSourceDirs(env.a, env.lab.sites.a.fsName, DIRS);
  const token = await createBootstrapToken(
    env.b,
    env.lab.sites.b.fsName,
    'client.mirror_remote',
    'site-b',
  );
  env.operator();
  await applyObjects(env.kube, [
    mirrorObject(NS, MIRROR, 'a', {
      policy: { tickSeconds: 1, instanceTimeoutSeconds: 10, shuffleThrottleSeconds: 5 },
      daemons: { count: 2, image: 'quay.io/ceph/ceph:v16.2.15' },
    }),
    ...tokenPeerObjects(NS, MIRROR, token),
  ]);
  await waitForReady(env.kube, NS, 'mirrorpeer/site-b', { status: 'True' }, 90_000);
  uid = (await getMirror()).metadata.uid ?? '';
  pods = new PodRunner(env.kube, NS, `${LABEL_MIRROR_UID}=${uid}`, (d) =>
    join(env.lab.sites.a.dir, 'log', `client.${d.metadata?.labels?.[LABEL_DAEMON_ID] ?? 'x'}.log`),
  );
});

after(async () => {
  if (kubelet) clearInterval(kubelet);
  await pods?.stopAll();
  await tearDownE2e(env);
});

test('count 2: two users with the documented caps, a Secret and two Deployments; run as pods they join and take the directories', async () => {
  const m = await waitFor(
    'status.daemons.deployed = 2',
    async () => {
      const mirror = await getMirror();
      return mirror.status?.daemons?.deployed === 2 ? mirror : undefined;
    },
    60_000,
  );
  users = (m.status?.daemons?.identities ?? []).map((i) => i.user);
  assert.equal(new Set(users).size, 2, 'distinct ids');
  for (const u of users) assert.deepEqual(await userCaps(env.a, u), { ...DAEMON_CAPS });

  const deps = await deployments();
  assert.equal(deps.length, 2);
  for (const d of deps) {
    assert.equal(d.spec?.replicas, 1);
    assert.equal(d.spec?.strategy?.type, 'Recreate');
    assert.equal(d.metadata?.ownerReferences?.[0]?.uid, uid);
  }
  const secret = await kubectlJson<V1Secret>(env.kube, [
    '-n',
    NS,
    'get',
    'secret',
    m.status?.daemons?.secretName ?? '',
  ]);
  assert.deepEqual(
    Object.keys(secret.data ?? {}).sort(),
    ['ceph.conf', ...users.map((u) => `${u}.keyring`)].sort(),
  );
  // No key anywhere in the Deployments (args, env, annotations).
  for (const u of users) {
    const keyring = Buffer.from(secret.data?.[`${u}.keyring`] ?? '', 'base64').toString();
    const key = /key = (\S+)/.exec(keyring)?.[1] ?? '';
    assert.ok(key.length > 20);
    assert.ok(!JSON.stringify(deps).includes(key));
  }

  startKubelet(pods as PodRunner);
  await waitFor(
    'both daemons live in the mirror status',
    async () => ((await getMirror()).status?.instanceCount === 2 ? true : undefined),
    90_000,
  );
  await applyObjects(
    env.kube,
    DIRS.map((p, i) => directoryObject(NS, `d${i + 1}`, MIRROR, p)),
  );
  await waitFor(
    'every directory Ready',
    async () => {
      const dirs = await listDirectories(env.kube, NS);
      return dirs.length === DIRS.length && dirs.every(isReadyNow) ? dirs : undefined;
    },
    90_000,
  );
  // Each daemon says so itself: the directories it mirrors add up to the declared ones.
  const counts = await waitFor(
    'the daemons to report the directories they hold',
    async () => {
      const c = await daemonDirCounts();
      const sum = [...c.values()].reduce((a, b) => a + b, 0);
      return c.size === 2 && sum === DIRS.length ? c : undefined;
    },
    60_000,
  );
  assert.deepEqual([...counts.values()].sort(), [2, 2], 'spread over both daemons');
});

test('count 1: one Deployment deleted, then its user; its directories move to the survivor, none lost', async () => {
  const before = await deployments();
  const gone = before.find((d) => d.metadata?.labels?.['mirror.cephfs.io/daemon-index'] === '1');
  const goneUser = users.find((u) => u.endsWith('.1')) ?? '';
  const survivor = users.find((u) => u.endsWith('.0')) ?? '';
  assert.ok(gone && goneUser && survivor);
  await kubectl(env.kube, [
    '-n',
    NS,
    'patch',
    `cephfsmirror/${MIRROR}`,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { daemons: { count: 1 } } }),
  ]);
  await waitFor(
    'the second Deployment deleted by the operator',
    async () => ((await deployments()).length === 1 ? true : undefined),
    60_000,
  );
  // The fake kubelet stops its process; the operator removes the user.
  await waitFor(
    `${goneUser} removed`,
    async () => ((await userCaps(env.a, goneUser)) === undefined ? true : undefined),
    60_000,
  );
  assert.ok(await userCaps(env.a, survivor), 'the survivor keeps its user');
  const m = await getMirror();
  assert.equal(m.status?.daemons?.desired, 1);
  const secret = await kubectlJson<V1Secret>(env.kube, [
    '-n',
    NS,
    'get',
    'secret',
    m.status?.daemons?.secretName ?? '',
  ]);
  assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ['ceph.conf', `${survivor}.keyring`]);

  const dirs = await waitFor(
    'every directory Ready on the surviving daemon',
    async () => {
      const mirror = await getMirror();
      const list = await listDirectories(env.kube, NS);
      const held = list.filter(
        (d) => isReadyNow(d) && d.status?.instanceID === mirror.status?.instances?.[0]?.id,
      );
      return mirror.status?.instanceCount === 1 && held.length === DIRS.length ? list : undefined;
    },
    120_000,
  );
  assert.equal(dirs.length, DIRS.length);
  await waitFor(
    'the survivor to report every directory',
    async () => ((await daemonDirCounts()).get(survivor) === DIRS.length ? true : undefined),
    60_000,
  );
  // The printer columns: Daemons (alive, from Ceph) and Desired (-o wide).
  const table = await kubectl(env.kube, ['-n', NS, 'get', `cephfsmirror/${MIRROR}`, '-o', 'wide']);
  const [header = '', row = ''] = table.trim().split('\n');
  const cells = row.trim().split(/\s+/);
  const column = (name: string): string | undefined =>
    cells[header.trim().split(/\s+/).indexOf(name)];
  assert.equal(column('DAEMONS'), '1');
  assert.equal(column('DESIRED'), '1');
});

test('a daemon user that exists with other caps is refused, never overwritten', async () => {
  // Index 1 was removed by the scale-down: someone creates that user with caps of their own.
  const taken = users.find((u) => u.endsWith('.1')) ?? '';
  await monCommandJson(env.a, {
    prefix: 'auth get-or-create',
    entity: taken,
    caps: ['mon', 'allow r'],
  });
  await kubectl(env.kube, [
    '-n',
    NS,
    'patch',
    `cephfsmirror/${MIRROR}`,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { daemons: { count: 2 } } }),
  ]);
  const m = await waitForReady<CephFSMirror>(
    env.kube,
    NS,
    `cephfsmirror/${MIRROR}`,
    { status: 'False', reason: 'DaemonUserConflict' },
    60_000,
  );
  assert.equal(m.status?.daemons?.deployed, 1);
  assert.equal((await deployments()).length, 1, 'no Deployment for the refused daemon');
  assert.deepEqual(await userCaps(env.a, taken), { mon: 'allow r' }, 'caps untouched');
  assert.equal(conditionOf(m, 'Stalled')?.status, 'True');
});

test('deleting the mirror removes the Deployments and every daemon user; the Secret is left to the garbage collector', async () => {
  const secretName = (await getMirror()).status?.daemons?.secretName ?? '';
  await deleteAllAndWait(env.kube, NS);
  assert.deepEqual(await deployments(), []);
  // The operator has no Secret delete: the lab has no garbage collector, so the test checks the
  // ownerReference that lets Kubernetes remove it, and removes it as the collector would.
  const secret = await kubectlJson<V1Secret>(env.kube, ['-n', NS, 'get', 'secret', secretName]);
  assert.equal(secret.metadata?.ownerReferences?.[0]?.uid, uid);
  await kubectl(env.kube, ['-n', NS, 'delete', 'secret', secretName]);
  const [survivor, taken] = [...users].sort();
  assert.equal(await userCaps(env.a, survivor ?? ''), undefined, `${survivor} removed`);
  // The user with other caps is not the operator's: it stays (the test removes it).
  assert.deepEqual(await userCaps(env.a, taken ?? ''), { mon: 'allow r' });
  await monCommand(env.a, { prefix: 'auth rm', entity: taken });
  // The fake kubelet stops the last pod (its Deployment is gone).
  await waitFor(
    'no pod left',
    async () => ((pods?.pods.size ?? 0) === 0 ? true : undefined),
    30_000,
  );
});

// The chart's RBAC for spec.daemons (templates/rbac-daemons.yaml), rendered: the same namespaces
// as the operator's own RBAC, exactly the verbs mirror-daemon-sync.ts uses (no Secret delete, list
// or watch), none with daemons.manage=false (helm-chart.test.ts applies every rendered object and
// runs the operator as the ServiceAccount).
const CHART_RELEASE = 'cmo';
const CHART_NS = 'cmo-system';
const RULES = [
  {
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: ['get', 'list', 'create', 'update', 'delete'],
  },
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'update'] },
];

interface Role extends ChartObject {
  rules: unknown[];
}
interface Binding extends ChartObject {
  roleRef: { kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace: string }>;
}

async function daemonObjects(args: string[]): Promise<ChartObject[]> {
  const { objects } = await renderChart(CHART_RELEASE, CHART_NS, args);
  return objects.filter((o) => o.metadata.name === `${CHART_RELEASE}-daemons`);
}

function names(objects: ChartObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.namespace ?? '-'}`).sort();
}

function checkPair(objects: ChartObject[], roleKind: string, namespace?: string): void {
  const role = objects.find(
    (o): o is Role => o.kind === roleKind && o.metadata.namespace === namespace,
  );
  const binding = objects.find(
    (o): o is Binding => o.kind === `${roleKind}Binding` && o.metadata.namespace === namespace,
  );
  assert.deepEqual(role?.rules, RULES);
  assert.deepEqual(binding?.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: roleKind,
    name: `${CHART_RELEASE}-daemons`,
  });
  assert.deepEqual(binding?.subjects, [
    { kind: 'ServiceAccount', name: CHART_RELEASE, namespace: CHART_NS },
  ]);
}

test('chart RBAC for spec.daemons, default: a Role and RoleBinding in the release namespace with the daemons verbs', async () => {
  const objects = await daemonObjects([]);
  assert.deepEqual(names(objects), [`Role/${CHART_NS}`, `RoleBinding/${CHART_NS}`]);
  checkPair(objects, 'Role', CHART_NS);
});

test('chart RBAC for spec.daemons, watchNamespaces: one pair in each watched namespace', async () => {
  const objects = await daemonObjects(['--set', 'watchNamespaces={team-a,team-b}']);
  assert.deepEqual(names(objects), [
    'Role/team-a',
    'Role/team-b',
    'RoleBinding/team-a',
    'RoleBinding/team-b',
  ]);
  checkPair(objects, 'Role', 'team-a');
  checkPair(objects, 'Role', 'team-b');
});

test('chart RBAC for spec.daemons, rbac.clusterWide: a ClusterRole and ClusterRoleBinding', async () => {
  const objects = await daemonObjects(['--set', 'rbac.clusterWide=true']);
  assert.deepEqual(names(objects), ['ClusterRole/-', 'ClusterRoleBinding/-']);
  checkPair(objects, 'ClusterRole');
});

test('chart RBAC for spec.daemons, daemons.manage=false: nothing', async () => {
  assert.deepEqual(await daemonObjects(['--set', 'daemons.manage=false']), []);
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
