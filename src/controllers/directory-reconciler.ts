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
  type DirectoryStatusWord,
} from '../reconcile/index.js';
import type { WorkResult } from '../kube/work-queue.js';
import { setCondition, type Condition } from '../api/conditions.js';
import type { ControllerContext } from './context.js';
import { admittedMirrorOf, mirrorRefChange, overlapOf } from './directory-claims.js';
import {
  fromSubvolume,
  fromVolume,
  sourceKindOf,
  type Resolved,
  type SourceKind,
} from './directory-source.js';
import { NO_GROUP, snapScheduleOf, subvolumePath } from '../ceph/subvolumes.js';
import { getClaim, getVolume } from '../kube/volumes.js';
import {
  DEFAULT_SNAPSHOT_PREFIX,
  ScheduleError,
  currentSlot,
  nextSlot,
  parseSchedule,
  slotOfName,
  snapshotName,
  snapshotsToPrune,
  validatePrefix,
  validateRetention,
  type Retention,
  type Schedule,
} from '../reconcile/snapshot-schedule.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import { isBeingDeleted, writeStatus } from '../kube/object-writes.js';
import { FINALIZED, reconcileWith, type FinalizeResult } from './reconcile-skeleton.js';
import {
  KINDS,
  objectKey,
  splitKey,
  type DirectoryPhase,
  type MirroredDirectory,
  type MirroredDirectoryStatus,
  type PeerSyncStatus,
  type SnapshotScheduleStatus,
} from '../api/resources.js';
import { readyCondition, type Problem } from './status-helpers.js';

const MIRROR_NOT_READY_RETRY_MS = 3000;
const REMOVAL_POLL_MS = 1000;
const SYNC_VIEW_REFRESH_MS = 30_000;
/** A missing source directory is looked for again this often (one stat each time). */
export const SOURCE_RECHECK_MS = 10_000;
/** A subvolume or claim source is resolved again this often (one mgr command or two GETs). */
export const SOURCE_RESOLVE_MS = 15_000;
/** How long a `fs snap-schedule list` answer holds. */
const SCHEDULE_CHECK_TTL_MS = 60_000;
/** A failed scheduled snapshot is tried again after at most this long. */
const SNAPSHOT_RETRY_MS = 30_000;
/** ceph-csi's default subvolume group (its config map's cephFS.subvolumeGroup). */
const CSI_SUBVOLUME_GROUP = 'csi';

export interface DirectoryOptions {
  /** The shortest snapshot interval a schedule may use (default 60 s; tests lower it). */
  minSnapshotIntervalMs?: number;
  /** A cephfs_mirror_directory_lag_seconds series per directory (default true). */
  lagMetrics?: boolean;
}

interface SnapshotPlan {
  schedule: Schedule;
  prefix: string;
  retention?: Retention;
}

interface SnapshotOutcome {
  status: SnapshotScheduleStatus;
  nextMs: number;
  problem?: Problem;
}
/**
 * A directory passes through mapping/resolving on its way to mapped within a tick or two. Its
 * status is written once it settles, or after this long in a passing state, so that thousands of
 * new directories cost one status write each rather than two (the last state is never skipped:
 * the object is looked at again when this runs out).
 */
const SETTLE_MS = 3000;
const PASSING: ReadonlySet<DirectoryStatusWord> = new Set([
  'mapping',
  'resolving',
  'shuffling',
  'unmapping',
]);

export const PHASE_OF: Readonly<Record<DirectoryStatusWord, DirectoryPhase>> = {
  mapping: 'Associating',
  mapped: 'Associated',
  shuffling: 'Shuffling',
  unmapping: 'Disassociating',
  resolving: 'Resolving',
  stalled: 'Stalled',
};

function olderFirst(x: MirroredDirectory, y: MirroredDirectory): number {
  const tx = x.metadata.creationTimestamp ?? '';
  const ty = y.metadata.creationTimestamp ?? '';
  return tx === ty ? x.metadata.name.localeCompare(y.metadata.name) : tx < ty ? -1 : 1;
}

function normalizedOrUndefined(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return normalizeDirectoryPath(path);
  } catch {
    return undefined;
  }
}

function keyOf(dir: MirroredDirectory): string {
  return objectKey(dir.metadata);
}

