// Per-directory sync views, computed in the background and cached: comparing snapshot lists on two
// sites costs a few round trips per directory, so it must never hold up a directory's Ready
// status, and many thousands of directories must not compute theirs all at once.
import { isDeepStrictEqual } from 'node:util';
import type { SyncViewer } from '../ceph/sync-view.js';
import type { PeerSyncStatus } from './resources.js';

interface Cached {
  at: number;
  peers: PeerSyncStatus[];
}

export class SyncViewCache {
  private readonly views = new Map<string, Cached>();
  private readonly pending = new Map<string, () => void>();
  private readonly running = new Set<string>();
  private active = 0;
  private closed = false;

  constructor(
    private readonly viewer: SyncViewer,
    private readonly ttlMs = 15_000,
    private readonly maxConcurrent = 4,
  ) {}

  get(path: string): PeerSyncStatus[] | undefined {
    return this.views.get(path)?.peers;
  }

  /** A peer was added or removed: every cached view is out of date. */
  peersChanged(): void {
    this.viewer.forgetPeers();
    for (const cached of this.views.values()) cached.at = 0;
  }

  forget(path: string): void {
    this.views.delete(path);
    this.pending.delete(path);
  }

  /** Schedules a refresh when the cached view is missing or old; `onDone` runs when it lands. */
  refreshIfStale(path: string, onDone: () => void): void {
    const cached = this.views.get(path);
    if (this.closed || this.pending.has(path) || this.running.has(path)) return;
    if (cached && Date.now() - cached.at < this.ttlMs) return;
    this.pending.set(path, onDone);
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pending.clear();
    await this.viewer.close();
  }

  private pump(): void {
    while (!this.closed && this.active < this.maxConcurrent) {
      const next = this.pending.entries().next();
      if (next.done) return;
      const [path, onDone] = next.value;
      this.pending.delete(path);
      this.running.add(path);
      this.active++;
      let changed = false;
      void this.viewer
        .view(path)
        .then(
          (peers) => {
            const before = this.views.get(path)?.peers;
            this.views.set(path, {
              at: Date.now(),
              peers: peers.map((p) => ({
                peerUUID: p.peerUUID,
                siteName: p.siteName,
                ...(p.lastLocalSnapshot ? { lastLocalSnapshot: p.lastLocalSnapshot } : {}),
                ...(p.lastMirroredSnapshot ? { lastMirroredSnapshot: p.lastMirroredSnapshot } : {}),
                pendingSnapshots: p.pendingSnapshots,
                inSync: p.inSync,
              })),
            });
            changed = !isDeepStrictEqual(before ?? [], this.views.get(path)?.peers);
          },
          () => undefined,
        )
        .finally(() => {
          this.active--;
          this.running.delete(path);
          // Only a view that says something new is worth another reconcile of the directory.
          if (!this.closed && changed) onDone();
          this.pump();
        });
    }
  }
}
