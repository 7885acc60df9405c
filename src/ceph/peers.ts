/**
 * Filesystem mirror peers, with the effects and checks of the mgr module's
 * `fs snapshot mirror peer_add / peer_list / peer_remove` (protocol doc section 5):
 * the FSMap peer entry, the credentials in config-key, and the claim (`ceph.mirror.info`) on the
 * remote filesystem's root.
 *
 * Callers serialize calls per filesystem (the mgr module holds one lock for all of them).
 */
import { randomUUID } from 'node:crypto';
import { CephFS } from 'cephfs-js';
import type { Rados } from 'rados-js';
import {
  getPeerCredentials,
  removePeerCredentials,
  setPeerCredentials,
  type PeerCredentials,
} from './config-key.js';
import { CephOpError, ERRNO, isCephOpError } from './errors.js';
import { findPeer, requireMirrored, type FsMirrorPeer } from './fsmap.js';
import {
  claimMirrorInfo,
  readMirrorInfo,
  removeMirrorInfo,
  sameMirrorInfo,
  type MirrorInfo,
} from './mirror-info.js';
import { fetchFsMap, monCommand } from './mon.js';
import { fsMirrorPeerAdd, fsMirrorPeerRemove } from './mon-commands.js';
import { withRemoteFs, type RemoteConnectOptions, type RemoteSite } from './remote.js';

export interface AddPeerOptions extends RemoteConnectOptions {
  /** `client.<id>@<site>`. */
  spec: string;
  /** The remote filesystem; defaults to the local filesystem's name (as the mgr module). */
  remoteFsName?: string;
  /**
   * How to reach the remote. Stored in config-key only when both mon_host and key are given;
   * `fsid`, when given, must be the remote cluster's.
   */
  conf?: PeerCredentials;
}

/** One peer as the mgr module's `peer_list` shows it. */
export interface PeerListEntry {
  client_name: string;
  site_name: string;
  fs_name: string;
  /** From the stored credentials, when there are any. */
  mon_host?: string;
}

export interface RemovePeerOptions extends RemoteConnectOptions {
  /**
   * Remove the peer even when the remote cannot be reached to lift its `ceph.mirror.info`
   * claim (the remote keeps the claim; clear it there by hand). Default false, as the mgr module.
   */
  force?: boolean;
}

/**
 * Adds a peer and returns its uuid; the uuid of the existing peer when one with the same spec
 * and remote filesystem exists (nothing is changed then, as the mgr module).
 */
export async function addPeer(
  local: Rados,
  fsName: string,
  options: AddPeerOptions,
): Promise<string> {
  const remoteFsName = options.remoteFsName ?? fsName;
  const conf = options.conf ?? {};
  const filesystem = requireMirrored(await fetchFsMap(local), fsName);
  const existing = findPeer(filesystem, options.spec, remoteFsName);
  if (existing !== undefined) return existing;

  const { clientName, siteName } = splitSpec(options.spec);
  const site: RemoteSite = { clientName, siteName, fsName: remoteFsName };
  if (conf.mon_host && conf.key) {
    site.monHost = conf.mon_host;
    site.key = conf.key;
  }
  return withRemoteFs(
    site,
    async (remote) => {
      const localFsid = await local.fsid();
      const remoteFsid = await remote.rados.fsid();
      if (conf.fsid !== undefined && conf.fsid.toLowerCase() !== remoteFsid) {
        throw new CephOpError(
          ERRNO.EINVAL,
          'FSID mismatch between bootstrap token and remote cluster',
          { reason: 'FsidMismatch' },
        );
      }
      const remoteFscid = await remote.fs.fscid();
      const localFscid = await refuseActivePeer(
        local,
        fsName,
        remoteFsid,
        remoteFscid,
        remoteFsName,
      );
      if (localFsid === remoteFsid && localFscid === remoteFscid) {
        throw new CephOpError(
          ERRNO.EINVAL,
          "Source and destination cluster fsid and file-system name can't be the same",
          { reason: 'PeerIsSelf' },
        );
      }
      const ours: MirrorInfo = { clusterId: localFsid, fsId: localFscid };
      const claimed = await claimMirrorInfo(remote.fs, ours);
      try {
        return await registerPeer(local, fsName, options.spec, remoteFsName, conf);
      } catch (e) {
        // Deliberate difference: the mgr module leaves the claim behind. Lift it only when this
        // call made it, so a retry (or another source) is not refused for a peer that never was.
        if (claimed) await removeMirrorInfo(remote.fs).catch(() => undefined);
        throw e;
      }
    },
    options,
  );
}

