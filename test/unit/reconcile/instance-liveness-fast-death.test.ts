// The confirmed fast signal of death (issue 13 item 3): a killed daemon goes within one discovery
// round, a paused one only on the instance timeout. Rounds are simulated as the instance watcher
// runs them: a session lookup, the notify (which waits the notify timeout when a daemon is
// silent), a second lookup, then the next round one interval later.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CONFIRMING_LOOKUPS, InstanceLiveness } from '../../../src/reconcile/index.js';

const a = { id: '4186', addr: '127.0.0.1:0/1' };
const b = { id: '4190', addr: '127.0.0.1:0/2' };
const INTERVAL = 1;
const NOTIFY_TIMEOUT = 5;

interface Daemon {
  info: { id: string; addr: string };
  /** Answers notifies at time t. */
  acks: (t: number) => boolean;
  /** Holds a monitor session at time t. */
  session: (t: number) => boolean;
}

/** Runs rounds from `start` until `end`; returns when each instance was removed and how. */
function simulate(
  l: InstanceLiveness,
  daemons: Daemon[],
  start: number,
  end: number,
): Map<string, { at: number; confirmed: boolean }> {
  const removed = new Map<string, { at: number; confirmed: boolean }>();
  let t = start;
  while (t < end) {
    const lookup = (at: number): Set<string> =>
      new Set(daemons.filter((d) => d.session(at)).map((d) => d.info.id));
    const before = lookup(t);
    const silent = daemons.some((d) => !d.acks(t));
    const done = t + (silent ? NOTIFY_TIMEOUT : 0.01);
    const acks = daemons.filter((d) => d.acks(t)).map((d) => d.info);
    const change = l.observe(acks, done, false, { lookups: [before, lookup(done)] });
    for (const { id } of change.removed) {
      removed.set(id, { at: done, confirmed: change.confirmedDead?.includes(id) ?? false });
    }
    t = done + INTERVAL;
  }
  return removed;
}

const alive = (info: Daemon['info']): Daemon => ({ info, acks: () => true, session: () => true });

it('a killed daemon (silent, no session) is declared dead within 10 s, on the fast path', () => {
  for (const killedAt of [1000, 1000.3, 1002.9, 1004.99]) {
    const l = new InstanceLiveness([a, b], 1000, 30);
    const killed: Daemon = {
      info: a,
      acks: (t) => t < killedAt,
      session: (t) => t < killedAt,
    };
    const removed = simulate(l, [killed, alive(b)], 1000, 1060);
    const gone = removed.get(a.id);
    assert.ok(gone, `killed at ${killedAt}: removed`);
    assert.equal(gone.confirmed, true, 'on the confirmed path, not the timeout');
    assert.ok(gone.at - killedAt <= 2 * (NOTIFY_TIMEOUT + INTERVAL), `${gone.at - killedAt} s`);
    assert.ok(gone.at - killedAt < 10, `within 10 s (${gone.at - killedAt} s)`);
    assert.equal(removed.has(b.id), false, 'the live daemon stays');
  }
});

it('a daemon paused for 20 s with a 30 s timeout (session kept) is never failed over', () => {
  const l = new InstanceLiveness([a, b], 1000, 30);
  const paused: Daemon = {
    info: a,
    acks: (t) => t < 1005 || t >= 1025,
    session: () => true,
  };
  const removed = simulate(l, [paused, alive(b)], 1000, 1120);
  assert.equal(removed.size, 0);
  assert.deepEqual(
    l.known().map((i) => i.id),
    [a.id, b.id],
  );
});

it('a daemon paused longer than the timeout still goes on the timeout, not the fast path', () => {
  const l = new InstanceLiveness([a, b], 1000, 30);
  const paused: Daemon = { info: a, acks: (t) => t < 1005, session: () => true };
  const gone = simulate(l, [paused, alive(b)], 1000, 1080).get(a.id);
  assert.ok(gone);
  assert.equal(gone.confirmed, false);
  assert.ok(gone.at - 1005 > 30);
});

it('one lookup without the session (a reconnect to another monitor) is not enough', () => {
  const l = new InstanceLiveness([a, b], 1000, 30);
  const one = [new Set([b.id]), new Set([a.id, b.id])];
  assert.equal(CONFIRMING_LOOKUPS, 2);
  assert.deepEqual(l.observe([b], 1005, false, { lookups: one }).removed, []);
  assert.deepEqual(l.observe([b], 1011, false, { lookups: [new Set([b.id])] }).removed, []);
  assert.deepEqual(l.observe([b], 1017).removed, [], 'a round without evidence');
  const change = l.observe([b], 1023, false, { lookups: [new Set([b.id]), new Set([b.id])] });
  assert.deepEqual(change.removed, [a]);
  assert.deepEqual(change.confirmedDead, [a.id]);
});

it('a daemon that acks is alive whatever the lookups say', () => {
  const l = new InstanceLiveness([a, b], 1000, 30);
  const none = { lookups: [new Set<string>(), new Set<string>()] };
  const change = l.observe([a, b], 1001, false, none);
  assert.deepEqual(change, { added: [], removed: [] });
});
