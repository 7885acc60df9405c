// The fence on `cephfs_mirror` against the real lab's OSDs: one exclusive, expiring lock whose
// holder's writes are each guarded by the lock and by the object's version, so that a second
// writer, a stale leader or a foreign write is refused by Ceph itself.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Rados, type IoCtx } from 'rados-js';
import { isCephOpError } from '../../src/ceph/errors.js';
import {
  FENCE_LOCK_NAME,
  HOLDER_KEY,
  MirrorObjectFence,
  blocklistAddr,
  type FenceFailure,
  type FenceOptions,
} from '../../src/ceph/mirror-fence.js';
import { useLab, type SiteInfo } from '../../lab/harness/lab.js';

let site: SiteInfo;
const clients: Rados[] = [];

async function connect(): Promise<{ rados: Rados; io: IoCtx }> {
  const rados = await Rados.connect({ confPath: site.confPath, timeoutMs: 30_000 });
  clients.push(rados);
  return { rados, io: await rados.openIoCtx(site.metadataPool) };
}

before(async () => {
  site = (await useLab()).sites.a;
});

after(async () => {
  await Promise.all(clients.map((c) => c.shutdown().catch(() => undefined)));
});

async function freshObject(io: IoCtx): Promise<string> {
  const oid = `fence-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  await io.createObject(oid);
  return oid;
}

interface Taken {
  fence: MirrorObjectFence;
  failures: FenceFailure[];
}

async function take(
  c: { rados: Rados; io: IoCtx },
  oid: string,
  owner: FenceOptions['owner'],
  extra: Partial<FenceOptions> = {},
): Promise<Taken> {
  const failures: FenceFailure[] = [];
  const fence = await MirrorObjectFence.acquire({
    ioctx: c.io,
    rados: c.rados,
    oid,
    owner,
    onFailed: (f) => failures.push(f),
    ...extra,
  });
  return { fence, failures };
}

async function omapKeys(io: IoCtx, oid: string): Promise<string[]> {
  return (await io.omapGetVals(oid, { max: 1000 })).entries.map(([k]) => k);
}

test('a second holder is refused while the first holds the lock; a release frees it at once', async () => {
  const one = await connect();
  const two = await connect();
  const oid = await freshObject(one.io);
  const first = await take(one, oid, { holder: 'operator-1', mirror: 'ns1/site-a' });
  await assert.rejects(
    take(two, oid, { holder: 'operator-2', mirror: 'ns2/site-a' }),
    (e: unknown) => {
      assert.ok(isCephOpError(e));
      assert.equal(e.reason, 'FilesystemLockedByOther');
      assert.match(e.message, /operator-1/);
      assert.match(e.message, /ns1\/site-a/);
      return true;
    },
  );
  assert.equal(await first.fence.write([['dir_map_/x', Buffer.from('1')]], []), 0);
  await first.fence.release();
  assert.deepEqual(await omapKeys(one.io, oid), ['dir_map_/x'], 'holder record removed');
  const second = await take(two, oid, { holder: 'operator-2', mirror: 'ns2/site-a' });
  assert.equal(await second.fence.write([['dir_map_/y', Buffer.from('2')]], []), 0);
  assert.deepEqual(first.failures, []);
  await second.fence.release();
});

test('a write by anyone else in between makes the next guarded write fail, applying nothing', async () => {
  const one = await connect();
  const other = await connect();
  const oid = await freshObject(one.io);
  const { fence, failures } = await take(one, oid, { holder: 'operator-1', mirror: 'ns/m' });
  // Watches (how daemons follow cephfs_mirror) and notifies do not count as writes.
  const watch = await other.io.watch(
    oid,
    () => Buffer.alloc(0),
    () => undefined,
  );
  await other.io.notify(oid, Buffer.alloc(0), 2000);
  assert.equal(await fence.write([['dir_map_/a', Buffer.from('a')]], []), 0);
  await watch.unwatch();
  assert.equal(await fence.write([['dir_map_/b', Buffer.from('b')]], []), 0);

  await other.io.omapWrite(oid, { set: [['dir_map_/foreign', Buffer.from('f')]] });
  const r = await fence.write([['dir_map_/c', Buffer.from('c')]], ['dir_map_/a']);
  assert.equal(r, -34, 'ERANGE: the object is newer than our last write');
  assert.deepEqual(
    failures.map((f) => f.reason),
    ['ForeignWrite'],
  );
  const keys = await omapKeys(one.io, oid);
  assert.ok(keys.includes('dir_map_/a') && !keys.includes('dir_map_/c'), 'nothing of it applied');
  assert.equal(fence.owned(), false);
  assert.equal(await fence.write([['dir_map_/d', Buffer.from('d')]], []), -108, 'stays stopped');
});

test('a new leader of the same Lease fences the previous one: blocklisted, lock broken, its writes refused', async () => {
  const old = await connect();
  const next = await connect();
  const oid = await freshObject(old.io);
  const lease = { namespace: 'ops', name: 'cephfs-mirror-operator' };
  const stale = await take(old, oid, { holder: 'pod-old', mirror: 'ns/m', lease });
  assert.equal(await stale.fence.write([['dir_map_/old', Buffer.from('o')]], []), 0);
  const leader = await take(next, oid, { holder: 'pod-new', mirror: 'ns/m', lease });
  const lockers = await next.io.listLockers(oid, FENCE_LOCK_NAME);
  assert.equal(lockers.lockers.length, 1);
  assert.match(lockers.lockers[0]?.cookie ?? '', /pod-new/);
  assert.equal(await leader.fence.write([['dir_map_/new', Buffer.from('n')]], []), 0);
  // The old holder's client is on the blocklist: its write never reaches the object.
  const r = await stale.fence.write([['dir_map_/late', Buffer.from('l')]], []);
  assert.ok(r < 0, `stale write refused (r=${r})`);
  assert.ok(
    ['Blocklisted', 'LockLost'].includes(stale.failures[0]?.reason ?? ''),
    JSON.stringify(stale.failures),
  );
  const keys = await omapKeys(next.io, oid);
  assert.ok(!keys.includes('dir_map_/late'));
  const holder = (await next.io.omapGetVals(oid, { prefix: HOLDER_KEY, max: 1 })).entries[0];
  assert.match(holder?.[1].toString() ?? '', /pod-new/);
  assert.equal(
    blocklistAddr(JSON.parse(holder?.[1].toString() ?? '{}').addr),
    JSON.parse(holder?.[1].toString() ?? '{}').addr,
  );
  await leader.fence.release();
});

test('a holder that cannot renew in time stops acting; its expired lock frees the object', async () => {
  const one = await connect();
  const two = await connect();
  const oid = await freshObject(one.io);
  let skew = 0;
  const { fence, failures } = await take(
    one,
    oid,
    { holder: 'paused', mirror: 'ns/m' },
    { durationMs: 3000, now: () => performance.now() + skew },
  );
  assert.equal(fence.owned(), true);
  // As if the process had been paused past the lock's lifetime.
  skew = 10_000;
  assert.equal(fence.owned(), false);
  assert.equal(await fence.write([['dir_map_/p', Buffer.from('p')]], []), -108);
  assert.deepEqual(
    failures.map((f) => f.reason),
    ['OwnershipExpired'],
  );
  await new Promise((r) => setTimeout(r, 3500));
  const next = await take(two, oid, { holder: 'other', mirror: 'ns2/m' });
  assert.equal(await next.fence.write([['dir_map_/q', Buffer.from('q')]], []), 0);
  await next.fence.release();
});
