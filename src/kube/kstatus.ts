// The kstatus conditions (`Reconciling`, `Stalled`) that Flux and other kstatus readers use, derived
// in one place from the `Ready` condition every reconciler writes. kstatus ignores `Ready`: an
// object is InProgress while `Reconciling=True` (or while observedGeneration lags generation),
// Failed while `Stalled=True`, and Current otherwise. So every `Ready=False` must say which of the
// two it is, and a `Ready=True` must carry neither.
//
// Which one is decided by the Ready reason, through the tables below. Adding a reason to a
// reconciler: if it waits for a person (a spec or Secret change, a daemon to start, a conflict
// to be resolved), add it to STALLED_REASONS; if it is an ordinary step on the way to Ready, to
// PROGRESS_REASONS. A reason in neither is an error the operator retries with backoff
// (`Reconciling=True`, reason `ProgressingWithRetry`): the safe default, since the object keeps
// being retried and Flux reports it once its health-check timeout runs out. docs/gitops.md
// lists the tables (a unit test keeps the two in step).
import { findCondition, removeCondition, setCondition, type Condition } from '../api/conditions.js';

export const RECONCILING = 'Reconciling';
export const STALLED = 'Stalled';

/** Reconciling's reason for an ordinary step towards Ready. */
export const PROGRESSING = 'Progressing';
/** Reconciling's reason for an error the operator retries (Flux uses the same word). */
export const PROGRESSING_WITH_RETRY = 'ProgressingWithRetry';

/**
 * Ready reasons that need a person: the operator will not get further until the spec, a Secret,
 * or something outside it changes. Each entry says what has to happen.
 */
export const STALLED_REASONS: Readonly<Record<string, string>> = Object.freeze({
  // The spec or the Secrets it names
  InvalidSpec: 'fix the spec',
  InvalidPath: 'fix spec.path',
  RelativePath: 'make spec.path absolute',
  SecretNotFound: 'create the Secret the spec names',
  SecretInvalid: 'add the missing keys to the Secret',
  SecretNotOwned: 'remove the Secret the operator did not create, or name another',
  ClientCapsMismatch: 'give the existing peer user exactly the peer caps, or name another user',
  InvalidClientName: 'name a client.mirror_<id> user in spec.bootstrapTokenSecret.clientName',
  InvalidBootstrapToken: 'put a valid bootstrap token in the Secret',
  InvalidPeerSpec: 'fix the peer client name or site name',
  InvalidMonHost: 'fix mon_host in the Secret',
  InvalidPeerCredentials: 'fix the peer credentials',
  InvalidArgument: 'fix the value Ceph refused',
  MirrorNotFound: 'create the CephFSMirror that spec.mirrorRef names',
  FilesystemNotFound: 'create the filesystem or fix spec.filesystem',
  RemoteFilesystemNotFound: 'create the remote filesystem or fix the peer',
  InsecureMonHost: "give each monitor's v2 address first in mon_host, or allow v1 explicitly",
  MirrorRefImmutable: 'set spec.mirrorRef back: it cannot change once admitted',
  // Conflicts with other objects or other owners
  DuplicatePath: 'another MirroredDirectory (the older one) declares the same path',
  AncestorOfTracked: 'a tracked directory lies under this path',
  SubtreeOfTracked: 'this path lies under a tracked directory',
  DuplicatePeer: 'another MirrorPeer declares the same remote',
  FsidMismatch: 'the fsid given does not match the remote cluster',
  PeerIsSelf: 'the peer is this filesystem itself',
  PeerIsSource: 'the remote filesystem mirrors into this one',
  PeerClaimedByOther: 'the remote filesystem is already the peer of another filesystem',
  FilesystemOwnedByOther: 'another operator drives this filesystem',
  MgrModuleEnabled: 'set spec.takeOverFromMgrModule or disable the mgr mirroring module',
  PermissionDenied: 'give the Ceph client the capabilities it needs',
  DaemonUserConflict: 'remove the Ceph user spec.daemons needs, which exists with other caps',
  DaemonDeploymentConflict: 'delete or rename the Deployment spec.daemons needs',
  DaemonSecretConflict: 'delete or rename the Secret spec.daemons needs',
  // Things outside the operator
  Stalled: 'start cephfs-mirror daemons: none is running to take the directory',
  NoMirrorDaemons: 'start cephfs-mirror daemons: none is running for the filesystem',
  SourceDirectoryMissing: 'create the directory on the filesystem (it is looked for again)',
  // MirroredDirectory sources and schedules
  InvalidSource: 'give exactly one of spec.path, spec.subvolume, spec.persistentVolumeClaim',
  SourceNotFound: 'create the subvolume, claim or volume the spec names (it is looked for again)',
  UnsupportedVolume: 'name a claim bound to a cephfs.csi.ceph.com volume',
  UnsupportedVolumeDriver: 'name a claim bound to a cephfs.csi.ceph.com volume',
  UnsupportedVolumeAttributes: 'give the volume subvolumePath, subvolumeName or rootPath',
  FilesystemMismatch: "name a volume on the mirror's filesystem",
  InvalidSchedule: 'fix spec.snapshots',
  ScheduledElsewhere: 'remove the snap_schedule schedule of the path or spec.snapshots',
});

