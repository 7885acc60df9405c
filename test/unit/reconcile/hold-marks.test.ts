// Restart without churn (issue 13 item 4): the acquire marks, crash point by crash point
// (docs/ceph-layer.md, "Restart without churn"). Each crash is a driver stopped at that point
// and a new one started from what the store holds; the daemons (InMemoryNotifier) keep what
// they were told, and a duplicate acquire is recorded there.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DirMapWriteQueue,
  Errno,
  storedDirectoryPath,
  type DirPath,
} from '../../../src/reconcile/index.js';
import {
  checkDriverConsistency,
  InMemoryDirMapStore,
  settle,
  uncertainDeliveries,
} from '../../../src/reconcile/testing.js';
import { instanceRecord, makeWorld, restartDriver, runUntilQuiet, type World } from './world.js';

const DIRS = ['/a', '/b', '/c', '/d'];

/** Two daemons holding DIRS, every acquire acked and marked. */
async function mappedWorld(): Promise<World> {
  const w = makeWorld({ start: { instances: [instanceRecord('i1'), instanceRecord('i2')] } });
  for (const d of DIRS) await w.driver.addDirectory(d);
  await runUntilQuiet(w);
  for (const d of DIRS) {
    const record = w.store.dirMap.get(d);
    assert.ok(record && record.instanceId !== '');
    assert.deepEqual(w.store.marks.get(d), {
      instanceId: record.instanceId,
      lastShuffled: record.lastShuffled,
    });
  }
  return w;
}

/** Notifies sent since `from`, as `path:mode@instance`. */
function sentSince(w: World, from: number): string[] {
  return w.notifier.sent
    .slice(from)
    .map((s) => `${s.message.dir_path}:${s.message.mode}@${s.instanceId}`);
}

function assertEachHeldOnce(w: World): void {
  assert.deepEqual(w.notifier.duplicateAcquires, [], 'no duplicate acquire');
  for (const d of DIRS) {
    const id = w.driver.status(d)?.instanceId;
    assert.ok(id, `${d} mapped`);
    assert.deepEqual(w.notifier.holders(d), [id], `${d} held by its instance only`);
  }
}

/** A driver stopped while a mark write is out: the op never lands (the process died). */
async function crashWithWritesOut(w: World): Promise<void> {
  let stopped = false;
  void w.driver.stop().then(() => (stopped = true));
  while (w.store.settleDirMapWrite(-Errno.ESHUTDOWN)) await settle();
  await settle();
  assert.ok(stopped);
}

