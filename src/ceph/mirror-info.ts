/**
 * The claim a mirroring source puts on a peer filesystem: the virtual xattr `ceph.mirror.info` on
 * the peer's root, `cluster_id=<source fsid> fs_id=<source fscid>`. The MDS keeps it; it stops a
 * second source from mirroring into the same filesystem, and lets a filesystem see that it is
 * itself the target of the cluster it is about to use as a peer.
 */
import { isCephFSError, type CephFS } from 'cephfs-js';
import { CephOpError, ERRNO } from './errors.js';

export const MIRROR_INFO_XATTR = 'ceph.mirror.info';

export interface MirrorInfo {
  /** fsid of the cluster whose filesystem mirrors into this one (lowercase UUID). */
  clusterId: string;
  /** fscid of that filesystem. */
  fsId: number;
}

// As strict as the mgr module's regex: lowercase UUID, one space, decimal fs id, nothing else.
// Python's `$` also matches before one final newline, so that is accepted too.
const MIRROR_INFO =
  /^cluster_id=([a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}) fs_id=([0-9]+)\n?$/;

export function formatMirrorInfo(info: MirrorInfo): string {
  return `cluster_id=${info.clusterId} fs_id=${info.fsId}`;
}

/** Parses the xattr value; EINVAL "invalid ceph.mirror.info value format" when it does not fit. */
export function parseMirrorInfo(value: string): MirrorInfo {
  const m = MIRROR_INFO.exec(value);
  const fsId = m?.[2] === undefined ? NaN : Number(m[2]);
  if (m?.[1] === undefined || !Number.isSafeInteger(fsId)) {
    throw new CephOpError(ERRNO.EINVAL, 'invalid ceph.mirror.info value format', {
      reason: 'InvalidMirrorInfo',
    });
  }
  return { clusterId: m[1], fsId };
}

export function sameMirrorInfo(a: MirrorInfo, b: MirrorInfo): boolean {
  return a.clusterId === b.clusterId && a.fsId === b.fsId;
}

/** The claim on this filesystem's root, or undefined when there is none (ENODATA). */
export async function readMirrorInfo(fs: CephFS): Promise<MirrorInfo | undefined> {
  let value: Buffer;
  try {
    value = await fs.getxattr('/', MIRROR_INFO_XATTR);
  } catch (e) {
    if (isCephFSError(e) && (e.code === 'ENODATA' || e.code === 'ENOENT')) return undefined;
    throw new CephOpError(errnoOf(e), 'error fetching ceph.mirror.info xattr', {
      reason: 'MirrorInfoUnreadable',
      cause: e,
    });
  }
  return parseMirrorInfo(value.toString('utf8'));
}

/**
 * Claims the filesystem for `ours` with create semantics. An existing claim naming `ours` is
 * accepted (returns false: nothing was written); one naming someone else is EEXIST
 * "peer mirrorred by: (cluster_id: C, fs_id: N)"; one that cannot be read is EEXIST
 * "already an active peer". Returns true when this call created the claim.
 */
export async function claimMirrorInfo(fs: CephFS, ours: MirrorInfo): Promise<boolean> {
  try {
    await fs.setxattr('/', MIRROR_INFO_XATTR, formatMirrorInfo(ours), { create: true });
    return true;
  } catch (e) {
    if (!(isCephFSError(e) && e.code === 'EEXIST')) {
      throw new CephOpError(errnoOf(e), 'error setting ceph.mirror.info xattr', {
        reason: 'MirrorInfoUnwritable',
        cause: e,
      });
    }
  }
  let existing: MirrorInfo | undefined;
  try {
    existing = await readMirrorInfo(fs);
  } catch (e) {
    throw new CephOpError(ERRNO.EEXIST, 'already an active peer', {
      reason: 'PeerClaimedByOther',
      cause: e,
    });
  }
  if (existing !== undefined && sameMirrorInfo(existing, ours)) return false;
  if (existing === undefined) {
    // Removed between our create and our read: someone else is at work on this root.
    throw new CephOpError(ERRNO.EEXIST, 'already an active peer', {
      reason: 'PeerClaimedByOther',
    });
  }
  // The mgr module means to say this, but its own except clause turns it into
  // "already an active peer"; the operator says who holds the claim.
  throw new CephOpError(
    ERRNO.EEXIST,
    `peer mirrorred by: (cluster_id: ${existing.clusterId}, fs_id: ${existing.fsId})`,
    { reason: 'PeerClaimedByOther' },
  );
}

/** Removes the claim; no claim (ENODATA/ENOENT) is fine. Returns whether one was removed. */
export async function removeMirrorInfo(fs: CephFS): Promise<boolean> {
  try {
    await fs.removexattr('/', MIRROR_INFO_XATTR);
    return true;
  } catch (e) {
    if (isCephFSError(e) && (e.code === 'ENODATA' || e.code === 'ENOENT')) return false;
    throw new CephOpError(errnoOf(e), 'error removing ceph.mirror.info xattr', {
      reason: 'MirrorInfoUnwritable',
      cause: e,
    });
  }
}

function errnoOf(e: unknown): number {
  return isCephFSError(e) && e.errno > 0 ? e.errno : ERRNO.EIO;
}
