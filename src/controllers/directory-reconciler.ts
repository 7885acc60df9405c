// MirroredDirectory: track the path in its mirror's engine and report where it stands. A path
// declared twice is owned by the older object; overlaps with tracked paths are refused with the
// engine's reason. Deletion removes the directory (release by its daemon, then its dir-map key)
// before the finalizer goes.
//
// Truthful status: a path that does not exist on the source filesystem is not written to the dir
// map (see src/ceph/source-directory.ts for what a 16.2 daemon does with one) and the object is
// Ready=False SourceDirectoryMissing, looked for again every SOURCE_RECHECK_MS until it exists. A
// tracked directory whose source disappears keeps its entry (a stat never removes anything from
// Ceph) and is Ready=False SourceDirectoryMissing until it is back.
//
// Spec edits converge (directory-claims.ts has the two status fields this relies on): after a
// path edit the old entry is released first (purge mark written), then the new path added; a new
// path that overlaps the old one (its subtree or ancestor) waits until the old entry is gone
// rather than being refused. An edit of mirrorRef is refused; an invalid spec changes nothing
// in Ceph.
//
// Sources (directory-source.ts): spec.path, spec.subvolume or spec.persistentVolumeClaim. A
// resolved path goes through the same validation, duplicate and overlap claims as a spec.path,
// and is looked up again every SOURCE_RESOLVE_MS: a path that changes (a claim re-bound) is
// handled as a path edit; a source that is gone (subvolume removed, claim deleted or unbound)
// releases its entry and is Ready=False SourceNotFound (ClaimNotBound) until it is back.
//
// Scheduled snapshots (spec.snapshots, snapshot-schedule.ts) and the recovery point
// (spec.rpoSeconds) ride on the same reconcile: the snapshot of the current slot is taken when
// missing, ours beyond the retention pruned, and the object requeued for the next slot.
import {
  DirectoryError,
  normalizeDirectoryPath,
  type DirectoryStatus,
} from '../reconcile/index.js';
import type { WorkResult } from '../kube/work-queue.js';
import type { ControllerContext } from './context.js';
import { admittedMirrorOf, mirrorRefChange, overlapOf } from './directory-claims.js';
import { readyOf } from './directory-conditions.js';
import {
  DirectoryEntries,
  MIRROR_NOT_READY_RETRY_MS,
  REMOVAL_POLL_MS,
} from './directory-entries.js';
import { resolveSource } from './directory-resolve.js';
import { SCHEDULE_CHECK_TTL_MS, ScheduledSnapshots } from './directory-snapshots.js';
import { sourceKindOf, type Resolved } from './directory-source.js';
import { DirectorySettling, PASSING, engineFingerprint } from './directory-settling.js';
import { DirectoryStatusWriter, standingOf, type Standing } from './directory-status.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import { reconcileWith } from './reconcile-skeleton.js';
import { KINDS, objectKey, splitKey, type MirroredDirectory } from '../api/resources.js';

export { PHASE_OF } from './directory-status.js';
export { lagOf } from './directory-conditions.js';

const SYNC_VIEW_REFRESH_MS = 30_000;
/** A missing source directory is looked for again this often (one stat each time). */
export const SOURCE_RECHECK_MS = 10_000;
/** A subvolume or claim source is resolved again this often (one mgr command or two GETs). */
export const SOURCE_RESOLVE_MS = 15_000;

export interface DirectoryOptions {
  /** The shortest snapshot interval a schedule may use (default 60 s; tests lower it). */
  minSnapshotIntervalMs?: number;
  /** A cephfs_mirror_directory_lag_seconds series per directory (default true). */
  lagMetrics?: boolean;
  /** How long after start a Ready directory waits for its mirror's first verdict (60 s). */
  startupGraceMs?: number;
}

/**
 * A directory passes through mapping/resolving on its way to mapped within a tick or two. Its
 * status is written once it settles, or after this long in a passing state, so that thousands of
 * new directories cost one status write each rather than two (the last state is never skipped:
 * the reconcile waits for it, directory-settling.ts, or is run again when this runs out).
 */
const SETTLE_MS = 3000;

