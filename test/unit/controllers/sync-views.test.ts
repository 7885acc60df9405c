import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import type { SourceDirectoryState } from '../../../src/ceph/source-directory.js';
import type { PeerSyncView, SyncViewer } from '../../../src/ceph/sync-view.js';
import { SyncViewCache, failedRefresh, toPeerStatus } from '../../../src/controllers/sync-views.js';

/** A SyncViewer stand-in whose answers the test releases by hand. */
class FakeViewer {
  stats: Array<{ path: string; answer: (s: SourceDirectoryState) => void }> = [];
  views: Array<{ path: string; ok: (v: PeerSyncView[]) => void; fail: (e: Error) => void }> = [];
  sourceDirectory(path: string): Promise<SourceDirectoryState> {
    return new Promise((answer) => this.stats.push({ path, answer }));
  }
  view(path: string): Promise<PeerSyncView[]> {
    return new Promise((ok, fail) => this.views.push({ path, ok, fail }));
  }
  forgetPeers(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function cacheWith(viewer: FakeViewer, maxSourceChecks = 2): SyncViewCache {
  return new SyncViewCache(viewer as unknown as SyncViewer, 15_000, 4, maxSourceChecks);
}

test('one stat per path while its answer holds, shared by concurrent callers', async () => {
  const viewer = new FakeViewer();
  const cache = cacheWith(viewer);
  const first = cache.source('/a');
  const second = cache.source('/a');
  await tick();
  assert.equal(viewer.stats.length, 1);
  viewer.stats[0]?.answer({ state: 'present' });
  assert.deepEqual(await first, { state: 'present' });
  assert.deepEqual(await second, { state: 'present' });
  assert.deepEqual(await cache.source('/a'), { state: 'present' }, 'cached');
  assert.equal(viewer.stats.length, 1);
  assert.deepEqual(cache.knownSource('/a'), { state: 'present' });
  cache.forget('/a');
  assert.equal(cache.knownSource('/a'), undefined);
});

test('source stats in flight are bounded', async () => {
  const viewer = new FakeViewer();
  const cache = cacheWith(viewer, 2);
  const all = ['/1', '/2', '/3', '/4'].map((p) => cache.source(p));
  await tick();
  assert.deepEqual(
    viewer.stats.map((s) => s.path),
    ['/1', '/2'],
  );
  viewer.stats[0]?.answer({ state: 'missing', message: '/1 does not exist on filesystem a' });
  await tick();
  await tick();
  assert.equal(viewer.stats.length, 3);
  for (const s of viewer.stats.slice(1)) s.answer({ state: 'present' });
  await tick();
  await tick();
  for (const s of viewer.stats.slice(3)) s.answer({ state: 'present' });
  const states = await Promise.all(all);
  assert.deepEqual(
    states.map((s) => s.state),
    ['missing', 'present', 'present', 'present'],
  );
});

test('a refresh that finds the source missing says so, for the view and the source check', async () => {
  const viewer = new FakeViewer();
  const cache = cacheWith(viewer);
  const told: string[] = [];
  cache.refreshIfStale('/d', 'ns/d', (key) => told.push(key));
  await tick();
  const problem = {
    reason: 'SourceDirectoryMissing',
    message: '/d does not exist on filesystem a',
  };
  viewer.views[0]?.ok([{ peerUUID: 'u1', siteName: 'b', inSync: false, problem }]);
  await tick();
  await tick();
  assert.deepEqual(told, ['ns/d'], 'the object is told once, by its key');
  assert.deepEqual(cache.get('/d'), [{ peerUUID: 'u1', siteName: 'b', inSync: false, ...problem }]);
  assert.deepEqual(cache.knownSource('/d'), { state: 'missing', message: problem.message });
});

test('a refresh that fails makes the last view unknown instead of keeping it in sync', () => {
  const before = [
    { peerUUID: 'u1', siteName: 'b', lastLocalSnapshot: 's1', pendingSnapshots: 0, inSync: true },
  ];
  assert.deepEqual(failedRefresh(before, 'fsmap: ETIMEDOUT'), [
    {
      peerUUID: 'u1',
      siteName: 'b',
      lastLocalSnapshot: 's1',
      pendingSnapshots: 0,
      inSync: false,
      reason: 'SyncViewFailed',
      message: 'fsmap: ETIMEDOUT',
    },
  ]);
});

test('the status form of a view carries the reason and leaves out what is not known', () => {
  assert.deepEqual(
    toPeerStatus({
      peerUUID: 'u',
      siteName: 'b',
      inSync: false,
      problem: { reason: 'PeerUnreadable', message: 'peer b: EACCES' },
    }),
    {
      peerUUID: 'u',
      siteName: 'b',
      inSync: false,
      reason: 'PeerUnreadable',
      message: 'peer b: EACCES',
    },
  );
});

test('lag: age of the oldest snapshot the peer lacks, kept while the peer makes no progress', async () => {
  const viewer = new FakeViewer();
  const cache = new SyncViewCache(viewer as unknown as SyncViewer, 0, 4, 2);
  const now = Date.now();
  const name = (ago: number): string =>
    `s-${new Date(Math.floor((now - ago * 1000) / 1000) * 1000)
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
      .replace(/:/g, '-')}`;
  const view = (oldest: string | undefined, synced: string | undefined): PeerSyncView => ({
    peerUUID: 'p',
    siteName: 'b',
    ...(synced ? { lastMirroredSnapshot: synced } : {}),
    ...(oldest ? { oldestPendingSnapshot: oldest } : {}),
    pendingSnapshots: oldest ? 1 : 0,
    inSync: !oldest,
  });
  const refresh = async (v: PeerSyncView): Promise<number | undefined> => {
    cache.refreshIfStale('/d', 'ns/d', () => undefined);
    await tick();
    viewer.views.shift()?.ok([v]);
    await tick();
    await tick();
    return cache.get('/d')?.[0]?.lagSeconds;
  };
  assert.equal(await refresh(view(undefined, name(100))), 0, 'in sync');
  const lag1 = (await refresh(view(name(40), name(100)))) as number;
  assert.ok(lag1 >= 40 && lag1 <= 41, String(lag1));
  // The oldest pending one pruned on the source, the peer still at the same snapshot: no younger.
  const lag2 = (await refresh(view(name(10), name(100)))) as number;
  assert.ok(lag2 >= 40, String(lag2));
  // The newest shared one pruned too: still no progress.
  assert.ok(((await refresh(view(name(10), undefined))) as number) >= 40);
  // The peer got a newer snapshot: measured from what it still lacks.
  const lag3 = (await refresh(view(name(10), name(20)))) as number;
  assert.ok(lag3 >= 10 && lag3 < 20, String(lag3));
  assert.equal(cache.get('/d')?.[0]?.lastSyncedSnapshot, name(20));
});

/** A peer missing one snapshot whose name has no time in it (its time is when it was first seen). */
const LAGGING: PeerSyncView = {
  peerUUID: 'u1',
  siteName: 'b',
  lastLocalSnapshot: 'plain-name',
  pendingSnapshots: 1,
  oldestPendingSnapshot: 'plain-name',
  inSync: false,
};

test('a path forgotten while its view is refreshed keeps nothing of that refresh', async () => {
  const viewer = new FakeViewer();
  const cache = cacheWith(viewer);
  let told = 0;
  cache.refreshIfStale('/gone', 'ns/gone', () => told++);
  await tick();
  assert.equal(viewer.views.length, 1);
  cache.forget('/gone');
  // A view that would be news (a lagging peer, the source missing) for an object still there.
  const problem = { reason: 'SourceDirectoryMissing', message: '/gone does not exist' };
  viewer.views[0]?.ok([{ ...LAGGING, problem }]);
  await tick();
  await tick();
  assert.equal(told, 0, 'nobody is told');
  assert.equal(cache.get('/gone'), undefined, 'no view of a forgotten path');
  assert.equal(cache.knownSource('/gone'), undefined, 'nor its source');
  // A new object declaring the path a minute later starts afresh: no lag carried over from the
  // forgotten one (its pending snapshot has no time in its name: the time it was first seen).
  mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 });
  cache.refreshIfStale('/gone', 'ns/again', () => told++);
  await tick();
  viewer.views[1]?.ok([LAGGING]);
  await tick();
  await tick();
  mock.timers.reset();
  assert.equal(cache.get('/gone')?.[0]?.lagSeconds, 0, 'pending since now, not since before');
  await cache.close();
});

