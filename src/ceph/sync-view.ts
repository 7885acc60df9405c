// The per-directory, per-peer sync view: which snapshots of a directory exist locally and which
// of them have reached each peer. The daemons' admin sockets know this too, but a socket is local
// to the daemon's host; comparing the snapshot lists of both sites works from anywhere.
import { CephFS } from 'cephfs-js';
import type { Rados } from 'rados-js';
import { getPeerCredentials } from './config-key.js';
import { findFilesystem, type FsMirrorPeer } from './fsmap.js';
import { fetchFsMap } from './mon.js';
import { closeRemote, connectRemote, type RemoteFs } from './remote.js';

export interface PeerSyncView {
  peerUUID: string;
  siteName: string;
  /** Newest snapshot of the directory on this site. */
  lastLocalSnapshot?: string;
  /** Newest local snapshot that is also on the peer. */
  lastMirroredSnapshot?: string;
  /** Local snapshots not (yet) on the peer. */
  pendingSnapshots: number;
  inSync: boolean;
  /** Why the peer could not be compared, when it could not. */
  error?: string;
}

/** Compares two snapshot lists, each in creation order (the order `.snap` lists them). */
export function compareSnapshots(
  local: readonly string[],
  remote: readonly string[],
): Pick<
  PeerSyncView,
  'lastLocalSnapshot' | 'lastMirroredSnapshot' | 'pendingSnapshots' | 'inSync'
> {
  const there = new Set(remote);
  const mirrored = local.filter((s) => there.has(s));
  const pending = local.length - mirrored.length;
  return {
    ...(local.length > 0 ? { lastLocalSnapshot: local[local.length - 1] } : {}),
    ...(mirrored.length > 0 ? { lastMirroredSnapshot: mirrored[mirrored.length - 1] } : {}),
    pendingSnapshots: pending,
    inSync: pending === 0,
  };
}

const FSMAP_TTL_MS = 10_000;

interface PeerMount {
  peer: FsMirrorPeer;
  remote: Promise<RemoteFs>;
}

/**
 * Keeps a local mount and one mount per peer open (they are costly to set up) and answers sync
 * views for directories of one mirrored filesystem.
 */
export class SyncViewer {
  private local: Promise<CephFS> | undefined;
  private readonly peers = new Map<string, PeerMount>();
  private fsmap: { at: number; peers: Record<string, FsMirrorPeer> } | undefined;
  private closed = false;

  constructor(
    private readonly rados: Rados,
    private readonly fsName: string,
  ) {}

  /** The FSMap's peers changed (one added or removed): read them again on the next view. */
  forgetPeers(): void {
    this.fsmap = undefined;
  }

  async view(path: string): Promise<PeerSyncView[]> {
    if (this.closed) return [];
    const peers = await this.currentPeers();
    if (Object.keys(peers).length === 0) return [];
    this.local ??= CephFS.mount({ rados: this.rados, fsName: this.fsName });
    const localSnaps = await (await this.local).listSnaps(path).catch((e: unknown) => {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw e;
    });
    return Promise.all(
      Object.entries(peers).map(async ([uuid, peer]) => {
        try {
          const remote = await this.peerMount(uuid, peer);
          const remoteSnaps = await remote.fs.listSnaps(path).catch((e: unknown) => {
            if ((e as { code?: string }).code === 'ENOENT') return [];
            throw e;
          });
          return {
            peerUUID: uuid,
            siteName: peer.clusterName,
            ...compareSnapshots(localSnaps, remoteSnaps),
          };
        } catch (e) {
          this.dropPeer(uuid);
          return {
            peerUUID: uuid,
            siteName: peer.clusterName,
            ...compareSnapshots(localSnaps, []),
            inSync: false,
            error: e instanceof Error ? e.message : String(e),
          };
        }
      }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const mounts = [...this.peers.keys()].map((uuid) => this.dropPeer(uuid));
    const local = this.local;
    this.local = undefined;
    await Promise.all([...mounts, local?.then((fs) => fs.close()).catch(() => undefined)]);
  }

  private async currentPeers(): Promise<Record<string, FsMirrorPeer>> {
    if (this.fsmap && Date.now() - this.fsmap.at < FSMAP_TTL_MS) return this.fsmap.peers;
    const fs = findFilesystem(await fetchFsMap(this.rados), this.fsName);
    const peers = fs?.mirrorInfo.peers ?? {};
    this.fsmap = { at: Date.now(), peers };
    for (const uuid of this.peers.keys()) if (!(uuid in peers)) void this.dropPeer(uuid);
    return peers;
  }

  private peerMount(uuid: string, peer: FsMirrorPeer): Promise<RemoteFs> {
    const existing = this.peers.get(uuid);
    if (existing) return existing.remote;
    const remote = (async () => {
      const creds = await getPeerCredentials(this.rados, this.fsName, uuid);
      return connectRemote({
        clientName: peer.clientName,
        siteName: peer.clusterName,
        fsName: peer.fsName,
        ...(creds?.mon_host ? { monHost: creds.mon_host } : {}),
        ...(creds?.key ? { key: creds.key } : {}),
      });
    })();
    this.peers.set(uuid, { peer, remote });
    return remote;
  }

  private async dropPeer(uuid: string): Promise<void> {
    const mount = this.peers.get(uuid);
    if (!mount) return;
    this.peers.delete(uuid);
    await mount.remote.then(closeRemote, () => undefined);
  }
}
