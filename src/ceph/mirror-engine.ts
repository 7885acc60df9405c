// One mirrored filesystem, running: the policy driver wired to RADOS (the dir map, the daemons'
// mailboxes, the blocklist) and to the instance watcher. This is what the mgr module's FSPolicy
// does, for one filesystem, without the mgr.
import type { IoCtx, Rados } from 'rados-js';
import {
  FilesystemMirrorDriver,
  mgrSummaryOf,
  systemClock,
  type Clock,
  type DirectoryListener,
  type DirectoryStatus,
  type Distribution,
  type DriverLogger,
  type Tunables,
} from '../reconcile/index.js';
import { MonBlocklister } from './blocklister.js';
import { OMAP_PAGE, RadosDirMapStore, type UnreadableEntry } from './dir-map-store.js';
import { FencedBlocklister, FencedNotifier } from './fenced-ports.js';
import { MirrorObjectFence } from './mirror-fence.js';
import { requireMirrored, type CephFilesystem } from './fsmap.js';
import { InstanceWatcher } from './instance-watcher.js';
import { fetchFsMap } from './mon.js';
import { MonSessionLookup } from './mon-sessions.js';
import { RadosDirectoryNotifier, type NotifyObserver } from './notifier.js';

/**
 * Who drives the filesystem, written into the RADOS lock on `cephfs_mirror` so that any other
 * writer (another operator process, a stale leader) is refused by Ceph itself.
 */
export interface EngineOwner {
  /** This process, e.g. `<namespace>/<pod name>` (the Lease identity when leader election is on). */
  holder: string;
  /** The CephFSMirror driving the filesystem (`namespace/name`), shown to refused claimants. */
  mirror: string;
  /**
   * The Lease this process holds, when leader election is on. A lock taken under the same Lease
   * by another holder is stale (we hold the Lease now): its holder is blocklisted and the lock
   * broken. Without a Lease a live lock of another holder is never broken; it must expire.
   */
  lease?: { namespace: string; name: string };
}

/**
 * Why a running engine stopped by itself. After this the engine writes and notifies nothing more;
 * the caller reports it and decides whether to start a new one.
 * - ForeignWrite: the dir-map object changed under us (the mgr module, a hand edit, another tool).
 * - LockLost: the RADOS lock is no longer ours (broken by a new leader, or expired).
 * - Blocklisted: our RADOS client was blocklisted; a new connection is needed.
 * - OwnershipExpired: the lock could not be renewed before it would expire.
 */
export interface EngineFailure {
  reason: 'ForeignWrite' | 'LockLost' | 'Blocklisted' | 'OwnershipExpired';
  message: string;
}

export interface MirrorEngineOptions {
  rados: Rados;
  /** Lock owner; tests may omit it (then a process-local identity is used). */
  owner?: EngineOwner;
  /** Called once when the engine stops by itself (it is already stopping when called). */
  onFailed?: (failure: EngineFailure) => void;
  fsName: string;
  tunables?: Partial<Tunables>;
  logger?: DriverLogger;
  clock?: Clock;
  /** Called with each acquire/release round trip (for metrics). */
  onNotify?: NotifyObserver;
  /**
   * `holdings()` of the previous engine of this filesystem, when this one replaces an engine
   * that stopped because the map changed behind its back: daemons the new map no longer names
   * for a directory release it before anyone acquires it.
   */
  previousHoldings?: Iterable<readonly [string, string]>;
  /**
   * The fast signal of death for the instance watcher (see InstanceWatcherOptions.monSessions).
   * Default: every monitor's `sessions` through `rados` (MonSessionLookup); `false` turns it off
   * (the instance timeout alone decides, as in the mgr module).
   */
  monSessions?: (() => Promise<ReadonlySet<string> | undefined>) | false;
}

/** The production session lookup; says once when it stops working (and when it works again). */
function monSessionsOf(o: MirrorEngineOptions): () => Promise<ReadonlySet<string> | undefined> {
  return new MonSessionLookup(o.rados, {
    onAvailabilityChange: (problem) =>
      problem
        ? o.logger?.warn(
            'monitor session lookup failed: dead cephfs-mirror daemons are failed over on the instance timeout only',
            { reason: problem.reason, message: problem.message },
          )
        : o.logger?.warn('monitor session lookup works again: fast failover is back on'),
  }).lookup;
}

/** Tests and tools without an owner: one identity per process, so a restart in-process takes over. */
const PROCESS_OWNER: EngineOwner = {
  holder: `process-${process.pid}`,
  mirror: '',
  lease: { namespace: 'process', name: String(process.pid) },
};

