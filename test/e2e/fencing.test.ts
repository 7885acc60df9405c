// Fencing in RADOS with real operator processes (issue: one owner per filesystem): a second
// operator process driving the same filesystem is refused by Ceph's lock and says why; a leader
// paused past its Lease is fenced by the standby that takes over (blocklisted, lock broken) and
// writes nothing once it resumes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Rados } from 'rados-js';
import { MIRROR_OBJECT_NAME } from '../../src/ceph/dir-map-codec.js';
import { findFilesystem } from '../../src/ceph/fsmap.js';
import {
  FENCE_LOCK_NAME,
  HOLDER_KEY,
  blocklistAddr,
  parseHolder,
} from '../../src/ceph/mirror-fence.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import type { CephFSMirror } from '../../src/api/resources.js';
import { connectionSecretYaml } from '../../lab/k8s-secrets.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  applyObjects,
  conditionOf,
  deleteAllAndWait,
  directoryObject,
  loadDirMap,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import { withIoCtx } from '../../lab/harness/mirroring.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-fence-1';
const NS2 = 'e2e-fence-2';
const MIRROR = 'site-a';
let env: E2eEnv;

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-fence'] });
  await applyObjects(env.kube, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS2 } }]);
  await kubectl(
    env.kube,
    ['apply', '-f', '-'],
    connectionSecretYaml('ceph-site-a', NS2, env.lab.sites.a),
  );
  await createSourceDirs(env.a, env.lab.sites.a.fsName, [
    '/fence/one',
    '/fence/two',
    '/fence/after',
  ]);
});

after(async () => {
  // NS's objects first: NS's mirror owns filesystem a (the older claimant), so deleting it hands
  // the filesystem to NS2's mirror, whose deletion then removes what NS2 wrote while it owned
  // the filesystem (test 1) and disables mirroring. (A refused mirror's directory deleted while
  // another mirror owns the filesystem leaves its entry to the owner: see docs/operator.md.)
  const cleaner = env.operator();
  await deleteAllAndWait(env.kube, NS).catch(() => undefined);
  await deleteAllAndWait(env.kube, NS2).catch(() => undefined);
  await cleaner.stop();
  await tearDownE2e(env);
});

async function metadataPool(): Promise<number> {
  const fs = findFilesystem(await fetchFsMap(env.a), env.lab.sites.a.fsName);
  assert.ok(fs);
  return fs.metadataPool;
}

async function dirMapPaths(): Promise<string[]> {
  return (await loadDirMap(env.a, await metadataPool())).directories.map(([p]) => p).sort();
}

/** The lock's current holder as its record names it, or undefined. */
async function lockHolder(): Promise<{ holder: string; addr: string } | undefined> {
  return withIoCtx(env.a, env.lab.sites.a.metadataPool, async (io) => {
    const lockers = await io.listLockers(MIRROR_OBJECT_NAME, FENCE_LOCK_NAME);
    const cookie = lockers.lockers[0]?.cookie;
    const record = cookie ? parseHolder(cookie) : undefined;
    return record ? { holder: record.holder, addr: record.addr } : undefined;
  });
}

async function holderRecordText(): Promise<string | undefined> {
  return withIoCtx(env.a, env.lab.sites.a.metadataPool, async (io) => {
    const page = await io.omapGetVals(MIRROR_OBJECT_NAME, { prefix: HOLDER_KEY, max: 1 });
    return page.entries[0]?.[1].toString();
  });
}

/** Addresses on the OSD blocklist (its JSON is two arrays back to back: read the text). */
async function blocklisted(rados: Rados): Promise<string[]> {
  const { outbuf, outs } = await rados.monCommand({ prefix: 'osd blocklist ls', format: 'json' });
  return `${outbuf.toString()} ${outs}`.match(/\d+\.\d+\.\d+\.\d+:\d+\/\d+/g) ?? [];
}

test('a second operator process (leader election off) is refused by the lock and changes nothing', async () => {
  const one = env.operator(['--namespace', NS], { POD_NAME: 'fence-op-1' });
  await applyObjects(env.kube, [
    mirrorObject(NS, MIRROR, 'a'),
    directoryObject(NS, 'one', MIRROR, '/fence/one'),
  ]);
  await waitForReady(env.kube, NS, 'mirroreddirectory/one', { status: 'True' }, 120_000);
  assert.equal((await lockHolder())?.holder, 'fence-op-1');

  const two = env.operator(['--namespace', NS2], { POD_NAME: 'fence-op-2' });
  await applyObjects(env.kube, [
    mirrorObject(NS2, MIRROR, 'a', { unmanagedDirectories: 'Prune' }),
    directoryObject(NS2, 'two', MIRROR, '/fence/two'),
  ]);
  const refused = await waitForReady<CephFSMirror>(
    env.kube,
    NS2,
    `cephfsmirror/${MIRROR}`,
    { status: 'False', reason: 'FilesystemLockedByOther' },
    90_000,
  );
  assert.match(conditionOf(refused)?.message ?? '', /fence-op-1/);
  assert.match(conditionOf(refused)?.message ?? '', new RegExp(`${NS}/${MIRROR}`));
  // Give the refused one time to do harm if it could (its Prune, its directory), then compare.
  await new Promise((r) => setTimeout(r, 15_000));
  assert.deepEqual(await dirMapPaths(), ['/fence/one'], 'no prune, no add by the second');
  assert.equal((await lockHolder())?.holder, 'fence-op-1');
  const ready = await kubectlJson<CephFSMirror>(env.kube, [
    '-n',
    NS,
    'get',
    `cephfsmirror/${MIRROR}`,
  ]);
  assert.equal(conditionOf(ready)?.status, 'True', 'the owner stays Ready');

  // The owner goes away cleanly (its lock released): the second takes over by itself.
  await one.stop();
  await waitForReady(env.kube, NS2, `cephfsmirror/${MIRROR}`, { status: 'True' }, 90_000);
  assert.equal((await lockHolder())?.holder, 'fence-op-2');
  await two.stop();
});

