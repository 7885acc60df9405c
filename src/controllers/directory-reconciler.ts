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
import type { MirrorRuntime } from './mirror-runtimes.js';
import {
  ensureFinalizer,
  isBeingDeleted,
  removeFinalizer,
  writeStatus,
} from '../kube/object-writes.js';
import {
  KINDS,
  objectKey,
  splitKey,
  type DirectoryPhase,
  type MirroredDirectory,
  type MirroredDirectoryStatus,
  type PeerSyncStatus,
} from '../api/resources.js';
import { readyCondition, type Problem } from './status-helpers.js';

const MIRROR_NOT_READY_RETRY_MS = 3000;
const REMOVAL_POLL_MS = 1000;
const SYNC_VIEW_REFRESH_MS = 30_000;
/** A missing source directory is looked for again this often (one stat each time). */
export const SOURCE_RECHECK_MS = 10_000;
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

function normalizedOrUndefined(path: string): string | undefined {
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
}

export class DirectoryReconciler {
  /** Object key → when it was first seen in a passing state (for SETTLE_MS). */
  private readonly passingSince = new Map<string, number>();

  constructor(private readonly ctx: ControllerContext) {}

  async reconcile(key: string): Promise<WorkResult> {
    const { namespace, name } = splitKey(key);
    const cached = this.ctx.directories.get(namespace, name);
    if (!cached) {
      this.passingSince.delete(key);
      return;
    }
    // The admitted mirror, not the spec's: a refused mirrorRef edit keeps the old entry ours.
    const mirrorKey = objectKey({ namespace, name: admittedMirrorOf(cached) });
    const runtime = this.ctx.runtimes.get(mirrorKey);
    if (isBeingDeleted(cached)) return this.finalize(cached, mirrorKey, runtime);
    // Carry on with the object as written: its resourceVersion is the one the status write needs.
    const dir = await ensureFinalizer(this.ctx.api, KINDS.directory, cached);
    if (!dir) return;
    const standing: Standing = {
      ...(dir.status?.mirrorRef ? { mirrorRef: dir.status.mirrorRef } : {}),
      ...(dir.status?.path ? { managed: dir.status.path } : {}),
    };

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
    let path: string;
    try {
      path = normalizeDirectoryPath(dir.spec.path);
    } catch (e) {
      // An invalid spec changes nothing in Ceph: the entry managed so far stays.
      return this.invalid(dir, standing, e);
    }
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
    const { peers, sourceMissing } = await this.report(dir, standing, path, status, runtime);
    if (sourceMissing) return { requeueAfterMs: SOURCE_RECHECK_MS };
    // A mirrored directory looks again now and then so its sync view follows new snapshots; with
    // no peer there is nothing to follow (a peer's arrival re-enqueues every directory of the
    // mirror), and 10,000 directories then cost no timers and no periodic reconciles.
    return status.state === 'mapped' && peers.length > 0
      ? { requeueAfterMs: SYNC_VIEW_REFRESH_MS }
      : undefined;
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
  ): Promise<{ peers: PeerSyncStatus[]; sourceMissing: boolean }> {
    const phase = PHASE_OF[s.state];
    const mapped = s.state === 'mapped';
    // The sync view is computed in the background; this status carries the latest one, and its
    // arrival re-enqueues the object.
    if (mapped) {
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
    const conditions = this.validConditions(dir, ready, reason, message);
    const next: MirroredDirectoryStatus = {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(standing.mirrorRef ? { mirrorRef: standing.mirrorRef } : {}),
      path,
      state: phase,
      ...(s.instanceId ? { instanceID: s.instanceId } : {}),
      ...(s.lastShuffled
        ? { mappedTime: new Date(s.lastShuffled * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') }
        : {}),
      ...(peers && peers.length > 0 ? { peers } : {}),
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
      conditions: this.validConditions(dir, false, problem.reason, problem.message),
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
    if (reason !== 'SourceDirectoryMissing') return;
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
    const { path: _path, mirrorRef: _ref, ...rest } = dir.status ?? {};
    await writeStatus(this.ctx.api, KINDS.directory, dir, {
      ...(standing.managed ? rest : {}),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(standing.mirrorRef ? { mirrorRef: standing.mirrorRef } : {}),
      ...(standing.managed ? { path: standing.managed } : {}),
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
  ): Promise<WorkResult> {
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
    await removeFinalizer(this.ctx.api, KINDS.directory, dir);
    return;
  }
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