describe('acquire marks: a restart without churn', () => {
  it('a restart with every mark valid sends no notify and writes nothing; all stay mapped', async () => {
    const w = await mappedWorld();
    await w.driver.stop();
    const sent = w.notifier.sent.length;
    const ops = w.store.dirMapOps.length;
    restartDriver(w);
    // Before the first tick: every directory already mapped (no "resolving" step).
    for (const d of DIRS) assert.equal(w.driver.status(d)?.state, 'mapped');
    assert.equal(uncertainDeliveries(w.driver), 0);
    await runUntilQuiet(w);
    assert.deepEqual(sentSince(w, sent), []);
    assert.equal(w.store.dirMapOps.length, ops, 'no write either');
    assertEachHeldOnce(w);
    checkDriverConsistency(w.driver);
  });

  it('crash after the ack, before the mark landed: that pair alone is released and re-acquired, once', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1')] } });
    for (const d of DIRS.slice(0, 3)) await w.driver.addDirectory(d);
    await runUntilQuiet(w);
    // /d: its write and acquire succeed, but its mark write is out when the process dies.
    await w.driver.addDirectory('/d');
    w.notifier.manual = true;
    await runUntilQuietOrHeld(w);
    w.store.manual = true;
    w.notifier.settleNotify(0, 0);
    await settle();
    assert.ok(w.store.heldDirMapWrites[0]?.request.marks?.set.has('/d'), 'mark write is out');
    await crashWithWritesOut(w);
    assert.equal(w.store.marks.has('/d'), false);
    w.store.manual = false;
    w.notifier.manual = false;
    const sent = w.notifier.sent.length;
    restartDriver(w);
    await runUntilQuiet(w);
    assert.deepEqual(sentSince(w, sent), ['/d:release@i1', '/d:acquire@i1']);
    assert.deepEqual(w.notifier.duplicateAcquires, []);
    assert.deepEqual([...w.notifier.holdings('i1')].sort(), DIRS);
    assert.deepEqual(w.store.marks.get('/d')?.instanceId, 'i1', 'marked after the new ack');
  });

  it('crash after the acquire was sent, before its ack: no mark, so release then acquire', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1')] } });
    await w.driver.addDirectory('/a');
    w.notifier.manual = true;
    await runUntilQuietOrHeld(w);
    assert.equal(w.notifier.heldNotifies.length, 1);
    let stopped = false;
    void w.driver.stop().then(() => (stopped = true));
    // The daemon got it, the answer was lost with the process.
    w.notifier.settleNotify(0, -Errno.ETIMEDOUT, true);
    await settle();
    assert.ok(stopped);
    assert.equal(w.store.marks.size, 0);
    w.notifier.manual = false;
    const sent = w.notifier.sent.length;
    restartDriver(w);
    await runUntilQuiet(w);
    assert.deepEqual(sentSince(w, sent), ['/a:release@i1', '/a:acquire@i1']);
    assert.deepEqual(w.notifier.duplicateAcquires, []);
  });

  it('a release waits until the mark removal is durable; a failed removal sends no release', async () => {
    const w = await mappedWorld();
    const victim = '/a';
    const holder = w.driver.status(victim)?.instanceId;
    assert.ok(holder);
    w.store.manual = true;
    w.notifier.manual = true;
    const removing = w.driver.removeDirectory(victim);
    await settle();
    assert.ok(w.store.settleDirMapWrite(0), 'purge mark');
    await removing;
    w.clock.advance(1);
    await settle();
    // The mark removal is out, the release is not.
    assert.deepEqual(w.store.heldDirMapWrites[0]?.request.marks?.remove, [victim]);
    assert.equal(w.notifier.heldNotifies.length, 0, 'no release before the mark is gone');
    w.store.settleDirMapWrite(-Errno.EIO);
    await settle();
    assert.equal(w.notifier.heldNotifies.length, 0, 'a failed removal sends no release');
    assert.equal(w.store.marks.has(victim), true);
    w.clock.advance(1);
    await settle();
    assert.ok(w.store.settleDirMapWrite(0), 'the removal again, next tick');
    await settle();
    assert.equal(w.store.marks.has(victim), false);
    assert.deepEqual(
      w.notifier.heldNotifies.map((n) => `${n.request.message.dir_path}:${n.request.message.mode}`),
      [`${victim}:release`],
    );
    w.notifier.settleNotify(0, 0);
    await settle();
    w.store.manual = false;
    w.notifier.manual = false;
    await runUntilQuiet(w);
    assert.equal(w.store.dirMap.has(victim), false);
    assert.equal(w.notifier.holders(victim).length, 0);
  });

  it('crash with the mark removal out (never landed): the mark still holds, nothing is sent', async () => {
    const w = await mappedWorld();
    w.store.manual = true;
    const holder = w.driver.status('/a')?.instanceId;
    const removing = w.driver.removeDirectory('/a');
    await settle();
    assert.ok(w.store.settleDirMapWrite(0), 'purge mark');
    await removing;
    w.clock.advance(1);
    await settle();
    assert.deepEqual(w.store.heldDirMapWrites[0]?.request.marks?.remove, ['/a']);
    await crashWithWritesOut(w);
    w.store.manual = false;
    const sent = w.notifier.sent.length;
    restartDriver(w);
    await runUntilQuiet(w);
    // The purge mark resumes the removal: one release (after the mark goes), then the key.
    assert.deepEqual(sentSince(w, sent), [`/a:release@${holder}`]);
    assert.equal(w.store.dirMap.has('/a'), false);
    assert.equal(w.store.marks.has('/a'), false);
    assert.equal(w.notifier.holders('/a').length, 0);
  });

  it('crash after the mark removal landed, before the release: the pair is uncertain (release, acquire)', async () => {
    const w = await mappedWorld();
    // A shuffle: the rebalance wants /a elsewhere. Simulate the crash point directly: the mark
    // is gone, the record still names the holder, no release was sent.
    const holder = w.driver.status('/a')?.instanceId;
    await w.driver.stop();
    w.store.marks.delete('/a');
    const sent = w.notifier.sent.length;
    restartDriver(w);
    await runUntilQuiet(w);
    assert.deepEqual(sentSince(w, sent), [`/a:release@${holder}`, `/a:acquire@${holder}`]);
    assertEachHeldOnce(w);
  });

  it('a record rewritten by someone else invalidates its mark (deleted at start, re-marked after the new ack)', async () => {
    const w = await mappedWorld();
    await w.driver.stop();
    const record = w.store.dirMap.get('/b');
    assert.ok(record);
    // The mgr module (or a hand edit) remapped /b on the same daemon at another time.
    w.store.dirMap.set('/b', { ...record, lastShuffled: record.lastShuffled + 5 });
    const sent = w.notifier.sent.length;
    restartDriver(w);
    assert.equal(w.driver.status('/b')?.state, 'resolving');
    await runUntilQuiet(w);
    assert.deepEqual(sentSince(w, sent), [
      `/b:release@${record.instanceId}`,
      `/b:acquire@${record.instanceId}`,
    ]);
    assert.deepEqual(w.store.marks.get('/b'), {
      instanceId: record.instanceId,
      lastShuffled: record.lastShuffled + 5,
    });
    assertEachHeldOnce(w);
  });

  it('marks of paths no longer in the map are deleted at start, in one op', async () => {
    const w = await mappedWorld();
    await w.driver.stop();
    w.store.dirMap.delete('/c');
    w.store.marks.set('/zz', { instanceId: 'i1', lastShuffled: 1 });
    const ops = w.store.dirMapOps.length;
    restartDriver(w);
    await runUntilQuiet(w);
    assert.equal(w.store.marks.has('/c'), false);
    assert.equal(w.store.marks.has('/zz'), false);
    const atStart = w.store.dirMapOps.slice(ops, ops + 1);
    assert.deepEqual(atStart[0]?.marks?.remove.slice().sort(), ['/c', '/zz']);
  });

  it('a mark on an instance missing from the instance list proves nothing: that daemon is dead, its directories move', async () => {
    const w = await mappedWorld();
    await w.driver.stop();
    const onI2 = DIRS.filter((d) => w.store.dirMap.get(d)?.instanceId === 'i2');
    assert.ok(onI2.length > 0);
    w.store.instances.delete('i2');
    w.notifier.down.add('i2');
    const sent = w.notifier.sent.length;
    restartDriver(w);
    await runUntilQuiet(w);
    for (const d of onI2) {
      assert.equal(w.driver.status(d)?.instanceId, 'i1');
      assert.equal(w.store.marks.get(d)?.instanceId, 'i1');
    }
    const acquires = sentSince(w, sent).filter((s) => s.includes(':acquire@'));
    assert.deepEqual(acquires.sort(), onI2.map((d) => `${d}:acquire@i1`).sort());
    assert.deepEqual(w.notifier.duplicateAcquires, []);
  });

  it('a directory another daemon may still hold (a stray after a reload) is not certain: the stray lets go first', async () => {
    const w = await mappedWorld();
    const holder = w.driver.status('/a')?.instanceId;
    assert.ok(holder);
    await w.driver.stop();
    // The previous engine's view: a third daemon may hold /a too (an unacked release to it).
    w.notifier.held.set('i3', new Set(['/a']));
    const sent = w.notifier.sent.length;
    restartDriver(w, undefined, [['/a', 'i3']]);
    await runUntilQuiet(w);
    assert.deepEqual(sentSince(w, sent), [
      '/a:release@i3',
      `/a:release@${holder}`,
      `/a:acquire@${holder}`,
    ]);
    assertEachHeldOnce(w);
  });

  it('a purging record is never certain: the removal resumes', async () => {
    const w = await mappedWorld();
    await w.driver.stop();
    const record = w.store.dirMap.get('/d');
    assert.ok(record);
    w.store.dirMap.set('/d', { ...record, purging: true });
    const sent = w.notifier.sent.length;
    restartDriver(w);
    await runUntilQuiet(w);
    assert.deepEqual(sentSince(w, sent), [`/d:release@${record.instanceId}`]);
    assert.equal(w.store.dirMap.has('/d'), false);
    assert.equal(w.store.marks.has('/d'), false);
  });
});

