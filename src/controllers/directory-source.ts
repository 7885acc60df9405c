// What a MirroredDirectory mirrors: exactly one of spec.path, spec.subvolume (resolved through the
// mgr volumes module) or spec.persistentVolumeClaim (the claim's bound PV of the ceph-csi CephFS
// driver). The resolved path then goes through the same validation and claims as a spec.path.
//
// ceph-csi CephFS PV volumeAttributes (internal/cephfs/store/volumeoptions.go,
// internal/cephfs/controllerserver.go): a provisioned volume carries `subvolumeName`,
// `subvolumePath` (its path in the filesystem), `fsName` and `clusterID`; a static one
// `staticVolume: "true"` and `rootPath`, with `fsName` (and `clusterID`). `clusterID` names an
// entry of ceph-csi's own config map, not an fsid, so it cannot be checked against the mirror's
// cluster; `fsName` can, and must match the mirror's filesystem when present.
import type { V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { normalizeDirectoryPath } from '../reconcile/index.js';
import type { MirroredDirectory } from '../api/resources.js';
import { NO_GROUP, type SubvolumePath } from '../ceph/subvolumes.js';

export const CEPHFS_CSI_DRIVER = 'cephfs.csi.ceph.com';

export type SourceKind = 'path' | 'subvolume' | 'persistentVolumeClaim';

export type Resolved =
  | { ok: true; path: string; source: string }
  /**
   * `gone`: the source no longer exists (subvolume removed, claim deleted or unbound): an entry
   * managed for it is released. Otherwise the spec is refused or waits, and nothing changes.
   */
  | { ok: false; reason: string; message: string; gone: boolean; invalid: boolean };

function refused(reason: string, message: string): Resolved {
  return { ok: false, reason, message, gone: false, invalid: true };
}

function gone(reason: string, message: string): Resolved {
  return { ok: false, reason, message, gone: true, invalid: false };
}

/** The one source the spec names, or a refusal when it names none or several. */
export function sourceKindOf(dir: MirroredDirectory): SourceKind | Resolved {
  const kinds: SourceKind[] = [];
  if (dir.spec.path !== undefined) kinds.push('path');
  if (dir.spec.subvolume !== undefined) kinds.push('subvolume');
  if (dir.spec.persistentVolumeClaim !== undefined) kinds.push('persistentVolumeClaim');
  if (kinds.length === 1) return kinds[0] as SourceKind;
  return refused(
    'InvalidSource',
    kinds.length === 0
      ? 'spec needs one source: path, subvolume or persistentVolumeClaim'
      : `spec names ${kinds.join(' and ')}: give exactly one source`,
  );
}

/**
 * The directory mirrored for a subvolume: its base directory `/volumes/<group>/<name>`, not the
 * `<uuid>` directory `fs subvolume getpath` returns. In 16.2 the MDS refuses a snapshot below a
 * subvolume root (Server::handle_client_mksnap: EPERM at the uuid directory, checked in the lab),
 * the volumes module keeps a v2 subvolume's snapshots in the base directory's `.snap`
 * (pybind/mgr/volumes/fs/operations/versions/subvolume_v2.py, snapshot_base_path), and the uuid
 * directory only sees them as inherited `_<snap>_<ino>` entries, which cephfs-mirror skips
 * (PeerReplayer::build_snap_map). Mirroring the base carries the data, the `.meta` file and the
 * snapshots. A path of another shape (a v1 subvolume) is mirrored as it is.
 */
export function subvolumeRoot(path: string): string {
  const m = /^(\/volumes\/[^/]+\/[^/]+)\/[^/]+$/.exec(path);
  return m ? (m[1] as string) : path;
}

/** The subvolume source's outcome of `fs subvolume getpath`. */
export function fromSubvolume(
  name: string,
  group: string | undefined,
  answer: SubvolumePath,
): Resolved {
  const g = group ?? NO_GROUP;
  if (answer.state === 'missing') return gone('SourceNotFound', answer.message);
  if (answer.state === 'unknown') {
    return {
      ok: false,
      reason: 'SourceUnresolved',
      message: answer.message,
      gone: false,
      invalid: false,
    };
  }
  return withPath(subvolumeRoot(answer.path), `subvolume ${g}/${name}`);
}

function withPath(path: string, source: string): Resolved {
  try {
    return { ok: true, path: normalizeDirectoryPath(path), source };
  } catch (e) {
    return refused('InvalidPath', `${source} resolves to an invalid path: ${(e as Error).message}`);
  }
}

/** Where a PV of the ceph-csi CephFS driver lives, or why it cannot be mirrored. */
export function fromVolume(
  claimName: string,
  claim: V1PersistentVolumeClaim | undefined,
  pv: V1PersistentVolume | undefined,
  fsName: string,
): Resolved | { subvolume: string; fsName?: string } {
  const c = `PersistentVolumeClaim ${claimName}`;
  if (!claim || claim.metadata?.deletionTimestamp) {
    return gone('SourceNotFound', `${c} does not exist`);
  }
  const volumeName = claim.spec?.volumeName;
  if (!volumeName) return gone('ClaimNotBound', `${c} is not bound to a PersistentVolume yet`);
  if (!pv || pv.metadata?.deletionTimestamp) {
    return gone(
      'SourceNotFound',
      `${c} is bound to PersistentVolume ${volumeName}, which does not exist`,
    );
  }
  // Bound: the claim names the volume and the volume's claimRef names the claim (what the PV
  // controller sets; phase Bound follows from it).
  const ref = pv.spec?.claimRef;
  const claimed =
    ref?.name === claimName &&
    ref.namespace === claim.metadata?.namespace &&
    (!ref.uid || !claim.metadata?.uid || ref.uid === claim.metadata.uid);
  if (!claimed && claim.status?.phase !== 'Bound') {
    return gone(
      'ClaimNotBound',
      `${c} names PersistentVolume ${volumeName}, whose claimRef does not name it back`,
    );
  }
  const v = `PersistentVolume ${volumeName} (bound to ${c})`;
  const csi = pv.spec?.csi;
  if (!csi) {
    return refused(
      'UnsupportedVolume',
      `${v} is not a CSI volume; only ${CEPHFS_CSI_DRIVER} volumes can be mirrored`,
    );
  }
  if (csi.driver !== CEPHFS_CSI_DRIVER) {
    return refused(
      'UnsupportedVolumeDriver',
      `${v} uses CSI driver ${csi.driver}; only ${CEPHFS_CSI_DRIVER} volumes can be mirrored`,
    );
  }
  const attrs = csi.volumeAttributes ?? {};
  const fs = attrs['fsName'];
  if (fs !== undefined && fs !== fsName) {
    return refused(
      'FilesystemMismatch',
      `${v} is on filesystem ${fs}, not on the mirror's filesystem ${fsName}`,
    );
  }
  const source = `pvc ${claimName} (pv ${volumeName})`;
  if (attrs['staticVolume'] === 'true') {
    const root = attrs['rootPath'];
    if (!root)
      return refused('UnsupportedVolumeAttributes', `${v} is a static volume without rootPath`);
    return withPath(root, source);
  }
  const subvolumePath = attrs['subvolumePath'];
  if (subvolumePath) return withPath(subvolumeRoot(subvolumePath), source);
  const subvolume = attrs['subvolumeName'];
  if (subvolume) return { subvolume, ...(fs ? { fsName: fs } : {}) };
  return refused(
    'UnsupportedVolumeAttributes',
    `${v} has neither subvolumePath, subvolumeName nor staticVolume/rootPath in its volumeAttributes`,
  );
}

/** Ready reasons of source resolution that wait for something to change rather than retry. */
export const SOURCE_REASONS = [
  'InvalidSource',
  'SourceNotFound',
  'ClaimNotBound',
  'UnsupportedVolume',
  'UnsupportedVolumeDriver',
  'UnsupportedVolumeAttributes',
  'FilesystemMismatch',
] as const;
