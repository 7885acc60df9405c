import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirectoryError, type DirMapWriteBatch } from '../../../src/reconcile/index.js';
import {
  checkDriverConsistency,
  settle,
  uncertainDeliveries,
} from '../../../src/reconcile/testing.js';
import {
  dirRecord,
  instance,
  instanceRecord,
  liveLoads,
  makeWorld,
  restartDriver,
  runFor,
  runUntilQuiet,
} from './world.js';

const reason = (r: string) => (e: unknown) => e instanceof DirectoryError && e.reason === r;

describe('FilesystemMirrorDriver: directories', () => {
  it('adds: writes the new key, resolves, then maps and acquires, each step early after the last', async () => {
    const w = makeWorld({ manual: true, start: { instances: [instanceRecord('i1')] } });
    let resolved = '';
    const added = w.driver.addDirectory('/d1/').then((p) => (resolved = p));
    await settle();
    assert.equal(w.store.heldDirMapWrites.length, 1);
    assert.deepEqual(
      [...(w.store.heldDirMapWrites[0]?.request.set ?? [])],
      [['/d1', { version: 1, instanceId: '', lastShuffled: 0 }]],
    );
    assert.equal(resolved, '', 'not before the write completes');
    w.store.settleDirMapWrite(0);
    await added;
    assert.equal(resolved, '/d1', 'resolves with the normalised path');

    // A step that succeeded leads to the next one early (EARLY_TICK_S), not a whole tick later.
    w.clock.advance(0.02);
    await settle();
    const t1 = w.clock.now();
    assert.deepEqual(w.store.heldDirMapWrites[0]?.request.set.get('/d1'), {
      version: 1,
      instanceId: 'i1',
      lastShuffled: t1,
    });
    w.store.settleDirMapWrite(0);
    await settle();
    assert.equal(w.notifier.heldNotifies.length, 0, 'acquire waits for the early tick');
    w.clock.advance(0.02);
    await settle();
    assert.deepEqual(w.notifier.heldNotifies[0]?.request, {
      instanceId: 'i1',
      message: { dir_path: '/d1', mode: 'acquire' },
    });
    w.notifier.settleNotify(0, 0);
    await settle();
    assert.equal(w.driver.status('/d1')?.state, 'mapped');
    assert.deepEqual([...w.notifier.holdings('i1')], ['/d1']);
    assert.ok(w.changed.includes('/d1'));
    // Only after the ack: the acquire mark, which lets a restart skip the notifies.
    assert.deepEqual(
      [...(w.store.heldDirMapWrites[0]?.request.marks?.set ?? [])],
      [['/d1', { instanceId: 'i1', lastShuffled: w.store.dirMap.get('/d1')?.lastShuffled }]],
    );
    assert.equal(w.driver.isQuiet(), false, 'the mark write is out');
    w.store.settleDirMapWrite(0);
    await settle();
    assert.equal(w.driver.isQuiet(), true);
  });

  it('removes: purge mark first, then release, then key removal; status goes away', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1')] } });
    await w.driver.addDirectory('/d');
    await runUntilQuiet(w);
    const opsBefore = w.store.dirMapOps.length;
    await w.driver.removeDirectory('/d');
    assert.equal(w.store.dirMap.get('/d')?.purging, true, 'purge mark written before resolve');
    assert.equal(w.store.dirMap.get('/d')?.instanceId, 'i1');
    w.changed.length = 0;
    await runUntilQuiet(w);
    assert.equal(w.store.dirMap.has('/d'), false);
    assert.equal(w.notifier.holdings('i1').size, 0);
    assert.equal(w.driver.status('/d'), undefined);
    assert.ok(w.changed.includes('/d'), 'listener hears of the end');
    const modes = w.notifier.sent.map((s) => s.message.mode);
    assert.deepEqual(modes, ['acquire', 'release']);
    // Purge mark; the acquire mark removed before the release is sent; then the key.
    assert.deepEqual(
      w.store.dirMapOps
        .slice(opsBefore)
        .map((op) => [op.set.size, op.remove, op.marks?.set.size ?? 0, op.marks?.remove ?? []]),
      [
        [1, [], 0, []],
        [0, [], 0, ['/d']],
        [0, ['/d'], 0, []],
      ],
    );
    assert.equal(w.store.marks.size, 0);
  });

  it('refuses with typed errors, as the mgr module does', async () => {
    const w = makeWorld({ manual: true, start: { instances: [instanceRecord('i1')] } });
    await assert.rejects(w.driver.addDirectory('rel'), reason('RelativePath'));
    const first = w.driver.addDirectory('/a/b');
    await assert.rejects(w.driver.addDirectory('/a/b'), reason('AlreadyTracked'));
    await assert.rejects(w.driver.addDirectory('/a/b/c'), (e: unknown) => {
      return (
        e instanceof DirectoryError &&
        e.reason === 'SubtreeOfTracked' &&
        e.conflictingPath === '/a/b'
      );
    });
    await assert.rejects(w.driver.addDirectory('/a'), reason('AncestorOfTracked'));
    await assert.rejects(w.driver.removeDirectory('/x'), (e: unknown) => {
      return (
        e instanceof DirectoryError &&
        e.code === 'ENOENT' &&
        e.message === 'directory /x id not tracked'
      );
    });
    w.store.settleDirMapWrite(0);
    await first;
    const removing = w.driver.removeDirectory('/a/b');
    await assert.rejects(w.driver.addDirectory('/a/b'), (e: unknown) => {
      return e instanceof DirectoryError && e.code === 'EAGAIN' && e.reason === 'RemovalInProgress';
    });
    await assert.rejects(w.driver.removeDirectory('/a/b'), reason('UnderRemoval'));
    while (w.store.settleDirMapWrite(0)) await settle();
    await removing;
    await assert.rejects(w.driver.removeDirectory('/a//b/'), reason('UnderRemoval'));
    await assert.rejects(w.driver.addDirectory('/a/b'), reason('RemovalInProgress'));
  });

  it('batches a tick into ops of at most 256 distinct keys', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1'), instanceRecord('i2')] } });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => w.driver.addDirectory(`/d${i}`)));
    const addOps = w.store.dirMapOps.length;
    assert.ok(addOps <= 5, `1000 concurrent adds share ops (${addOps})`);
    await runUntilQuiet(w);
    const mapOps = w.store.dirMapOps.slice(addOps);
    const keys = (op: DirMapWriteBatch): number =>
      op.set.size + op.remove.length + (op.marks?.set.size ?? 0) + (op.marks?.remove.length ?? 0);
    assert.deepEqual(mapOps.filter((op) => !op.marks).map(keys), [256, 256, 256, 232]);
    // The acked acquires' marks, batched the same way.
    assert.deepEqual(mapOps.filter((op) => op.marks).map(keys), [256, 256, 256, 232]);
    for (const op of w.store.dirMapOps) {
      assert.ok(keys(op) <= 256);
      for (const p of op.remove) assert.equal(op.set.has(p), false);
    }
    assert.deepEqual([...liveLoads(w).values()], [500, 500]);
  });

  it('retries failed writes and notifies; nothing is dropped', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1')] } });
    let failWrites = 3;
    w.store.respond = () => (failWrites-- > 0 ? -5 : 0);
    let failNotifies = 2;
    w.notifier.respond = () => (failNotifies-- > 0 ? -110 : 0);
    const added = w.driver.addDirectory('/d');
    await runFor(w, 10);
    assert.equal(await added, '/d');
    await runUntilQuiet(w);
    assert.equal(w.driver.status('/d')?.state, 'mapped');
    assert.equal(w.store.dirMap.get('/d')?.instanceId, 'i1');
    assert.ok(w.warnings.length >= 5);
  });

  it('stop: stops ticking, awaits in-flight work, refuses what cannot finish', async () => {
    const w = makeWorld({ manual: true, start: { instances: [instanceRecord('i1')] } });
    const a = w.driver.addDirectory('/a');
    await settle();
    const b = w.driver.addDirectory('/b'); // queued behind /a's op
    await settle();
    const stopped = w.driver.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await settle();
    assert.equal(done, false, 'waits for the op in flight');
    w.store.settleDirMapWrite(0);
    await stopped;
    assert.equal(await a, '/a');
    await assert.rejects(b, reason('ShuttingDown'));
    await assert.rejects(w.driver.addDirectory('/c'), reason('ShuttingDown'));
    w.clock.advance(10);
    await settle();
    assert.equal(w.store.heldDirMapWrites.length, 0, 'no tick after stop');
  });
});

