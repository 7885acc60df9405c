// TypeScript shapes of the three custom resources (deploy/crds is the schema the API server
// enforces; these types follow it).
import type { Condition } from './conditions.js';

export const GROUP = 'mirror.cephfs.io';
export const VERSION = 'v1alpha1';
export const FINALIZER = 'mirror.cephfs.io/finalizer';

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  creationTimestamp?: string;
  labels?: Record<string, string>;
}

export interface Resource<Spec, Status> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

export interface NamedRef {
  name: string;
}

export interface CephFSMirrorSpec {
  /** allowInsecureV1: accept monitors reached only over msgr1 (no encryption); default false. */
  cluster: { secretRef: NamedRef; fsid?: string; allowInsecureV1?: boolean };
  filesystem: string;
  policy?: {
    shuffleThrottleSeconds?: number;
    instanceTimeoutSeconds?: number;
    tickSeconds?: number;
  };
  unmanagedDirectories?: 'Retain' | 'Adopt' | 'Prune';
  bootstrapTokenSecret?: { name: string; clientName?: string; siteName?: string };
  takeOverFromMgrModule?: boolean;
  /** cephfs-mirror daemons the operator runs (a Deployment and cephx user each); absent: none. */
  daemons?: MirrorDaemonsSpec;
}

/** spec.daemons; the scheduling fields are copied into each daemon's pod spec as given. */
export interface MirrorDaemonsSpec {
  count: number;
  image?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  resources?: Record<string, unknown>;
  nodeSelector?: Record<string, string>;
  affinity?: Record<string, unknown>;
  tolerations?: Array<Record<string, unknown>>;
  priorityClassName?: string;
}

/** status.daemons: what the operator created; the live count is status.instanceCount. */
export interface MirrorDaemonsStatus {
  desired: number;
  /** Daemons with their user, keyring and Deployment in place. */
  deployed: number;
  /** Each daemon's cephx user (`client.cephfs-mirror.<uid>.<n>`) and Deployment. */
  identities?: Array<{ user: string; deployment: string }>;
  secretName?: string;
}

export interface MirrorInstanceStatus {
  id: string;
  addr: string;
  directories: number;
  /** When this operator first saw the daemon live (RFC 3339). */
  since?: string;
}

export interface CephFSMirrorStatus {
  observedGeneration?: number;
  state?: string;
  fscid?: number;
  metadataPool?: number;
  instanceCount?: number;
  instances?: MirrorInstanceStatus[];
  directories?: Record<string, number>;
  daemons?: MirrorDaemonsStatus;
  conditions?: Condition[];
}

export interface MirrorPeerSpec {
  mirrorRef: NamedRef;
  /** Accept remote monitors reached only over msgr1 (no encryption); default false. */
  allowInsecureV1?: boolean;
  bootstrapTokenSecretRef?: { name: string; key?: string };
  remote?: {
    clientName: string;
    siteName: string;
    fsName?: string;
    monHost: string;
    fsid?: string;
    keySecretRef: { name: string; key?: string };
  };
}

export interface MirrorPeerStatus {
  observedGeneration?: number;
  peerUUID?: string;
  remote?: {
    fsid?: string;
    fscid?: number;
    clientName?: string;
    siteName?: string;
    fsName?: string;
  };
  conditions?: Condition[];
}

/** A CephFS subvolume of the mirror's filesystem, by name (`fs subvolume getpath`). */
export interface SubvolumeSource {
  name: string;
  /** Default `_nogroup` (the volumes module's default group). */
  group?: string;
}

/**
 * Scheduled snapshots the operator takes of the directory (leader only), named
 * `<namePrefix><slot start, UTC, e.g. 2026-12-02T08-15-00Z>`.
 */
export interface SnapshotScheduleSpec {
  /** An interval: `<n>s|m|h|d|w` (e.g. `15m`, `1h`, `1d`), optionally `@<RFC 3339 start>`. */
  schedule: string;
  retention?: SnapshotRetention;
  /** Default `mirror-`. Only snapshots with this prefix and the timestamp format are pruned. */
  namePrefix?: string;
}

/** Keep-last-N and the newest snapshot of each of the last N hours, days, ISO weeks, months. */
export interface SnapshotRetention {
  keepLast?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
}

export interface MirroredDirectorySpec {
  mirrorRef: NamedRef;
  /** Exactly one source: path, subvolume or persistentVolumeClaim. */
  path?: string;
  subvolume?: SubvolumeSource;
  persistentVolumeClaim?: NamedRef;
  snapshots?: SnapshotScheduleSpec;
  /** The recovery point objective: RPOExceeded when a peer lags more than this. */
  rpoSeconds?: number;
}

export interface PeerSyncStatus {
  peerUUID: string;
  siteName?: string;
  lastLocalSnapshot?: string;
  lastMirroredSnapshot?: string;
  /** The newest source snapshot present on the peer (same as lastMirroredSnapshot). */
  lastSyncedSnapshot?: string;
  pendingSnapshots?: number;
  /** Age of the oldest source snapshot the peer does not have yet; 0 when it has them all. */
  lagSeconds?: number;
  /** True only when both sites' snapshot lists were read in the last refresh. */
  inSync?: boolean;
  /** Why the sites could not be compared (then inSync is false), e.g. PeerDirectoryMissing. */
  reason?: string;
  message?: string;
}

export type DirectoryPhase =
  | 'Unassociated'
  | 'Resolving'
  | 'Associating'
  | 'Associated'
  | 'Shuffling'
  | 'Disassociating'
  | 'Stalled';

export interface MirroredDirectoryStatus {
  observedGeneration?: number;
  /** The CephFSMirror this object was admitted with: spec.mirrorRef may not change after it. */
  mirrorRef?: string;
  /** The path of the dir-map entry this object manages, while it manages one. */
  path?: string;
  /** What spec names, in words (`path /a`, `subvolume g/sv`, `pvc data (subvolume ...)`). */
  source?: string;
  state?: DirectoryPhase;
  instanceID?: string;
  mappedTime?: string;
  peers?: PeerSyncStatus[];
  /** The largest lag among the peers (for the printer column). */
  lagSeconds?: number;
  /** The newest snapshot every peer has (for the printer column). */
  lastSyncedSnapshot?: string;
  snapshots?: SnapshotScheduleStatus;
  conditions?: Condition[];
}

export interface SnapshotScheduleStatus {
  /** The newest scheduled snapshot taken (name). */
  lastSnapshot?: string;
  /** When the next one is due (RFC 3339). */
  nextSnapshotTime?: string;
  /** Scheduled snapshots present (ours, by prefix). */
  count?: number;
}

export type CephFSMirror = Resource<CephFSMirrorSpec, CephFSMirrorStatus>;
export type MirrorPeer = Resource<MirrorPeerSpec, MirrorPeerStatus>;
export type MirroredDirectory = Resource<MirroredDirectorySpec, MirroredDirectoryStatus>;

export interface KindInfo {
  kind: string;
  plural: string;
}

export const KINDS = {
  mirror: { kind: 'CephFSMirror', plural: 'cephfsmirrors' },
  peer: { kind: 'MirrorPeer', plural: 'mirrorpeers' },
  directory: { kind: 'MirroredDirectory', plural: 'mirroreddirectories' },
} as const satisfies Record<string, KindInfo>;

export function objectKey(meta: { namespace?: string; name: string }): string {
  return `${meta.namespace ?? ''}/${meta.name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
