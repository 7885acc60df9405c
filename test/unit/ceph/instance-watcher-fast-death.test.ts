// InstanceWatcher gathers the fast signal of death: session lookups only after a discovery notify
// that a known daemon left unanswered, one right after it and a second one tick later.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { IoCtx, NotifyAck, NotifyResult } from 'rados-js';
import { InstanceWatcher } from '../../../src/ceph/instance-watcher.js';
import type { InstanceChange, InstanceInfo } from '../../../src/reconcile/index.js';
import { FakeClock, settle } from '../../../src/reconcile/testing.js';

const A = { id: '4186', addr: '127.0.0.1:0/1' };
const B = { id: '4190', addr: '127.0.0.1:0/2' };

function ack(i: InstanceInfo): NotifyAck {
  return {
    gid: BigInt(i.id),
    cookie: 1n,
    payload: Buffer.from(JSON.stringify({ addr: i.addr })),
  } as NotifyAck;
}

interface World {
  acking: Set<InstanceInfo>;
  /** Answers to the next session lookups, in order; then `sessions`. */
  queued: Array<Set<string>>;
  sessions: Set<string>;
  lookups: number;
  /** Every second lookup rejects. */
  failEveryOther?: boolean;
  /**
   * Daemons whose watch is still registered on the OSD: while one of them does not ack, the
   * notify waits this many seconds (the notify timeout) before it completes, as on the OSD.
   */
  watching?: Set<InstanceInfo>;
  notifyTimeoutSeconds?: number;
}

/** Both daemons acking, both with a monitor session. */
function bothAlive(extra: Partial<World> = {}): World {
  return {
    acking: new Set([A, B]),
    queued: [],
    sessions: new Set([A.id, B.id]),
    lookups: 0,
    ...extra,
  };
}

function start(world: World) {
  const clock = new FakeClock();
  const changes: InstanceChange[] = [];
  const confirmed: string[] = [];
  const ioctx = {
    notify: (): Promise<NotifyResult> => {
      const result = { rc: 0, acks: [...world.acking].map(ack), timeouts: [] } as NotifyResult;
      const waits = [...(world.watching ?? [])].some((i) => !world.acking.has(i));
      if (!waits) return Promise.resolve(result);
      return new Promise((resolve) =>
        clock.setTimer(() => resolve(result), world.notifyTimeoutSeconds ?? 5),
      );
    },
  } as unknown as IoCtx;
  const watcher = new InstanceWatcher({
    ioctx,
    clock,
    initial: [],
    timeoutSeconds: 30,
    intervalSeconds: 1,
    onChange: (c) => {
      changes.push(c);
      return Promise.resolve();
    },
    monSessions: () => {
      world.lookups++;
      if (world.failEveryOther && world.lookups % 2 === 0) {
        return Promise.reject(new Error('lookup failed'));
      }
      return Promise.resolve(world.queued.shift() ?? world.sessions);
    },
    onConfirmedDead: (gone) => confirmed.push(...gone.map((i) => i.id)),
  });
  watcher.start();
  const tick = async (seconds = 1): Promise<void> => {
    clock.advance(seconds);
    for (let i = 0; i < 10; i++) await settle();
  };
  return { watcher, changes, confirmed, tick };
}

it('rounds every daemon answers cost no session lookup', async () => {
  const world = bothAlive();
  const w = start(world);
  for (let i = 0; i < 10; i++) await w.tick();
  assert.deepEqual(w.changes, [{ added: [A, B], removed: [] }]);
  assert.equal(world.lookups, 0);
  w.watcher.stop().catch(() => undefined);
});

it('a killed daemon (silent, missing from two lookups a tick apart) is confirmed dead', async () => {
  const world = bothAlive();
  const w = start(world);
  await w.tick();
  world.acking = new Set([B]);
  world.sessions = new Set([B.id]);
  await w.tick();
  assert.equal(world.lookups, 1, 'one lookup right after the unanswered notify');
  assert.deepEqual(w.confirmed, [], 'one lookup without it is not enough');
  await w.tick();
  assert.equal(world.lookups, 2);
  assert.deepEqual(w.confirmed, [A.id]);
  assert.deepEqual(w.changes.at(-1), { added: [], removed: [A], confirmedDead: [A.id] });
  w.watcher.stop().catch(() => undefined);
});

it('a daemon silent through a waiting notify: looked up a tick into the wait and on completion', async () => {
  const world = bothAlive({ watching: new Set([A, B]) });
  const w = start(world);
  await w.tick();
  assert.equal(world.lookups, 0);
  // SIGKILLed: its session is gone at once, its watch lingers on the OSD (the notify waits 5 s).
  world.acking = new Set([B]);
  world.sessions = new Set([B.id]);
  await w.tick(); // the round starts, its notify waits
  await w.tick(); // one tick into the wait: the first lookup
  assert.equal(world.lookups, 1);
  for (let i = 0; i < 3; i++) await w.tick();
  assert.deepEqual(w.confirmed, [], 'not before the notify completes');
  await w.tick(); // the notify times out: the second lookup, and the verdict in the same round
  assert.equal(world.lookups, 2);
  assert.deepEqual(w.confirmed, [A.id]);
  w.watcher.stop().catch(() => undefined);
});

it('a paused daemon through a waiting notify: one lookup a round, never confirmed', async () => {
  const world = bothAlive({ watching: new Set([A, B]) });
  const w = start(world);
  await w.tick();
  world.acking = new Set([B]);
  for (let i = 0; i < 24; i++) await w.tick();
  assert.deepEqual(w.confirmed, []);
  assert.equal(world.lookups, 4, 'one lookup in each of the four 6 s rounds');
  w.watcher.stop().catch(() => undefined);
});

it('a daemon back in the second lookup (reconnected to another monitor) is not confirmed', async () => {
  const world = bothAlive();
  const w = start(world);
  await w.tick();
  world.acking = new Set([B]);
  world.queued = [new Set([B.id])];
  await w.tick();
  await w.tick();
  assert.equal(world.lookups, 2);
  assert.deepEqual(w.confirmed, []);
  assert.equal(w.changes.length, 1, 'nothing removed');
  w.watcher.stop().catch(() => undefined);
});

it('a paused daemon (session kept, no ack) is never confirmed dead, and goes only on the timeout', async () => {
  const world = bothAlive();
  const w = start(world);
  await w.tick();
  world.acking = new Set([B]);
  for (let i = 0; i < 29; i++) await w.tick();
  assert.deepEqual(w.confirmed, []);
  assert.equal(w.changes.length, 1, 'nothing removed within the timeout');
  // One lookup a round while it is silent: its session is there, so no second one.
  assert.ok(world.lookups >= 28 && world.lookups <= 29, `${world.lookups} lookups`);
  for (let i = 0; i < 3; i++) await w.tick();
  assert.deepEqual(w.confirmed, []);
  assert.deepEqual(w.changes.at(-1)?.removed, [A], 'removed on the timeout');
  w.watcher.stop().catch(() => undefined);
});

it('a failed lookup is no evidence', async () => {
  const world = bothAlive();
  const w = start(world);
  await w.tick();
  world.acking = new Set([B]);
  world.sessions = new Set([B.id]);
  world.failEveryOther = true;
  for (let i = 0; i < 5; i++) await w.tick();
  assert.deepEqual(w.confirmed, []);
  w.watcher.stop().catch(() => undefined);
});
