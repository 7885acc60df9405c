// The per-directory, per-peer sync view: which snapshots of a directory exist locally and which
// of them have reached each peer. The daemons' admin sockets know this too, but a socket is local
// to the daemon's host; comparing the snapshot lists of both sites works from anywhere.
import { CephFS } from 'cephfs-js';
import type { Rados } from 'rados-js';
import { getPeerCredentials } from './config-key.js';
import { findFilesystem, type FsMirrorPeer } from './fsmap.js';
import { DEFAULT_FS_MAX_OUTSTANDING, FsCallGuard } from './fs-call-guard.js';
import { fetchFsMap } from './mon.js';
import { closeRemote, connectRemote, type RemoteFs } from './remote.js';
import { checkSourceDirectory, type SourceDirectoryState } from './source-directory.js';

export interface PeerSyncView {
  peerUUID: string;
  siteName: string;
  /** Newest snapshot of the directory on this site. */
  lastLocalSnapshot?: string;
  /** Newest local snapshot that is also on the peer. */
  lastMirroredSnapshot?: string;
  /** Local snapshots not (yet) on the peer; absent when the local list could not be read. */
  pendingSnapshots?: number;
  /** The oldest local snapshot not (yet) on the peer, when both lists were read. */
  oldestPendingSnapshot?: string;
  /** True only when both snapshot lists were read in this refresh and nothing is pending. */
  inSync: boolean;
  /** Why the two sites could not be compared, when they could not. */
  problem?: SyncProblem;
}

export interface SyncProblem {
  /** CamelCase: SourceDirectoryMissing, SourceUnreadable, PeerDirectoryMissing, PeerUnreadable. */
  reason: string;
  message: string;
}

/** One site's snapshot list as read in a refresh: the names, or why there are none. */
export type SnapshotList = { snaps: readonly string[] } | { problem: SyncProblem };

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

/**
 * The comparison of one peer, from the two lists as read. In sync only when both were read; a
 * list that could not be read makes the view unknown (never in sync), with the reason. What is
 * known is kept: a readable local list with a peer directory that does not exist yet counts
 * every local snapshot as pending.
 */
export function compareLists(
  local: SnapshotList,
  remote: SnapshotList,
): Pick<
  PeerSyncView,
  'lastLocalSnapshot' | 'lastMirroredSnapshot' | 'pendingSnapshots' | 'inSync' | 'problem'
> {
  if ('snaps' in local && 'snaps' in remote) return compareSnapshots(local.snaps, remote.snaps);
  if ('problem' in local) return { inSync: false, problem: local.problem };
  return {
    ...compareSnapshots(local.snaps, []),
    inSync: false,
    problem: (remote as { problem: SyncProblem }).problem,
  };
}

/** The oldest local snapshot missing on the peer (lag is measured from it), when known. */
export function oldestPendingOf(
  local: SnapshotList,
  remote: SnapshotList,
): Pick<PeerSyncView, 'oldestPendingSnapshot'> {
  if (!('snaps' in local)) return {};
  // A peer directory the daemon has not created yet holds none of them.
  const missing = 'problem' in remote && remote.problem.reason === 'PeerDirectoryMissing';
  if (!('snaps' in remote) && !missing) return {};
  const there = new Set('snaps' in remote ? remote.snaps : []);
  const oldest = local.snaps.find((s) => !there.has(s));
  return oldest !== undefined ? { oldestPendingSnapshot: oldest } : {};
}

