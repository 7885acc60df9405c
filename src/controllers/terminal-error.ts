// "Stop retrying until the spec or a Secret changes": an error type, not an errno list. Apply code
// throws a TerminalError for a refusal no retry can fix (a bad spec, a missing Secret, a remote
// that is not what the spec says); the reconcile skeleton (reconcile-skeleton.ts) catches it,
// writes Ready=False with its reason and records a Warning Event, and does NOT hand the error to
// the work queue (no retry with backoff). The object is reconciled again when a watched object
// changes (watches.ts: its spec, its Secrets, its mirror), or after `recheckAfterMs` when the
// refusal may also lift by a change in Ceph that nothing watches.
import { isCephOpError, type CephOpError } from '../ceph/errors.js';
import type { Problem } from './status-helpers.js';

export interface TerminalOptions {
  /** Look again after this long (a change in Ceph may lift the refusal); default: never. */
  recheckAfterMs?: number;
  /** Record a Warning Event with the reason (default true). */
  event?: boolean;
  /**
   * The latest version of the object, when apply wrote to it before failing (its status must be
   * written from that version, not the one the reconcile started with).
   */
  object?: unknown;
  cause?: unknown;
}

export class TerminalError extends Error {
  override name = 'TerminalError';
  readonly reason: string;
  readonly recheckAfterMs: number | undefined;
  readonly event: boolean;
  readonly object: unknown;

  constructor(problem: Problem, options: TerminalOptions = {}) {
    super(problem.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = problem.reason;
    this.recheckAfterMs = options.recheckAfterMs;
    this.event = options.event ?? true;
    this.object = options.object;
  }

  get problem(): Problem {
    return { reason: this.reason, message: this.message };
  }
}

export function isTerminalError(e: unknown): e is TerminalError {
  return e instanceof TerminalError;
}

/**
 * A Ceph refusal of the request itself: EINVAL (a bad spec, a remote whose fsid or filesystem is
 * not what the spec says, mirroring off) or EEXIST (the remote root is claimed by another
 * cluster). Retrying the same request cannot succeed: see src/ceph/peers.ts for where each is
 * raised. Anything else (a site unreachable, a timeout) may pass on the next try.
 */
export function isCephRefusal(e: unknown): e is CephOpError {
  return isCephOpError(e) && (e.code === 'EINVAL' || e.code === 'EEXIST');
}
