/**
 * The parts of the FSMap (`fs dump`, format json) the operator needs, typed and validated.
 *
 * Shape read (Ceph 16.2.15; see test/fixtures/ceph/ for captured dumps):
 *   { "epoch": N, "filesystems": [ { "id": fscid,
 *       "mdsmap": { "fs_name", "metadata_pool": id, "data_pools": [id, ...], ... },
 *       "mirror_info": { "peers": { "<uuid>": { "remote": { "client_name", "cluster_name",
 *                                                            "fs_name" } } } }   // only when mirroring is on
 *   } ] }
 * Other fields are ignored. A field the operator relies on with the wrong shape is an error
 * naming its JSON path, rather than a silently wrong answer.
 */
import { CephOpError, ERRNO } from './errors.js';

export interface FsMirrorPeer {
  /** `client.<id>` the mirror daemons use on the remote cluster. */
  clientName: string;
  /** The remote cluster (site) name. */
  clusterName: string;
  /** The remote filesystem's name. */
  fsName: string;
}

export interface FsMirrorInfo {
  /** True when `fs mirror enable` is in effect (`mirror_info` present in the FSMap). */
  enabled: boolean;
  /** Peer uuid → remote. Empty when mirroring is off. */
  peers: Record<string, FsMirrorPeer>;
}

export interface CephFilesystem {
  name: string;
  /** The filesystem id (`fs_id` in `ceph.mirror.info`, `<fs>@<fscid>` in daemon status). */
  fscid: number;
  /** Pool id of the metadata pool, where the `cephfs_mirror` object lives. */
  metadataPool: number;
  dataPools: number[];
  mirrorInfo: FsMirrorInfo;
}

export interface FsMap {
  epoch: number;
  filesystems: CephFilesystem[];
}

/** The `fs dump` output does not have the shape the operator relies on. */
export class FsMapParseError extends CephOpError {
  override name = 'FsMapParseError';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(ERRNO.EINVAL, `unexpected fs dump output at ${path}: ${problem}`, {
      reason: 'UnexpectedFsMap',
    });
  }
}

/** Parse `fs dump` output: the JSON text, or the value already parsed from it. */
export function parseFsDump(input: unknown): FsMap {
  let root = input;
  if (typeof input === 'string') {
    try {
      root = JSON.parse(input) as unknown;
    } catch {
      throw new FsMapParseError('$', 'not JSON');
    }
  }
  const obj = object(root, '$');
  const filesystems = array(obj['filesystems'], '$.filesystems').map((fs, i) =>
    parseFilesystem(fs, `$.filesystems[${i}]`),
  );
  const names = new Set<string>();
  for (const [i, fs] of filesystems.entries()) {
    if (names.has(fs.name))
      throw new FsMapParseError(`$.filesystems[${i}]`, `duplicate fs_name "${fs.name}"`);
    names.add(fs.name);
  }
  return { epoch: integer(obj['epoch'], '$.epoch'), filesystems };
}

function parseFilesystem(value: unknown, path: string): CephFilesystem {
  const fs = object(value, path);
  const mdsmap = object(fs['mdsmap'], `${path}.mdsmap`);
  const name = string(mdsmap['fs_name'], `${path}.mdsmap.fs_name`);
  const dataPools = array(mdsmap['data_pools'], `${path}.mdsmap.data_pools`).map((p, i) =>
    integer(p, `${path}.mdsmap.data_pools[${i}]`),
  );
  return {
    name,
    fscid: integer(fs['id'], `${path}.id`),
    metadataPool: integer(mdsmap['metadata_pool'], `${path}.mdsmap.metadata_pool`),
    dataPools,
    mirrorInfo: parseMirrorInfo(fs['mirror_info'], `${path}.mirror_info`),
  };
}

function parseMirrorInfo(value: unknown, path: string): FsMirrorInfo {
  // Ceph dumps mirror_info only for a mirrored filesystem (the mgr module tests its presence).
  if (value === undefined || value === null) return { enabled: false, peers: {} };
  const info = object(value, path);
  const peersObj = object(info['peers'], `${path}.peers`);
  const peers: Record<string, FsMirrorPeer> = {};
  for (const [uuid, peerValue] of Object.entries(peersObj)) {
    const peerPath = `${path}.peers["${uuid}"]`;
    const remote = object(object(peerValue, peerPath)['remote'], `${peerPath}.remote`);
    peers[uuid] = {
      clientName: string(remote['client_name'], `${peerPath}.remote.client_name`),
      clusterName: string(remote['cluster_name'], `${peerPath}.remote.cluster_name`),
      fsName: string(remote['fs_name'], `${peerPath}.remote.fs_name`),
    };
  }
  return { enabled: true, peers };
}

// ---- lookups with the mgr module's errors ----------------------------------------------------

export function findFilesystem(map: FsMap, name: string): CephFilesystem | undefined {
  return map.filesystems.find((fs) => fs.name === name);
}

/** The filesystem, or ENOENT `filesystem F does not exist` (as the mgr module says). */
export function requireFilesystem(map: FsMap, name: string): CephFilesystem {
  const fs = findFilesystem(map, name);
  if (fs === undefined) {
    throw new CephOpError(ERRNO.ENOENT, `filesystem ${name} does not exist`, {
      reason: 'FilesystemNotFound',
    });
  }
  return fs;
}

/** The filesystem when mirroring is on, or EINVAL `filesystem F is not mirrored`. */
export function requireMirrored(map: FsMap, name: string): CephFilesystem {
  const fs = requireFilesystem(map, name);
  if (!fs.mirrorInfo.enabled) {
    throw new CephOpError(ERRNO.EINVAL, `filesystem ${name} is not mirrored`, {
      reason: 'MirroringNotEnabled',
    });
  }
  return fs;
}

/**
 * The uuid of the peer with this remote cluster spec (`client.<id>@<site>`) and remote fs name,
 * if one exists: the mgr module's test for "peer already added".
 */
export function findPeer(
  fs: CephFilesystem,
  remoteClusterSpec: string,
  remoteFsName: string,
): string | undefined {
  for (const [uuid, peer] of Object.entries(fs.mirrorInfo.peers)) {
    if (
      `${peer.clientName}@${peer.clusterName}` === remoteClusterSpec &&
      peer.fsName === remoteFsName
    )
      return uuid;
  }
  return undefined;
}

// ---- shape checks -----------------------------------------------------------------------------

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return `the number ${value}`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FsMapParseError(path, `expected an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value))
    throw new FsMapParseError(path, `expected an array, got ${describe(value)}`);
  return value;
}

function string(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new FsMapParseError(
      path,
      `expected a non-empty string, got ${value === '' ? 'an empty string' : describe(value)}`,
    );
  }
  return value;
}

function integer(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new FsMapParseError(path, `expected a non-negative integer, got ${describe(value)}`);
  }
  return value;
}
