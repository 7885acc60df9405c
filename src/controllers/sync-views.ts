// Per-directory sync views and source-directory checks, computed in the background and cached:
// comparing snapshot lists on two sites costs a few round trips per directory, so it must never
// hold up a directory's Ready status, and many thousands of directories must not compute theirs
// all at once. A view is "in sync" only when both lists were read in its refresh; one that
// could not be made says why and is never in sync.
import { isDeepStrictEqual } from 'node:util';
import { SOURCE_PRESENT, type SourceDirectoryState } from '../ceph/source-directory.js';
import type { PeerSyncView, SyncViewer } from '../ceph/sync-view.js';
import type { PeerSyncStatus } from '../api/resources.js';
import { timeOfName } from '../reconcile/snapshot-schedule.js';

interface PendingSince {
  name: string;
  firstSeen: number;
  since: number;
  synced: string;
}

/** How long a source check holds: a present directory rarely goes, a missing one is awaited. */
export const SOURCE_PRESENT_TTL_MS = 30_000;
export const SOURCE_ABSENT_TTL_MS = 5_000;

/**
 * How the cache follows a directory by itself, so that no periodic reconcile is needed for it
 * (10,000 directories re-reconciled every 30 s cost most of a core). A view is refreshed again
 * `activeMs` after it changed; each refresh that finds it unchanged doubles the wait, up to
 * `maxMs`. Listing `.snap` costs the MDS four requests (three getattr and one lssnap: the
 * snapdir inode has no caps to answer from, Client::opendir and Client::_readdir_r in
 * src/client/Client.cc), so a directory at rest costs 4 requests per `maxMs` on each site: 0.8
 * per minute with 300 s. A present source is stat'ed when nothing looked at it for
 * `sourceSweepMs` (a view refresh, at most `maxMs` ± 10% apart, reads the local `.snap`, which
 * tells as much, so a directory with a peer costs no stat of its own at rest; without a peer, one
 * stat each time), a missing one
 * every SOURCE_ABSENT_TTL_MS; a changed answer re-enqueues the object at once. Measured with
 * 10,000 directories (docs/benchmarks.md, Scale): a stat costs the MDS a lookup at that scale
 * (the client no longer holds every dentry), so a 60 s sweep alone was 1 request per directory
 * per minute.
 */
export interface FollowOptions {
  /** How often the cache looks for due work (0: never by itself; tests call sweep()). */
  tickMs?: number;
  activeMs?: number;
  maxMs?: number;
  sourceSweepMs?: number;
}

export const FOLLOW_DEFAULTS: Required<FollowOptions> = {
  tickMs: 1_000,
  activeMs: 30_000,
  maxMs: 300_000,
  sourceSweepMs: 360_000,
};

/**
 * Everything the cache knows of one path, in one record: tens of thousands of directories made
 * three maps (views, sources, the followed ones) with an object each cost twice as much.
 */
interface PathEntry {
  /** The latest view (undefined: never refreshed) and when it was made. */
  view: readonly PeerSyncStatus[] | undefined;
  viewAt: number;
  /** The latest source check (undefined: never checked) and when it was made. */
  source: SourceDirectoryState | undefined;
  sourceAt: number;
  /**
   * Set while the cache follows the path (refreshIfStale until forget): told with `key` (the
   * object's) when a view or source check says something new. A key and a shared function, not
   * a closure per directory: a closure made in a reconcile keeps every variable of that scope
   * any closure there uses (the reconciled object, once: 45 MiB at 30,000 directories).
   */
  notify: ((key: string) => void) | undefined;
  key: string;
  /** The source changed while a refresh ran: refresh once more when it ends (sweepSource). */
  recheck: boolean;
  /** The wait before the next refresh (doubled while the view stays the same: FollowOptions). */
  periodMs: number;
  /** When the view is next refreshed. */
  dueAt: number;
}

/**
 * The view of every directory of a mirror without peers: one shared, frozen array rather than an
 * empty one per directory (30,000 of them are a megabyte).
 */
const NO_PEERS: readonly PeerSyncStatus[] = Object.freeze([]);

/** ±10%, so that directories added together do not stay in step. */
function jittered(ms: number): number {
  return Math.round(ms * (0.9 + Math.random() * 0.2));
}

