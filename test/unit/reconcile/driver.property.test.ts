/**
 * Random interleavings of everything that can happen to a driver: directories added and
 * removed, daemons joining, dying and being reported gone, dir-map writes succeeding or
 * failing, notifies acked, failed or timing out (applied or not), time passing. Invariants are
 * checked after every step, and again after the world is allowed to settle.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DirectoryError, type DirectoryErrorReason } from '../../../src/reconcile/index.js';
import { checkDriverConsistency, settle } from '../../../src/reconcile/testing.js';
import { instance, liveLoads, makeWorld, restartDriver, type World } from './world.js';

const PATHS = [
  '/a',
  '/a/b',
  '/a/b/c',
  '/b',
  '/c',
  '/c/d',
  '/e',
  '/f',
  '/g/h',
  '/i',
  '/j/k',
  '/l',
  '/m',
];
const THROTTLE = 300;

type Op =
  | { kind: 'add'; path: number }
  | { kind: 'remove'; path: number }
  | { kind: 'join' }
  | { kind: 'kill'; which: number }
  | { kind: 'reportGone' }
  | { kind: 'write'; r: 0 | -5 }
  | { kind: 'instanceWrite'; r: 0 | -5 }
  | { kind: 'notify'; which: number; outcome: 'ok' | 'fail' | 'timeout' | 'timeoutApplied' }
  | { kind: 'advance'; seconds: number }
  | { kind: 'restart'; r: 0 | -5; applied: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('add' as const), path: fc.nat(PATHS.length - 1) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('remove' as const), path: fc.nat(PATHS.length - 1) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('join' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill' as const), which: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reportGone' as const) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      r: fc.constantFrom(0 as const, 0 as const, -5 as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('instanceWrite' as const),
      r: fc.constantFrom(0 as const, -5 as const),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('notify' as const),
      which: fc.nat(7),
      outcome: fc.constantFrom(
        'ok' as const,
        'ok' as const,
        'fail' as const,
        'timeout' as const,
        'timeoutApplied' as const,
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      seconds: fc.constantFrom(1, 1, 5, 31, 301),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('restart' as const),
      r: fc.constantFrom(0 as const, -5 as const),
      applied: fc.boolean(),
    }),
  },
);

interface Outcome {
  kind: 'add' | 'remove';
  path: string;
  /** 'ok', or the refusal reason; undefined while pending. */
  settled?: string;
}

/** What the test believes, independently of the driver. */
class Model {
  tracked = new Set<string>();
  removing = new Set<string>();
  live: string[] = [];
  killed: string[] = [];
  blocklisted = new Set<string>();
  nextId = 100;
  /** Outcome of every accepted add/remove: undefined while pending. */
  outcomes: Outcome[] = [];
  /** Accepted commands per path since its last completed removal. */
  history = new Map<string, Outcome[]>();
  /**
   * Instances named by stored directories but missing from the stored instance list at a
   * restart: declared dead without a blocklist (mgr semantics), so unfenced.
   */
  unlisted = new Set<string>();

  expectedAddError(path: string): DirectoryErrorReason | undefined {
    if (this.tracked.has(path)) return 'AlreadyTracked';
    if (this.removing.has(path)) return 'RemovalInProgress';
    for (const t of [...this.tracked, ...this.removing]) {
      if (path.startsWith(t + '/')) return 'SubtreeOfTracked';
      if (t.startsWith(path + '/')) return 'AncestorOfTracked';
    }
    return undefined;
  }

  expectedRemoveError(path: string): DirectoryErrorReason | undefined {
    if (this.removing.has(path)) return 'UnderRemoval';
    if (!this.tracked.has(path)) return 'NotTracked';
    return undefined;
  }
}

function reasonOf(e: unknown): string {
  return e instanceof DirectoryError ? e.reason : `unexpected ${String(e)}`;
}

async function call(
  m: Model,
  kind: 'add' | 'remove',
  path: string,
  promise: Promise<string>,
  expectedError: DirectoryErrorReason | undefined,
): Promise<void> {
  const what = `${kind} ${path}`;
  let outcome: string | undefined;
  const entry: Outcome = { kind, path };
  void promise.then(
    () => {
      outcome = 'ok';
      entry.settled = 'ok';
    },
    (e: unknown) => {
      outcome = reasonOf(e);
      entry.settled = outcome;
    },
  );
  await settle();
  if (expectedError) {
    assert.equal(outcome, expectedError, `${what} should be refused`);
  } else {
    assert.ok(outcome === undefined || outcome === 'ok', `${what} refused: ${outcome}`);
    m.outcomes.push(entry);
    m.history.set(path, [...(m.history.get(path) ?? []), entry]);
  }
}

