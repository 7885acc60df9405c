// The sync-view cache follows a directory by itself once asked: a view that stays the same is
// refreshed less and less often (30 s doubling to 300 s), one that changes at 30 s again and
// re-enqueues its object; a present source nothing looked at for 360 s is stat'ed, and a directory gone or back
// re-enqueues its object and refreshes its view at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SourceDirectoryState } from '../../../src/ceph/source-directory.js';
import type { PeerSyncView, SyncViewer } from '../../../src/ceph/sync-view.js';
import { FOLLOW_DEFAULTS, SyncViewCache } from '../../../src/controllers/sync-views.js';

class FakeViewer {
  stats: Array<{ path: string; answer: (s: SourceDirectoryState) => void }> = [];
  views: Array<{ path: string; ok: (v: PeerSyncView[]) => void }> = [];
  sourceDirectory(path: string): Promise<SourceDirectoryState> {
    return new Promise((answer) => this.stats.push({ path, answer }));
  }
  view(path: string): Promise<PeerSyncView[]> {
    return new Promise((ok) => this.views.push({ path, ok }));
  }
  forgetPeers(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const tick = async (): Promise<void> => {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
};

const inSync = (snap: string): PeerSyncView[] => [
  {
    peerUUID: 'u1',
    siteName: 'b',
    lastLocalSnapshot: snap,
    lastMirroredSnapshot: snap,
    pendingSnapshots: 0,
    inSync: true,
  },
];

function setUp(): { viewer: FakeViewer; cache: SyncViewCache; done: () => number } {
  const viewer = new FakeViewer();
  // tickMs 0: the test drives sweep() with the times it wants.
  const cache = new SyncViewCache(viewer as unknown as SyncViewer, 15_000, 4, 4, { tickMs: 0 });
  let done = 0;
  cache.refreshIfStale('/d', 'ns/d', () => done++);
  return { viewer, cache, done: () => done };
}

/** A followed /d with its first view answered (in sync) and its source checked (present). */
async function followedWithPresentSource(): Promise<ReturnType<typeof setUp>> {
  const followed = setUp();
  await answer(followed.viewer, inSync('s1'));
  const first = followed.cache.source('/d');
  await tick();
  followed.viewer.stats.shift()?.answer({ state: 'present' });
  await first;
  return followed;
}

/** Answers the one view request outstanding with `v`. */
async function answer(viewer: FakeViewer, v: PeerSyncView[]): Promise<void> {
  await tick();
  assert.equal(viewer.views.length, 1, 'one view requested');
  viewer.views.shift()?.ok(v);
  await tick();
}

/** Whether a sweep `ms` from now asks for a view of /d. */
async function dueAfter(viewer: FakeViewer, cache: SyncViewCache, ms: number): Promise<boolean> {
  cache.sweep(Date.now() + ms);
  await tick();
  return viewer.views.length > 0;
}

test('a view that stays the same is refreshed less and less often, up to the maximum', async () => {
  const { viewer, cache, done } = setUp();
  await answer(viewer, inSync('s1'));
  assert.equal(done(), 1, 'the first view is news');
  const { activeMs, maxMs } = FOLLOW_DEFAULTS;
  // Each wait is ±10%; the next one doubles while nothing changes, then stays at maxMs.
  for (const wait of [activeMs, activeMs * 2, activeMs * 4, activeMs * 8, maxMs, maxMs]) {
    assert.equal(await dueAfter(viewer, cache, wait * 0.85), false, `not before ~${wait} ms`);
    assert.equal(await dueAfter(viewer, cache, wait * 1.15), true, `by ~${wait} ms`);
    await answer(viewer, inSync('s1'));
  }
  assert.equal(done(), 1, 'an unchanged view re-enqueues nothing');
  await cache.close();
});

test('a view that changes re-enqueues its object and is looked at again soon', async () => {
  const { viewer, cache, done } = setUp();
  await answer(viewer, inSync('s1'));
  for (const wait of [30_000, 60_000, 120_000]) {
    assert.equal(await dueAfter(viewer, cache, wait * 1.15), true);
    await answer(viewer, inSync('s1'));
  }
  assert.equal(await dueAfter(viewer, cache, 240_000 * 1.15), true);
  await answer(viewer, inSync('s2'));
  assert.equal(done(), 2, 'the new snapshot is news');
  assert.equal(await dueAfter(viewer, cache, 30_000 * 0.85), false);
  assert.equal(await dueAfter(viewer, cache, 30_000 * 1.15), true, 'back to the active pace');
  await cache.close();
});

test('a followed source is stat-ed when nothing looked at it; a directory gone is news at once', async () => {
  const { viewer, cache, done } = await followedWithPresentSource();
  const before = done();
  cache.sweep(Date.now() + 30_000);
  await tick();
  assert.equal(viewer.stats.length, 0, 'a present answer holds for the sweep interval');
  cache.sweep(Date.now() + FOLLOW_DEFAULTS.sourceSweepMs + 1_000);
  await tick();
  assert.equal(viewer.stats.length, 1, 'one stat');
  // The view is due at that time too, and still running when the stat answers.
  const running = viewer.views.splice(0);
  assert.equal(running.length, 1);
  viewer.stats.shift()?.answer({ state: 'missing', message: '/d does not exist' });
  await tick();
  assert.equal(done(), before + 1, 'the object is re-enqueued');
  assert.deepEqual(cache.knownSource('/d'), { state: 'missing', message: '/d does not exist' });
  running[0]?.ok(inSync('s1'));
  await tick();
  assert.equal(viewer.views.length, 1, 'and its view refreshed again at once');
  // Once, not for ever: the refresh after the change is followed at the active pace again.
  viewer.views.shift()?.ok(inSync('s2'));
  await tick();
  assert.equal(viewer.views.length, 0, 'no third refresh right away');
  assert.equal(await dueAfter(viewer, cache, FOLLOW_DEFAULTS.activeMs * 0.85), false);
  assert.equal(await dueAfter(viewer, cache, FOLLOW_DEFAULTS.activeMs * 1.15), true);
  await cache.close();
});

test('a directory gone while no refresh runs is looked at once, then at the active pace', async () => {
  const { viewer, cache, done } = await followedWithPresentSource();
  // Only the source is due (its sweep interval is past; the view's next refresh is later).
  cache.sweep(Date.now() + FOLLOW_DEFAULTS.sourceSweepMs + 1_000);
  await tick();
  viewer.views.splice(0).forEach((v) => v.ok(inSync('s1')));
  await tick();
  const before = done();
  cache.sweep(Date.now() + 2 * FOLLOW_DEFAULTS.sourceSweepMs + 2_000);
  await tick();
  viewer.views.splice(0).forEach((v) => v.ok(inSync('s1')));
  await tick();
  viewer.stats.shift()?.answer({ state: 'missing', message: '/d does not exist' });
  await tick();
  assert.equal(done(), before + 1, 'the object is re-enqueued');
  await answer(viewer, inSync('s1'));
  assert.equal(viewer.views.length, 0, 'one refresh for the change, not one after another');
  await cache.close();
});

test('an unchanged source, a failed check and a forgotten path re-enqueue nothing', async () => {
  const { viewer, cache, done } = await followedWithPresentSource();
  const before = done();
  cache.sweep(Date.now() + FOLLOW_DEFAULTS.sourceSweepMs + 1_000);
  await tick();
  viewer.stats.shift()?.answer({ state: 'present' });
  await answer(viewer, inSync('s1'));
  cache.sweep(Date.now() + 2 * FOLLOW_DEFAULTS.sourceSweepMs + 2_000);
  await tick();
  viewer.stats.shift()?.answer({ state: 'unknown', message: 'stat: ETIMEDOUT' });
  await answer(viewer, inSync('s1'));
  assert.equal(done(), before);
  cache.forget('/d');
  cache.sweep(Date.now() + 3_600_000);
  await tick();
  assert.equal(viewer.views.length + viewer.stats.length, 0, 'a forgotten path is not followed');
  await cache.close();
});
