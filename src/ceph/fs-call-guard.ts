// Deadlines and a thread budget for libcephfs calls.
//
// libcephfs has no per-request deadline: a call waiting on an MDS that does not answer (stopped,
// partitioned, or failing over) blocks its libuv worker thread until the MDS answers, however
// long that takes (only the mount itself is bounded, by client_mount_timeout). cephfs-js runs each
// call on Node's shared libuv pool, so a hung MDS behind one mirror would, call by call, take
// every pool thread and stop the other mirrors' work and the RADOS commands that share the pool.
//
// A guard sits in front of one mount (one filesystem on one cluster): each call gets a deadline
// (the caller's promise rejects with ETIMEDOUT; the call itself goes on in its thread and its late
// answer is dropped), and at most `maxOutstanding` calls may be outstanding on the mount — counted
// until they really return, not until their deadline — so a hung MDS ties up at most that many
// pool threads. Calls beyond the budget fail at once with EBUSY instead of queueing behind it.
import { raceDeadline } from '../deadline.js';

export interface FsCallGuardOptions {
  /** Deadline of one call, in milliseconds. */
  timeoutMs: number;
  /** Calls that may be outstanding (not yet returned from libcephfs) at once. */
  maxOutstanding: number;
  /** Names the filesystem and site in messages, e.g. "filesystem a". */
  where: string;
}

export const DEFAULT_FS_CALL_TIMEOUT_MS = 15_000;
export const DEFAULT_FS_MAX_OUTSTANDING = 4;

export class FsCallError extends Error {
  constructor(
    message: string,
    readonly code: 'ETIMEDOUT' | 'EBUSY',
  ) {
    super(message);
    this.name = 'FsCallError';
  }
}

export class FsCallGuard {
  private outstanding = 0;
  private timedOut = 0;

  constructor(private readonly options: FsCallGuardOptions) {}

  /** Calls that have not returned from libcephfs yet (some may be past their deadline). */
  get outstandingCalls(): number {
    return this.outstanding;
  }

  /** Calls past their deadline that have not returned yet: the mount is not answering. */
  get hungCalls(): number {
    return this.timedOut;
  }

  run<T>(what: string, call: () => Promise<T>): Promise<T> {
    const { timeoutMs, maxOutstanding, where } = this.options;
    if (this.outstanding >= maxOutstanding) {
      const hung = this.timedOut > 0 ? `, ${this.timedOut} of them past their deadline` : '';
      return Promise.reject(
        new FsCallError(
          `${what} on ${where} not started: ${this.outstanding} calls still waiting for the MDS${hung}`,
          'EBUSY',
        ),
      );
    }
    this.outstanding += 1;
    let expired = false;
    const done = (): void => {
      this.outstanding -= 1;
      if (expired) this.timedOut -= 1;
    };
    let started: Promise<T>;
    try {
      started = call();
    } catch (e) {
      done();
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    // Counted until the call really returns; the caller stops waiting at the deadline.
    started.then(done, done);
    const answered = started.catch((e: unknown) => {
      throw e instanceof Error ? e : new Error(String(e));
    });
    return raceDeadline(answered, timeoutMs, () => {
      expired = true;
      this.timedOut += 1;
      throw new FsCallError(
        `${what} on ${where} timed out after ${Math.round(timeoutMs / 1000)} s (the MDS did not answer)`,
        'ETIMEDOUT',
      );
    });
  }
}