/** Everything a status write of this object needs to know besides the conditions. */
interface Standing {
  /** The admitted mirror (status.mirrorRef), when the object has been admitted. */
  mirrorRef?: string;
  /** The path of the dir-map entry the object manages, when it manages one. */
  managed?: string;
  /** The source in words (status.source). */
  source?: string;
}

export class DirectoryReconciler {
  /** Object key → when it was first seen in a passing state (for SETTLE_MS). */
  private readonly passingSince = new Map<string, number>();
  /** mirror key + path → the last snap_schedule answer (ScheduledElsewhere). */
  private readonly scheduleChecks = new Map<string, { at: number; problem?: Problem }>();
  private readonly minSnapshotIntervalMs: number;
  private readonly lagMetrics: boolean;

  constructor(
    private readonly ctx: ControllerContext,
    options: DirectoryOptions = {},
  ) {
    this.minSnapshotIntervalMs = options.minSnapshotIntervalMs ?? 60_000;
    this.lagMetrics = options.lagMetrics ?? true;
  }

  reconcile(key: string): Promise<WorkResult> {
    return reconcileWith<MirroredDirectory, Admitted>(key, {
      api: this.ctx.api,
      kind: KINDS.directory,
      get: (namespace, name) => this.ctx.directories.get(namespace, name),
      gone: (k) => {
        const { namespace, name } = splitKey(k);
        this.passingSince.delete(k);
        this.dropLagSeries(namespace, name);
      },
      prepare: (dir) => {
        // The admitted mirror, not the spec's: a refused mirrorRef edit keeps the old entry ours.
        const mirrorKey = objectKey({
          namespace: dir.metadata.namespace,
          name: admittedMirrorOf(dir),
        });
        return { mirrorKey, runtime: this.ctx.runtimes.get(mirrorKey) };
      },
      finalize: (_k, dir, { mirrorKey, runtime }) => this.finalize(dir, mirrorKey, runtime),
      apply: (k, dir, { mirrorKey, runtime }) => this.apply(k, dir, mirrorKey, runtime),
      // A refused spec: Invalid=True, with what the object manages kept in its status.
      fail: async (dir, problem) => {
        await this.invalid(dir, standingOf(dir), problem);
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
      return this.invalid(dir, standing, {
        reason: 'MirrorRefImmutable',
        message:
          `spec.mirrorRef cannot change: admitted with CephFSMirror ${refChange.from}` +
          `${standing.managed ? `, where it still mirrors ${standing.managed}` : ''}; set it ` +
          `back to ${refChange.from}, or delete this object and create a new one for ` +
          `${refChange.to}`,
      });
    }
    const kind = sourceKindOf(dir);
    if (typeof kind !== 'string') return this.invalid(dir, standing, kind);
    let path = '';
    if (kind === 'path') {
      try {
        path = normalizeDirectoryPath(dir.spec.path as string);
      } catch (e) {
        // An invalid spec changes nothing in Ceph: the entry managed so far stays.
        return this.invalid(dir, standing, e);
      }
      standing.source = `path ${path}`;
    }
    const plan = this.snapshotPlan(dir);
    if (plan && 'reason' in plan) return this.invalid(dir, standing, plan);
    if (!this.ctx.mirrors.getByKey(mirrorKey)) {
      const problem = {
        reason: 'MirrorNotFound',
        message: `CephFSMirror ${dir.spec.mirrorRef.name} does not exist`,
      };
      this.ctx.events.record(dir, 'Warning', problem.reason, problem.message);
      return this.notReady(dir, standing, problem);
    }
    // The mirror exists: from now on spec.mirrorRef is fixed.
    standing.mirrorRef = dir.spec.mirrorRef.name;
    if (!runtime) {
      // Say why the mirror has no engine (it is refused, the mgr module holds the filesystem,
      // ...), not only that it has none.
      const why = this.ctx.runtimes.whyNotRunning(mirrorKey);
      await this.notReady(dir, standing, {
        reason: 'MirrorNotReady',
        message:
          `CephFSMirror ${dir.spec.mirrorRef.name} is not ready yet` +
          (why ? ` (${why.reason}: ${why.message})` : ''),
      });
      return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
    }
    if (kind !== 'path') {
      const resolved = await this.resolve(dir, kind, runtime.rados, runtime.fsName);
      if (!resolved.ok) return this.unresolved(dir, standing, resolved, mirrorKey, runtime);
      path = resolved.path;
      standing.source = resolved.source;
    }
    if (standing.managed && standing.managed !== path) {
      // The path was edited: let go of the old entry before anything else (also when the new
      // path turns out to be refused below: the spec no longer declares the old one).
      await this.releasePrevious(dir, mirrorKey, runtime, standing.managed);
      delete standing.managed;
    }

    const owner = this.ownerOf(dir, path, mirrorKey);
    if (owner !== dir.metadata.name) {
      return this.invalid(dir, standing, {
        reason: 'DuplicatePath',
        message: `${path} is already declared by MirroredDirectory ${owner}`,
      });
    }
    if (plan) {
      const elsewhere = await this.scheduledElsewhere(mirrorKey, runtime, path);
      if (elsewhere) {
        await this.invalid(dir, standing, elsewhere);
        return { requeueAfterMs: SCHEDULE_CHECK_TTL_MS };
      }
    }
    const engine = runtime.engine;
    let status = engine.status(path);
    if (status?.purging) {
      // The same path is still being removed (an earlier object, or our previous spec).
      await this.notReady(dir, standing, {
        reason: 'RemovalInProgress',
        message: `remove in-progress for ${path}`,
      });
      return { requeueAfterMs: REMOVAL_POLL_MS };
    }
    if (!status) {
      const source = await runtime.syncViews.source(path);
      if (source.state === 'missing') {
        // A conflicting spec is reported as such, not as a directory to wait for.
        const overlap = overlapOf(path, engine.trackedPaths());
        if (overlap) return this.refused(dir, standing, overlap, runtime);
        await this.notTracked(dir, standing, {
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
          await this.notReady(dir, standing, { reason: e.reason, message: e.message });
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
      if (now - since < SETTLE_MS) return { requeueAfterMs: SETTLE_MS - (now - since) };
    } else {
      this.passingSince.delete(key);
    }
    const snapshots = plan ? await this.takeScheduled(dir, path, plan, runtime) : undefined;
    const { peers, sourceMissing } = await this.report(
      dir,
      standing,
      path,
      status,
      runtime,
      snapshots,
    );
    const waits: number[] = [];
    if (sourceMissing) waits.push(SOURCE_RECHECK_MS);
    if (snapshots) waits.push(snapshots.nextMs);
    if (kind !== 'path') waits.push(SOURCE_RESOLVE_MS);
    // A mirrored directory looks again now and then so its sync view follows new snapshots; with
    // no peer there is nothing to follow (a peer's arrival re-enqueues every directory of the
    // mirror), and 10,000 directories then cost no timers and no periodic reconciles. An RPO is
    // looked at more often than it is long.
    const rpo = dir.spec.rpoSeconds;
    if (rpo !== undefined) {
      waits.push(Math.min(SYNC_VIEW_REFRESH_MS, Math.max(5000, (rpo * 1000) / 3)));
    } else if (status.state === 'mapped' && peers.length > 0) {
      waits.push(SYNC_VIEW_REFRESH_MS);
    }
    return waits.length > 0 ? { requeueAfterMs: Math.max(0, Math.min(...waits)) } : undefined;
  }

  /** The subvolume or claim source's path, or why there is none. */
  private async resolve(
    dir: MirroredDirectory,
    kind: Exclude<SourceKind, 'path'>,
    rados: MirrorRuntime['rados'],
    fsName: string,
  ): Promise<Resolved> {
    if (kind === 'subvolume') {
      const sv = dir.spec.subvolume as { name: string; group?: string };
      const answer = await subvolumePath(rados, fsName, sv.name, sv.group ?? NO_GROUP);
      return fromSubvolume(sv.name, sv.group, answer);
    }
    const claimName = (dir.spec.persistentVolumeClaim as { name: string }).name;
    const claim = await getClaim(this.ctx.api, dir.metadata.namespace, claimName);
    const volumeName = claim?.spec?.volumeName;
    const pv = volumeName ? await getVolume(this.ctx.api, volumeName) : undefined;
    const v = fromVolume(claimName, claim, pv, fsName);
    if (!('subvolume' in v)) return v;
    // A provisioned volume without subvolumePath: ceph-csi's default group.
    const answer = await subvolumePath(rados, fsName, v.subvolume, CSI_SUBVOLUME_GROUP);
    const r = fromSubvolume(v.subvolume, CSI_SUBVOLUME_GROUP, answer);
    return r.ok ? { ...r, source: `pvc ${claimName} (${r.source})` } : r;
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
    if (r.invalid) return this.invalid(dir, standing, problem);
    if (r.gone) {
      if (standing.managed) {
        await this.releasePrevious(dir, mirrorKey, runtime, standing.managed);
        delete standing.managed;
      }
      this.dropLagSeries(dir.metadata.namespace, dir.metadata.name);
      await this.notTracked(dir, standing, problem);
    } else {
      await this.notReady(dir, standing, problem);
    }
    return { requeueAfterMs: SOURCE_RESOLVE_MS };
  }

  /** The parsed spec.snapshots, a refusal, or undefined when there is no schedule. */
  private snapshotPlan(dir: MirroredDirectory): SnapshotPlan | Problem | undefined {
    const spec = dir.spec.snapshots;
    if (!spec) return undefined;
    const prefix = spec.namePrefix ?? DEFAULT_SNAPSHOT_PREFIX;
    const badPrefix = validatePrefix(prefix);
    if (badPrefix) return { reason: 'InvalidSchedule', message: badPrefix };
    const badRetention = validateRetention(spec.retention);
    if (badRetention) return { reason: 'InvalidSchedule', message: badRetention };
    try {
      const schedule = parseSchedule(spec.schedule, this.minSnapshotIntervalMs);
      return { schedule, prefix, ...(spec.retention ? { retention: spec.retention } : {}) };
    } catch (e) {
      if (e instanceof ScheduleError) return { reason: e.reason, message: e.message };
      throw e;
    }
  }

  /** ScheduledElsewhere when the mgr snap_schedule module already schedules `path`. */
  private async scheduledElsewhere(
    mirrorKey: string,
    runtime: MirrorRuntime,
    path: string,
  ): Promise<Problem | undefined> {
    const key = `${mirrorKey}\0${path}`;
    const cached = this.scheduleChecks.get(key);
    if (cached && Date.now() - cached.at < SCHEDULE_CHECK_TTL_MS) return cached.problem;
    const check = await snapScheduleOf(runtime.rados, runtime.fsName, path);
    let problem: Problem | undefined;
    if (check.state === 'scheduled') {
      problem = {
        reason: 'ScheduledElsewhere',
        message:
          `${path} is already scheduled by the mgr snap_schedule module ` +
          `(${check.schedules.join(', ')}): remove that schedule or spec.snapshots`,
      };
    } else if (check.state === 'unknown') {
      // Not knowing must not stop the schedule the user asked for: say so in the log.
      this.ctx.log.warn('could not check the snap_schedule module; scheduling anyway', {
        path,
        error: check.message,
      });
    }
    this.scheduleChecks.set(key, { at: Date.now(), ...(problem ? { problem } : {}) });
    return problem;
  }

  /**
   * Takes the current slot's snapshot when it is missing (EEXIST: taken already, by us before a
   * restart) and prunes ours beyond the retention. Never throws: a failure is reported.
   */
  private async takeScheduled(
    dir: MirroredDirectory,
    path: string,
    plan: SnapshotPlan,
    runtime: MirrorRuntime,
  ): Promise<SnapshotOutcome> {
    const now = Date.now();
    const next = nextSlot(plan.schedule, now);
    const nextSnapshotTime = isoSeconds(next);
    const nextMs = next - now + 250;
    const source = await runtime.syncViews.source(path);
    if (source.state === 'missing') {
      return { status: { ...dir.status?.snapshots, nextSnapshotTime }, nextMs };
    }
    try {
      const fs = await runtime.syncViews.localFs();
      let names = await fs.listSnaps(path);
      const slot = currentSlot(plan.schedule, now);
      if (slot !== undefined) {
        const name = snapshotName(plan.prefix, slot);
        if (!names.includes(name)) {
          try {
            await fs.mksnap(path, name);
            this.ctx.log.info('scheduled snapshot taken', { object: keyOf(dir), path, name });
          } catch (e) {
            if (codeOf(e) !== 'EEXIST') throw e;
          }
          names = [...names, name];
        }
      }
      const prune = new Set(snapshotsToPrune(plan.prefix, names, plan.retention));
      for (const name of prune) {
        try {
          await fs.rmsnap(path, name);
          this.ctx.log.info('scheduled snapshot pruned', { object: keyOf(dir), path, name });
        } catch (e) {
          if (codeOf(e) !== 'ENOENT') throw e;
        }
      }
      const ours = names
        .filter((n) => !prune.has(n) && slotOfName(plan.prefix, n) !== undefined)
        .sort();
      return {
        status: {
          ...(ours.length > 0 ? { lastSnapshot: ours[ours.length - 1] } : {}),
          nextSnapshotTime,
          count: ours.length,
        },
        nextMs,
      };
    } catch (e) {
      return {
        status: { ...dir.status?.snapshots, nextSnapshotTime },
        nextMs: Math.min(nextMs, SNAPSHOT_RETRY_MS),
        problem: {
          reason: 'SnapshotFailed',
          message: `scheduled snapshot of ${path} failed: ${e instanceof Error ? e.message : String(e)}`,
        },
      };
    }
  }

  private dropLagSeries(namespace: string, name: string): void {
    // remove() of a series that does not exist is a no-op.
    this.ctx.metrics.directoryLag.remove({ namespace, directory: name });
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
      await this.notTracked(dir, standing, {
        reason: 'RemovalInProgress',
        message: `waiting for ${other} to be removed from the directory map before adding ${e.path}`,
      });
      return { requeueAfterMs: REMOVAL_POLL_MS };
    }
    return this.invalid(dir, standing, e);
  }

  /** The object owning a path among a mirror's declarations: the oldest one not being deleted. */
  private ownerOf(dir: MirroredDirectory, path: string, mirrorKey: string): string {
    // Through the manager's path index: scanning every directory here made each reconcile cost
    // O(directories), and a burst of 10,000 new ones quadratic.
    const self = keyOf(dir);
    const same = this.ctx
      .declaredBy(mirrorKey, path)
      .filter((key) => key !== self)
      .map((key) => this.ctx.directories.getByKey(key))
      .filter((d): d is MirroredDirectory => d !== undefined && !isBeingDeleted(d));
    if (!isBeingDeleted(dir)) same.push(dir);
    return same.sort(olderFirst)[0]?.metadata.name ?? dir.metadata.name;
  }

  /**
   * Lets go of the entry this object managed at `previous` after a path edit. When another object
   * declares that path now it keeps the entry (it is told to look); otherwise the directory is
   * removed: this resolves once its purge mark is written, after which Ceph finishes the removal
   * even if the operator restarts.
   */
  private async releasePrevious(
    dir: MirroredDirectory,
    mirrorKey: string,
    runtime: MirrorRuntime,
    previous: string,
  ): Promise<void> {
    const self = keyOf(dir);
    const heirs = this.ctx.declaredBy(mirrorKey, previous).filter((key) => {
      const d = key === self ? undefined : this.ctx.directories.getByKey(key);
      return d !== undefined && !isBeingDeleted(d);
    });
    if (heirs.length > 0) {
      for (const key of heirs) this.ctx.enqueue.directory(key);
      return;
    }
    await this.release(runtime, previous);
    runtime.syncViews.forget(previous);
  }

  private async release(runtime: MirrorRuntime, path: string): Promise<void> {
    const status = runtime.engine.status(path);
    if (!status || status.purging) return;
    try {
      await runtime.engine.removeDirectory(path);
    } catch (e) {
      if (!(e instanceof DirectoryError && ['NotTracked', 'UnderRemoval'].includes(e.reason)))
        throw e;
    }
  }

  private async report(
    dir: MirroredDirectory,
    standing: Standing,
    path: string,
    s: DirectoryStatus,
    runtime: MirrorRuntime,
    snapshots?: SnapshotOutcome,
  ): Promise<{ peers: PeerSyncStatus[]; sourceMissing: boolean }> {
    const phase = PHASE_OF[s.state];
    const mapped = s.state === 'mapped';
    // The sync view is computed in the background; this status carries the latest one, and its
    // arrival re-enqueues the object.
    // With an RPO the view is followed in every state: a directory no daemon holds still lags.
    if (mapped || dir.spec.rpoSeconds !== undefined) {
      runtime.syncViews.refreshIfStale(path, () => this.ctx.enqueue.directory(keyOf(dir)));
    }
    // One stat at most every SOURCE_PRESENT_TTL_MS (the sync view's refresh also tells); a check
    // that fails says nothing either way and leaves the engine's word standing.
    const source = await runtime.syncViews.source(path);
    const sourceMissing = source.state === 'missing';
    const ready = mapped && !sourceMissing;
    const peers = runtime.syncViews.get(path) ?? dir.status?.peers;
    const generation = dir.metadata.generation;
    const reason = sourceMissing ? 'SourceDirectoryMissing' : ready ? 'Mirrored' : phase;
    const message = sourceMissing
      ? `${source.message}; the daemon cannot mirror it until it is created`
      : ready
        ? `mirrored by cephfs-mirror instance ${s.instanceId}`
        : s.state === 'stalled'
          ? (s.reason ?? 'no mirror daemons running')
          : `${s.state}${s.instanceId ? ` (instance ${s.instanceId})` : ''}`;
    let conditions = this.validConditions(dir, ready, reason, message);
    conditions = this.snapshotCondition(dir, conditions, snapshots);
    const lag = lagOf(peers ?? []);
    conditions = this.rpoCondition(dir, conditions, peers ?? [], lag);
    if (this.lagMetrics && lag.maxLag !== undefined) {
      this.ctx.metrics.directoryLag.set(
        { namespace: dir.metadata.namespace, directory: dir.metadata.name },
        lag.maxLag,
      );
    } else {
      this.dropLagSeries(dir.metadata.namespace, dir.metadata.name);
    }
    const next: MirroredDirectoryStatus = {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(standing.mirrorRef ? { mirrorRef: standing.mirrorRef } : {}),
      path,
      ...(standing.source ? { source: standing.source } : {}),
      state: phase,
      ...(s.instanceId ? { instanceID: s.instanceId } : {}),
      ...(s.lastShuffled
        ? { mappedTime: new Date(s.lastShuffled * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') }
        : {}),
      ...(peers && peers.length > 0 ? { peers } : {}),
      ...(lag.maxLag !== undefined ? { lagSeconds: lag.maxLag } : {}),
      ...(lag.lastSynced ? { lastSyncedSnapshot: lag.lastSynced } : {}),
      ...(snapshots ? { snapshots: snapshots.status } : {}),
      conditions,
    };
    // Acquired: on becoming Ready after association, or on moving to another daemon while
    // Ready. (A status written while associating already names the instance, so the instance
    // alone does not tell; a source directory that comes back was not acquired again.)
    const wasReady = readyOf(dir.status?.conditions)?.status === 'True';
    const moved = dir.status?.instanceID !== s.instanceId;
    if (ready && (moved || (!wasReady && dir.status?.state !== 'Associated'))) {
      this.ctx.events.record(
        dir,
        'Normal',
        'Acquired',
        `${path} acquired by cephfs-mirror instance ${s.instanceId}`,
      );
    }
    this.recordTransition(dir, reason, message);
    await writeStatus(this.ctx.api, KINDS.directory, dir, next);
    return { peers: peers ?? [], sourceMissing };
  }

  /** Ready=False for a valid spec whose path is not (yet) in the dir map. */
  private async notTracked(
    dir: MirroredDirectory,
    standing: Standing,
    problem: Problem,
  ): Promise<void> {
    const generation = dir.metadata.generation;
    this.recordTransition(dir, problem.reason, problem.message);
    await writeStatus(this.ctx.api, KINDS.directory, dir, {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(standing.mirrorRef ? { mirrorRef: standing.mirrorRef } : {}),
      ...(standing.managed ? { path: standing.managed } : {}),
      ...(standing.source ? { source: standing.source } : {}),
      conditions: this.validConditions(dir, false, problem.reason, problem.message),
    });
  }

  /** SnapshotsScheduled: whether the last scheduled snapshot (and pruning) worked. */
  private snapshotCondition(
    dir: MirroredDirectory,
    conditions: Condition[],
    snapshots: SnapshotOutcome | undefined,
  ): Condition[] {
    const type = 'SnapshotsScheduled';
    if (!snapshots) return conditions.filter((c) => c.type !== type);
    const generation = dir.metadata.generation;
    const before = dir.status?.conditions?.find((c) => c.type === type);
    const p = snapshots.problem;
    if (p && before?.reason !== p.reason)
      this.ctx.events.record(dir, 'Warning', p.reason, p.message);
    return setCondition(conditions, {
      type,
      status: p ? 'False' : 'True',
      reason: p ? p.reason : 'Scheduled',
      message: p
        ? p.message
        : `${snapshots.status.count ?? 0} scheduled snapshots; next at ${snapshots.status.nextSnapshotTime}`,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
  }

  /**
   * RPOMet (spec.rpoSeconds): True (RPOMet) while every peer lags at most rpoSeconds, False
   * (RPOExceeded) once one lags more, Unknown while the lag is not known (no peer, lists not
   * read). An Event on each change between RPOMet and RPOExceeded.
   */
  private rpoCondition(
    dir: MirroredDirectory,
    conditions: Condition[],
    peers: readonly PeerSyncStatus[],
    lag: { maxLag?: number; unknown: boolean },
  ): Condition[] {
    const type = 'RPOMet';
    const rpo = dir.spec.rpoSeconds;
    if (rpo === undefined) return conditions.filter((c) => c.type !== type);
    const generation = dir.metadata.generation;
    const worst = [...peers].sort((x, y) => (y.lagSeconds ?? -1) - (x.lagSeconds ?? -1))[0];
    let next: Pick<Condition, 'status' | 'reason' | 'message'>;
    if (lag.maxLag !== undefined && lag.maxLag > rpo) {
      next = {
        status: 'False',
        reason: 'RPOExceeded',
        message:
          `peer ${worst?.siteName ?? worst?.peerUUID ?? ''} lags ${lag.maxLag} s ` +
          `(RPO ${rpo} s); last synced snapshot ${worst?.lastSyncedSnapshot ?? 'none'}`,
      };
    } else if (peers.length === 0 || lag.unknown || lag.maxLag === undefined) {
      next = {
        status: 'Unknown',
        reason: peers.length === 0 ? 'NoPeers' : 'LagUnknown',
        message:
          peers.length === 0
            ? 'no peer to measure the lag against'
            : 'the snapshot lists of the sites could not be compared yet',
      };
    } else {
      next = {
        status: 'True',
        reason: 'RPOMet',
        message: `every peer within ${rpo} s (largest lag ${lag.maxLag} s)`,
      };
    }
    const before = dir.status?.conditions?.find((c) => c.type === type);
    if (
      before?.reason !== next.reason &&
      (next.reason === 'RPOMet' || next.reason === 'RPOExceeded')
    ) {
      this.ctx.events.record(
        dir,
        next.reason === 'RPOMet' ? 'Normal' : 'Warning',
        next.reason,
        next.message,
      );
    }
    return setCondition(conditions, {
      type,
      ...next,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
  }

  /** Ready as given, Invalid=False. */
  private validConditions(
    dir: MirroredDirectory,
    ready: boolean,
    reason: string,
    message: string,
  ): Condition[] {
    const generation = dir.metadata.generation;
    const conditions = readyCondition(dir.status?.conditions, generation, ready, reason, message);
    return setCondition(conditions, {
      type: 'Invalid',
      status: 'False',
      reason: 'Valid',
      message: '',
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
  }

  /** A Warning Event when the object first reports one of these reasons (not on every recheck). */
  private recordTransition(dir: MirroredDirectory, reason: string, message: string): void {
    if (!['SourceDirectoryMissing', 'SourceNotFound', 'ClaimNotBound'].includes(reason)) return;
    if (readyOf(dir.status?.conditions)?.reason === reason) return;
    this.ctx.events.record(dir, 'Warning', reason, message);
  }

  /**
   * Ready=False and Invalid=True: the spec is refused. What the object managed so far (its entry,
   * and its state there) is kept in status, since it stays in Ceph.
   */
  private async invalid(
    dir: MirroredDirectory,
    standing: Standing,
    e: unknown,
  ): Promise<WorkResult> {
    const problem: Problem =
      e instanceof DirectoryError ? { reason: e.reason, message: e.message } : (e as Problem);
    const generation = dir.metadata.generation;
    let conditions = readyCondition(
      dir.status?.conditions,
      generation,
      false,
      problem.reason,
      problem.message,
    );
    conditions = setCondition(conditions, {
      type: 'Invalid',
      status: 'True',
      reason: problem.reason,
      message: problem.message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
    const kept = standing.managed ? keptFields(dir.status) : {};
    const repeated = readyOf(dir.status?.conditions)?.reason === problem.reason;
    await writeStatus(this.ctx.api, KINDS.directory, dir, {
      ...kept,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(standing.mirrorRef ? { mirrorRef: standing.mirrorRef } : {}),
      ...(standing.managed ? { path: standing.managed } : {}),
      ...(standing.source ? { source: standing.source } : {}),
      conditions,
    });
    if (!repeated) this.ctx.events.record(dir, 'Warning', problem.reason, problem.message);
    return;
  }

  /** Ready=False for a passing reason; the rest of the status as it was, but for standing. */
  private async notReady(
    dir: MirroredDirectory,
    standing: Standing,
    problem: Problem,
  ): Promise<WorkResult> {
    const generation = dir.metadata.generation;
    const { path: _path, mirrorRef: _ref, source: _source, ...rest } = dir.status ?? {};
    await writeStatus(this.ctx.api, KINDS.directory, dir, {
      ...(standing.managed ? rest : {}),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(standing.mirrorRef ? { mirrorRef: standing.mirrorRef } : {}),
      ...(standing.managed ? { path: standing.managed } : {}),
      ...(standing.source ? { source: standing.source } : {}),
      conditions: readyCondition(
        dir.status?.conditions,
        generation,
        false,
        problem.reason,
        problem.message,
      ),
    });
    return;
  }

  private async finalize(
    dir: MirroredDirectory,
    mirrorKey: string,
    runtime: MirrorRuntime | undefined,
  ): Promise<FinalizeResult> {
    this.dropLagSeries(dir.metadata.namespace, dir.metadata.name);
    const path = dir.status?.path ?? normalizedOrUndefined(dir.spec.path);
    if (path && runtime && this.ownerOf(dir, path, mirrorKey) === dir.metadata.name) {
      await this.release(runtime, path);
      const status = runtime.engine.status(path);
      if (status) {
        await writeStatus(this.ctx.api, KINDS.directory, dir, {
          ...dir.status,
          state: PHASE_OF[status.state],
        });
        // The engine's change events re-enqueue us as the removal proceeds; the poll is a backstop.
        return { requeueAfterMs: REMOVAL_POLL_MS };
      }
      runtime.syncViews.forget(path);
      this.ctx.events.record(
        dir,
        'Normal',
        'Released',
        `${path} released and removed from the directory map`,
      );
    } else if (path && !runtime && this.ctx.mirrors.getByKey(mirrorKey)) {
      // A mirror refused because another one owns the filesystem never drives it: what is in
      // its map is the owner's to keep or prune, so there is nothing to wait for.
      if (this.ctx.runtimes.whyNotRunning(mirrorKey)?.reason !== 'FilesystemOwnedByOther') {
        return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
      }
    }
    return FINALIZED;
  }
}

/** The mirror whose directory map holds this object's entry, and its engine (when running). */
interface Admitted {
  mirrorKey: string;
  runtime: MirrorRuntime | undefined;
}

/** What the object manages so far, as its status says. */
function standingOf(dir: MirroredDirectory): Standing {
  return {
    ...(dir.status?.mirrorRef ? { mirrorRef: dir.status.mirrorRef } : {}),
    ...(dir.status?.path ? { managed: dir.status.path } : {}),
  };
}

function readyOf(conditions: readonly Condition[] | undefined): Condition | undefined {
  return conditions?.find((c) => c.type === 'Ready');
}

/** The fields that describe a managed entry's state in Ceph. */
function keptFields(status: MirroredDirectoryStatus | undefined): MirroredDirectoryStatus {
  if (!status) return {};
  const { state, instanceID, mappedTime, peers } = status;
  return {
    ...(state ? { state } : {}),
    ...(instanceID ? { instanceID } : {}),
    ...(mappedTime ? { mappedTime } : {}),
    ...(peers ? { peers } : {}),
  };
}

function codeOf(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The largest lag among the peers, the last synced snapshot of the peer that lags most, and
 * whether some peer's lag is not known.
 */
export function lagOf(peers: readonly PeerSyncStatus[]): {
  maxLag?: number;
  lastSynced?: string;
  unknown: boolean;
} {
  let worst: PeerSyncStatus | undefined;
  let unknown = false;
  for (const p of peers) {
    if (p.lagSeconds === undefined) {
      unknown = true;
      continue;
    }
    if (!worst || p.lagSeconds > (worst.lagSeconds ?? 0)) worst = p;
  }
  return {
    ...(worst?.lagSeconds !== undefined ? { maxLag: worst.lagSeconds } : {}),
    ...(worst?.lastSyncedSnapshot ? { lastSynced: worst.lastSyncedSnapshot } : {}),
    unknown,
  };
}
