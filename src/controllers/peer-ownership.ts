// Which MirrorPeer owns a Ceph peer (pure, no I/O). A Ceph peer is (mirror, remote cluster spec,
// remote filesystem); several MirrorPeers of one mirror may resolve to it (a copy made by hand, a
// second Argo CD application, a token imported twice). Exactly one of them owns it: the oldest
// (creationTimestamp, then uid, so every replica and every restart picks the same one). Only the
// owner writes to Ceph; when it is deleted while another one still declares the peer, the peer
// is handed over, not removed.
import { identityKey, type PeerIdentity } from '../ceph/peer-drift.js';

export interface OwnershipCandidate {
  metadata: {
    name: string;
    uid?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
  };
}

/**
 * Older first: creationTimestamp (RFC 3339 in UTC, whole seconds, so comparable as text; one
 * without a timestamp, not yet stored, counts as newest), then uid, then name.
 */
export function olderFirst(a: OwnershipCandidate, b: OwnershipCandidate): number {
  const ta = a.metadata.creationTimestamp;
  const tb = b.metadata.creationTimestamp;
  if (ta !== tb) {
    if (ta === undefined) return 1;
    if (tb === undefined) return -1;
    return ta < tb ? -1 : 1;
  }
  const ua = a.metadata.uid ?? '';
  const ub = b.metadata.uid ?? '';
  if (ua !== ub) return ua < ub ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/**
 * The owner of `identity` among `candidates` (the MirrorPeers of one mirror with the identity
 * each resolves to, undefined when it does not resolve): the oldest that is not being deleted.
 * An object being deleted has given the peer up, to the next one if there is one.
 */
export function ownerOf<T extends OwnershipCandidate>(
  candidates: ReadonlyArray<{ object: T; identity: PeerIdentity | undefined }>,
  identity: PeerIdentity,
): T | undefined {
  const key = identityKey(identity);
  const live = candidates
    .filter(
      (c) =>
        c.identity !== undefined &&
        identityKey(c.identity) === key &&
        c.object.metadata.deletionTimestamp === undefined,
    )
    .map((c) => c.object)
    .sort(olderFirst);
  return live[0];
}

/** The same object (uid when both have one, else name). */
export function sameObject(a: OwnershipCandidate, b: OwnershipCandidate): boolean {
  if (a.metadata.uid !== undefined && b.metadata.uid !== undefined)
    return a.metadata.uid === b.metadata.uid;
  return a.metadata.name === b.metadata.name;
}
