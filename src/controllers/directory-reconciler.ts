// MirroredDirectory: track the path in its mirror's engine and report where it stands. A path
// declared twice is owned by the older object; overlaps with tracked paths are refused with the
// engine's reason. Deletion removes the directory (release by its daemon, then its dir-map key)
// before the finalizer goes.
import {
  DirectoryError,
  normalizeDirectoryPath,
  type DirectoryStatus,
  type DirectoryStatusWord,
} from '../reconcile/index.js';
import type { WorkResult } from './work-queue.js';
import { setCondition } from './conditions.js';
import { mirrorKeyOf, type ControllerContext } from './context.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import { ensureFinalizer, isBeingDeleted, removeFinalizer, writeStatus } from './object-writes.js';
import {
  KINDS,
  splitKey,
  type DirectoryPhase,
  type MirroredDirectory,
  type MirroredDirectoryStatus,
  type PeerSyncStatus,
} from './resources.js';
import { notReadyStatus, readyCondition, type Problem } from './status-helpers.js';

const MIRROR_NOT_READY_RETRY_MS = 3000;
const REMOVAL_POLL_MS = 1000;
const SYNC_VIEW_REFRESH_MS = 30_000;
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
    const mirrorKey = mirrorKeyOf(cached);
    const runtime = this.ctx.runtimes.get(mirrorKey);
    if (isBeingDeleted(cached)) return this.finalize(cached, runtime);
    // Carry on with the object as written: its resourceVersion is the one the status write needs.
    const dir = await ensureFinalizer(this.ctx.api, KINDS.directory, cached);
    if (!dir) return;

    let path: string;
    try {
      path = normalizeDirectoryPath(dir.spec.path);
    } catch (e) {
      return this.invalid(dir, e);
    }
    const owner = this.ownerOf(dir, path);
    if (owner !== dir.metadata.name) {
      return this.invalid(dir, {
        reason: 'DuplicatePath',
        message: `${path} is already declared by MirroredDirectory ${owner}`,
      });
    }
    if (!this.ctx.mirrors.getByKey(mirrorKey)) {
      const problem = {
        reason: 'MirrorNotFound',
        message: `CephFSMirror ${dir.spec.mirrorRef.name} does not exist`,
      };
      this.ctx.events.record(dir, 'Warning', problem.reason, problem.message);
      return this.notReady(dir, problem);
    }
    if (!runtime) {
      await this.notReady(dir, {
        reason: 'MirrorNotReady',
        message: `CephFSMirror ${dir.spec.mirrorRef.name} is not ready yet`,
      });
      return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
    }
    const engine = runtime.engine;
    const previousPath = dir.status?.path;
    if (previousPath && previousPath !== path) await this.release(runtime, previousPath);

    let status = engine.status(path);
    if (status?.purging) {
      // The same path is still being removed (an earlier object, or our previous spec).
      await this.notReady(dir, {
        reason: 'RemovalInProgress',
        message: `remove in-progress for ${path}`,
      });
      return { requeueAfterMs: REMOVAL_POLL_MS };
    }
    if (!status) {
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
          await this.notReady(dir, { reason: e.reason, message: e.message });
          return { requeueAfterMs: REMOVAL_POLL_MS };
        }
        if (e.reason !== 'AlreadyTracked') return this.invalid(dir, e, path);
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
    const peers = await this.report(dir, path, status, runtime);
    // A mirrored directory looks again now and then so its sync view follows new snapshots; with
    // no peer there is nothing to follow (a peer's arrival re-enqueues every directory of the
    // mirror), and 10,000 directories then cost no timers and no periodic reconciles.
    return status.state === 'mapped' && peers.length > 0
      ? { requeueAfterMs: SYNC_VIEW_REFRESH_MS }
      : undefined;
  }

  /** The object owning a path among this mirror's declarations: the oldest one. */
  private ownerOf(dir: MirroredDirectory, path: string): string {
    // Through the manager's path index: scanning every directory here made each reconcile cost
    // O(directories), and a burst of 10,000 new ones quadratic.
    const same = this.ctx
      .declaredBy(mirrorKeyOf(dir), path)
      .map((key) => this.ctx.directories.getByKey(key))
      .filter((d): d is MirroredDirectory => d !== undefined && !isBeingDeleted(d))
      .sort(olderFirst);
    return same[0]?.metadata.name ?? dir.metadata.name;
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
    path: string,
    s: DirectoryStatus,
    runtime: MirrorRuntime,
  ): Promise<PeerSyncStatus[]> {
    const phase = PHASE_OF[s.state];
    const ready = s.state === 'mapped';
    // The sync view is computed in the background; this status carries the latest one, and its
    // arrival re-enqueues the object.
    if (ready) {
      const key = `${dir.metadata.namespace}/${dir.metadata.name}`;
      runtime.syncViews.refreshIfStale(path, () => this.ctx.enqueue.directory(key));
    }
    const peers = runtime.syncViews.get(path) ?? dir.status?.peers;
    const generation = dir.metadata.generation;
    const message = ready
      ? `mirrored by cephfs-mirror instance ${s.instanceId}`
      : s.state === 'stalled'
        ? (s.reason ?? 'no mirror daemons running')
        : `${s.state}${s.instanceId ? ` (instance ${s.instanceId})` : ''}`;
    let conditions = readyCondition(
      dir.status?.conditions,
      generation,
      ready,
      ready ? 'Mirrored' : phase,
      message,
    );
    conditions = setCondition(conditions, {
      type: 'Invalid',
      status: 'False',
      reason: 'Valid',
      message: '',
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
    const next: MirroredDirectoryStatus = {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      path,
      state: phase,
      ...(s.instanceId ? { instanceID: s.instanceId } : {}),
      ...(s.lastShuffled
        ? { mappedTime: new Date(s.lastShuffled * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') }
        : {}),
      ...(peers && peers.length > 0 ? { peers } : {}),
      conditions,
    };
    // Acquired: on becoming Ready, or on moving to another daemon while Ready. (A status written
    // while associating already names the instance, so the instance alone does not tell.)
    const wasReady = dir.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (ready && (!wasReady || dir.status?.instanceID !== s.instanceId)) {
      this.ctx.events.record(
        dir,
        'Normal',
        'Acquired',
        `${path} acquired by cephfs-mirror instance ${s.instanceId}`,
      );
    }
    await writeStatus(this.ctx.api, KINDS.directory, dir, next);
    return peers ?? [];
  }

  private async invalid(dir: MirroredDirectory, e: unknown, path?: string): Promise<WorkResult> {
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
    await writeStatus(this.ctx.api, KINDS.directory, dir, {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(path ? { path: dir.status?.path ?? path } : {}),
      conditions,
    });
    this.ctx.events.record(dir, 'Warning', problem.reason, problem.message);
    return;
  }

  private async notReady(dir: MirroredDirectory, problem: Problem): Promise<WorkResult> {
    await writeStatus(this.ctx.api, KINDS.directory, dir, notReadyStatus(dir, problem));
    return;
  }

  private async finalize(
    dir: MirroredDirectory,
    runtime: MirrorRuntime | undefined,
  ): Promise<WorkResult> {
    const path = dir.status?.path ?? normalizedOrUndefined(dir.spec.path);
    if (path && runtime && this.ownerOf(dir, path) === dir.metadata.name) {
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
      this.ctx.events.record(
        dir,
        'Normal',
        'Released',
        `${path} released and removed from the directory map`,
      );
    } else if (path && !runtime && this.ctx.mirrors.getByKey(mirrorKeyOf(dir))) {
      return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
    }
    await removeFinalizer(this.ctx.api, KINDS.directory, dir);
    return;
  }
}
