// A keyed work queue in the style of client-go's rate-limited workqueue: a key is queued at most
// once, is never processed by two workers at once (a key re-added while in flight runs again after
// it finishes), and a failing key is retried with per-key exponential backoff.
import { raceDeadline } from '../deadline.js';

export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface WorkQueueOptions extends Partial<BackoffOptions> {
  concurrency?: number;
  /**
   * A reconcile still running after this long counts as failed: its slot is freed and the key
   * retried with backoff (the abandoned call is left to finish on its own; a call into a hung
   * MDS or mon cannot be cancelled). 0: no deadline.
   */
  deadlineMs?: number;
}

/** The error a reconcile past its deadline fails with. */
export class DeadlineExceeded extends Error {
  constructor(
    readonly key: string,
    readonly deadlineMs: number,
  ) {
    super(`reconcile did not finish within ${deadlineMs / 1000} s`);
  }
}

// A worker that has nothing to say returns nothing (the common case), hence `void` in the union.
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type
export type WorkResult = void | { requeueAfterMs: number };
export type Worker = (key: string) => Promise<WorkResult>;

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Served before `queue`: changes that finish what an earlier pass started. */
  private readonly urgent: string[] = [];
  private readonly queued = new Set<string>();
  private readonly inFlight = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { handle: NodeJS.Timeout; due: number }>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly concurrency: number;
  private running = 0;
  /** Reconciles waiting outside their slot (outsideSlot): still in flight, holding no slot. */
  private parked = 0;
  /** Parked reconciles whose wait ended, waiting for a slot to carry on (served first). */
  private readonly resuming: Array<() => void> = [];
  private shuttingDown = false;
  private readonly deadlineMs: number;
  /** When a reconcile last finished (or the queue last had nothing to do): for /healthz. */
  private lastProgressAt = Date.now();

  constructor(
    private readonly worker: Worker,
    private readonly onError: (key: string, error: unknown, retryInMs: number) => void,
    options: WorkQueueOptions = {},
  ) {
    this.baseDelayMs = options.baseDelayMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 300_000;
    this.concurrency = options.concurrency ?? 4;
    this.deadlineMs = options.deadlineMs ?? 0;
  }

  /**
   * How long work has been waiting without any reconcile finishing; 0 while idle. A wedged
   * queue (every worker stuck in a call that never returns) grows this without bound.
   */
  stalledForMs(now = Date.now()): number {
    if (this.length === 0 && this.running === 0 && this.parked === 0) {
      this.lastProgressAt = now;
      return 0;
    }
    return now - this.lastProgressAt;
  }

  /**
   * Queues `key` now (a pending delayed retry is superseded). `urgent` keys are served before the
   * others: with thousands of new objects queued, the follow-up of one that is nearly done
   * (its directory got mapped) must not wait behind all of their first passes.
   */
  add(key: string, urgent = false): void {
    if (this.shuttingDown) return;
    const timer = this.timers.get(key);
    if (timer) {
      clearTimeout(timer.handle);
      this.timers.delete(key);
    }
    if (this.inFlight.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) {
      if (urgent && this.queue.includes(key)) {
        this.queue.splice(this.queue.indexOf(key), 1);
        this.urgent.push(key);
      }
      return;
    }
    this.queued.add(key);
    (urgent ? this.urgent : this.queue).push(key);
    this.pump();
  }

  /** Queues `key` after `delayMs`, unless it is queued or due sooner already. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown || this.queued.has(key)) return;
    const due = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing) {
      if (existing.due <= due) return;
      clearTimeout(existing.handle);
    }
    const handle = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    this.timers.set(key, { handle, due });
  }

  /**
   * Awaits `wait` without holding the calling worker's slot: another key runs meanwhile, and the
   * caller gets a slot back (before any queued key) to carry on. For a reconcile that waits for
   * something that costs nothing while it waits (an engine finishing what the reconcile started),
   * so that thousands of such waits do not hold up every other key. The key stays in flight: an
   * add meanwhile runs it again afterwards, as for any reconcile. Only for calls from a worker.
   */
  async outsideSlot<T>(wait: Promise<T>): Promise<T> {
    this.running--;
    this.parked++;
    this.pump();
    try {
      return await wait;
    } finally {
      await new Promise<void>((resume) => {
        this.resuming.push(resume);
        this.pump();
      });
      this.parked--;
    }
  }

  /** Backoff for the next retry of `key`: base · 2^failures, capped. */
  backoffFor(key: string): number {
    const n = this.failures.get(key) ?? 0;
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
  }

  get length(): number {
    return this.queue.length + this.urgent.length;
  }

  /** Resolves once nothing is queued, in flight or waiting for a retry timer. */
  async idle(): Promise<void> {
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking work and waits for the keys in flight to finish. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t.handle);
    this.timers.clear();
    this.queue.length = 0;
    this.urgent.length = 0;
    this.queued.clear();
    this.dirty.clear();
    await this.idle();
  }

  private withDeadline(key: string, work: Promise<WorkResult>): Promise<WorkResult> {
    if (this.deadlineMs <= 0) return work;
    // The abandoned call's own failure, if it ever comes, has nobody left to hear it: raceDeadline
    // drops it.
    return raceDeadline(work, this.deadlineMs, () => {
      throw new DeadlineExceeded(key, this.deadlineMs);
    });
  }

  private isIdle(): boolean {
    return this.length === 0 && this.running === 0 && this.parked === 0 && this.timers.size === 0;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.resuming.length > 0) {
      this.running++;
      (this.resuming.shift() as () => void)();
    }
    while (this.running < this.concurrency && this.length > 0) {
      const key = (this.urgent.length > 0 ? this.urgent.shift() : this.queue.shift()) as string;
      this.queued.delete(key);
      this.inFlight.add(key);
      this.running++;
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    let retryInMs: number | undefined;
    try {
      const result = await this.withDeadline(key, this.worker(key));
      this.failures.delete(key);
      if (result && result.requeueAfterMs >= 0) retryInMs = result.requeueAfterMs;
    } catch (error) {
      retryInMs = this.backoffFor(key);
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      this.onError(key, error, retryInMs);
    } finally {
      this.inFlight.delete(key);
      this.running--;
      this.lastProgressAt = Date.now();
    }
    if (this.dirty.delete(key)) this.add(key, true);
    else if (retryInMs !== undefined) this.addAfter(key, retryInMs);
    this.pump();
    if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }
}
