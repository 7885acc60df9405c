import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { it } from 'node:test';
import type { DirMapRecord } from '../../../src/reconcile/index.js';
import { checkDriverConsistency } from '../../../src/reconcile/testing.js';
import {
  dirRecord,
  instance,
  instanceRecord,
  liveLoads,
  makeWorld,
  runUntilQuiet,
} from './world.js';

it('100,000 directories over 10 instances: one dies, all its directories move to live ones', async (t) => {
  const N = 100_000;
  const ids = Array.from({ length: 10 }, (_, i) => `i${i}`);
  const dirs: Array<[string, DirMapRecord]> = [];
  for (let i = 0; i < N; i++) dirs.push([`/vol/g${i % 100}/d${i}`, dirRecord(ids[i % 10] ?? '')]);

  let t0 = performance.now();
  const w = makeWorld({ start: { directories: dirs, instances: ids.map(instanceRecord) } });
  await runUntilQuiet(w);
  const startMs = performance.now() - t0;
  assert.deepEqual([...liveLoads(w).values()], Array(10).fill(N / 10));
  // Daemon-safe start-up: each mapped directory may already be held, so release, then acquire.
  assert.equal(w.notifier.sent.length, 2 * N, 'a release and an acquire per directory');
  assert.equal(
    w.notifier.sent.filter((s) => s.message.mode === 'acquire').length,
    N,
    'one acquire per directory at start-up',
  );
  assert.deepEqual(w.notifier.duplicateAcquires, []);

  const victim = 'i3';
  const moved = new Set(w.notifier.holdings(victim));
  assert.equal(moved.size, N / 10);
  w.notifier.gone.add(victim);
  const sentBefore = w.notifier.sent.length;
  const opsBefore = w.store.dirMapOps.length;
  t0 = performance.now();
  await w.driver.removeInstances([instance(victim)]);
  await runUntilQuiet(w);
  const failoverMs = performance.now() - t0;

  // Correctness: every directory of the victim is on a live instance, in the map and held.
  const loads = liveLoads(w);
  assert.equal(loads.has(victim), false);
  const counts = [...loads.values()];
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    N,
  );
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `balanced: ${counts.join(',')}`);
  for (const path of moved) {
    const s = w.driver.status(path);
    assert.ok(s && s.state === 'mapped' && s.instanceId !== victim && s.instanceId !== null);
    assert.equal(w.store.dirMap.get(path)?.instanceId, s.instanceId);
    assert.equal(w.notifier.holdings(s.instanceId).has(path), true);
  }
  // Exactly one release (to the dead instance) and one acquire per moved directory.
  assert.equal(w.notifier.sent.length - sentBefore, 2 * moved.size);
  const ops = w.store.dirMapOps.slice(opsBefore);
  const batches = Math.ceil(moved.size / 256);
  assert.equal(ops.filter((op) => !op.marks).length, batches, 'map updates in full 256-key ops');
  // The acquire marks: removed before the releases, set after the acquires, batched alike.
  assert.equal(ops.filter((op) => op.marks).length, 2 * batches, 'marks in full 256-key ops');
  assert.deepEqual(w.blocklister.addrs, [instance(victim).addr]);
  checkDriverConsistency(w.driver);
  t.diagnostic(
    `start-up of ${N} dirs: ${startMs.toFixed(0)} ms; failover of ${moved.size}: ${failoverMs.toFixed(0)} ms`,
  );
  await w.driver.stop();
});
