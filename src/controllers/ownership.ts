// Which CephFSMirror drives a filesystem, when several name the same one. A filesystem is
// (cluster fsid, fscid), whatever Secret or namespace reaches it; its owner is the oldest
// claimant (creationTimestamp, then uid) whose identity is known. The decision is pure: the
// controller feeds it the claimants it sees in its cache and what their resolution gave.

/** A mirrored filesystem as Ceph identifies it. */
export interface FilesystemIdentity {
  /** The cluster fsid (`rados.fsid()`). */
  fsid: string;
  /** The filesystem id in the FSMap. */
  fscid: number;
  /** Its name when resolved (for messages only: a name can be reused by another filesystem). */
  fsName: string;
}

/** One string per identity, for maps and locks. */
export function identityKey(id: FilesystemIdentity): string {
  return `${id.fsid}/${id.fscid}`;
}

export function describeIdentity(id: FilesystemIdentity): string {
  return `filesystem ${id.fsName} (fscid ${id.fscid}) of cluster ${id.fsid}`;
}

export type Resolution =
  | { state: 'resolved'; identity: FilesystemIdentity }
  /** Could not be resolved (no Secret, unreachable, no such filesystem): claims nothing. */
  | { state: 'failed'; reason: string; message: string }
  /** Not resolved yet: may turn out to be the owner. */
  | { state: 'unknown' };

export interface Claimant {
  /** `namespace/name` of the CephFSMirror. */
  key: string;
  creationTimestamp?: string;
  uid?: string;
  resolution: Resolution;
}

export type OwnershipDecision =
  | { kind: 'owner' }
  /** An older claimant resolved to the same filesystem: it owns it. */
  | { kind: 'refused'; owner: string }
  /** Older claimants are not resolved yet: starting now could take an older one's filesystem. */
  | { kind: 'wait'; for: string[] }
  /** The claimant itself is not resolved (or failed): it owns nothing. */
  | { kind: 'unresolved' };

function timeOf(c: Claimant): number {
  const t = c.creationTimestamp === undefined ? NaN : Date.parse(c.creationTimestamp);
  // No timestamp (never the case for an object read from the apiserver) sorts last.
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

/**
 * Oldest first: creationTimestamp (seconds: ties are common), then uid, then key, so that every
 * replica and every restart orders the same objects the same way.
 */
export function olderFirst(a: Claimant, b: Claimant): number {
  const ta = timeOf(a);
  const tb = timeOf(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ua = a.uid ?? '';
  const ub = b.uid ?? '';
  if (ua !== ub) return ua < ub ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** The claimants older than `self` (in order), by the same ordering as the decision. */
export function olderThan(self: Claimant, claimants: readonly Claimant[]): Claimant[] {
  return claimants.filter((c) => c.key !== self.key && olderFirst(c, self) < 0).sort(olderFirst);
}

/** What `self` may do about the filesystem it resolved to, given every claimant in the cache. */
export function decideOwnership(self: string, claimants: readonly Claimant[]): OwnershipDecision {
  const me = claimants.find((c) => c.key === self);
  if (!me || me.resolution.state !== 'resolved') return { kind: 'unresolved' };
  const mine = identityKey(me.resolution.identity);
  const waitFor: string[] = [];
  for (const c of olderThan(me, claimants)) {
    if (c.resolution.state === 'resolved') {
      if (identityKey(c.resolution.identity) === mine) return { kind: 'refused', owner: c.key };
    } else if (c.resolution.state === 'unknown') {
      waitFor.push(c.key);
    }
  }
  return waitFor.length > 0 ? { kind: 'wait', for: waitFor } : { kind: 'owner' };
}

/** The claimants after `self` that resolved to the same filesystem, oldest first. */
export function successors(self: string, claimants: readonly Claimant[]): Claimant[] {
  const me = claimants.find((c) => c.key === self);
  if (!me || me.resolution.state !== 'resolved') return [];
  const mine = identityKey(me.resolution.identity);
  return claimants
    .filter(
      (c) =>
        c.key !== self &&
        c.resolution.state === 'resolved' &&
        identityKey(c.resolution.identity) === mine,
    )
    .sort(olderFirst);
}
