// What a MirroredDirectory's status says: where its path stands in the engine (report), a valid
// spec not (yet) in the dir map (notTracked), a refused spec (invalid), a passing reason
// (notReady). What the object manages so far (its Standing) is kept in each.
import {
  DirectoryError,
  type DirectoryStatus,
  type DirectoryStatusWord,
} from '../reconcile/index.js';
import type { WorkResult } from '../kube/work-queue.js';
import { writeStatus } from '../kube/object-writes.js';
import { setCondition } from '../api/conditions.js';
import {
  KINDS,
  objectKey,
  type DirectoryPhase,
  type MirroredDirectory,
  type MirroredDirectoryStatus,
  type PeerSyncStatus,
} from '../api/resources.js';
import type { ControllerContext } from './context.js';
import {
  lagOf,
  readyOf,
  recordTransition,
  rpoCondition,
  snapshotCondition,
  validConditions,
} from './directory-conditions.js';
import type { SnapshotOutcome } from './directory-snapshots.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import { readyCondition, type Problem } from './status-helpers.js';

export const PHASE_OF: Readonly<Record<DirectoryStatusWord, DirectoryPhase>> = {
  mapping: 'Associating',
  mapped: 'Associated',
  shuffling: 'Shuffling',
  unmapping: 'Disassociating',
  resolving: 'Resolving',
  stalled: 'Stalled',
};

/** Everything a status write of this object needs to know besides the conditions. */
export interface Standing {
  /** The admitted mirror (status.mirrorRef), when the object has been admitted. */
  mirrorRef?: string;
  /** The path of the dir-map entry the object manages, when it manages one. */
  managed?: string;
  /** The source in words (status.source). */
  source?: string;
}

/** What the object manages so far, as its status says. */
export function standingOf(dir: MirroredDirectory): Standing {
  return {
    ...(dir.status?.mirrorRef ? { mirrorRef: dir.status.mirrorRef } : {}),
    ...(dir.status?.path ? { managed: dir.status.path } : {}),
  };
}

export class DirectoryStatusWriter {
  constructor(
    private readonly ctx: ControllerContext,
    private readonly lagMetrics: boolean,
  ) {}

  async report(
    dir: MirroredDirectory,
    standing: Standing,
    path: string,
    s: DirectoryStatus,
    runtime: MirrorRuntime,
    snapshots?: SnapshotOutcome,
  ): Promise<{ peers: readonly PeerSyncStatus[]; sourceMissing: boolean }> {
    const phase = PHASE_OF[s.state];
    const mapped = s.state === 'mapped';
    // The sync view is computed in the background; this status carries the latest one, and its
    // arrival re-enqueues the object.
    // With an RPO the view is followed in every state: a directory no daemon holds still lags.
    if (mapped || dir.spec.rpoSeconds !== undefined) {
      runtime.syncViews.refreshIfStale(path, keyOf(dir), this.ctx.enqueue.directory);
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
    let conditions = validConditions(dir, ready, reason, message);
    conditions = snapshotCondition(this.ctx.events, dir, conditions, snapshots);
    const lag = lagOf(peers ?? []);
    conditions = rpoCondition(this.ctx.events, dir, conditions, peers ?? [], lag);
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
      // A copy: the cache's views are shared and read-only.
      ...(peers && peers.length > 0 ? { peers: [...peers] } : {}),
      ...(lag.maxLag !== undefined ? { lagSeconds: lag.maxLag } : {}),
      ...(lag.lastSynced ? { lastSyncedSnapshot: lag.lastSynced } : {}),
      ...(snapshots ? { snapshots: snapshots.status } : {}),
      conditions,
    };
    // Acquired: a Ready directory now held by another daemon than its status named (a failover,
    // a rebalance), or Ready again after its status said it was held by none (Stalled: no live
    // daemon) or by a daemon that was not holding it yet (Resolving, Shuffling, ...). Not a new
    // directory's first acquire: its Ready condition, instanceID and mappedTime say it, and an
    // Event each would add a write to the API server for every directory created (docs/
    // operator.md, "The create path"); so neither a status that named no daemon yet nor one that
    // said Associating on the same daemon (a first acquire slower than the settling time) counts.
    // The price: a failover whose new daemon was already written as Associating records none
    // (the mirror's DaemonLost Warning says it). Normal Events share a budget (events.ts).
    const previous = dir.status?.instanceID;
    const priorState = dir.status?.state;
    const wasReady = readyOf(dir.status?.conditions)?.status === 'True';
    const moved = previous !== undefined && previous !== s.instanceId;
    const heldAgain =
      !wasReady &&
      (priorState === 'Stalled' ||
        (previous !== undefined && priorState !== 'Associated' && priorState !== 'Associating'));
    if (ready && (moved || heldAgain)) {
      this.ctx.events.record(
        dir,
        'Normal',
        'Acquired',
        `${path} acquired by cephfs-mirror instance ${s.instanceId}` +
          (moved ? ` (was ${previous})` : ''),
      );
    }
    recordTransition(this.ctx.events, dir, reason, message);
    await writeStatus(this.ctx.api, KINDS.directory, dir, next);
    return { peers: peers ?? [], sourceMissing };
  }

  /** Ready=False for a valid spec whose path is not (yet) in the dir map. */
  async notTracked(dir: MirroredDirectory, standing: Standing, problem: Problem): Promise<void> {
    const generation = dir.metadata.generation;
    recordTransition(this.ctx.events, dir, problem.reason, problem.message);
    await writeStatus(this.ctx.api, KINDS.directory, dir, {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      ...(standing.mirrorRef ? { mirrorRef: standing.mirrorRef } : {}),
      ...(standing.managed ? { path: standing.managed } : {}),
      ...(standing.source ? { source: standing.source } : {}),
      conditions: validConditions(dir, false, problem.reason, problem.message),
    });
  }

  /**
   * Ready=False and Invalid=True: the spec is refused. What the object managed so far (its entry,
   * and its state there) is kept in status, since it stays in Ceph.
   */
  async invalid(dir: MirroredDirectory, standing: Standing, e: unknown): Promise<WorkResult> {
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
  async notReady(
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

  dropLagSeries(namespace: string, name: string): void {
    // remove() of a series that does not exist is a no-op.
    this.ctx.metrics.directoryLag.remove({ namespace, directory: name });
  }
}

function keyOf(dir: MirroredDirectory): string {
  return objectKey(dir.metadata);
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