/** The status form of a view (no field for what is not known). */
export function toPeerStatus(p: PeerSyncView): PeerSyncStatus {
  return {
    peerUUID: p.peerUUID,
    siteName: p.siteName,
    ...(p.lastLocalSnapshot ? { lastLocalSnapshot: p.lastLocalSnapshot } : {}),
    ...(p.lastMirroredSnapshot ? { lastMirroredSnapshot: p.lastMirroredSnapshot } : {}),
    ...(p.pendingSnapshots !== undefined ? { pendingSnapshots: p.pendingSnapshots } : {}),
    inSync: p.inSync,
    ...(p.problem ? { reason: p.problem.reason, message: p.problem.message } : {}),
  };
}

/**
 * A refresh that failed as a whole (the FSMap could not be read, the mount failed...): what was
 * known before is no longer known now, so every peer of the old view becomes unknown, keeping its
 * snapshot names as last seen.
 */
export function failedRefresh(
  before: readonly PeerSyncStatus[],
  message: string,
): PeerSyncStatus[] {
  return before.map((p) => ({ ...p, inSync: false, reason: 'SyncViewFailed', message }));
}

/**
 * Whether the peer's newest snapshot moved forward: another one, and not an older one (the
 * newest shared snapshot pruned on the source while the daemon is away) nor none at all.
 */
function progressed(before: string, after: string): boolean {
  if (after === '' || after === before) return false;
  const [tb, ta] = [timeOfName(before), timeOfName(after)];
  return tb === undefined || ta === undefined || ta > tb;
}

/** What a refresh tells about the source directory, when it tells anything. */
function sourceSeenIn(peers: readonly PeerSyncView[]): SourceDirectoryState | undefined {
  const first = peers[0];
  if (!first) return undefined;
  if (first.problem?.reason === 'SourceDirectoryMissing') {
    return { state: 'missing', message: first.problem.message };
  }
  // The local list is the same for every peer; a problem of the local side has its own reasons.
  if (first.problem?.reason === 'SourceUnreadable') return undefined;
  return SOURCE_PRESENT;
}

export class SyncViewCache {
  private readonly entries = new Map<string, PathEntry>();
  /** Paths whose view is to be refreshed, in order. */
  private readonly pending = new Set<string>();
  private readonly running = new Set<string>();
  private readonly sourceChecks = new Map<string, Promise<SourceDirectoryState>>();
  /** Paths forgotten while their source check was in flight: its answer is dropped. */
  private readonly forgottenChecks = new Set<string>();
  private readonly sourceWaiters: Array<() => void> = [];
  /**
   * path → peer → the oldest pending snapshot, when it was first seen pending, since when the
   * peer has been missing a snapshot, and the peer's newest snapshot at the time.
   */
  private readonly pendingSince = new Map<string, Map<string, PendingSince>>();
  private readonly follow: Required<FollowOptions>;
  private readonly timer: NodeJS.Timeout | undefined;
  private sourceActive = 0;
  private active = 0;
  private closed = false;

  constructor(
    private readonly viewer: SyncViewer,
    /** A reconcile's refreshIfStale refreshes a view older than this. */
    private readonly ttlMs = 15_000,
    private readonly maxConcurrent = 4,
    /** Source stats in flight at once (each holds a libuv thread while the MDS answers). */
    private readonly maxSourceChecks = 4,
    follow: FollowOptions = {},
  ) {
    this.follow = { ...FOLLOW_DEFAULTS, ...follow };
    if (this.follow.tickMs > 0) {
      this.timer = setInterval(() => this.sweep(), this.follow.tickMs);
      this.timer.unref();
    }
  }

  get(path: string): readonly PeerSyncStatus[] | undefined {
    return this.entries.get(path)?.view;
  }

  /** A peer was added or removed: every cached view is out of date. */
  peersChanged(): void {
    this.viewer.forgetPeers();
    for (const entry of this.entries.values()) entry.viewAt = 0;
  }

  forget(path: string): void {
    this.entries.delete(path);
    // A source check in flight must not bring the path back when it answers.
    if (this.sourceChecks.has(path)) this.forgottenChecks.add(path);
    this.pending.delete(path);
    this.pendingSince.delete(path);
  }

  /** The local mount of the mirror's filesystem (for scheduled snapshots). */
  localFs(): ReturnType<SyncViewer['localFs']> {
    return this.viewer.localFs();
  }

