// raceDeadline: work that settles in time settles the race; past the deadline the caller's own
// outcome (a value, a tag, or its error) wins; the timer never outlives the work; and work that
// fails after the deadline fails quietly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { raceDeadline } from '../../src/deadline.js';

/** A promise settled by hand. */
function pending<T>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Lets every queued promise job, and the unhandled-rejection check after them, run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('work that settles in time settles the race, value or error; onExpiry never runs', async () => {
  let expiries = 0;
  const onExpiry = (): string => {
    expiries++;
    return 'timeout';
  };
  assert.equal(await raceDeadline(Promise.resolve(42), 60_000, onExpiry), 42);
  const failure = new Error('EACCES');
  await assert.rejects(
    raceDeadline(Promise.reject(failure), 60_000, onExpiry),
    (e) => e === failure,
  );
  // A rejection that is not an Error is passed on as it is, as Promise.race would.
  await assert.rejects(
    raceDeadline(Promise.reject('plain'), 60_000, onExpiry),
    (e) => e === 'plain',
  );
  assert.equal(expiries, 0);
});

test('past the deadline: the fallback value, or the error onExpiry throws', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let expiries = 0;
  const never = new Promise<number>(() => undefined);

  const quiet = raceDeadline(never, 1_000, () => {
    expiries++;
    return undefined;
  });
  t.mock.timers.tick(999);
  assert.equal(expiries, 0, 'not before the deadline');
  t.mock.timers.tick(1);
  assert.equal(await quiet, undefined);
  assert.equal(expiries, 1);

  const tagged = raceDeadline(never, 500, () => 'timeout' as const);
  t.mock.timers.tick(500);
  assert.equal(await tagged, 'timeout');

  class Late extends Error {}
  const failing = raceDeadline(never, 500, () => {
    throw new Late('did not answer');
  });
  t.mock.timers.tick(500);
  await assert.rejects(failing, Late);
});

test('the timer is cleared as soon as the work settles, so nothing keeps the process up', async () => {
  const before = timers();
  const ok = pending<string>();
  const racing = raceDeadline(ok.promise, 3_600_000, () => 'timeout');
  assert.equal(timers(), before + 1, 'one timer while the work runs');
  ok.resolve('done');
  assert.equal(await racing, 'done');
  assert.equal(timers(), before, 'no timer left once it resolved');

  const bad = pending<string>();
  const failing = raceDeadline(bad.promise, 3_600_000, () => 'timeout');
  bad.reject(new Error('no'));
  await assert.rejects(failing, /no/);
  assert.equal(timers(), before, 'no timer left once it rejected');
});

test('work that rejects after the deadline is no unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const listener = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', listener);
  t.after(() => process.off('unhandledRejection', listener));

  t.mock.timers.enable({ apis: ['setTimeout'] });
  const abandoned = pending<number>();
  const quiet = raceDeadline(abandoned.promise, 100, () => undefined);
  const throwing = raceDeadline(abandoned.promise, 100, () => {
    throw new Error('deadline');
  });
  t.mock.timers.tick(100);
  assert.equal(await quiet, undefined);
  await assert.rejects(throwing, /deadline/);
  t.mock.timers.reset();

  abandoned.reject(new Error('the call failed long after its deadline'));
  await turn();
  await turn();
  assert.deepEqual(unhandled, []);
});
