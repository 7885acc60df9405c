// One owner per filesystem. Several CephFSMirrors, in different namespaces with Secrets of their
// own, naming filesystem `a` of site-a: the oldest one drives it; the others are refused
// (`FilesystemOwnedByOther`, naming the owner) and change nothing in Ceph, whatever their
// unmanaged-directories policy — the whole `cephfs_mirror` omap stays byte for byte the same, and
// so does the FSMap's mirroring state — and deleting one changes nothing either. When the owner is
// deleted, the next claimant takes over. An older mirror whose Secret was missing takes the
// filesystem from a younger one once the Secret appears. And the mgr `mirroring` module enabled
// while the operator runs stops the engine (`MgrModuleEnabled`) with no operator write after.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CephFS } from 'cephfs-js';
import { startMirrorDaemon } from '../../lab/ceph-cluster.js';
import { connectionSecretYaml } from '../../lab/k8s-secrets.js';
import { DIR_MAP_PREFIX, INSTANCE_PREFIX } from '../../src/ceph/dir-map-codec.js';
import { mgrMirroringModuleEnabled } from '../../src/ceph/filesystem.js';
import { requireFilesystem, type FsMirrorInfo } from '../../src/ceph/fsmap.js';
import { fetchFsMap, monCommand } from '../../src/ceph/mon.js';
import type { CephFSMirror } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  applyObjects,
  conditionOf,
  deleteAllAndWait,
  directoryObject,
  isRunning,
  loadDirMap,
  mirrorObject,
  operatorLog,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type Conditioned,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import { disableMgrMirroringModule } from '../../lab/harness/mgr-module.js';
import { mirrorOmap } from '../../lab/harness/mirroring.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS1 = 'e2e-owner-1';
const NS2 = 'e2e-owner-2';
const DAEMON = 'e2e-ownership';
/** How long a refused mirror is watched changing nothing: two of its status refreshes and more. */
const WATCH_MS = 25_000;
const DIRS = [
  '/own/mgr',
  '/own/o1',
  '/own/o2',
  '/own/y-prune',
  '/own/y-adopt',
  '/own/y-retain',
  '/own/old',
  '/own/young',
];

let env: E2eEnv | undefined;
let operator: OperatorProcess;

function e2e(): E2eEnv {
  assert.ok(env, 'setUpE2e ran');
  return env;
}

const pool = (): string => e2e().lab.sites.a.metadataPool;

before(async () => {
  // No daemon yet: the mgr module test runs first, with nothing the module could acquire.
  env = await setUpE2e({ namespace: NS1 });
  assert.equal(await mgrMirroringModuleEnabled(env.a), false, 'the mgr module starts disabled');
  await applyObjects(env.kube, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS2 } }]);
  await kubectl(
    env.kube,
    ['apply', '-f', '-'],
    connectionSecretYaml('ceph-site-a', NS2, env.lab.sites.a),
  );
  const fs = await CephFS.mount({ rados: env.a, fsName: env.lab.sites.a.fsName });
  try {
    for (const d of DIRS) await fs.mkdirs(d);
  } finally {
    await fs.close();
  }
  operator = env.operator();
});

after(async () => {
  if (!env) return;
  const errors: unknown[] = [];
  try {
    if (await mgrMirroringModuleEnabled(env.a)) await disableMgrMirroringModule(env.a);
  } catch (e) {
    errors.push(e);
  }
  try {
    if (!env.operators.some(isRunning)) operator = env.operator();
    await deleteMirrorsFirst(NS2);
    await deleteMirrorsFirst(NS1);
  } catch (e) {
    errors.push(e);
  }
  try {
    await tearDownE2e(env);
  } catch (e) {
    errors.push(e);
  }
  if (errors.length > 0) throw errors[0];
});

/**
 * Deletes a namespace's objects, mirrors first: a refused mirror goes at once (it holds nothing),
 * and the directories of a mirror that is gone need no engine to go.
 */
async function deleteMirrorsFirst(namespace: string): Promise<void> {
  await kubectl(e2e().kube, ['-n', namespace, 'delete', 'cephfsmirrors', '--all', '--wait=false']);
  await deleteAllAndWait(e2e().kube, namespace);
}

/**
 * What each test starts from, whatever an earlier one left after failing: the mgr module off and
 * no object in either namespace (so no mirror, and mirroring off on site-a).
 */
async function cleanSlate(): Promise<void> {
  const e = e2e();
  if (await mgrMirroringModuleEnabled(e.a)) await disableMgrMirroringModule(e.a);
  await deleteMirrorsFirst(NS2);
  await deleteMirrorsFirst(NS1);
  assert.equal((await mirrorInfo()).enabled, false, 'mirroring off at the start');
}