test('a path forgotten while its source is checked is not brought back by the answer', async () => {
  const viewer = new FakeViewer();
  const cache = cacheWith(viewer);
  const check = cache.source('/gone');
  await tick();
  cache.forget('/gone');
  viewer.stats[0]?.answer({ state: 'present' });
  assert.deepEqual(await check, { state: 'present' }, 'the caller still gets its answer');
  assert.equal(cache.knownSource('/gone'), undefined);
  // A later check of the path is recorded as usual.
  const again = cache.source('/gone');
  await tick();
  viewer.stats[1]?.answer({ state: 'present' });
  await again;
  assert.deepEqual(cache.knownSource('/gone'), { state: 'present' });
  await cache.close();
});

test('directories without peers share one empty view, which callers cannot change', async () => {
  const viewer = new FakeViewer();
  const cache = cacheWith(viewer);
  cache.refreshIfStale('/a', 'ns/a', () => undefined);
  cache.refreshIfStale('/b', 'ns/b', () => undefined);
  await tick();
  for (const v of viewer.views.splice(0)) v.ok([]);
  await tick();
  await tick();
  const [a, b] = [cache.get('/a'), cache.get('/b')];
  assert.deepEqual(a, []);
  assert.equal(a, b, 'the same array');
  assert.throws(() => (a as unknown as string[]).push('x'), TypeError);
  await cache.close();
});