describe('FilesystemMirrorDriver: start-up', () => {
  it('reproduces the mgr module start-up, daemon-safe: release then acquire, map, resume removal, remap from the dead', async () => {
    const w = makeWorld({
      start: {
        directories: [
          ['/on-i1', dirRecord('i1')],
          ['/unmapped', dirRecord('', 0)],
          ['/purging', dirRecord('i1', undefined, true)],
          ['/purging-unmapped', dirRecord('', 0, true)],
          ['/on-dead', dirRecord('dead')],
        ],
        instances: [instanceRecord('i1'), instanceRecord('i2')],
      },
    });
    w.notifier.gone.add('dead');
    await runUntilQuiet(w);
    assert.deepEqual([...w.store.dirMap.keys()].sort(), ['/on-dead', '/on-i1', '/unmapped']);
    assert.equal(w.driver.status('/on-i1')?.instanceId, 'i1');
    assert.equal(w.driver.status('/on-i1')?.lastShuffled, 1_699_990_000, 'not remapped');
    const moved = w.driver.status('/on-dead')?.instanceId;
    assert.ok(moved === 'i1' || moved === 'i2');
    assert.equal(w.store.dirMap.get('/on-dead')?.instanceId, moved);
    assert.notEqual(w.driver.status('/unmapped')?.instanceId, null);
    assert.deepEqual(
      w.notifier.sent.filter((s) => s.message.dir_path === '/purging').map((s) => s.message.mode),
      ['release'],
    );
    assert.equal(
      w.notifier.sent.some((s) => s.message.dir_path === '/purging-unmapped'),
      false,
    );
    // A directory mapped at start-up may already be held (whoever wrote the map may have
    // acquired it): its daemon gets a release before the acquire, never a second acquire.
    assert.deepEqual(
      w.notifier.sent.filter((s) => s.message.dir_path === '/on-i1').map((s) => s.message.mode),
      ['release', 'acquire'],
    );
    // The dead instance was never fenced (no address): failures towards it (the release that
    // must precede its acquire) are retried for the instance timeout in case it is alive, then
    // count as done and the directory moves.
    const toDead = w.notifier.sent
      .filter((s) => s.message.dir_path === '/on-dead')
      .map((s) => `${s.instanceId}:${s.message.mode}`);
    const collapsed = toDead.filter((x, i) => x !== toDead[i - 1]);
    assert.deepEqual(collapsed, ['dead:release', `${moved}:acquire`]);
    const releases = toDead.filter((x) => x === 'dead:release').length;
    assert.ok(releases >= 30 && releases <= 32, `retried for ~30 s (${releases})`);
    assert.deepEqual(w.notifier.duplicateAcquires, []);
    assert.equal(
      w.driver.distribution().instances.some((i) => i.id === 'dead'),
      false,
    );
    checkDriverConsistency(w.driver);
  });
});