/** Ready reasons that are ordinary steps on the way to Ready. */
export const PROGRESS_REASONS: ReadonlySet<string> = new Set([
  'Pending',
  'Associating',
  'Resolving',
  'Shuffling',
  'Disassociating',
  'MirrorNotReady',
  'RemovalInProgress',
  'WaitingForDependents',
  'WaitingForOlderClaimant',
  'OwnershipUndecided',
  'FilesystemLockedByOther',
  'DisabledOutOfBand',
  'DaemonsNotAnswering',
  'ClaimNotBound',
]);

export type ReadyClass = 'ready' | 'stalled' | 'progressing' | 'retrying';

/** Where an object with this Ready condition stands, for kstatus. */
export function classifyReady(ready: Pick<Condition, 'status' | 'reason'>): ReadyClass {
  if (ready.status === 'True') return 'ready';
  if (Object.hasOwn(STALLED_REASONS, ready.reason)) return 'stalled';
  if (ready.status === 'Unknown' || PROGRESS_REASONS.has(ready.reason)) return 'progressing';
  return 'retrying';
}

/**
 * The conditions with Reconciling and Stalled set from Ready: at most one of them, True, never
 * while Ready=True (a stale one is removed). Without a Ready condition the list is returned as
 * it is. lastTransitionTime follows setCondition (it moves only when a status flips).
 */
export function withKstatusConditions(
  conditions: readonly Condition[],
  now: Date = new Date(),
): Condition[] {
  const ready = findCondition(conditions, 'Ready');
  if (!ready) return [...conditions];
  const generation =
    ready.observedGeneration !== undefined ? { observedGeneration: ready.observedGeneration } : {};
  const cls = classifyReady(ready);
  let next = [...conditions];
  if (cls === 'ready') {
    next = removeCondition(removeCondition(next, RECONCILING), STALLED);
  } else if (cls === 'stalled') {
    next = removeCondition(next, RECONCILING);
    next = setCondition(
      next,
      {
        type: STALLED,
        status: 'True',
        reason: ready.reason,
        message: ready.message,
        ...generation,
      },
      now,
    );
  } else {
    next = removeCondition(next, STALLED);
    next = setCondition(
      next,
      {
        type: RECONCILING,
        status: 'True',
        reason: cls === 'progressing' ? PROGRESSING : PROGRESSING_WITH_RETRY,
        message: `${ready.reason}: ${ready.message}`,
        ...generation,
      },
      now,
    );
  }
  return next;
}

/** A status with its conditions passed through withKstatusConditions (other fields untouched). */
export function withKstatus<S>(status: S, now: Date = new Date()): S {
  if (typeof status !== 'object' || status === null) return status;
  const conditions = (status as { conditions?: unknown }).conditions;
  if (!Array.isArray(conditions)) return status;
  return { ...status, conditions: withKstatusConditions(conditions as Condition[], now) };
}