async function apply(w: World, m: Model, op: Op): Promise<void> {
  switch (op.kind) {
    case 'add': {
      const path = PATHS[op.path] ?? '/';
      syncRemovals(w, m);
      const expected = m.expectedAddError(path);
      await call(m, 'add', path, w.driver.addDirectory(path), expected);
      if (!expected) m.tracked.add(path);
      break;
    }
    case 'remove': {
      const path = PATHS[op.path] ?? '/';
      syncRemovals(w, m);
      const expected = m.expectedRemoveError(path);
      await call(m, 'remove', path, w.driver.removeDirectory(path), expected);
      if (!expected) {
        m.tracked.delete(path);
        m.removing.add(path);
      }
      break;
    }
    case 'join': {
      const id = String(m.nextId++);
      m.live.push(id);
      void w.driver.addInstances([instance(id)]);
      break;
    }
    case 'kill': {
      const id = m.live[op.which % Math.max(1, m.live.length)];
      if (id === undefined) break;
      m.live = m.live.filter((x) => x !== id);
      m.killed.push(id);
      w.notifier.down.add(id);
      break;
    }
    case 'reportGone': {
      if (m.killed.length === 0) break;
      for (const id of m.killed) m.blocklisted.add(id);
      void w.driver.removeInstances(m.killed.map(instance));
      m.killed = [];
      break;
    }
    case 'write':
      w.store.settleDirMapWrite(op.r);
      break;
    case 'instanceWrite':
      w.store.settleInstanceWrite(op.r);
      break;
    case 'notify': {
      const n = w.notifier.heldNotifies.length;
      if (n === 0) break;
      const i = op.which % n;
      if (op.outcome === 'ok') w.notifier.settleNotify(i, 0);
      else if (op.outcome === 'fail') w.notifier.settleNotify(i, -5, false);
      else w.notifier.settleNotify(i, -110, op.outcome === 'timeoutApplied');
      break;
    }
    case 'advance':
      w.clock.advance(op.seconds);
      break;
    case 'restart':
      await restart(w, m, op.r, op.applied);
      break;
  }
  await settle();
}

/**
 * Stop the driver while work is out (held calls end with `r`; notifies time out, applied or
 * not), then start a new one from the store, as a restarted operator would.
 */
async function restart(w: World, m: Model, r: 0 | -5, applied: boolean): Promise<void> {
  let stopped = false;
  void w.driver.stop().then(() => (stopped = true));
  for (let i = 0; i < 100 && !stopped; i++) {
    while (w.store.settleInstanceWrite(r)) await settle();
    while (w.store.settleDirMapWrite(r)) await settle();
    while (w.notifier.heldNotifies.length > 0) w.notifier.settleNotify(0, -110, applied);
    await settle();
  }
  assert.ok(stopped, 'stop completes once in-flight work ends');
  // Commands refused by the stop did not happen. Replay each path's commands since its last
  // completed removal, skipping the refused ones, to know what the store now says.
  for (const [path, entries] of m.history) {
    let state: 'none' | 'tracked' | 'removing' = 'none';
    for (const o of entries) {
      if (o.settled === 'ShuttingDown') continue;
      state = o.kind === 'add' ? 'tracked' : 'removing';
    }
    m.tracked.delete(path);
    m.removing.delete(path);
    if (state === 'tracked') m.tracked.add(path);
    if (state === 'removing') m.removing.add(path);
    m.history.set(
      path,
      entries.filter((o) => o.settled !== 'ShuttingDown'),
    );
  }
  m.outcomes = m.outcomes.filter((o) => o.settled !== 'ShuttingDown');
  restartDriver(w, { shuffleThrottleSeconds: THROTTLE });
  await settle();
  // The watcher starts from the stored instances: stale ones will time out and be reported,
  // live ones missing from the store answer the first notify and are added.
  const stored = new Set(w.store.instances.keys());
  for (const record of w.store.dirMap.values()) {
    if (record.instanceId !== '' && !stored.has(record.instanceId))
      m.unlisted.add(record.instanceId);
  }
  for (const id of stored) {
    if (!m.live.includes(id) && !m.killed.includes(id)) m.killed.push(id);
  }
  const missing = m.live.filter((id) => !stored.has(id));
  if (missing.length > 0) void w.driver.addInstances(missing.map(instance));
}

/** A removal is complete once the driver no longer knows the path. */
function syncRemovals(w: World, m: Model): void {
  for (const path of [...m.removing]) {
    if (!w.driver.status(path)) {
      m.removing.delete(path);
      m.history.delete(path);
    }
  }
}