describe('FilesystemMirrorDriver: instances', () => {
  it('blocklists a removed instance, removes its mailbox and key, then moves its directories', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1'), instanceRecord('i2')] } });
    w.store.instanceObjects.add('i1');
    for (let i = 0; i < 6; i++) await w.driver.addDirectory(`/d${i}`);
    await runUntilQuiet(w);
    assert.deepEqual([...liveLoads(w).values()], [3, 3]);
    w.notifier.down.add('i1');
    await w.driver.removeInstances([instance('i1')]);
    assert.deepEqual(w.blocklister.addrs, [instance('i1').addr]);
    assert.equal(w.store.instanceObjects.has('i1'), false);
    assert.deepEqual([...w.store.instances.keys()], ['i2']);
    await runUntilQuiet(w);
    assert.deepEqual([...liveLoads(w)], [['i2', 6]]);
    for (const [, record] of w.store.dirMap) assert.equal(record.instanceId, 'i2');
    assert.equal(w.notifier.holdings('i2').size, 6);
  });

  it('rebalances onto a joining instance once the throttle allows, re-checking by itself', async () => {
    const w = makeWorld({
      tunables: { shuffleThrottleSeconds: 300 },
      start: { instances: [instanceRecord('i1')] },
    });
    for (let i = 0; i < 8; i++) await w.driver.addDirectory(`/d${i}`);
    await runUntilQuiet(w);
    await w.driver.addInstances([instance('i2')]);
    await w.driver.addInstances([instance('i2')]); // repeated report: no effect
    assert.deepEqual([...w.store.instances.keys()].sort(), ['i1', 'i2']);
    await runFor(w, 200);
    assert.deepEqual([...liveLoads(w).values()], [8, 0], 'throttled: mapped < 300 s ago');
    await runFor(w, 110);
    assert.deepEqual([...liveLoads(w).values()], [4, 4]);
    // Release before acquire: no directory held by both.
    for (const d of w.notifier.holdings('i2'))
      assert.equal(w.notifier.holdings('i1').has(d), false);
  });

  it('rebalances after removals leave instances uneven (not in the mgr module)', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1'), instanceRecord('i2')] } });
    for (let i = 0; i < 8; i++) await w.driver.addDirectory(`/d${i}`);
    await runUntilQuiet(w);
    const onI1 = [...w.notifier.holdings('i1')];
    for (const d of onI1) await w.driver.removeDirectory(d);
    await runUntilQuiet(w);
    assert.deepEqual([...liveLoads(w).values()], [0, 4]);
    await runFor(w, 301);
    await runUntilQuiet(w);
    assert.deepEqual([...liveLoads(w).values()], [2, 2]);
  });

  it('kicks stalled directories when the first instance appears', async () => {
    const w = makeWorld();
    await w.driver.addDirectory('/d');
    await runFor(w, 3);
    assert.equal(w.driver.status('/d')?.state, 'stalled');
    await w.driver.addInstances([instance('i1')]);
    await runUntilQuiet(w);
    assert.equal(w.driver.status('/d')?.state, 'mapped');
  });

  it('retries a failed instance map write on later ticks', async () => {
    const w = makeWorld();
    let fail = 2;
    w.store.respondInstances = () => (fail-- > 0 ? -5 : 0);
    await w.driver.addInstances([instance('i1')]);
    assert.equal(w.store.instances.size, 0);
    assert.deepEqual(liveLoads(w), new Map([['i1', 0]]), 'policy knows regardless');
    await runFor(w, 3);
    assert.deepEqual([...w.store.instances.keys()], ['i1']);
  });

  it('fences before anything else: blocklist, then mailbox and instance map, then releases', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1'), instanceRecord('i2')] } });
    for (let i = 0; i < 2; i++) await w.driver.addDirectory(`/d${i}`);
    await runUntilQuiet(w);
    const events: string[] = [];
    const { blocklister, store, notifier } = w;
    const bl = blocklister.blocklist.bind(blocklister);
    blocklister.blocklist = async (addr) => {
      await settle(); // a slow mon command
      events.push('blocklist');
      return bl(addr);
    };
    const wi = store.writeInstances.bind(store);
    store.writeInstances = (b) => (events.push('instance-map'), wi(b));
    const nt = notifier.notify.bind(notifier);
    notifier.notify = (id, m) => (events.push(`${m.mode}:${id}`), nt(id, m));
    notifier.gone.add('i1');
    await w.driver.removeInstances([instance('i1')]);
    await runUntilQuiet(w);
    assert.deepEqual(events, ['blocklist', 'instance-map', 'release:i1', 'acquire:i2']);
  });

  it('revives an instance declared dead at start-up when the watcher reports it alive', async () => {
    const w = makeWorld({
      start: { directories: [['/d', dirRecord('i9')]], instances: [instanceRecord('i1')] },
    });
    w.notifier.down.add('i9'); // slow to answer at first
    await runFor(w, 3);
    assert.equal(w.driver.status('/d')?.instanceId, 'i9', 'not moved while it may be alive');
    w.notifier.down.delete('i9');
    await w.driver.addInstances([instance('i9')]);
    await runUntilQuiet(w);
    const loads = liveLoads(w);
    assert.deepEqual([...loads.keys()].sort(), ['i1', 'i9']);
    assert.equal(w.driver.status('/d')?.state, 'mapped');
    assert.equal(w.notifier.holders('/d').length, 1, 'released before re-acquired');
    assert.equal(w.blocklister.addrs.length, 0);
  });
});