async function omap(): Promise<Array<[string, string]>> {
  return mirrorOmap(e2e().a, pool());
}

/** The omap once it stopped changing (two reads two seconds apart are the same). */
async function settledOmap(): Promise<Array<[string, string]>> {
  let last = await omap();
  return waitFor(
    'the cephfs_mirror omap to settle',
    async () => {
      await sleep(2000);
      const now = await omap();
      const same = JSON.stringify(now) === JSON.stringify(last);
      last = now;
      return same ? now : undefined;
    },
    90_000,
    0,
  );
}

/** The entries daemons and the mgr module read: `dir_map_*` and `instance_*`. */
function mirroringState(entries: Array<[string, string]>): Array<[string, string]> {
  return entries.filter(([k]) => k.startsWith(DIR_MAP_PREFIX) || k.startsWith(INSTANCE_PREFIX));
}

async function mirrorInfo(): Promise<FsMirrorInfo> {
  return requireFilesystem(await fetchFsMap(e2e().a), e2e().lab.sites.a.fsName).mirrorInfo;
}

async function dirMapPaths(): Promise<string[]> {
  const fs = requireFilesystem(await fetchFsMap(e2e().a), e2e().lab.sites.a.fsName);
  const map = await loadDirMap(e2e().a, fs.metadataPool);
  return map.directories.map(([p]) => p).sort();
}

/** Reads the omap and FSMap every two seconds for `ms`: each read must equal `expected`. */
async function assertNothingChangesFor(
  ms: number,
  expected: { omap: Array<[string, string]>; mirrorInfo: FsMirrorInfo },
  what: string,
): Promise<void> {
  const until = Date.now() + ms;
  do {
    await sleep(2000);
    assert.deepEqual(await omap(), expected.omap, `${what}: cephfs_mirror omap byte for byte`);
    assert.deepEqual(await mirrorInfo(), expected.mirrorInfo, `${what}: FSMap mirroring state`);
  } while (Date.now() < until);
}

function refusedBy(owner: string): (ns: string, name: string) => Promise<void> {
  return async (ns: string, name: string): Promise<void> => {
    const m = await waitForReady<CephFSMirror & Conditioned>(
      e2e().kube,
      ns,
      `cephfsmirror/${name}`,
      { status: 'False', reason: 'FilesystemOwnedByOther' },
      90_000,
    );
    const ready = conditionOf(m);
    assert.ok(
      ready?.message.includes(`CephFSMirror ${owner}`),
      `${ns}/${name} names its owner ${owner}: ${ready?.message}`,
    );
    assert.equal(m.status?.state, 'Refused');
    assert.equal(m.status?.instances, undefined, 'a refused mirror reports no instances');
  };
}

async function waitNotReady(ns: string, object: string): Promise<void> {
  await waitFor(
    `${ns} ${object} Ready=False`,
    async () => {
      const obj = await kubectlJson<Conditioned>(e2e().kube, ['-n', ns, 'get', object]);
      return conditionOf(obj)?.status === 'False';
    },
    60_000,
    500,
  );
}

async function eventReasons(ns: string, name: string): Promise<string[]> {
  const list = await kubectlJson<{ items: Array<{ reason?: string }> }>(e2e().kube, [
    '-n',
    ns,
    'get',
    'events',
    '--field-selector',
    `involvedObject.name=${name}`,
  ]);
  return list.items.map((i) => i.reason ?? '');
}

async function deleteAndWait(ns: string, ...objects: string[]): Promise<void> {
  await kubectl(
    e2e().kube,
    ['-n', ns, 'delete', ...objects, '--wait=true', '--timeout=120s'],
    undefined,
    150_000,
  );
}

