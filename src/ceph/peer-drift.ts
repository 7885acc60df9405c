/**
 * Pure comparisons behind the operator's peer convergence (no I/O): where a declared peer is in
 * the FSMap compared with the uuid the operator recorded for it, and whether the credentials in
 * config-key are the declared ones. `ensurePeer` (peers.ts) acts on the answers.
 */
import type { PeerCredentials } from './config-key.js';
import type { CephFilesystem, FsMirrorPeer } from './fsmap.js';

/** What makes a peer the same peer: the remote cluster spec and the remote filesystem. */
export interface PeerIdentity {
  /** `client.<id>@<site>`. */
  spec: string;
  remoteFsName: string;
}

/**
 * - `present`: the FSMap holds the peer under the recorded uuid (or, with none recorded, under
 *   some uuid: an existing peer is adopted, as the mgr module's peer_add returns it).
 * - `moved`: the FSMap holds the peer, but under another uuid than the recorded one (someone
 *   removed it and added it again by hand).
 * - `missing`: a uuid was recorded and the FSMap has no such peer: re-add it under that uuid.
 * - `absent`: nothing recorded (or the recorded uuid now names another peer), nothing in the
 *   FSMap: a first add, under a new uuid.
 */
export type PeerLocation =
  | { state: 'present'; uuid: string }
  | { state: 'moved'; uuid: string; recorded: string }
  | { state: 'missing'; uuid: string }
  | { state: 'absent' };

export function identityOfFsPeer(peer: FsMirrorPeer): PeerIdentity {
  return { spec: `${peer.clientName}@${peer.clusterName}`, remoteFsName: peer.fsName };
}

export function sameIdentity(a: PeerIdentity, b: PeerIdentity): boolean {
  return a.spec === b.spec && a.remoteFsName === b.remoteFsName;
}

/** One string per identity (for maps and messages); `\0` cannot occur in either part. */
export function identityKey(id: PeerIdentity): string {
  return `${id.spec}\0${id.remoteFsName}`;
}

export function locatePeer(
  filesystem: CephFilesystem,
  identity: PeerIdentity,
  recorded?: string,
): PeerLocation {
  const peers = filesystem.mirrorInfo.peers;
  const atRecorded = recorded === undefined ? undefined : peers[recorded];
  if (recorded !== undefined && atRecorded && sameIdentity(identityOfFsPeer(atRecorded), identity))
    return { state: 'present', uuid: recorded };
  for (const [uuid, peer] of Object.entries(peers)) {
    if (!sameIdentity(identityOfFsPeer(peer), identity)) continue;
    return recorded === undefined ? { state: 'present', uuid } : { state: 'moved', uuid, recorded };
  }
  // A recorded uuid that now names another peer cannot be reused (the mon would answer
  // "peer already exists" and add nothing).
  if (recorded !== undefined && atRecorded === undefined)
    return { state: 'missing', uuid: recorded };
  return { state: 'absent' };
}

export type CredentialsState = 'same' | 'missing' | 'different';

const CREDENTIAL_FIELDS = ['mon_host', 'key', 'fsid'] as const;

/**
 * Compares stored credentials with the declared ones, field by field (the stored JSON's field
 * order does not matter: the mgr module and the operator write them in different orders).
 * `undefined` stored means there is no config-key.
 */
export function compareCredentials(
  stored: PeerCredentials | undefined,
  desired: PeerCredentials,
): CredentialsState {
  if (stored === undefined) return 'missing';
  return CREDENTIAL_FIELDS.every((f) => stored[f] === desired[f]) ? 'same' : 'different';
}