export class DirectoryReconciler {
  /** Object key → when it was first seen in a passing state (for SETTLE_MS). */
  private readonly passingSince = new Map<string, number>();
  /** spec.snapshots: plans, the snap_schedule check, snapshots taken and pruned. */
  private readonly snapshots: ScheduledSnapshots;
  /** Status writes (and the lag metric). */
  private readonly status: DirectoryStatusWriter;
  /** Which object owns a path; releasing entries; deletion. */
  private readonly entries: DirectoryEntries;
  /** Engine states reported, reconciles waiting for a passing state to settle. */
  private readonly settling = new DirectorySettling();
  /** Until when a Ready directory whose mirror has no verdict yet keeps its status. */
  private readonly startupGraceEndsAt: number;

  constructor(
    private readonly ctx: ControllerContext,
    options: DirectoryOptions = {},
  ) {
    this.startupGraceEndsAt = Date.now() + (options.startupGraceMs ?? 60_000);
    this.snapshots = new ScheduledSnapshots(ctx, options.minSnapshotIntervalMs ?? 60_000);
    this.status = new DirectoryStatusWriter(ctx, options.lagMetrics ?? true);
    this.entries = new DirectoryEntries(ctx, this.status);
    ctx.runtimes.onDirectoryChanged((mirrorKey, path) =>
      this.settling.changed(mirrorKey, path, ctx.runtimes.get(mirrorKey)?.engine.status(path)),
    );
  }

  /**
   * Whether an engine change of the object's path (now at `status`) needs a reconcile: not when
   * its status already says it, or the reconcile in flight is about to (directory-settling.ts).
   */
  wantsEngineChange(key: string, status: DirectoryStatus | undefined): boolean {
    return this.settling.wants(key, status);
  }

  /** The object changed (it is queued again): a reconcile waiting on the engine stops waiting. */
  objectChanged(key: string): void {
    this.settling.interrupt(key);
  }

  async reconcile(key: string): Promise<WorkResult> {
    this.settling.begin(key);
    try {
      return await this.reconcileOnce(key);
    } finally {
      this.settling.end(key);
    }
  }

  private reconcileOnce(key: string): Promise<WorkResult> {
    return reconcileWith<MirroredDirectory, Admitted>(key, {
      api: this.ctx.api,
      kind: KINDS.directory,
      get: (namespace, name) => this.ctx.directories.get(namespace, name),
      gone: (k) => {
        const { namespace, name } = splitKey(k);
        this.passingSince.delete(k);
        this.settling.forget(k);
        this.status.dropLagSeries(namespace, name);
      },
      prepare: (dir) => {
        // The admitted mirror, not the spec's: a refused mirrorRef edit keeps the old entry ours.
        const mirrorKey = objectKey({
          namespace: dir.metadata.namespace,
          name: admittedMirrorOf(dir),
        });
        return { mirrorKey, runtime: this.ctx.runtimes.get(mirrorKey) };
      },
      finalize: (_k, dir, { mirrorKey, runtime }) => this.entries.finalize(dir, mirrorKey, runtime),
      apply: (k, dir, { mirrorKey, runtime }) => this.apply(k, dir, mirrorKey, runtime),
      // A refused spec: Invalid=True, with what the object manages kept in its status.
      fail: async (dir, problem) => {
        await this.status.invalid(dir, standingOf(dir), problem);
      },
    });
  }