  /** The record of `path`, made (knowing nothing) when there is none. */
  private entryOf(path: string): PathEntry {
    let entry = this.entries.get(path);
    if (!entry) {
      entry = {
        view: undefined,
        viewAt: 0,
        source: undefined,
        sourceAt: 0,
        notify: undefined,
        key: '',
        recheck: false,
        periodMs: 0,
        dueAt: 0,
      };
      this.entries.set(path, entry);
    }
    return entry;
  }

  /**
   * The view with lastSyncedSnapshot and lagSeconds: how long the peer has been missing a source
   * snapshot — the age of the oldest snapshot it does not have yet, 0 when it has them all,
   * absent when the lists could not be compared. While the peer makes no progress (its newest
   * snapshot stays the same) the oldest time seen is kept: retention pruning a snapshot the peer
   * never got must not make the peer look fresher. A snapshot's time comes from its name when it
   * ends in our timestamp format (a scheduled snapshot), else from when this process first saw
   * it pending: libcephfs gives a snapshot no creation time of its own.
   */
  private withLag(path: string, v: PeerSyncView, now: number): PeerSyncStatus {
    const status = toPeerStatus(v);
    if (v.lastMirroredSnapshot) status.lastSyncedSnapshot = v.lastMirroredSnapshot;
    let byPeer = this.pendingSince.get(path);
    const oldest = v.oldestPendingSnapshot;
    if (oldest === undefined) {
      byPeer?.delete(v.peerUUID);
      if (v.pendingSnapshots === 0 && v.inSync) status.lagSeconds = 0;
      return status;
    }
    if (!byPeer) this.pendingSince.set(path, (byPeer = new Map()));
    const prev = byPeer.get(v.peerUUID);
    const synced = v.lastMirroredSnapshot ?? '';
    const firstSeen = prev?.name === oldest ? prev.firstSeen : now;
    const t = timeOfName(oldest) ?? firstSeen;
    const since = prev && !progressed(prev.synced, synced) ? Math.min(prev.since, t) : t;
    byPeer.set(v.peerUUID, { name: oldest, firstSeen, since, synced });
    status.lagSeconds = Math.max(0, Math.floor((now - since) / 1000));
    return status;
  }

  /** The last source check of `path`, however old, or undefined when it was never checked. */
  knownSource(path: string): SourceDirectoryState | undefined {
    return this.entries.get(path)?.source;
  }

  /**
   * Whether `path` exists on the source filesystem: the cached answer while it holds
   * (SOURCE_PRESENT_TTL_MS, SOURCE_ABSENT_TTL_MS), else one stat, shared by concurrent callers
   * and at most `maxSourceChecks` at a time across the mirror.
   */
  source(path: string): Promise<SourceDirectoryState> {
    const known = this.entries.get(path);
    if (known?.source) {
      const ttl = known.source.state === 'present' ? SOURCE_PRESENT_TTL_MS : SOURCE_ABSENT_TTL_MS;
      if (Date.now() - known.sourceAt < ttl) return Promise.resolve(known.source);
    }
    return this.recheckSource(path);
  }

  /** One stat of `path` now, shared with a check already in flight. */
  private recheckSource(path: string): Promise<SourceDirectoryState> {
    const inFlight = this.sourceChecks.get(path);
    if (inFlight) return inFlight;
    const check = this.checkSource(path).finally(() => this.sourceChecks.delete(path));
    this.sourceChecks.set(path, check);
    return check;
  }

  /**
   * Schedules a refresh when the cached view is missing or older than `ttlMs`; `notify(key)` runs
   * when a view that says something new lands. From then on the cache follows the path by itself
   * (FollowOptions) until forget(): `notify(key)` also runs when a later refresh finds the view
   * changed, or a source check finds the directory gone or back.
   */
  refreshIfStale(path: string, key: string, notify: (key: string) => void): void {
    if (this.closed) return;
    const now = Date.now();
    const entry = this.entryOf(path);
    if (!entry.notify) {
      entry.periodMs = this.follow.activeMs;
      entry.dueAt = now;
    }
    entry.notify = notify;
    entry.key = key;
    if (this.pending.has(path) || this.running.has(path)) return;
    if (entry.view && now - entry.viewAt < this.ttlMs) return;
    this.pending.add(path);
    this.pump();
  }