describe('FilesystemMirrorDriver: daemon-safe acquire', () => {
  it('an acquire that timed out after reaching the daemon is followed by release, then acquire', async () => {
    const w = makeWorld({ manual: true, start: { instances: [instanceRecord('i1')] } });
    const added = w.driver.addDirectory('/d');
    await settle();
    w.store.settleDirMapWrite(0);
    await added;
    await runFor(w, 1);
    w.store.settleDirMapWrite(0); // MAP_UPDATE to i1
    await runFor(w, 1);
    assert.equal(w.notifier.heldNotifies[0]?.request.message.mode, 'acquire');
    // The daemon applied it, but its ack did not arrive in time.
    w.notifier.settleNotify(0, -110, true);
    await runFor(w, 1);
    assert.deepEqual(w.notifier.heldNotifies[0]?.request.message, {
      dir_path: '/d',
      mode: 'release',
    });
    // A release that fails too: no acquire may follow it.
    w.notifier.settleNotify(0, -110, false);
    await settle();
    assert.equal(w.notifier.heldNotifies.length, 0, 'no acquire after an unacked release');
    await runFor(w, 1);
    assert.equal(w.notifier.heldNotifies[0]?.request.message.mode, 'release');
    w.notifier.settleNotify(0, 0);
    await settle();
    assert.equal(w.notifier.heldNotifies[0]?.request.message.mode, 'acquire');
    w.notifier.settleNotify(0, 0);
    await settle();
    assert.equal(w.driver.status('/d')?.state, 'mapped');
    assert.deepEqual([...w.notifier.holdings('i1')], ['/d']);
    assert.deepEqual(w.notifier.duplicateAcquires, []);
    assert.equal(uncertainDeliveries(w.driver), 0);
  });

  it('a restarted driver without acquire marks releases before re-acquiring what the previous one had acquired', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1'), instanceRecord('i2')] } });
    for (const d of ['/a', '/b', '/c', '/d']) await w.driver.addDirectory(d);
    await runUntilQuiet(w);
    await w.driver.stop();
    // As an operator that kept no marks (or the mgr module) leaves the map (hold-marks.test.ts
    // covers a restart with them).
    w.store.marks.clear();
    const before = w.notifier.sent.length;
    restartDriver(w);
    await runUntilQuiet(w);
    const after = w.notifier.sent
      .slice(before)
      .map((s) => `${s.message.dir_path}:${s.message.mode}`);
    for (const d of ['/a', '/b', '/c', '/d']) {
      assert.deepEqual(
        after.filter((x) => x.startsWith(`${d}:`)),
        [`${d}:release`, `${d}:acquire`],
      );
    }
    assert.deepEqual(w.notifier.duplicateAcquires, []);
    assert.deepEqual([...liveLoads(w).values()], [2, 2]);
  });

  it('a notify answered ENOENT (the mailbox object is gone) reports the instance gone at once', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1'), instanceRecord('stale')] } });
    w.notifier.gone.add('stale');
    for (const d of ['/a', '/b']) await w.driver.addDirectory(d);
    await runFor(w, 3);
    assert.ok(w.gone.includes('stale'), JSON.stringify(w.gone));
  });
});