  private async apply(
    key: string,
    dir: MirroredDirectory,
    mirrorKey: string,
    runtime: MirrorRuntime | undefined,
  ): Promise<WorkResult> {
    const standing = standingOf(dir);

    const refChange = mirrorRefChange(dir);
    if (refChange) {
      return this.status.invalid(dir, standing, {
        reason: 'MirrorRefImmutable',
        message:
          `spec.mirrorRef cannot change: admitted with CephFSMirror ${refChange.from}` +
          `${standing.managed ? `, where it still mirrors ${standing.managed}` : ''}; set it ` +
          `back to ${refChange.from}, or delete this object and create a new one for ` +
          `${refChange.to}`,
      });
    }
    const kind = sourceKindOf(dir);
    if (typeof kind !== 'string') return this.status.invalid(dir, standing, kind);
    let path = '';
    if (kind === 'path') {
      try {
        path = normalizeDirectoryPath(dir.spec.path as string);
      } catch (e) {
        // An invalid spec changes nothing in Ceph: the entry managed so far stays.
        return this.status.invalid(dir, standing, e);
      }
      standing.source = `path ${path}`;
    }
    const plan = this.snapshots.plan(dir);
    if (plan && 'reason' in plan) return this.status.invalid(dir, standing, plan);
    if (!this.ctx.mirrors.getByKey(mirrorKey)) {
      const problem = {
        reason: 'MirrorNotFound',
        message: `CephFSMirror ${dir.spec.mirrorRef.name} does not exist`,
      };
      this.ctx.events.record(dir, 'Warning', problem.reason, problem.message);
      return this.status.notReady(dir, standing, problem);
    }
    // The mirror exists: from now on spec.mirrorRef is fixed.
    standing.mirrorRef = dir.spec.mirrorRef.name;
    if (!runtime) {
      // Say why the mirror has no engine (it is refused, the mgr module holds the filesystem,
      // ...), not only that it has none.
      const why = this.ctx.runtimes.whyNotRunning(mirrorKey);
      if (
        !why &&
        Date.now() < this.startupGraceEndsAt &&
        readyOf(dir.status?.conditions)?.status === 'True'
      ) {
        // Just after an operator start the mirror's engine is often not started yet, with no
        // verdict on it either. A directory that was Ready keeps its status meanwhile rather than
        // every object flipping to MirrorNotReady and back: the mirror reconciler enqueues its
        // directories once its engine runs (or says why not, and then this reports it).
        return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
      }
      await this.status.notReady(dir, standing, {
        reason: 'MirrorNotReady',
        message:
          `CephFSMirror ${dir.spec.mirrorRef.name} is not ready yet` +
          (why ? ` (${why.reason}: ${why.message})` : ''),
      });
      return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
    }
    if (kind !== 'path') {
      const resolved = await resolveSource(this.ctx, dir, kind, runtime.rados, runtime.fsName);
      if (!resolved.ok) return this.unresolved(dir, standing, resolved, mirrorKey, runtime);
      path = resolved.path;
      standing.source = resolved.source;
    }
    if (standing.managed && standing.managed !== path) {
      // The path was edited: let go of the old entry before anything else (also when the new
      // path turns out to be refused below: the spec no longer declares the old one).
      await this.entries.releasePrevious(dir, mirrorKey, runtime, standing.managed);
      delete standing.managed;
    }

    const owner = this.entries.ownerOf(dir, path, mirrorKey);
    if (owner !== dir.metadata.name) {
      return this.status.invalid(dir, standing, {
        reason: 'DuplicatePath',
        message: `${path} is already declared by MirroredDirectory ${owner}`,
      });
    }
    if (plan) {
      const elsewhere = await this.snapshots.scheduledElsewhere(mirrorKey, runtime, path);
      if (elsewhere) {
        await this.status.invalid(dir, standing, elsewhere);
        return { requeueAfterMs: SCHEDULE_CHECK_TTL_MS };
      }
    }
    const engine = runtime.engine;
    let status = engine.status(path);
    if (status?.purging) {
      // The same path is still being removed (an earlier object, or our previous spec).
      await this.status.notReady(dir, standing, {
        reason: 'RemovalInProgress',
        message: `remove in-progress for ${path}`,
      });
      return { requeueAfterMs: REMOVAL_POLL_MS };
    }
    // From here the engine's changes of this path are this reconcile's to report.
    this.settling.willRead(key);
    if (!status) {
      const source = await runtime.syncViews.source(path);
      if (source.state === 'missing') {
        // A conflicting spec is reported as such, not as a directory to wait for.
        const overlap = overlapOf(path, engine.trackedPaths());
        if (overlap) return this.refused(dir, standing, overlap, runtime);
        await this.status.notTracked(dir, standing, {
          reason: 'SourceDirectoryMissing',
          message: `${source.message}; it is added to the directory map once it exists`,
        });
        return { requeueAfterMs: SOURCE_RECHECK_MS };
      }
      if (source.state === 'unknown') {
        // The operator's own failure to look (no MDS caps, a slow MDS) must not keep a directory
        // from being mirrored: track it, as the mgr module would, and let Ready follow the daemon.
        this.ctx.log.warn('source directory check failed; tracking the path anyway', {
          object: key,
          path,
          error: source.message,
        });
      }
      // The engine accepts or refuses a path at once, but its promise settles only when the
      // dir-map key is written, on the next tick. Waiting for that here would let one worker add
      // one directory per tick; instead the write's completion re-enqueues us (as a change).
      const adding = engine.addDirectory(path);
      adding.catch((e: unknown) =>
        this.ctx.log.debug('directory add did not complete', { path, error: String(e) }),
      );
      try {
        if (!engine.status(path)) await adding;
      } catch (e) {
        if (!(e instanceof DirectoryError)) throw e;
        if (e.reason === 'RemovalInProgress') {
          await this.status.notReady(dir, standing, { reason: e.reason, message: e.message });
          return { requeueAfterMs: REMOVAL_POLL_MS };
        }
        if (e.reason !== 'AlreadyTracked') return this.refused(dir, standing, e, runtime);
      }
      status = engine.status(path);
    }
    if (!status) return { requeueAfterMs: REMOVAL_POLL_MS };
    if (PASSING.has(status.state)) {
      const now = Date.now();
      const since = this.passingSince.get(key) ?? now;
      this.passingSince.set(key, since);
      const left = SETTLE_MS - (now - since);
      if (left > 0) {
        // Wait for the state worth reporting (usually mapped, a few early ticks away) without
        // holding a worker: one reconcile and one status write for a new directory. A caller
        // that cannot wait outside its slot (tests calling reconcile directly) is requeued.
        const outside = this.ctx.waitOutsideSlot;
        if (!outside) return { requeueAfterMs: left };
        const how = await outside(this.settling.settle(key, mirrorKey, path, left));
        // The object changed meanwhile: the queue runs it again with what it is now.
        if (how === 'interrupted') return;
        status = runtime.engine.status(path);
        if (!status) return { requeueAfterMs: REMOVAL_POLL_MS };
      }
    }
    if (!PASSING.has(status.state)) this.passingSince.delete(key);
    const fingerprint = engineFingerprint(status);
    this.settling.writing(key, fingerprint);
    const snapshots = plan ? await this.snapshots.take(dir, path, plan, runtime) : undefined;
    const { sourceMissing } = await this.status.report(
      dir,
      standing,
      path,
      status,
      runtime,
      snapshots,
    );
    this.settling.written(key, fingerprint);
    const waits: number[] = [];
    if (sourceMissing) waits.push(SOURCE_RECHECK_MS);
    if (snapshots) waits.push(snapshots.nextMs);
    if (kind !== 'path') waits.push(SOURCE_RESOLVE_MS);
    // The sync view follows new snapshots by itself and re-enqueues the object when it changes
    // (sync-views.ts, FollowOptions): 10,000 directories cost no periodic reconciles. An RPO is
    // looked at more often than it is long.
    const rpo = dir.spec.rpoSeconds;
    if (rpo !== undefined) {
      waits.push(Math.min(SYNC_VIEW_REFRESH_MS, Math.max(5000, (rpo * 1000) / 3)));
    }
    return waits.length > 0 ? { requeueAfterMs: Math.max(0, Math.min(...waits)) } : undefined;
  }

