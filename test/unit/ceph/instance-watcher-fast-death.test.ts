// InstanceWatcher gathers the fast signal of death: session lookups around each discovery notify,
// and a third lookup one tick later for a daemon lost between the first lookup and the notify.
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
}

function start(world: World) {
  const clock = new FakeClock();
  const changes: InstanceChange[] = [];
  const confirmed: string[] = [];
  const ioctx = {
    notify: (): Promise<NotifyResult> =>
      Promise.resolve({ rc: 0, acks: [...world.acking].map(ack), timeouts: [] } as NotifyResult),
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

it('a daemon killed between the first lookup and the notify is confirmed one tick later', async () => {
  const world: World = {
    acking: new Set([A, B]),
    queued: [],
    sessions: new Set([A.id, B.id]),
    lookups: 0,
  };
  const w = start(world);
  await w.tick();
  assert.deepEqual(w.changes, [{ added: [A, B], removed: [] }]);
  // Killed right after the next round's first lookup (still listing it).
  world.acking = new Set([B]);
  world.sessions = new Set([B.id]);
  world.queued = [new Set([A.id, B.id])];
  await w.tick();
  assert.deepEqual(w.confirmed, [], 'one lookup without it is not enough');
  await w.tick();
  assert.deepEqual(w.confirmed, [A.id]);
  assert.deepEqual(w.changes.at(-1), { added: [], removed: [A], confirmedDead: [A.id] });
  w.watcher.stop().catch(() => undefined);
});

it('a paused daemon (session kept, no ack) is never confirmed dead, and goes only on the timeout', async () => {
  const world: World = {
    acking: new Set([A, B]),
    queued: [],
    sessions: new Set([A.id, B.id]),
    lookups: 0,
  };
  const w = start(world);
  await w.tick();
  world.acking = new Set([B]);
  for (let i = 0; i < 29; i++) await w.tick();
  assert.deepEqual(w.confirmed, []);
  assert.equal(w.changes.length, 1, 'nothing removed within the timeout');
  assert.ok(world.lookups >= 2 * 29);
  for (let i = 0; i < 3; i++) await w.tick();
  assert.deepEqual(w.confirmed, []);
  assert.deepEqual(w.changes.at(-1)?.removed, [A], 'removed on the timeout');
  w.watcher.stop().catch(() => undefined);
});

it('a failed lookup is no evidence', async () => {
  const world: World = {
    acking: new Set([A, B]),
    queued: [],
    sessions: new Set([A.id, B.id]),
    lookups: 0,
  };
  const w = start(world);
  await w.tick();
  world.acking = new Set([B]);
  world.sessions = new Set([B.id]);
  world.failEveryOther = true;
  for (let i = 0; i < 5; i++) await w.tick();
  assert.deepEqual(w.confirmed, []);
  w.watcher.stop().catch(() => undefined);
});