describe('FilesystemMirrorDriver: map reloaded after a change behind its back', () => {
  it('releases a directory from the daemon that held it before the map moved it, then acquires it on the new one', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1'), instanceRecord('i2')] } });
    for (const d of ['/a', '/b']) await w.driver.addDirectory(d);
    await runUntilQuiet(w);
    const moved = w.driver.status('/a')?.instanceId;
    const orphanHolder = w.driver.status('/b')?.instanceId;
    assert.ok(moved && orphanHolder);
    const target = moved === 'i1' ? 'i2' : 'i1';
    const holdings = w.driver.holdings();
    await w.driver.stop();
    // By hand: /a's key now names the other daemon, /b's key is gone.
    w.store.dirMap.set('/a', dirRecord(target));
    w.store.dirMap.delete('/b');
    const before = w.notifier.sent.length;
    restartDriver(w, undefined, holdings);
    await runUntilQuiet(w);
    const sent = w.notifier.sent
      .slice(before)
      .map((s) => `${s.instanceId}:${s.message.dir_path}:${s.message.mode}`);
    const strayRelease = sent.indexOf(`${moved}:/a:release`);
    assert.ok(strayRelease >= 0, sent.join(' '));
    assert.ok(strayRelease < sent.indexOf(`${target}:/a:acquire`), 'stray lets go first');
    assert.ok(sent.includes(`${orphanHolder}:/b:release`), 'an orphaned holder lets go');
    assert.deepEqual(w.notifier.holders('/a'), [target]);
    assert.deepEqual(w.notifier.holders('/b'), []);
    assert.deepEqual(w.notifier.duplicateAcquires, []);
    assert.equal(uncertainDeliveries(w.driver), 0);
  });
});

