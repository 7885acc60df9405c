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
import { compareCredentials, locatePeer, type PeerLocation } from './peer-drift.js';
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
  const filesystem = requireMirrored(await fetchFsMap(local), fsName);
  const existing = findPeer(filesystem, options.spec, remoteFsName);
  if (existing !== undefined) return existing;
  return (await addNewPeer(local, fsName, { ...options, remoteFsName }, randomUUID())).uuid;
}

export interface EnsurePeerOptions extends RemoteConnectOptions {
  /** `client.<id>@<site>`. */
  spec: string;
  remoteFsName: string;
  /**
   * What config-key must hold: `mon_host` and `key` (how the daemons reach the remote), and
   * `fsid` when declared, which must then be the remote cluster's.
   */
  conf: PeerCredentials & { mon_host: string; key: string };
  /** The uuid recorded for this peer: a peer missing from the FSMap is re-added under it. */
  uuid?: string;
  /**
   * Connect to the remote even when the peer is in the FSMap, to check its fsid and the claim
   * on its root. A re-add, a first add and a credentials change always connect.
   */
  verifyRemote: boolean;
  /**
   * Called once the FSMap has been read and shows the recorded peer missing, before anything is
   * changed (so the caller can say so while the re-add is under way).
   */
  onMissing?: (uuid: string, fsmapEpoch: number) => Promise<void>;
}

/** What was set back because it had gone missing behind the operator's back. */
export type PeerPart = 'peer' | 'credentials' | 'claim';

export interface EnsurePeerResult {
  uuid: string;
  /** Where the FSMap showed the peer before this call (see PeerLocation). */
  found: PeerLocation['state'];
  /** The FSMap epoch read first. */
  fsmapEpoch: number;
  /** Parts restored because they were missing (a first add restores nothing). */
  restored: PeerPart[];
  /** The stored credentials differed from the declared ones and were rewritten. */
  credentialsUpdated: boolean;
  /** The remote cluster as seen now, when it was contacted. */
  remote?: { fsid: string; fscid: number };
}

/**
 * Level-based peer convergence for the operator: reads the FSMap, and makes the declared peer
 * exist with its FSMap entry, its credentials in config-key and this filesystem's claim on the
 * remote root. Unlike addPeer (the mgr module's peer_add), it checks the remote's fsid whenever
 * it contacts the remote, also for a peer that already exists, and re-adds a missing peer under
 * its recorded uuid. A refusal (FsidMismatch, a claim held by another source, ...) changes
 * nothing in Ceph.
 */