test('a leader paused past its Lease is fenced by the new leader and writes nothing when resumed', async () => {
  const lease = ['--leader-elect', '--lease-namespace', NS, '--lease-name', 'fence-lease'];
  const ops = new Map<string, OperatorProcess>([
    ['lead-a', env.operator([...lease, '--namespace', NS], { POD_NAME: 'lead-a' })],
  ]);
  await waitFor(
    'lead-a to hold the lock',
    async () => (await lockHolder())?.holder === 'lead-a' || undefined,
    120_000,
  );
  ops.set('lead-b', env.operator([...lease, '--namespace', NS], { POD_NAME: 'lead-b' }));
  const old = await lockHolder();
  assert.ok(old);
  const paused = ops.get('lead-a') as OperatorProcess;
  process.kill(paused.pid, 'SIGSTOP');
  try {
    await waitFor(
      'lead-b to take the filesystem over',
      async () => (await lockHolder())?.holder === 'lead-b' || undefined,
      120_000,
      500,
    );
    assert.ok(
      (await blocklisted(env.a)).includes(blocklistAddr(old.addr)),
      `the paused leader's address ${old.addr} is on the blocklist`,
    );
    await applyObjects(env.kube, [directoryObject(NS, 'after', MIRROR, '/fence/after')]);
    await waitForReady(env.kube, NS, 'mirroreddirectory/after', { status: 'True' }, 90_000);
  } finally {
    process.kill(paused.pid, 'SIGCONT');
  }
  const before = await dirMapPaths();
  const recordBefore = await holderRecordText();
  assert.ok(before.includes('/fence/after'));
  // Resumed, the old leader finds its Lease and its lock gone: it must write nothing more.
  await new Promise((r) => setTimeout(r, 20_000));
  assert.deepEqual(await dirMapPaths(), before);
  assert.equal(await holderRecordText(), recordBefore);
  assert.equal((await lockHolder())?.holder, 'lead-b');
  for (const op of ops.values()) await op.stop();
});

test("the operator's own RADOS client blocklisted: it reconnects and declares no daemon dead", async () => {
  const op = env.operator(['--namespace', NS], { POD_NAME: 'fence-bl' });
  await waitFor(
    'fence-bl to hold the lock',
    async () => (await lockHolder())?.holder === 'fence-bl' || undefined,
    120_000,
  );
  await waitForReady(env.kube, NS, 'mirroreddirectory/one', { status: 'True' }, 90_000);
  const pool = await metadataPool();
  const assigned = (await loadDirMap(env.a, pool)).directories.map(([p, r]) => [p, r.instanceId]);
  const held = await lockHolder();
  assert.ok(held);
  const { rc, outs } = await env.a.monCommand({
    prefix: 'osd blocklist',
    blocklistop: 'add',
    addr: blocklistAddr(held.addr),
  });
  assert.equal(rc, 0, outs);
  await waitFor(
    'a Blocklisted Event on the mirror',
    async () => {
      const list = await kubectlJson<{ items: Array<{ reason?: string }> }>(env.kube, [
        '-n',
        NS,
        'get',
        'events',
      ]);
      return list.items.some((e) => e.reason === 'Blocklisted') || undefined;
    },
    60_000,
    500,
  );
  // A new connection, a new address, the lock again; the daemon kept all it had.
  await waitFor(
    'the engine back on a new RADOS client',
    async () => {
      const now = await lockHolder();
      return now?.holder === 'fence-bl' && now.addr !== held.addr ? true : undefined;
    },
    90_000,
    1000,
  );
  await waitForReady(env.kube, NS, `cephfsmirror/${MIRROR}`, { status: 'True' }, 90_000);
  const after = (await loadDirMap(env.a, pool)).directories.map(([p, r]) => [p, r.instanceId]);
  assert.deepEqual(after, assigned, 'no directory moved: the daemon was not declared dead');
  const events = await kubectlJson<{ items: Array<{ reason?: string }> }>(env.kube, [
    '-n',
    NS,
    'get',
    'events',
  ]);
  assert.equal(
    events.items.filter((e) => e.reason === 'DaemonLost').length,
    0,
    'no daemon declared lost',
  );
  await op.stop();
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
