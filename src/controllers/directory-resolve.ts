// A subvolume or PersistentVolumeClaim source resolved to its path on the filesystem: the mgr's
// `fs subvolume getpath` (src/ceph/subvolumes.ts), through the claim's PersistentVolume for a
// claim (directory-source.ts reads what ceph-csi recorded there).
import { NO_GROUP, subvolumePath } from '../ceph/subvolumes.js';
import { getClaim, getVolume } from '../kube/volumes.js';
import type { MirroredDirectory } from '../api/resources.js';
import type { ControllerContext } from './context.js';
import { fromSubvolume, fromVolume, type Resolved, type SourceKind } from './directory-source.js';
import type { MirrorRuntime } from './mirror-runtimes.js';

/** ceph-csi's default subvolume group (its config map's cephFS.subvolumeGroup). */
const CSI_SUBVOLUME_GROUP = 'csi';

/** The subvolume or claim source's path, or why there is none. */
export async function resolveSource(
  ctx: ControllerContext,
  dir: MirroredDirectory,
  kind: Exclude<SourceKind, 'path'>,
  rados: MirrorRuntime['rados'],
  fsName: string,
): Promise<Resolved> {
  if (kind === 'subvolume') {
    const sv = dir.spec.subvolume as { name: string; group?: string };
    const answer = await subvolumePath(rados, fsName, sv.name, sv.group ?? NO_GROUP);
    return fromSubvolume(sv.name, sv.group, answer);
  }
  const claimName = (dir.spec.persistentVolumeClaim as { name: string }).name;
  const claim = await getClaim(ctx.api, dir.metadata.namespace, claimName);
  const volumeName = claim?.spec?.volumeName;
  const pv = volumeName ? await getVolume(ctx.api, volumeName) : undefined;
  const v = fromVolume(claimName, claim, pv, fsName);
  if (!('subvolume' in v)) return v;
  // A provisioned volume without subvolumePath: ceph-csi's default group.
  const answer = await subvolumePath(rados, fsName, v.subvolume, CSI_SUBVOLUME_GROUP);
  const r = fromSubvolume(v.subvolume, CSI_SUBVOLUME_GROUP, answer);
  return r.ok ? { ...r, source: `pvc ${claimName} (${r.source})` } : r;
}