describe('FilesystemMirrorDriver: tunables edited while running', () => {
  it('a lower shuffle throttle applies at once: the joined daemon gets its share, nothing else is re-sent', async () => {
    const w = makeWorld({
      tunables: { shuffleThrottleSeconds: 3600 },
      start: { instances: [instanceRecord('i1')] },
    });
    for (const d of ['/a', '/b', '/c', '/d']) await w.driver.addDirectory(d);
    await runUntilQuiet(w);
    await w.driver.addInstances([instance('i2')]);
    await runFor(w, 10);
    assert.deepEqual(
      [...liveLoads(w)],
      [
        ['i1', 4],
        ['i2', 0],
      ],
      'held back by the hour-long throttle',
    );
    const before = w.notifier.sent.length;
    assert.throws(() => w.driver.updateTunables({ tickSeconds: 0 }), RangeError);
    w.driver.updateTunables({ shuffleThrottleSeconds: 5 });
    assert.equal(w.driver.tunables.shuffleThrottleSeconds, 5);
    await runFor(w, 2);
    await runUntilQuiet(w);
    assert.deepEqual([...liveLoads(w).values()], [2, 2]);
    const sent = w.notifier.sent.slice(before).map((s) => s.message.mode);
    assert.deepEqual(
      sent.sort(),
      ['acquire', 'acquire', 'release', 'release'],
      'only the two moved directories',
    );
    assert.deepEqual(w.notifier.duplicateAcquires, []);
  });
});

describe('FilesystemMirrorDriver: progress', () => {
  it('reports how long work has been out without finishing, 0 when idle', async () => {
    const w = makeWorld({ manual: true, start: { instances: [instanceRecord('i1')] } });
    assert.equal(w.driver.stalledForSeconds(), 0);
    const added = w.driver.addDirectory('/d');
    await settle();
    w.clock.advance(40);
    assert.equal(w.driver.stalledForSeconds(), 40, 'the add record write never returns');
    w.store.settleDirMapWrite(0);
    await added;
    assert.equal(w.driver.stalledForSeconds(), 0);
  });
});