/** Invariants that hold at every moment. */
function checkAlways(w: World, m: Model): void {
  syncRemovals(w, m);
  checkDriverConsistency(w.driver);
  // Release before acquire: no directory is held by two daemons that are not fenced. An
  // unlisted instance that is really gone cannot be fenced (no address): excluded.
  const excluded = new Set(m.blocklisted);
  for (const id of m.unlisted) if (!m.live.includes(id)) excluded.add(id);
  for (const path of PATHS) {
    const holders = w.notifier.holders(path, excluded);
    assert.ok(holders.length <= 1, `${path} held by ${holders.join(',')}`);
  }
  // No daemon ever gets an acquire for a directory it already holds (it would abort at the
  // next release), across timeouts whose notify was applied and driver restarts.
  assert.deepEqual(w.notifier.duplicateAcquires, [], 'duplicate acquire');
  // The dir map never names a directory the driver has forgotten.
  for (const path of w.store.dirMap.keys()) {
    assert.ok(w.driver.status(path), `stale key ${path}`);
  }
  // The driver knows exactly the directories the model says are tracked or being removed.
  for (const path of PATHS) {
    const known = w.driver.status(path) !== undefined;
    assert.equal(known, m.tracked.has(path) || m.removing.has(path), `tracking of ${path}`);
  }
  // A dead instance is only ever one the watcher reported (and so was blocklisted first).
  for (const i of w.driver.distribution().instances) {
    if (i.dead && !m.unlisted.has(i.id)) {
      assert.ok(w.blocklister.addrs.includes(instance(i.id).addr), `${i.id} unfenced`);
    }
  }
}

/** Let everything succeed until nothing is left to do. */
async function drain(w: World): Promise<void> {
  for (let i = 0; i < 200; i++) {
    while (w.store.settleInstanceWrite(0)) await settle();
    while (w.store.settleDirMapWrite(0)) await settle();
    while (w.notifier.heldNotifies.length > 0) {
      w.notifier.settleNotify(0, 0);
      await settle();
    }
    if (w.driver.isQuiet() && w.store.heldDirMapWrites.length === 0) return;
    w.clock.advance(1);
    await settle();
  }
  throw new Error('world did not settle');
}

async function finalCheck(w: World, m: Model, ensureLive: boolean): Promise<void> {
  if (m.killed.length > 0) await apply(w, m, { kind: 'reportGone' });
  if (ensureLive && m.live.length === 0) await apply(w, m, { kind: 'join' });
  await drain(w);
  // Let the throttle expire and settle again, so rebalancing has had its chance.
  for (let round = 0; round < 2; round++) {
    w.clock.advance(THROTTLE + 1);
    await settle();
    await drain(w);
    checkAlways(w, m);
  }
  syncRemovals(w, m);
  for (const o of m.outcomes) assert.equal(o.settled, 'ok', `${o.kind} ${o.path} did not complete`);
  assert.deepEqual([...m.removing], [], 'every removal completed');
  assert.deepEqual([...w.store.dirMap.keys()].sort(), [...m.tracked].sort(), 'dir map = tracked');
  const live = new Set(m.live);
  for (const path of m.tracked) {
    const s = w.driver.status(path);
    const record = w.store.dirMap.get(path);
    assert.ok(s && record);
    assert.equal(record.purging, undefined, `${path} not purging`);
    if (live.size > 0) {
      assert.equal(s.state, 'mapped', `${path} associated`);
      assert.ok(s.instanceId !== null && live.has(s.instanceId), `${path} on a live instance`);
      assert.equal(record.instanceId, s.instanceId, `${path} map record`);
      assert.deepEqual(w.notifier.holders(path, m.blocklisted), [s.instanceId], `${path} held`);
    } else {
      assert.equal(s.state, 'stalled', `${path} stalled without daemons`);
    }
  }
  for (const path of PATHS) {
    if (!m.tracked.has(path)) {
      assert.deepEqual(w.notifier.holders(path, m.blocklisted), [], `${path} released`);
    }
  }
  const dist = w.driver.distribution();
  assert.equal(dist.instances.filter((i) => i.dead).length, 0, 'failover complete');
  assert.deepEqual(dist.instances.map((i) => i.id).sort(), [...live].sort());
  assert.deepEqual([...w.store.instances.keys()].sort(), [...live].sort(), 'instance map');
  const loads = [...liveLoads(w).values()];
  if (process.env.PROP_STATS)
    console.log(
      'STATS',
      m.tracked.size,
      loads.join(','),
      w.blocklister.addrs.length,
      w.notifier.sent.length,
    );
  if (loads.length > 0) {
    assert.ok(Math.max(...loads) - Math.min(...loads) <= 1, `balanced: ${loads.join(',')}`);
  }
}

describe('FilesystemMirrorDriver: random interleavings (property)', () => {
  for (const ensureLive of [true, false]) {
    it(`keeps every invariant${ensureLive ? '' : ' (possibly with no daemon left)'}`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 3 }),
          fc.array(opArb, { minLength: 1, maxLength: 120, size: 'large' }),
          async (initialDaemons, ops) => {
            const w = makeWorld({ manual: true, tunables: { shuffleThrottleSeconds: THROTTLE } });
            const m = new Model();
            for (let i = 0; i < initialDaemons; i++) await apply(w, m, { kind: 'join' });
            for (const op of ops) {
              await apply(w, m, op);
              checkAlways(w, m);
            }
            await finalCheck(w, m, ensureLive);
            await w.driver.stop();
          },
        ),
        { numRuns: ensureLive ? 400 : 150, includeErrorInReport: true },
      );
    });
  }
});
