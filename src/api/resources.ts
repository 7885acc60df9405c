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

export interface MirroredDirectorySpec {
  mirrorRef: NamedRef;
  path: string;
}

export interface PeerSyncStatus {
  peerUUID: string;
  siteName?: string;
  lastLocalSnapshot?: string;
  lastMirroredSnapshot?: string;
  pendingSnapshots?: number;
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
  state?: DirectoryPhase;
  instanceID?: string;
  mappedTime?: string;
  peers?: PeerSyncStatus[];
  conditions?: Condition[];
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