test('the mgr module enabled while the engine runs: MgrModuleEnabled, and no operator write after', async () => {
  const e = e2e();
  await applyObjects(e.kube, [
    mirrorObject(NS1, 'mgr', 'a'),
    directoryObject(NS1, 'mgr-dir', 'mgr', '/own/mgr'),
  ]);
  // Its engine runs: Ready says so, but with a tracked directory and no cephfs-mirror daemon in
  // this test that is Ready=False NoMirrorDaemons (nothing mirrors it), True before it is tracked.
  await waitFor('/own/mgr in the dir map', async () => (await dirMapPaths()).includes('/own/mgr'));
  await waitForReady(
    e.kube,
    NS1,
    'cephfsmirror/mgr',
    { status: 'False', reason: 'NoMirrorDaemons' },
    90_000,
  );
  const before = await settledOmap();

  await monCommand(e.a, { prefix: 'mgr module enable', module: 'mirroring' });
  // Detected on the engine's next status refresh (every 10 s); the bound here is only generous.
  await waitForReady(
    e.kube,
    NS1,
    'cephfsmirror/mgr',
    { status: 'False', reason: 'MgrModuleEnabled' },
    90_000,
  );
  const detectedAt = Date.now();
  // The engine has stopped by the time the status says so. Up to then the directory map and
  // instance records are untouched (the engine's own lock record, if fencing keeps one in the
  // omap, goes with the engine). From the detection on, the whole omap stays byte for byte the
  // same while the operator keeps reconciling the mirror: with no cephfs-mirror daemon, the module
  // has nothing to acquire or record either.
  const atDetection = await omap();
  assert.deepEqual(
    mirroringState(atDetection),
    mirroringState(before),
    'dir map and instances unchanged up to the detection',
  );
  const info = await mirrorInfo();
  await assertNothingChangesFor(
    WATCH_MS,
    { omap: atDetection, mirrorInfo: info },
    'module enabled',
  );
  assert.ok((await eventReasons(NS1, 'mgr')).includes('MgrModuleEnabled'), 'a Warning Event');
  const log = operatorLog(operator);
  const stoppedAt = log.findIndex(
    (l) => l['message'] === 'mirror engine stopped' && l['mirror'] === `${NS1}/mgr`,
  );
  assert.ok(stoppedAt >= 0, 'the engine was stopped');
  assert.ok(
    !log
      .slice(stoppedAt)
      .some((l) => l['message'] === 'mirror engine started' && l['mirror'] === `${NS1}/mgr`),
    'no engine started while the module is enabled',
  );
  assert.ok(Date.now() - detectedAt >= WATCH_MS);

  // The module goes: the operator carries on by itself (a new engine, the same dir map).
  await disableMgrMirroringModule(e.a);
  await waitForReady(
    e.kube,
    NS1,
    'cephfsmirror/mgr',
    { status: 'False', reason: 'NoMirrorDaemons' },
    90_000,
  );
  assert.deepEqual(await dirMapPaths(), ['/own/mgr']);
  await deleteAndWait(NS1, 'mirroreddirectory/mgr-dir');
  await deleteAndWait(NS1, 'cephfsmirror/mgr');
  assert.equal((await mirrorInfo()).enabled, false, 'the last mirror disabled mirroring');
});

test('older first: newer mirrors with Prune, Adopt and Retain are refused and change nothing; the owner hands over when deleted', async () => {
  const e = e2e();
  await cleanSlate();
  await startMirrorDaemon(e.lab.sites.a, DAEMON);
  e.mirrorDaemons.push(DAEMON);
  await applyObjects(e.kube, [
    mirrorObject(NS1, 'owner', 'a'),
    directoryObject(NS1, 'o1', 'owner', '/own/o1'),
    directoryObject(NS1, 'o2', 'owner', '/own/o2'),
  ]);
  await waitForReady(e.kube, NS1, 'cephfsmirror/owner', { status: 'True' }, 90_000);
  for (const d of ['o1', 'o2']) {
    await waitForReady(e.kube, NS1, `mirroreddirectory/${d}`, { status: 'True' }, 120_000);
  }
  const expected = { omap: await settledOmap(), mirrorInfo: await mirrorInfo() };
  assert.deepEqual(await dirMapPaths(), ['/own/o1', '/own/o2']);

  // One second apart, so that their creationTimestamps order them: y-prune is the oldest.
  const newer = [
    ['y-prune', { unmanagedDirectories: 'Prune' }],
    ['y-adopt', { unmanagedDirectories: 'Adopt' }],
    ['y-retain', { unmanagedDirectories: 'Retain', bootstrapTokenSecret: { name: 'y-token' } }],
  ] as const;
  for (const [name, spec] of newer) {
    await applyObjects(e.kube, [
      mirrorObject(NS2, name, 'a', spec),
      directoryObject(NS2, `${name}-dir`, name, `/own/${name}`),
    ]);
    await sleep(1100);
  }
  for (const [name] of newer) {
    await refusedBy(`${NS1}/owner`)(NS2, name);
    await waitNotReady(NS2, `mirroreddirectory/${name}-dir`);
  }
  await assertNothingChangesFor(WATCH_MS, expected, 'three refused mirrors');
  const adopted = await kubectlJson<{ items: unknown[] }>(e.kube, [
    '-n',
    NS2,
    'get',
    'mirroreddirectories',
    '-l',
    'mirror.cephfs.io/adopted=true',
  ]);
  assert.equal(adopted.items.length, 0, 'the refused Adopt mirror adopted nothing');
  const secrets = await kubectlJson<{ items: Array<{ metadata: { name: string } }> }>(e.kube, [
    '-n',
    NS2,
    'get',
    'secrets',
  ]);
  assert.ok(
    !secrets.items.some((s) => s.metadata.name === 'y-token'),
    'no bootstrap token was made',
  );
  assert.ok((await eventReasons(NS2, 'y-prune')).includes('FilesystemOwnedByOther'));

  // Deleting a refused mirror (then its directory) touches nothing.
  await deleteAndWait(NS2, 'cephfsmirror/y-adopt');
  await deleteAndWait(NS2, 'mirroreddirectory/y-adopt-dir');
  assert.deepEqual(await omap(), expected.omap, 'deleting a refused mirror: omap unchanged');
  assert.deepEqual(await mirrorInfo(), expected.mirrorInfo, 'deleting a refused mirror: FSMap');

  // The owner goes (its directories first, released and removed by its engine): the oldest
  // remaining claimant takes the filesystem over, mirroring is never disabled in between.
  await deleteAndWait(NS1, 'mirroreddirectory/o1', 'mirroreddirectory/o2');
  await deleteAndWait(NS1, 'cephfsmirror/owner');
  assert.ok((await eventReasons(NS1, 'owner')).includes('OwnershipHandedOver'));
  assert.equal((await mirrorInfo()).enabled, true, 'mirroring stays enabled for the next owner');
  await waitForReady(e.kube, NS2, 'cephfsmirror/y-prune', { status: 'True' }, 90_000);
  await waitForReady(e.kube, NS2, 'mirroreddirectory/y-prune-dir', { status: 'True' }, 120_000);
  await refusedBy(`${NS2}/y-prune`)(NS2, 'y-retain');
  assert.deepEqual(await dirMapPaths(), ['/own/y-prune'], 'only the new owner’s directory');

  await deleteMirrorsFirst(NS2);
  assert.equal((await mirrorInfo()).enabled, false, 'the last mirror disabled mirroring');
});

