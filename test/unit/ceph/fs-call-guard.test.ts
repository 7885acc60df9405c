// The libcephfs call guard: a deadline per call, and a budget of outstanding calls per mount that
// counts a call until it really returns, so a hung MDS cannot take every libuv thread.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FsCallError, FsCallGuard } from '../../../src/ceph/fs-call-guard.js';

function deferred<T>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: Error) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const guard = (): FsCallGuard =>
  new FsCallGuard({ timeoutMs: 30, maxOutstanding: 2, where: 'filesystem a' });

test('a call that answers in time gives its value and frees its slot', async () => {
  const g = guard();
  assert.equal(await g.run('stat /x', () => Promise.resolve(7)), 7);
  assert.equal(g.outstandingCalls, 0);
  await assert.rejects(
    g.run('stat /y', () => Promise.reject(Object.assign(new Error('no'), { code: 'ENOENT' }))),
    {
      code: 'ENOENT',
    },
  );
  assert.equal(g.outstandingCalls, 0);
});

test('a call past its deadline rejects with ETIMEDOUT but keeps its slot until it returns', async () => {
  const g = guard();
  const hung = deferred<number>();
  await assert.rejects(
    g.run('stat /x', () => hung.promise),
    (e: unknown) => {
      assert.ok(e instanceof FsCallError);
      assert.equal(e.code, 'ETIMEDOUT');
      assert.match(e.message, /stat \/x on filesystem a timed out/);
      return true;
    },
  );
  assert.equal(g.outstandingCalls, 1);
  assert.equal(g.hungCalls, 1);
  hung.resolve(1);
  await hung.promise;
  await new Promise((r) => setImmediate(r));
  assert.equal(g.outstandingCalls, 0);
  assert.equal(g.hungCalls, 0);
});

test('calls beyond the budget fail at once with EBUSY instead of queueing behind a hung MDS', async () => {
  const g = guard();
  const a = deferred<number>();
  const b = deferred<number>();
  const first = g.run('list snapshots of /a', () => a.promise);
  const second = g.run('list snapshots of /b', () => b.promise);
  let started = false;
  await assert.rejects(
    g.run('stat /c', () => {
      started = true;
      return Promise.resolve(0);
    }),
    (e: unknown) =>
      e instanceof FsCallError && e.code === 'EBUSY' && /2 calls still waiting/.test(e.message),
  );
  assert.equal(started, false, 'the call over budget never reaches libcephfs');
  await assert.rejects(first, { code: 'ETIMEDOUT' });
  await assert.rejects(second, { code: 'ETIMEDOUT' });
  a.resolve(1);
  b.resolve(2);
  await Promise.all([a.promise, b.promise]);
  await new Promise((r) => setImmediate(r));
  assert.equal(
    await g.run('stat /c', () => Promise.resolve(3)),
    3,
    'the budget is back once they return',
  );
});

test('a call that throws synchronously frees its slot', async () => {
  const g = guard();
  await assert.rejects(
    g.run('stat /x', () => {
      throw new TypeError('bad path');
    }),
    TypeError,
  );
  assert.equal(g.outstandingCalls, 0);
});