/** The peers of a mirrored filesystem, as `fs snapshot mirror peer_list` shows them. */
export async function listPeers(
  local: Rados,
  fsName: string,
): Promise<Record<string, PeerListEntry>> {
  const filesystem = requireMirrored(await fetchFsMap(local), fsName);
  const result: Record<string, PeerListEntry> = {};
  for (const [uuid, peer] of Object.entries(filesystem.mirrorInfo.peers)) {
    const entry: PeerListEntry = {
      client_name: peer.clientName,
      site_name: peer.clusterName,
      fs_name: peer.fsName,
    };
    const credentials = await getPeerCredentials(local, fsName, uuid);
    if (credentials?.mon_host !== undefined) entry.mon_host = credentials.mon_host;
    result[uuid] = entry;
  }
  return result;
}

/**
 * Removes a peer: lifts its claim on the remote root (only if the claim is ours), removes it
 * from the FSMap, and removes its credentials. Returns false when the FSMap has no such peer;
 * then only leftover credentials are removed, so a repeated remove is a successful no-op.
 * A filesystem without mirroring is EINVAL "filesystem F is not mirrored", as the mgr module.
 */
export async function removePeer(
  local: Rados,
  fsName: string,
  peerUuid: string,
  options: RemovePeerOptions = {},
): Promise<boolean> {
  const filesystem = requireMirrored(await fetchFsMap(local), fsName);
  const peer = filesystem.mirrorInfo.peers[peerUuid];
  if (peer === undefined) {
    await removePeerCredentials(local, fsName, peerUuid);
    return false;
  }
  try {
    await liftClaim(local, fsName, filesystem.fscid, peerUuid, peer, options);
  } catch (e) {
    if (!options.force) throw e;
  }
  try {
    await monCommand(local, fsMirrorPeerRemove(fsName, peerUuid));
  } catch (e) {
    throw new CephOpError(
      isCephOpError(e) ? e.errno : ERRNO.EIO,
      `failed to remove peer: ${e instanceof Error ? e.message : String(e)}`,
      { reason: 'PeerRemoveFailed', cause: e },
    );
  }
  await removePeerCredentials(local, fsName, peerUuid);
  return true;
}

/** `client.<id>@<site>` → parts; EINVAL "invalid cluster spec S" otherwise (mgr split_spec). */
export function splitSpec(spec: string): {
  clientName: string;
  clientId: string;
  siteName: string;
} {
  const at = spec.split('@');
  const client = at[0]?.split('.');
  if (at.length !== 2 || client?.length !== 2 || client[0] !== 'client') {
    throw new CephOpError(ERRNO.EINVAL, `invalid cluster spec ${spec}`, {
      reason: 'InvalidPeerSpec',
    });
  }
  const [clientName, siteName] = at as [string, string];
  const clientId = client[1] as string;
  if (clientId === '' || siteName === '' || /\s/.test(spec)) {
    throw new CephOpError(ERRNO.EINVAL, `invalid cluster spec ${spec}`, {
      reason: 'InvalidPeerSpec',
    });
  }
  return { clientName, clientId, siteName };
}

// ---- steps ------------------------------------------------------------------------------------

/**
 * Mounts the local filesystem (through the local handle) for its fscid and its own claim, and
 * refuses a remote that mirrors into this filesystem: the two would mirror into each other.
 */
