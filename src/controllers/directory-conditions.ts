// The MirroredDirectory conditions besides Ready: SnapshotsScheduled, RPOMet (spec.rpoSeconds,
// from the peers' lag), Invalid=False for a valid spec, and the Warning Events said once per
// transition into a reason.
import { setCondition, type Condition } from '../api/conditions.js';
import type { MirroredDirectory, PeerSyncStatus } from '../api/resources.js';
import type { EventRecorder } from '../kube/events.js';
import type { SnapshotOutcome } from './directory-snapshots.js';
import { readyCondition } from './status-helpers.js';

/** SnapshotsScheduled: whether the last scheduled snapshot (and pruning) worked. */
export function snapshotCondition(
  events: EventRecorder,

  dir: MirroredDirectory,
  conditions: Condition[],
  snapshots: SnapshotOutcome | undefined,
): Condition[] {
  const type = 'SnapshotsScheduled';
  if (!snapshots) return conditions.filter((c) => c.type !== type);
  const generation = dir.metadata.generation;
  const before = dir.status?.conditions?.find((c) => c.type === type);
  const p = snapshots.problem;
  if (p && before?.reason !== p.reason) events.record(dir, 'Warning', p.reason, p.message);
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
export function rpoCondition(
  events: EventRecorder,

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
    events.record(dir, next.reason === 'RPOMet' ? 'Normal' : 'Warning', next.reason, next.message);
  }
  return setCondition(conditions, {
    type,
    ...next,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  });
}

/** Ready as given, Invalid=False. */
export function validConditions(
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
export function recordTransition(
  events: EventRecorder,
  dir: MirroredDirectory,
  reason: string,
  message: string,
): void {
  if (!['SourceDirectoryMissing', 'SourceNotFound', 'ClaimNotBound'].includes(reason)) return;
  if (readyOf(dir.status?.conditions)?.reason === reason) return;
  events.record(dir, 'Warning', reason, message);
}

export function readyOf(conditions: readonly Condition[] | undefined): Condition | undefined {
  return conditions?.find((c) => c.type === 'Ready');
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