  /**
   * The cache's own round (every `tickMs`): refreshes the followed views that are due and
   * checks the sources whose answer is older than the sweep allows.
   */
  sweep(now = Date.now()): void {
    if (this.closed) return;
    for (const [path, e] of this.entries) {
      if (!e.notify) continue;
      if (e.dueAt <= now && !this.pending.has(path) && !this.running.has(path)) {
        this.pending.add(path);
      }
      const age = e.source ? now - e.sourceAt : Infinity;
      const limit =
        e.source?.state === 'present' ? this.follow.sourceSweepMs : SOURCE_ABSENT_TTL_MS;
      if (age >= limit && !this.sourceChecks.has(path)) this.sweepSource(path, e.source);
    }
    this.pump();
  }

  /** One source check of the sweep: a directory gone or back is news for its object and view. */
  private sweepSource(path: string, before: SourceDirectoryState | undefined): void {
    void this.recheckSource(path).then((after) => {
      const e = this.entries.get(path);
      if (!e?.notify || this.closed || before === undefined || after.state === 'unknown') return;
      if (before.state === 'unknown' || after.state === before.state) return;
      e.periodMs = this.follow.activeMs;
      e.notify(e.key);
      // This path alone: a sweep of every path here would cost O(n) per change, O(n²) when a
      // parent directory of thousands goes.
      if (this.running.has(path)) e.recheck = true;
      else {
        this.pending.add(path);
        this.pump();
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const e of this.entries.values()) e.notify = undefined;
    this.pending.clear();
    for (const wake of this.sourceWaiters.splice(0)) wake();
    await this.viewer.close();
  }

  private async checkSource(path: string): Promise<SourceDirectoryState> {
    if (this.sourceActive >= this.maxSourceChecks) {
      await new Promise<void>((resolve) => this.sourceWaiters.push(resolve));
    }
    this.sourceActive++;
    try {
      const state = await this.viewer.sourceDirectory(path);
      if (!this.forgottenChecks.delete(path)) this.sourceSeen(this.entryOf(path), state);
      return state;
    } finally {
      this.sourceActive--;
      this.sourceWaiters.shift()?.();
    }
  }

  /** A source check's answer, or what a view refresh told of the source (none once forgotten). */
  private sourceSeen(entry: PathEntry | undefined, state: SourceDirectoryState): void {
    if (!entry) return;
    entry.source = state;
    entry.sourceAt = Date.now();
  }

  private pump(): void {
    while (!this.closed && this.active < this.maxConcurrent) {
      const next = this.pending.values().next();
      if (next.done) return;
      const path = next.value;
      this.pending.delete(path);
      this.running.add(path);
      this.active++;
      const before = this.entries.get(path)?.view;
      let after: readonly PeerSyncStatus[] = before ?? [];
      void this.viewer
        .view(path)
        .then(
          (views) => {
            // Forgotten meanwhile (the object is gone): no lag bookkeeping to start again.
            if (!this.entries.has(path)) return;
            const now = Date.now();
            after = views.map((v) => this.withLag(path, v, now));
            const seen = sourceSeenIn(views);
            if (seen) this.sourceSeen(this.entries.get(path), seen);
          },
          (e: unknown) => {
            after = failedRefresh(before ?? [], e instanceof Error ? e.message : String(e));
          },
        )
        .finally(() => {
          const now = Date.now();
          this.active--;
          this.running.delete(path);
          // Forgotten while the refresh ran (the object is gone): nothing to keep.
          const entry = this.entries.get(path);
          if (entry) {
            entry.view = after.length === 0 ? NO_PEERS : after;
            entry.viewAt = now;
          }
          // Only a view that says something new is worth another reconcile of the directory.
          const changed = before === undefined || !isDeepStrictEqual(before, after);
          if (entry?.notify && entry.recheck && !this.closed) {
            // The source changed while this refresh ran (sweepSource): look again at once.
            entry.recheck = false;
            this.pending.add(path);
          } else if (entry?.notify) {
            entry.periodMs = changed
              ? this.follow.activeMs
              : Math.min(this.follow.maxMs, entry.periodMs * 2);
            entry.dueAt = now + jittered(changed ? this.follow.activeMs : entry.periodMs);
          }
          if (!this.closed && !isDeepStrictEqual(before ?? [], after)) entry?.notify?.(entry.key);
          this.pump();
        });
    }
  }
}
