// A running engine against the mgr `mirroring` module and its own stops: the module enabled
// behind the operator's back stops the engine (or, with spec.takeOverFromMgrModule, lets this
// reconcile take the filesystem over again), an engine that stopped by itself restarts after a
// backoff, and a failed start is said with the retry its cause calls for.
import { isCephOpError } from '../ceph/errors.js';
import { isMgrModuleConflict, mgrMirroringModuleEnabled } from '../ceph/filesystem.js';
import type { WorkResult } from '../kube/work-queue.js';
import type { CephFSMirror } from '../api/resources.js';
import type { ControllerContext } from './context.js';
import type { FilesystemIdentities } from './filesystem-identities.js';
import { CLAIM_WAIT_MS, OWNED_BY_OTHER } from './mirror-ownership.js';
import { mgrModuleProblem, type MirrorRuntime } from './mirror-runtimes.js';
import { problemOf, type Problem } from './status-helpers.js';

/** A running mirror's status (and the mgr module) is looked at this often. */
export const STATUS_REFRESH_MS = 10_000;
/** Another operator process holds the filesystem's RADOS lock. */
const LOCKED_RETRY_MS = 15_000;
/** The mgr module check runs at most this often per mirror (every reconcile would be too many). */
const MGR_CHECK_MIN_INTERVAL_MS = 5_000;
/** After an engine stopped by itself: the first restart after this, doubling, capped. */
const RESTART_BASE_MS = 5_000;
const RESTART_MAX_MS = 120_000;

export function restartDelayMs(consecutiveStops: number): number {
  return Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** Math.max(0, consecutiveStops - 1));
}

/** What the guard uses of the mirror reconciler. */
export interface EngineGuardDeps {
  ctx: ControllerContext;
  identities: FilesystemIdentities;
  enqueueDependents(mirror: CephFSMirror): void;
  fail(mirror: CephFSMirror, problem: Problem, event?: boolean): Promise<void>;
}

export class EngineGuard {
  /** Mirror key → when the mgr module was last checked for it. */
  private readonly moduleCheckedAt = new Map<string, number>();

  constructor(private readonly d: EngineGuardDeps) {}

  /** A fresh engine was started: the module was checked just now (its start checks it). */
  started(key: string): void {
    this.moduleCheckedAt.set(key, Date.now());
  }

  forget(key: string): void {
    this.moduleCheckedAt.delete(key);
  }

  /**
   * The mgr `mirroring` module enabled while the engine runs: without a takeover, stop the engine
   * at once (the module writes the same dir map) and report `MgrModuleEnabled`; with one, stop it
   * too and let this reconcile start a fresh engine, which disables the module again.
   */
  async checkMgrModule(
    key: string,
    mirror: CephFSMirror,
    runtime: MirrorRuntime,
  ): Promise<WorkResult | undefined> {
    const now = Date.now();
    if (now - (this.moduleCheckedAt.get(key) ?? 0) < MGR_CHECK_MIN_INTERVAL_MS) return undefined;
    this.moduleCheckedAt.set(key, now);
    if (!(await mgrMirroringModuleEnabled(runtime.rados))) return undefined;
    await this.d.ctx.runtimes.stop(key);
    this.d.enqueueDependents(mirror);
    if (runtime.takeOverFromMgrModule) {
      this.d.ctx.events.record(
        mirror,
        'Warning',
        'MgrModuleReenabled',
        `the Ceph mgr "mirroring" module was enabled again: stopped the engine of ` +
          `${runtime.fsName} to take the filesystem over once more (spec.takeOverFromMgrModule)`,
      );
      return undefined;
    }
    const problem = mgrModuleProblem();
    this.d.ctx.runtimes.setNotRunning(key, problem);
    await this.d.fail(mirror, problem);
    return { requeueAfterMs: STATUS_REFRESH_MS };
  }

  /** While an engine that stopped by itself waits for its restart: what to report, how long. */
  restartBackoff(key: string): { problem: Problem; waitMs: number } | undefined {
    if (this.d.ctx.runtimes.get(key)) return undefined;
    const stop = this.d.ctx.runtimes.lastStop(key);
    if (!stop || stop.reason === OWNED_BY_OTHER) return undefined;
    const waitMs = stop.at + restartDelayMs(stop.count) - Date.now();
    if (waitMs <= 0) return undefined;
    return { problem: { reason: stop.reason, message: stop.message }, waitMs };
  }

  async startFailed(key: string, mirror: CephFSMirror, e: unknown): Promise<WorkResult> {
    const problem = problemOf(e, 'MirroringUnavailable');
    this.d.ctx.runtimes.setNotRunning(key, problem);
    if (isMgrModuleConflict(e)) {
      // Looked at again every refresh: the module going away is noticed without a long backoff.
      await this.d.fail(mirror, mgrModuleProblem());
      return { requeueAfterMs: STATUS_REFRESH_MS };
    }
    if (isCephOpError(e) && e.reason === 'FilesystemLockedByOther') {
      await this.d.fail(mirror, problem);
      return { requeueAfterMs: LOCKED_RETRY_MS };
    }
    if (
      isCephOpError(e) &&
      [OWNED_BY_OTHER, 'WaitingForOlderClaimant', 'OwnershipUndecided'].includes(e.reason)
    ) {
      // The start lock's check saw a change since this reconcile decided: decide again.
      await this.d.fail(mirror, problem, false);
      return { requeueAfterMs: CLAIM_WAIT_MS };
    }
    if (isCephOpError(e) && e.reason === 'FilesystemIdentityChanged') this.d.identities.forget(key);
    await this.d.fail(mirror, problem);
    throw e;
  }
}