async function refuseActivePeer(
  local: Rados,
  fsName: string,
  remoteFsid: string,
  remoteFscid: number,
  remoteFsName: string,
): Promise<number> {
  const fs = await CephFS.mount({ rados: local, fsName });
  try {
    const localFscid = await fs.fscid();
    let info: MirrorInfo | undefined;
    try {
      info = await readMirrorInfo(fs);
    } catch (e) {
      throw new CephOpError(ERRNO.EINVAL, 'cannot read the local ceph.mirror.info xattr', {
        reason: 'MirrorInfoUnreadable',
        cause: e,
      });
    }
    if (info !== undefined && sameMirrorInfo(info, { clusterId: remoteFsid, fsId: remoteFscid })) {
      throw new CephOpError(
        ERRNO.EINVAL,
        `file system is an active peer for file system: ${remoteFsName}`,
        { reason: 'PeerIsSource' },
      );
    }
    return localFscid;
  } finally {
    await fs.close();
  }
}

/**
 * Stores the credentials (when complete) and adds the FSMap peer under a new uuid; undoes the
 * first if the second fails. Returns the uuid the FSMap holds for this peer.
 */
async function registerPeer(
  local: Rados,
  fsName: string,
  spec: string,
  remoteFsName: string,
  conf: PeerCredentials,
): Promise<string> {
  const uuid = randomUUID();
  const command = fsMirrorPeerAdd({ fsName, uuid, remoteClusterSpec: spec, remoteFsName });
  const storeCredentials = Boolean(conf.mon_host && conf.key);
  if (storeCredentials) await setPeerCredentials(local, fsName, uuid, conf);
  try {
    await monCommand(local, command);
  } catch (e) {
    if (storeCredentials) await removePeerCredentials(local, fsName, uuid).catch(() => undefined);
    throw new CephOpError(
      isCephOpError(e) ? e.errno : ERRNO.EIO,
      `failed to add peer: ${e instanceof Error ? e.message : String(e)}`,
      { reason: 'PeerAddFailed', cause: e },
    );
  }
  // The mon answers 0 ("peer already exists") without adding anything when a peer with this
  // spec and remote fs (or this uuid) is already there: someone added the same peer since we
  // looked. Only the FSMap says whether our uuid is the one that exists.
  const filesystem = requireMirrored(await fetchFsMap(local), fsName);
  const recorded = filesystem.mirrorInfo.peers[uuid];
  if (
    recorded !== undefined &&
    `${recorded.clientName}@${recorded.clusterName}` === spec &&
    recorded.fsName === remoteFsName
  ) {
    return uuid;
  }
  if (storeCredentials) await removePeerCredentials(local, fsName, uuid);
  const winner = findPeer(filesystem, spec, remoteFsName);
  if (winner !== undefined) return winner;
  throw new CephOpError(
    ERRNO.EEXIST,
    `failed to add peer: the monitors did not record peer ${uuid} for ${spec} ${remoteFsName}`,
    { reason: 'PeerAddFailed' },
  );
}

/** Removes the peer's claim from the remote root when it names this filesystem. */
async function liftClaim(
  local: Rados,
  fsName: string,
  localFscid: number,
  peerUuid: string,
  peer: FsMirrorPeer,
  options: RemoteConnectOptions,
): Promise<void> {
  const credentials = await getPeerCredentials(local, fsName, peerUuid);
  const site: RemoteSite = {
    clientName: peer.clientName,
    siteName: peer.clusterName,
    fsName: peer.fsName,
  };
  if (credentials?.mon_host && credentials.key) {
    site.monHost = credentials.mon_host;
    site.key = credentials.key;
  }
  const ours: MirrorInfo = { clusterId: await local.fsid(), fsId: localFscid };
  await withRemoteFs(
    site,
    async (remote) => {
      // Deliberate difference: the mgr module removes whatever claim is there; a claim held by
      // another source is not ours to lift.
      let current: MirrorInfo | undefined;
      try {
        current = await readMirrorInfo(remote.fs);
      } catch {
        // Unreadable: not provably someone else's; remove it, as the mgr module would.
        await removeMirrorInfo(remote.fs);
        return;
      }
      if (current !== undefined && sameMirrorInfo(current, ours)) await removeMirrorInfo(remote.fs);
    },
    options,
  );
}