describe('DirMapWriteQueue with marks', () => {
  it('a key removal that takes its mark along counts two keys and never shares an op with that mark', async () => {
    const store = new InMemoryDirMapStore();
    const q = new DirMapWriteQueue(store, 3);
    const done: string[] = [];
    const cb = (p: string, r: number): void => void done.push(`${p}:${r}`);
    const [x, y, z] = ['/x', '/y', '/z'].map(storedDirectoryPath) as [DirPath, DirPath, DirPath];
    q.setMark(x, { instanceId: 'i', lastShuffled: 1 }, cb);
    q.remove(x, cb, true);
    q.remove(y, cb, true);
    q.remove(z, cb);
    await settle();
    await settle();
    assert.deepEqual(
      store.dirMapOps.map((op) => [op.remove, op.marks?.set.size ?? 0, op.marks?.remove ?? []]),
      [
        [[], 1, []],
        [['/x'], 0, ['/x']],
        [['/y', '/z'], 0, ['/y']],
      ],
    );
    assert.equal(store.marks.size, 0);
    assert.equal(done.length, 4);
  });
});

/** Advance until something is held (manual ports) or nothing is left. */
async function runUntilQuietOrHeld(w: World): Promise<void> {
  await settle();
  for (let i = 0; i < 20; i++) {
    if (w.notifier.heldNotifies.length > 0 || w.store.heldDirMapWrites.length > 0) return;
    if (w.driver.isQuiet()) return;
    w.clock.advance(1);
    await settle();
  }
}