function codeOf(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const FSMAP_TTL_MS = 10_000;

interface PeerMount {
  peer: FsMirrorPeer;
  remote: Promise<RemoteFs>;
}

export interface SyncViewerOptions {
  /** Deadline of each libcephfs call (the mount included), in milliseconds. */
  timeoutMs: number;
  /** libcephfs calls that may be outstanding per mount (default 4). */
  maxOutstanding?: number;
}

/**
 * Keeps a local mount and one mount per peer open (they are costly to set up) and answers sync
 * views for directories of one mirrored filesystem.
 */
export class SyncViewer {
  private local: Promise<CephFS> | undefined;
  private readonly peers = new Map<string, PeerMount>();
  /**
   * Deadlines and thread budget of each peer's calls. Kept per peer, not per mount: a mount whose
   * calls timed out is dropped and opened anew, while those calls may still hold their threads.
   */
  private readonly peerGuards = new Map<string, FsCallGuard>();
  private fsmap: { at: number; peers: Record<string, FsMirrorPeer> } | undefined;
  private closed = false;
  private readonly localGuard: FsCallGuard;

  constructor(
    private readonly rados: Rados,
    private readonly fsName: string,
    private readonly options: SyncViewerOptions,
  ) {
    this.localGuard = this.guardFor(`filesystem ${fsName}`);
  }

  private guardFor(where: string): FsCallGuard {
    return new FsCallGuard({
      timeoutMs: this.options.timeoutMs,
      maxOutstanding: this.options.maxOutstanding ?? DEFAULT_FS_MAX_OUTSTANDING,
      where,
    });
  }

  /** The FSMap's peers changed (one added or removed): read them again on the next view. */
  forgetPeers(): void {
    this.fsmap = undefined;
  }

  async view(path: string): Promise<PeerSyncView[]> {
    if (this.closed) return [];
    const peers = await this.currentPeers();
    if (Object.keys(peers).length === 0) return [];
    const local = await this.readList(this.localGuard, this.localMount(), path, {
      missing: {
        reason: 'SourceDirectoryMissing',
        message: `${path} does not exist on filesystem ${this.fsName}`,
      },
      unreadable: 'SourceUnreadable',
      where: `filesystem ${this.fsName}`,
    });
    return Promise.all(
      Object.entries(peers).map(async ([uuid, peer]): Promise<PeerSyncView> => {
        const site = `peer ${peer.clusterName} (filesystem ${peer.fsName})`;
        let remote: SnapshotList;
        try {
          const mount = this.peerMount(uuid, peer);
          remote = await this.readList(
            this.peerGuard(uuid, peer),
            mount.then((m) => m.fs),
            path,
            {
              // The daemon creates the directory on the peer the first time it picks it up.
              missing: {
                reason: 'PeerDirectoryMissing',
                message: `${path} does not exist on ${site} yet`,
              },
              unreadable: 'PeerUnreadable',
              where: site,
            },
          );
        } catch (e) {
          remote = {
            problem: { reason: 'PeerUnreadable', message: `${site}: ${messageOf(e)}` },
          };
        }
        // A mount that failed is opened anew next time (its credentials may have changed).
        if ('problem' in remote && remote.problem.reason === 'PeerUnreadable') {
          void this.dropPeer(uuid);
        }
        return {
          peerUUID: uuid,
          siteName: peer.clusterName,
          ...compareLists(local, remote),
          ...oldestPendingOf(local, remote),
        };
      }),
    );
  }

  /** Whether `path` exists as a directory on the source filesystem: one stat on the local mount. */
  sourceDirectory(path: string): Promise<SourceDirectoryState> {
    if (this.closed) {
      return Promise.resolve({ state: 'unknown', message: 'the mirror is shutting down' });
    }
    const guard = this.localGuard;
    const mount = this.localMount();
    // The guard bounds the stat (and a mount still being opened); checkSourceDirectory turns its
    // ETIMEDOUT/EBUSY into `unknown` with the message.
    const guarded = {
      stat: (p: string) => guard.run(`stat ${p}`, () => mount.then((m) => m.stat(p))),
    };
    return checkSourceDirectory(guarded, this.fsName, path, this.options.timeoutMs + 1_000);
  }

  /** The local mount, shared with the snapshot scheduler (closed with the viewer). */
  localFs(): Promise<CephFS> {
    if (this.closed) return Promise.reject(new Error('the mirror is shutting down'));
    return this.localMount();
  }

  private localMount(): Promise<CephFS> {
    if (!this.local) {
      const mounting = CephFS.mount({ rados: this.rados, fsName: this.fsName });
      // A failed mount is tried again on the next call rather than remembered.
      mounting.catch(() => {
        if (this.local === mounting) this.local = undefined;
      });
      this.local = mounting;
    }
    return this.local;
  }

  /** The snapshot names of `path` on one site, or why they could not be read. */
  private async readList(
    guard: FsCallGuard,
    mount: Promise<CephFS>,
    path: string,
    d: { missing: SyncProblem; unreadable: string; where: string },
  ): Promise<SnapshotList> {
    try {
      const snaps = await guard.run(`list snapshots of ${path}`, () =>
        mount.then((m) => m.listSnaps(path)),
      );
      return { snaps };
    } catch (e) {
      const code = codeOf(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') return { problem: d.missing };
      return {
        problem: {
          reason: d.unreadable,
          message: `could not list snapshots of ${path} on ${d.where}: ${messageOf(e)}`,
        },
      };
    }
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
    for (const uuid of this.peerGuards.keys()) if (!(uuid in peers)) this.peerGuards.delete(uuid);
    return peers;
  }

  private peerGuard(uuid: string, peer: FsMirrorPeer): FsCallGuard {
    let guard = this.peerGuards.get(uuid);
    if (!guard) {
      guard = this.guardFor(`peer ${peer.clusterName}`);
      this.peerGuards.set(uuid, guard);
    }
    return guard;
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
    // A mount that fails is dropped by view() and opened anew next time.
    remote.catch(() => undefined);
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