export async function ensurePeer(
  local: Rados,
  fsName: string,
  options: EnsurePeerOptions,
): Promise<EnsurePeerResult> {
  const map = await fetchFsMap(local);
  const filesystem = requireMirrored(map, fsName);
  const identity = { spec: options.spec, remoteFsName: options.remoteFsName };
  const location = locatePeer(filesystem, identity, options.uuid);
  const restored: PeerPart[] = [];
  const result = { found: location.state, fsmapEpoch: map.epoch, restored };

  if (location.state === 'present' || location.state === 'moved') {
    const uuid = location.uuid;
    const credentials = compareCredentials(
      await storedCredentials(local, fsName, uuid),
      options.conf,
    );
    let remote: EnsurePeerResult['remote'];
    // New credentials are only written once the remote they name has been checked.
    if (options.verifyRemote || credentials === 'different') {
      remote = await withRemoteFs(
        remoteSiteOf(options),
        async (r) => {
          const seen = await checkRemoteFsid(r.rados, options.conf.fsid);
          const ours: MirrorInfo = { clusterId: await local.fsid(), fsId: filesystem.fscid };
          if (await claimMirrorInfo(r.fs, ours)) restored.push('claim');
          return { fsid: seen, fscid: await r.fs.fscid() };
        },
        options,
      );
    }
    if (credentials !== 'same') await setPeerCredentials(local, fsName, uuid, options.conf);
    if (credentials === 'missing') restored.push('credentials');
    return {
      ...result,
      uuid,
      credentialsUpdated: credentials === 'different',
      ...(remote ? { remote } : {}),
    };
  }

  let uuid: string = randomUUID();
  if (location.state === 'missing') {
    uuid = location.uuid;
    await options.onMissing?.(uuid, map.epoch);
    restored.push('peer');
    if ((await storedCredentials(local, fsName, uuid)) === undefined) restored.push('credentials');
  }
  const added = await addNewPeer(local, fsName, options, uuid);
  // A claim made by a first add is part of adding, not a correction.
  if (added.claimed && location.state === 'missing') restored.push('claim');
  return { ...result, uuid: added.uuid, credentialsUpdated: false, remote: added.remote };
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

interface AddedPeer {
  uuid: string;
  /** This call wrote the claim on the remote root (there was none). */
  claimed: boolean;
  remote: { fsid: string; fscid: number };
}

/**
 * The mgr module's peer_add for a peer not in the FSMap: connect to the remote, check its fsid,
 * refuse a remote that is this filesystem or mirrors into it, claim its root, store the
 * credentials and add the FSMap entry under `uuid`.
 */
async function addNewPeer(
  local: Rados,
  fsName: string,
  options: AddPeerOptions & { remoteFsName: string },
  uuid: string,
): Promise<AddedPeer> {
  const remoteFsName = options.remoteFsName;
  const conf = options.conf ?? {};
  return withRemoteFs(
    remoteSiteOf({ spec: options.spec, remoteFsName, conf }),
    async (remote) => {
      const localFsid = await local.fsid();
      const remoteFsid = await checkRemoteFsid(remote.rados, conf.fsid);
      const remoteFscid = await remote.fs.fscid();
      const localFscid = await refuseActivePeer(
        local,
        fsName,
        remoteFsid,
        remoteFscid,
        remoteFsName,
        options.mountLocal,
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
        const added = await registerPeer(local, fsName, options.spec, remoteFsName, conf, uuid);
        return { uuid: added, claimed, remote: { fsid: remoteFsid, fscid: remoteFscid } };
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

/** Where the remote is: from the spec, with mon_host and key when both are given. */
function remoteSiteOf(o: {
  spec: string;
  remoteFsName: string;
  conf?: PeerCredentials;
}): RemoteSite {
  const { clientName, siteName } = splitSpec(o.spec);
  const site: RemoteSite = { clientName, siteName, fsName: o.remoteFsName };
  if (o.conf?.mon_host && o.conf.key) {
    site.monHost = o.conf.mon_host;
    site.key = o.conf.key;
  }
  return site;
}

/** The remote cluster's fsid; FsidMismatch when an expected one is given and differs. */
async function checkRemoteFsid(remote: Rados, expected: string | undefined): Promise<string> {
  const actual = await remote.fsid();
  if (expected !== undefined && expected.toLowerCase() !== actual) {
    throw new CephOpError(
      ERRNO.EINVAL,
      'FSID mismatch between bootstrap token and remote cluster',
      {
        reason: 'FsidMismatch',
      },
    );
  }
  return actual;
}

/** The stored credentials; an unreadable value counts as different (it is rewritten). */
async function storedCredentials(
  local: Rados,
  fsName: string,
  uuid: string,
): Promise<PeerCredentials | undefined> {
  try {
    return await getPeerCredentials(local, fsName, uuid);
  } catch (e) {
    if (isCephOpError(e) && e.reason === 'InvalidPeerCredentials') return {};
    throw e;
  }
}

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
  mountLocal: RemoteConnectOptions['mountLocal'],
): Promise<number> {
  const fs = mountLocal
    ? await mountLocal(local, fsName)
    : await CephFS.mount({ rados: local, fsName });
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
 * Stores the credentials (when complete) and adds the FSMap peer under `uuid`; undoes the
 * first if the second fails. Returns the uuid the FSMap holds for this peer.
 */
async function registerPeer(
  local: Rados,
  fsName: string,
  spec: string,
  remoteFsName: string,
  conf: PeerCredentials,
  uuid: string,
): Promise<string> {
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