describe('FilesystemMirrorDriver: fencing a removed daemon', () => {
  it('moves nothing off a removed daemon until its blocklist succeeded', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1'), instanceRecord('i2')] } });
    for (const d of ['/a', '/b', '/c', '/d']) await w.driver.addDirectory(d);
    await runUntilQuiet(w);
    w.notifier.down.add('i1');
    w.blocklister.failNext = 3;
    await w.driver.removeInstances([instance('i1')]);
    await runFor(w, 2);
    assert.deepEqual([...liveLoads(w)].sort(), [
      ['i1', 2],
      ['i2', 2],
    ]);
    assert.deepEqual(w.blocklister.addrs, [], 'not fenced yet');
    await runFor(w, 3);
    assert.deepEqual(w.blocklister.addrs, [instance('i1').addr], 'retried until fenced');
    await runUntilQuiet(w);
    assert.deepEqual([...liveLoads(w)], [['i2', 4]]);
    assert.deepEqual(w.notifier.duplicateAcquires, []);
  });
});

describe('FilesystemMirrorDriver: every daemon silent at once', () => {
  it('holds the failover back for another instance timeout, then applies it', async () => {
    const w = makeWorld({
      tunables: { instanceTimeoutSeconds: 30 },
      start: { instances: [instanceRecord('i1'), instanceRecord('i2')] },
    });
    for (const d of ['/a', '/b']) await w.driver.addDirectory(d);
    await runUntilQuiet(w);
    w.notifier.down.add('i1');
    w.notifier.down.add('i2');
    await w.driver.removeInstances([instance('i1'), instance('i2')]);
    assert.ok(w.driver.suspectedMassFailure());
    assert.deepEqual(w.blocklister.addrs, [], 'nobody fenced yet');
    await runFor(w, 20);
    assert.deepEqual(w.blocklister.addrs, [], 'still held back');
    await runFor(w, 15);
    assert.deepEqual(w.blocklister.addrs.sort(), [instance('i1').addr, instance('i2').addr].sort());
    assert.equal(w.driver.suspectedMassFailure(), undefined);
  });

  it('a daemon back during the hold is not failed over; a single daemon going is not held', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1'), instanceRecord('i2')] } });
    for (const d of ['/a', '/b']) await w.driver.addDirectory(d);
    await runUntilQuiet(w);
    await w.driver.removeInstances([instance('i1'), instance('i2')]);
    await runFor(w, 5);
    await w.driver.addInstances([instance('i2')]);
    await runFor(w, 40);
    assert.deepEqual(w.blocklister.addrs, [instance('i1').addr], 'only the one still silent');
    assert.deepEqual(
      w.driver.distribution().instances.map((i) => i.id),
      ['i2'],
    );
    // Long after i1 went: the last daemon going on its own is an ordinary failover.
    await runFor(w, 31);
    await w.driver.removeInstances([instance('i2')]);
    assert.equal(w.driver.suspectedMassFailure(), undefined, 'the last daemon alone fails over');
    assert.ok(w.blocklister.addrs.includes(instance('i2').addr));
  });
});

describe('FilesystemMirrorDriver: daemons going silent a few seconds apart', () => {
  it('the last daemon going within one instance timeout of another is held back too', async () => {
    const w = makeWorld({
      tunables: { instanceTimeoutSeconds: 30 },
      start: { instances: [instanceRecord('i1'), instanceRecord('i2')] },
    });
    for (const d of ['/a', '/b']) await w.driver.addDirectory(d);
    await runUntilQuiet(w);
    w.notifier.down.add('i1');
    w.notifier.down.add('i2');
    await w.driver.removeInstances([instance('i1')]);
    assert.equal(w.driver.suspectedMassFailure(), undefined, 'one of two: an ordinary failover');
    await runFor(w, 5);
    await w.driver.removeInstances([instance('i2')]);
    assert.ok(w.driver.suspectedMassFailure(), 'the last one, 5 s later: held back');
    assert.deepEqual(w.blocklister.addrs, [instance('i1').addr]);
  });
});