  /**
   * A source that could not be resolved. Refused: nothing changes in Ceph. Gone: the entry
   * managed for it is released (the daemon stops mirroring a directory that is no longer the
   * source). Unknown (the mgr did not answer): everything stays, retried.
   */
  private async unresolved(
    dir: MirroredDirectory,
    standing: Standing,
    r: Extract<Resolved, { ok: false }>,
    mirrorKey: string,
    runtime: MirrorRuntime,
  ): Promise<WorkResult> {
    const problem = { reason: r.reason, message: r.message };
    if (r.invalid) return this.status.invalid(dir, standing, problem);
    if (r.gone) {
      if (standing.managed) {
        await this.entries.releasePrevious(dir, mirrorKey, runtime, standing.managed);
        delete standing.managed;
      }
      this.status.dropLagSeries(dir.metadata.namespace, dir.metadata.name);
      await this.status.notTracked(dir, standing, problem);
    } else {
      await this.status.notReady(dir, standing, problem);
    }
    return { requeueAfterMs: SOURCE_RESOLVE_MS };
  }

  /**
   * The engine's refusal of a path. An overlap with an entry on its way out (our own old path
   * after an edit to its subtree or ancestor, or another object's being deleted) is not a
   * conflict but a matter of order: wait for the removal, then add.
   */
  private async refused(
    dir: MirroredDirectory,
    standing: Standing,
    e: DirectoryError,
    runtime: MirrorRuntime,
  ): Promise<WorkResult> {
    const other = e.conflictingPath;
    if (other && runtime.engine.status(other)?.purging) {
      await this.status.notTracked(dir, standing, {
        reason: 'RemovalInProgress',
        message: `waiting for ${other} to be removed from the directory map before adding ${e.path}`,
      });
      return { requeueAfterMs: REMOVAL_POLL_MS };
    }
    return this.status.invalid(dir, standing, e);
  }
}

/** The mirror whose directory map holds this object's entry, and its engine (when running). */
interface Admitted {
  mirrorKey: string;
  runtime: MirrorRuntime | undefined;
}
