import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineExceeded, WorkQueue } from '../../../src/kube/work-queue.js';

test('a key queued many times is processed once', async () => {
  const seen: string[] = [];
  const q = new WorkQueue(
    async (k) => {
      seen.push(k);
      await sleep(10);
    },
    () => undefined,
    { concurrency: 1 },
  );
  q.add('busy');
  q.add('a');
  q.add('a');
  q.add('b');
  q.add('a');
  await q.idle();
  assert.deepEqual(seen, ['busy', 'a', 'b']);
});

test('a key re-added while in flight runs again after, never concurrently', async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const q = new WorkQueue(
    async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      await sleep(20);
      running--;
    },
    () => undefined,
    { concurrency: 4 },
  );
  q.add('k');
  await sleep(5);
  q.add('k');
  q.add('k');
  await q.idle();
  assert.equal(maxRunning, 1);
  assert.equal(runs, 2);
});

test('failures are retried with exponential backoff and reset on success', async () => {
  const times: number[] = [];
  const errors: number[] = [];
  const q = new WorkQueue(
    async () => {
      times.push(Date.now());
      if (times.length < 4) throw new Error('not yet');
    },
    (_k, _e, retryIn) => errors.push(retryIn),
    { baseDelayMs: 10, maxDelayMs: 25 },
  );
  q.add('x');
  await q.idle();
  assert.deepEqual(errors, [10, 20, 25]);
  assert.equal(times.length, 4);
  assert.equal(q.backoffFor('x'), 10, 'success resets the backoff');
});

test('requeueAfterMs schedules another run; an explicit add supersedes the timer', async () => {
  let runs = 0;
  const q = new WorkQueue(
    async () => {
      runs++;
      return runs === 1 ? { requeueAfterMs: 60_000 } : undefined;
    },
    () => undefined,
  );
  q.add('k');
  await sleep(10);
  assert.equal(runs, 1);
  q.add('k');
  await sleep(10);
  assert.equal(runs, 2);
  await q.shutdown();
  assert.equal(runs, 2);
});

test('shutdown waits for work in flight and drops the rest', async () => {
  const done: string[] = [];
  const q = new WorkQueue(
    async (k) => {
      await sleep(20);
      done.push(k);
    },
    () => undefined,
    { concurrency: 1 },
  );
  q.add('a');
  q.add('b');
  await sleep(5);
  await q.shutdown();
  assert.deepEqual(done, ['a']);
  q.add('c');
  await sleep(30);
  assert.deepEqual(done, ['a']);
});

test('an earlier addAfter supersedes a later one; a later one does not delay an earlier', async () => {
  const runs: number[] = [];
  const started = Date.now();
  const q = new WorkQueue(
    async () => void runs.push(Date.now() - started),
    () => undefined,
  );
  q.addAfter('k', 10_000);
  q.addAfter('k', 20);
  q.addAfter('k', 5_000);
  await sleep(80);
  assert.equal(runs.length, 1);
  assert.ok((runs[0] ?? 0) < 1000);
  await q.shutdown();
});

test('urgent keys are served before the backlog, and an urgent add promotes a queued key', async () => {
  const seen: string[] = [];
  const q = new WorkQueue(
    async (k) => {
      seen.push(k);
      await sleep(5);
    },
    () => undefined,
    { concurrency: 1 },
  );
  q.add('busy');
  q.add('a');
  q.add('b');
  q.add('c');
  q.add('u', true);
  q.add('c', true);
  await q.idle();
  assert.deepEqual(seen, ['busy', 'u', 'c', 'a', 'b']);
});

describe('WorkQueue deadlines and progress', () => {
  it('a reconcile past its deadline fails, frees its slot and is retried', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const q = new WorkQueue(
      async () => {
        calls++;
        if (calls === 1) await new Promise(() => undefined); // hangs for ever
      },
      (_key, e) => errors.push(e),
      { concurrency: 1, deadlineMs: 30, baseDelayMs: 5 },
    );
    q.add('k');
    await q.idle();
    assert.equal(calls, 2, 'retried after the deadline');
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof DeadlineExceeded);
    assert.match(String(errors[0]), /did not finish within 0.03 s/);
  });

  it('stalledForMs grows while work waits and nothing finishes, and is 0 when idle', async () => {
    let release: () => void = () => undefined;
    const q = new WorkQueue(
      () => new Promise<void>((r) => (release = r)),
      () => undefined,
      { concurrency: 1 },
    );
    assert.equal(q.stalledForMs(), 0);
    q.add('a');
    q.add('b');
    const t0 = Date.now();
    assert.ok(q.stalledForMs(t0 + 5000) >= 5000);
    release();
    await new Promise((r) => setTimeout(r, 5));
    assert.ok(q.stalledForMs() < 1000, 'a finished reconcile is progress');
    release();
    await q.idle();
    assert.equal(q.stalledForMs(Date.now() + 60_000), 0);
  });
});

describe('WorkQueue.outsideSlot', () => {
  it('a parked reconcile holds no slot, stays in flight, and gets a slot back before the backlog', async () => {
    const order: string[] = [];
    let release: () => void = () => undefined;
    const parked = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    const q: WorkQueue = new WorkQueue(
      async (k) => {
        order.push(`start ${k}`);
        if (k === 'waits') {
          runs++;
          await q.outsideSlot(parked);
          order.push('waits resumed');
        } else {
          await sleep(5);
        }
        order.push(`end ${k}`);
      },
      () => undefined,
      { concurrency: 1 },
    );
    q.add('waits');
    q.add('b');
    await sleep(20);
    // The one slot served `b` while `waits` was parked.
    assert.deepEqual(order, ['start waits', 'start b', 'end b']);
    // Still in flight: an add marks it to run again afterwards, not concurrently.
    q.add('waits');
    q.add('c');
    q.add('d');
    await sleep(1);
    assert.equal(order.at(-1), 'start c');
    release();
    await q.idle();
    // `waits` carried on as soon as `c` freed the slot, before `d`; then ran once more (as an
    // urgent key), parking again while `d` ran.
    assert.deepEqual(order.slice(3), [
      'start c',
      'end c',
      'waits resumed',
      'end waits',
      'start waits',
      'start d',
      'end d',
      'waits resumed',
      'end waits',
    ]);
    assert.equal(runs, 2);
  });

  it('idle() waits for parked reconciles, and a failed wait still returns its slot', async () => {
    let failWait: (e: Error) => void = () => undefined;
    const errors: string[] = [];
    const q: WorkQueue = new WorkQueue(
      async () => {
        await q.outsideSlot(new Promise<void>((_, reject) => (failWait = reject)));
      },
      (key) => void errors.push(key),
      { concurrency: 1, baseDelayMs: 60_000 },
    );
    q.add('k');
    await sleep(5);
    let idle = false;
    void q.idle().then(() => (idle = true));
    await sleep(5);
    assert.equal(idle, false, 'parked work is not idle');
    assert.ok(q.stalledForMs(Date.now() + 1000) > 0);
    failWait(new Error('boom'));
    await sleep(5);
    assert.deepEqual(errors, ['k'], 'the failed wait is the reconcile failing');
    // The slot came back: another key runs (and parks in turn).
    q.add('other');
    await sleep(5);
    failWait(new Error('boom'));
    await sleep(5);
    assert.deepEqual(errors, ['k', 'other']);
    await q.shutdown();
  });
});