test('newer first: an older mirror whose Secret was missing takes the filesystem once it appears; its deletion hands it back', async () => {
  const e = e2e();
  await cleanSlate();
  await applyObjects(e.kube, [
    mirrorObject(NS1, 'old', 'a', { cluster: { secretRef: { name: 'ceph-late' } } }),
    directoryObject(NS1, 'old-dir', 'old', '/own/old'),
  ]);
  await waitForReady(
    e.kube,
    NS1,
    'cephfsmirror/old',
    { status: 'False', reason: 'SecretNotFound' },
    60_000,
  );
  await sleep(1100);
  // Younger, with Prune: had it kept running beside the older one, it would remove /own/old.
  await applyObjects(e.kube, [
    mirrorObject(NS2, 'young', 'a', { unmanagedDirectories: 'Prune' }),
    directoryObject(NS2, 'young-dir', 'young', '/own/young'),
  ]);
  await waitForReady(e.kube, NS2, 'cephfsmirror/young', { status: 'True' }, 90_000);
  await waitForReady(e.kube, NS2, 'mirroreddirectory/young-dir', { status: 'True' }, 120_000);
  assert.deepEqual(await dirMapPaths(), ['/own/young']);

  await kubectl(
    e.kube,
    ['apply', '-f', '-'],
    connectionSecretYaml('ceph-late', NS1, e.lab.sites.a),
  );
  await waitForReady(e.kube, NS1, 'cephfsmirror/old', { status: 'True' }, 90_000);
  await refusedBy(`${NS1}/old`)(NS2, 'young');
  await waitForReady(e.kube, NS1, 'mirroreddirectory/old-dir', { status: 'True' }, 120_000);
  // The older mirror retains what it does not declare; the refused Prune mirror prunes nothing.
  const expected = { omap: await settledOmap(), mirrorInfo: await mirrorInfo() };
  assert.deepEqual(await dirMapPaths(), ['/own/old', '/own/young']);
  await assertNothingChangesFor(WATCH_MS, expected, 'the younger mirror refused');
  assert.ok(
    operatorLog(operator).some(
      (l) =>
        l['message'] === 'stopped the engine of a younger claimant' &&
        l['mirror'] === `${NS2}/young`,
    ),
  );

  // The owner goes: the younger one drives the filesystem again, with its own directory.
  await deleteAndWait(NS1, 'mirroreddirectory/old-dir');
  await deleteAndWait(NS1, 'cephfsmirror/old');
  await waitForReady(e.kube, NS2, 'cephfsmirror/young', { status: 'True' }, 90_000);
  await waitForReady(e.kube, NS2, 'mirroreddirectory/young-dir', { status: 'True' }, 120_000);
  assert.deepEqual(await dirMapPaths(), ['/own/young']);
  await deleteMirrorsFirst(NS2);
  assert.equal((await mirrorInfo()).enabled, false, 'the last mirror disabled mirroring');
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(e2e().lab);
});