export class MirrorEngine {
  private failureSeen: EngineFailure | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly filesystem: CephFilesystem,
    private readonly ioctx: IoCtx,
    private readonly fence: MirrorObjectFence,
    private readonly driver: FilesystemMirrorDriver,
    private readonly watcher: InstanceWatcher,
    /** Dir-map entries that could not be decoded at start-up (left untouched). */
    readonly unreadable: readonly UnreadableEntry[],
  ) {}

  /**
   * Takes the filesystem's lock, loads its dir map and starts driving it. The caller owns
   * `rados` and keeps it open until `stop()` resolved. Rejects with reason
   * FilesystemLockedByOther when another operator process holds the filesystem.
   */
  static async start(o: MirrorEngineOptions): Promise<MirrorEngine> {
    const filesystem = requireMirrored(await fetchFsMap(o.rados), o.fsName);
    const ioctx = await o.rados.openIoCtx(filesystem.metadataPool);
    let engine: MirrorEngine | undefined;
    let failedEarly: EngineFailure | undefined;
    let fence: MirrorObjectFence | undefined;
    try {
      fence = await MirrorObjectFence.acquire({
        ioctx,
        rados: o.rados,
        owner: o.owner ?? PROCESS_OWNER,
        onFailed: (f) => {
          if (engine) engine.failed(f, o.onFailed);
          else failedEarly = f;
        },
        ...(o.logger ? { warn: (m, d) => o.logger?.warn(m, d) } : {}),
      });
      const owned = fence;
      const store = new RadosDirMapStore(ioctx, OMAP_PAGE, owned);
      // Read at a version no renewal can move between the read and its adoption.
      const loaded = await owned.exclusively(async () => {
        const map = await store.load();
        owned.adoptVersion(map.version);
        return map;
      });
      const clock = o.clock ?? systemClock;
      // The driver and the watcher each need the other; the driver's call comes later.
      const watcherRef: { current?: InstanceWatcher } = {};
      const driver = new FilesystemMirrorDriver({
        onInstanceGone: (id) => watcherRef.current?.drop(id),
        store,
        notifier: new FencedNotifier(
          new RadosDirectoryNotifier(ioctx, undefined, o.onNotify),
          owned,
        ),
        blocklister: new FencedBlocklister(new MonBlocklister(o.rados), owned),
        clock,
        ...(o.tunables ? { tunables: o.tunables } : {}),
        ...(o.logger ? { logger: o.logger } : {}),
      });
      driver.start(
        o.previousHoldings ? { ...loaded, previousHoldings: o.previousHoldings } : loaded,
      );
      const watcher = new InstanceWatcher({
        ioctx,
        clock,
        initial: loaded.instances.map(([id, r]) => ({ id, addr: r.addr })),
        timeoutSeconds: driver.tunables.instanceTimeoutSeconds,
        intervalSeconds: driver.tunables.tickSeconds,
        onChange: (change) => driver.updateInstances(change),
        onError: (e) => o.logger?.warn('instance discovery notify failed', { error: String(e) }),
        ...(o.monSessions === false ? {} : { monSessions: o.monSessions ?? monSessionsOf(o) }),
        onConfirmedDead: (instances) =>
          o.logger?.warn('cephfs-mirror daemon confirmed dead before the instance timeout', {
            reason: 'MonSessionGone',
            instances: instances.map((i) => i.id),
          }),
      });
      watcherRef.current = watcher;
      watcher.start();
      engine = new MirrorEngine(filesystem, ioctx, owned, driver, watcher, loaded.unreadable);
      if (failedEarly) engine.failed(failedEarly, o.onFailed);
      return engine;
    } catch (e) {
      if (!engine) {
        await fence?.release().catch(() => undefined);
        await ioctx.close();
      }
      throw e;
    }
  }

  /** Why the engine stopped by itself, once it did. */
  get failure(): EngineFailure | undefined {
    return this.failureSeen;
  }

  /** Tracks a directory; resolves with the normalised path once its dir-map key is written. */
  addDirectory(path: string): Promise<string> {
    return this.driver.addDirectory(path);
  }

  /**
   * Starts removing a directory, by its key as `trackedPaths()` gives it (a stored key the input
   * rules refuse included) or by a path normalising to one; resolves once the purge mark is
   * written.
   */
  removeDirectory(path: string): Promise<string> {
    return this.driver.removeDirectory(path);
  }

  status(path: string): DirectoryStatus | undefined {
    return this.driver.status(path);
  }

  /** Every tracked directory, including those being removed. */
  trackedPaths(): string[] {
    return this.driver.trackedPaths();
  }

  distribution(): Distribution {
    return this.driver.distribution();
  }

  /**
   * Applies an edit of the mirror's policy to the running engine (no restart: a restart costs
   * a release and an acquire per directory). Throws RangeError for values out of range.
   */
  updateTunables(tunables: Partial<Tunables>): void {
    this.driver.updateTunables(tunables);
    const t = this.driver.tunables;
    this.watcher.setTiming(t.instanceTimeoutSeconds, t.tickSeconds);
  }

  /** Every daemon went silent at once and the engine holds back before failing them over. */
  suspectedMassFailure(): { since: number; daemons: number } | undefined {
    return this.driver.suspectedMassFailure();
  }

  /** Seconds its work has been out without anything finishing (0 when idle): for /healthz. */
  stalledForSeconds(): number {
    return this.driver.stalledForSeconds();
  }

  /** Which daemon may hold which directory; pass to the next engine as `previousHoldings`. */
  holdings(): Array<[string, string]> {
    return this.driver.holdings();
  }

  /** The mgr module's `fs snapshot mirror show distribution` output. */
  mgrSummary(): { mapping: Record<string, string> } {
    return mgrSummaryOf(this.driver.distribution());
  }

  onDirectoryChanged(listener: DirectoryListener): () => void {
    return this.driver.onDirectoryChanged(listener);
  }

  isQuiet(): boolean {
    return this.driver.isQuiet();
  }

  /**
   * Stops discovery and ticking, waits for writes and notifies in flight, gives the lock up and
   * closes the pool. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.watcher.stop();
      await this.driver.stop();
      await this.fence.release();
      await this.ioctx.close();
    })();
    return this.stopping;
  }

  /** The fence refused us: stop acting at once, then tell the owner of the engine. */
  private failed(f: EngineFailure, notify: ((f: EngineFailure) => void) | undefined): void {
    if (this.failureSeen) return;
    this.failureSeen = f;
    void this.stop().catch(() => undefined);
    notify?.(f);
  }
}
