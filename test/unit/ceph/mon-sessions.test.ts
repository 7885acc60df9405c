// The production monitor-session lookup (the fast signal of death's evidence): the union over
// every monitor of the mon map, and "unknown" (undefined), never a partial set, whenever one
// monitor did not answer, answered an error, or the lookup ran out of time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommandResult, Rados } from 'rados-js';
import {
  globalIdsOf,
  monTargetsOf,
  MonSessionLookup,
  type LookupProblem,
} from '../../../src/ceph/mon-sessions.js';

const ok = (body: unknown): CommandResult => ({
  rc: 0,
  outbuf: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  outs: '',
});
const failed = (rc: number, outs: string): CommandResult => ({ rc, outbuf: Buffer.alloc(0), outs });

const dump = (...names: string[]): CommandResult =>
  ok({ epoch: 3, mons: names.map((name, rank) => ({ rank, name })), quorum: [0] });

const sessions = (...ids: number[]): CommandResult =>
  ok(ids.map((global_id) => ({ name: `client.${global_id}`, global_id, con_type: 'client' })));

type Answer = CommandResult | Promise<CommandResult>;

/** A Rados whose `mon dump` and per-monitor `sessions` answers the test chooses. */
function fakeRados(
  monDump: () => Answer,
  perMon: (mon: string | number) => Answer,
): { rados: Rados; asked: Array<string | number> } {
  const asked: Array<string | number> = [];
  const rados = {
    monCommand: async (cmd: { prefix: string }) => {
      assert.equal(cmd.prefix, 'mon dump');
      return monDump();
    },
    monCommandTarget: async (mon: string | number, cmd: { prefix: string }) => {
      assert.equal(cmd.prefix, 'sessions');
      asked.push(mon);
      return perMon(mon);
    },
  } as unknown as Rados;
  return { rados, asked };
}

test('monTargetsOf: names, and ranks for names librados would read as ranks', () => {
  assert.deepEqual(monTargetsOf(JSON.parse(dump('a', '1', 'c').outbuf.toString())), ['a', 1, 'c']);
  assert.throws(() => monTargetsOf({ mons: [] }), /no monitors/);
  assert.throws(() => monTargetsOf({}), /no monitors/);
  assert.throws(() => monTargetsOf({ mons: [{ rank: 0 }] }), /without name/);
});

test('globalIdsOf: exact decimal ids, beyond 2^53 too; anonymous (0) sessions skipped', () => {
  const big = '18446744073709551557';
  const text = `[{"name":"mon.0","global_id":0},{"name":"client.?","global_id":4152},{"name":"client.?","global_id":${big}}]`;
  assert.deepEqual(globalIdsOf(text), ['4152', big]);
  assert.deepEqual(globalIdsOf('[]'), []);
  assert.throws(() => globalIdsOf('not json'), /not JSON/);
  assert.throws(() => globalIdsOf('{"global_id": 1}'), /not return a list/);
  // A quoted "global_id" inside a string is not a field.
  assert.deepEqual(globalIdsOf('[{"name":"x \\"global_id\\": 5","global_id":1}]'), ['1']);
  // A global_id field the parsed list does not account for: refused rather than guessed.
  assert.throws(
    () => globalIdsOf('[{"global_id":1,"nested":{"global_id":2}}]'),
    /unexpected global_id/,
  );
});

test('the union over every monitor of the map, each asked by name', async () => {
  const { rados, asked } = fakeRados(
    () => dump('a', 'b', 'c'),
    (mon) => (mon === 'a' ? sessions(11, 12) : mon === 'b' ? sessions(13) : sessions()),
  );
  const lookup = new MonSessionLookup(rados).lookup;
  assert.deepEqual([...((await lookup()) ?? [])].sort(), ['11', '12', '13']);
  assert.deepEqual(asked, ['a', 'b', 'c']);
});

test('one monitor failing makes the lookup unknown (never a partial set), reported once', async () => {
  let bDenies = true;
  const { rados } = fakeRados(
    () => dump('a', 'b'),
    (mon) => (mon === 'b' && bDenies ? failed(-13, 'insufficient caps') : sessions(1)),
  );
  const changes: Array<LookupProblem | undefined> = [];
  const lookup = new MonSessionLookup(rados, { onAvailabilityChange: (p) => changes.push(p) })
    .lookup;
  assert.equal(await lookup(), undefined);
  assert.equal(await lookup(), undefined);
  assert.deepEqual(changes, [
    {
      reason: 'MonSessionsPermissionDenied',
      message: "'sessions' on mon b failed: insufficient caps",
    },
  ]);
  bDenies = false;
  assert.deepEqual(await lookup(), new Set(['1']));
  assert.deepEqual(changes.at(-1), undefined);
  assert.equal(changes.length, 2);
});

test('a failed mon dump, a throwing call or a malformed answer: unknown', async () => {
  const cases: Array<[() => Answer, (mon: string | number) => Answer, string]> = [
    [() => failed(-110, ''), () => sessions(1), 'MonSessionsTimeout'],
    [() => ok('garbage'), () => sessions(1), 'MonSessionsFailed'],
    [() => dump('a'), () => ok('{"not": "a list"}'), 'MonSessionsFailed'],
    [
      () => dump('a'),
      () => Promise.reject(Object.assign(new Error('shut down'), { errno: 108 })),
      'MonSessionsFailed',
    ],
  ];
  for (const [monDump, perMon, reason] of cases) {
    const { rados } = fakeRados(monDump, perMon);
    const seen: string[] = [];
    const lookup = new MonSessionLookup(rados, {
      onAvailabilityChange: (p) => seen.push(p?.reason ?? 'ok'),
    }).lookup;
    assert.equal(await lookup(), undefined);
    assert.deepEqual(seen, [reason]);
  }
});

test('a monitor that does not answer: unknown within the bound, and no call is stacked on it', async () => {
  let release: (r: CommandResult) => void = () => undefined;
  const hung = new Promise<CommandResult>((resolve) => (release = resolve));
  let hang = true;
  const { rados, asked } = fakeRados(
    () => dump('a', 'b'),
    (mon) => (mon === 'b' && hang ? hung : sessions(1)),
  );
  const seen: string[] = [];
  const lookup = new MonSessionLookup(rados, {
    timeoutMs: 50,
    onAvailabilityChange: (p) => seen.push(p?.reason ?? 'ok'),
  }).lookup;
  assert.equal(await lookup(), undefined);
  assert.deepEqual(seen, ['MonSessionsTimeout']);
  // Still out: the next lookup sends nothing.
  const before = asked.length;
  assert.equal(await lookup(), undefined);
  assert.equal(asked.length, before);
  // Once it came back, lookups go out again.
  hang = false;
  release(sessions(2));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(await lookup(), new Set(['1']));
  assert.deepEqual(seen, ['MonSessionsTimeout', 'ok']);
});
