// The controller manager: informers on the three kinds, the Secrets they name read by name (no
// informer on Secrets: src/kube/secret-reader.ts), one rate-limited work queue per kind, leader
// election, and the engines. Only the Lease holder reconciles (and so writes to Ceph); a standby
// keeps its caches warm to take over quickly.
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import type { OperatorMetrics } from '../metrics.js';
import { raceDeadline } from '../deadline.js';
import { StringPool, slimCachedObject } from '../kube/cached-objects.js';
import { DeclaredPaths, declarationOf } from './declared-paths.js';
import { TypedCache, type ControllerContext } from './context.js';
import { DirectoryReconciler, type DirectoryOptions } from './directory-reconciler.js';
import { EventRecorder } from '../kube/events.js';
import { CachedWatch, type EventType, type WatchTarget } from '../kube/informers.js';
import { KubeApi, describeApiError } from '../kube/kube-api.js';
import { LeaderElector } from '../kube/leader-election.js';
import { DEFAULT_SECRET_RESYNC_MS, SecretReader } from '../kube/secret-reader.js';
import { MirrorReconciler } from './mirror-reconciler.js';
import { HealthWatchdog, type Health } from '../kube/health.js';
import { MirrorRuntimes, type CephTimeouts } from './mirror-runtimes.js';
import { PeerReconciler } from './peer-reconciler.js';
import {
  WatchState,
  controllerWatches,
  referencedSecrets,
  type ControllerWatches,
} from './watches.js';
import {
  GROUP,
  KINDS,
  VERSION,
  objectKey,
  type KindInfo,
  type Resource,
  type MirroredDirectory,
  type MirrorPeer,
  type CephFSMirror,
} from '../api/resources.js';
import { WorkQueue, type WorkResult } from '../kube/work-queue.js';

const CHANGE_COALESCE_MS = 250;
/** After losing the Lease: how long the engines' writes in flight may take before moving on. */
const ENGINE_STOP_BOUND_MS = 15_000;

export interface ManagerOptions {
  kc: KubeConfig;
  log: Logger;
  metrics: OperatorMetrics;
  /** Namespaces to watch; undefined or empty: all. */
  namespaces?: string[];
  /** This process in Ceph's RADOS locks and in Events (the Lease identity when leading). */
  identity?: string;
  leaderElection?: { namespace: string; name: string; identity?: string };
  concurrency?: { mirror?: number; peer?: number; directory?: number };
  /** Deadlines of every Ceph call the engines make (see MirrorRuntimesOptions). */
  cephTimeouts?: CephTimeouts;
  /**
   * How often every Secret the resources name is read again, so that a change (a rotated key, a
   * token Secret created later) reaches its dependents (default 10 s; src/kube/secret-reader.ts).
   */
  secretResyncMs?: number;
  /** A reconcile running longer fails and is retried (default 120 s; 0: none). */
  reconcileDeadlineMs?: number;
  /** /healthz fails once a queue or an engine made no progress for this long (default 300 s). */
  stallLimitMs?: number;
  /** Scheduled snapshots and lag metrics of MirroredDirectories. */
  directories?: DirectoryOptions;
}

export const DEFAULT_RECONCILE_DEADLINE_MS = 120_000;
export const DEFAULT_STALL_LIMIT_MS = 300_000;

function customTarget<T extends Resource<unknown, unknown>>(
  kc: KubeApi,
  kind: KindInfo,
): WatchTarget<T> {
  return {
    name: kind.plural,
    path: (ns) =>
      ns === undefined
        ? `/apis/${GROUP}/${VERSION}/${kind.plural}`
        : `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${kind.plural}`,
    list: (ns, each) => kc.list<T>(kind, ns, each),
  };
}

export class Manager {
  private readonly api: KubeApi;
  private readonly log: Logger;
  private readonly runtimes: MirrorRuntimes;
  private readonly watches: {
    mirrors: CachedWatch<CephFSMirror>;
    peers: CachedWatch<MirrorPeer>;
    directories: CachedWatch<MirroredDirectory>;
  };
  private readonly secrets: SecretReader;
  private secretResync: NodeJS.Timeout | undefined;
  private readonly queues: { mirror: WorkQueue; peer: WorkQueue; directory: WorkQueue };
  private readonly watchdog: HealthWatchdog;
  private readonly ctx: ControllerContext;
  private readonly elector: LeaderElector | undefined;
  /** Mirror key and path → the MirroredDirectory objects declaring it (almost always one). */
  private readonly declared = new DeclaredPaths();
  /** What the watches' map functions remember between events (watches.ts). */
  private readonly watchState = new WatchState();
  /**
   * Directories whose engine state changed (object key → mirror key and path), flushed to the
   * queue every CHANGE_COALESCE_MS.
   */
  private readonly changed = new Map<string, [string, string]>();
  private readonly directories: DirectoryReconciler;
  private changedFlush: NodeJS.Timeout | undefined;
  private synced = false;
  private leading = false;
  private stopping = false;

  constructor(private readonly o: ManagerOptions) {
    this.api = new KubeApi(o.kc, {
      onRequest: (outcome) => o.metrics.kubeRequests.inc({ ...outcome }),
    });
    this.log = o.log;
    // The cached objects without managedFields and with their repeated strings shared
    // (cached-objects.ts): most of the heap at tens of thousands of directories.
    const pool = new StringPool();
    const slim = (obj: { metadata?: object }): void => slimCachedObject(obj, pool);
    const namespaces = o.namespaces && o.namespaces.length > 0 ? o.namespaces : undefined;
    const watch = <T extends Resource<unknown, unknown>>(kind: KindInfo): CachedWatch<T> =>
      new CachedWatch<T>(o.kc, customTarget<T>(this.api, kind), namespaces, o.log, slim);
    this.watches = {
      mirrors: watch<CephFSMirror>(KINDS.mirror),
      peers: watch<MirrorPeer>(KINDS.peer),
      directories: watch<MirroredDirectory>(KINDS.directory),
    };
    this.secrets = new SecretReader((ns, name) => this.api.getSecret(ns, name), o.log);
    const identity = o.identity ?? o.leaderElection?.identity ?? `${hostname()}-${process.pid}`;
    this.runtimes = new MirrorRuntimes(o.log, {
      ...(o.cephTimeouts ? { timeouts: o.cephTimeouts } : {}),
      onNotify: (mode, r, seconds) =>
        o.metrics.notifyLatency.observe({ mode, result: r === 0 ? 'ok' : String(r) }, seconds),
      // Written into each filesystem's RADOS lock: who drives it, under which Lease.
      owner: {
        holder: identity,
        ...(o.leaderElection
          ? { lease: { namespace: o.leaderElection.namespace, name: o.leaderElection.name } }
          : {}),
      },
    });
    this.ctx = {
      api: this.api,
      mirrors: new TypedCache<CephFSMirror>(this.watches.mirrors),
      peers: new TypedCache<MirrorPeer>(this.watches.peers),
      directories: new TypedCache<MirroredDirectory>(this.watches.directories),
      secrets: this.secrets,
      runtimes: this.runtimes,
      events: new EventRecorder(this.api, o.log, identity, {
        dropped: (reason) => o.metrics.eventsDropped.inc({ reason }),
      }),
      log: o.log,
      metrics: o.metrics,
      enqueue: {
        mirror: (key, afterMs) => this.enqueue(this.queues.mirror, key, afterMs),
        peer: (key, afterMs) => this.enqueue(this.queues.peer, key, afterMs),
        directory: (key, afterMs) => this.enqueue(this.queues.directory, key, afterMs),
      },
      declaredBy: (mirrorKey, path) => this.declared.declaredBy(mirrorKey, path),
      waitOutsideSlot: (wait) => this.queues.directory.outsideSlot(wait),
    };
    const mirrors = new MirrorReconciler(this.ctx);
    const peers = new PeerReconciler(this.ctx);
    const directories = new DirectoryReconciler(this.ctx, o.directories);
    this.directories = directories;
    const c = o.concurrency ?? {};
    this.queues = {
      mirror: this.queue('CephFSMirror', (k) => mirrors.reconcile(k), c.mirror ?? 2),
      peer: this.queue('MirrorPeer', (k) => peers.reconcile(k), c.peer ?? 2),
      directory: this.queue(
        'MirroredDirectory',
        (k) => directories.reconcile(k),
        c.directory ?? 32,
      ),
    };
    this.watchdog = new HealthWatchdog(
      () => [
        ...Object.entries(this.queues).map(([kind, q]) => ({
          name: `${kind} queue`,
          stalledForMs: () => q.stalledForMs(),
        })),
        ...this.runtimes.keys().map((key) => ({
          name: `engine ${key}`,
          stalledForMs: () => (this.runtimes.get(key)?.engine.stalledForSeconds() ?? 0) * 1000,
        })),
      ],
      o.stallLimitMs ?? DEFAULT_STALL_LIMIT_MS,
    );
    this.elector = o.leaderElection
      ? new LeaderElector(
          this.api,
          { ...o.leaderElection, identity: o.leaderElection.identity ?? identity },
          o.log,
        )
      : undefined;
    this.runtimes.onDirectoryChanged((mirrorKey, path) => {
      for (const key of this.declared.declaredBy(mirrorKey, path)) {
        this.changed.set(key, [mirrorKey, path]);
      }
      // A directory passes through several states within a tick or two: one reconcile per burst,
      // and none when its status already says (or its reconcile in flight is about to say) the
      // state it is in by then.
      this.changedFlush ??= setTimeout(() => {
        this.changedFlush = undefined;
        for (const [key, [m, p]] of this.changed) {
          const status = this.runtimes.get(m)?.engine.status(p);
          if (this.directories.wantsEngineChange(key, status)) this.queues.directory.add(key, true);
        }
        this.changed.clear();
      }, CHANGE_COALESCE_MS);
      // Mirror status (counts, instances) follows, coalesced.
      this.queues.mirror.addAfter(mirrorKey, 1000);
    });
  }

  /**
   * Liveness: every work queue and every engine made progress within the stall limit. A pod
   * whose workers are all stuck in calls that never return (a hung MDS or mon) fails this, and
   * the kubelet restarts it.
   */
  health(): Health {
    return this.watchdog.check();
  }

  /** Informers synced; for a leader, also reconciling. */
  ready(): boolean {
    return this.synced && !this.stopping;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Starts the informers, then waits for leadership (when enabled) and starts reconciling.
   * Resolves once this replica reconciles. `onLostLeadership` is called if the lease is lost.
   */
  async start(onLostLeadership: () => void): Promise<void> {
    this.watches.directories.on((dir, type) => {
      this.index(dir, type === 'delete');
      this.watchState.observeDirectory(dir, type);
    });
    await Promise.all(Object.values(this.watches).map((w) => w.start()));
    this.synced = true;
    this.log.info('informers synced', {
      mirrors: this.watches.mirrors.list().length,
      peers: this.watches.peers.list().length,
      directories: this.watches.directories.list().length,
    });
    if (this.elector) {
      this.log.info('waiting for leadership');
      await this.elector.run(() => void this.lostLeadership(onLostLeadership));
      if (this.stopping) return;
    }
    this.leading = true;
    this.wire(controllerWatches(this.ctx, this.watchState));
    this.scheduleSecretResync();
    for (const m of this.watches.mirrors.list()) this.queues.mirror.add(objectKey(m.metadata));
    for (const p of this.watches.peers.list()) this.queues.peer.add(objectKey(p.metadata));
    for (const d of this.watches.directories.list()) {
      this.queues.directory.add(objectKey(d.metadata));
    }
  }

  /** Informers and the Secret reader → work queues, as the reconcilers' watches declare. */
  private wire(declared: ControllerWatches[]): void {
    const route =
      <T>(pick: (w: ControllerWatches) => ((obj: T, type: EventType) => string[]) | undefined) =>
      (obj: T, type: EventType): void => {
        for (const w of declared) {
          const map = pick(w);
          if (!map) continue;
          const queue = this.queues[w.kind];
          for (const key of map(obj, type)) {
            // Its reconcile may be waiting on the engine: it stops, and runs again for this.
            if (w.kind === 'directory') this.directories.objectChanged(key);
            queue.add(key);
          }
        }
      };
    this.watches.mirrors.on(route((w) => w.mirrors));
    this.watches.peers.on(route((w) => w.peers));
    this.watches.directories.on(route((w) => w.directories));
    const onSecret = route((w) => w.secrets);
    this.secrets.onChange((ref) => onSecret(ref, 'update'));
  }

  /**
   * The Lease could not be renewed in time: another replica may take it at any moment, so every
   * engine stops first (nothing written or notified from now on), then the caller drains the
   * queues and exits.
   */
  private async lostLeadership(onLostLeadership: () => void): Promise<void> {
    this.leading = false;
    this.log.error('lost leadership: stopping every engine before anything else');
    // Every engine is told to stop at once (nothing new is written or notified from then on);
    // waiting for the writes already in flight is bounded, so that the process still exits.
    try {
      const outcome = await raceDeadline(
        this.runtimes.close(),
        ENGINE_STOP_BOUND_MS,
        () => 'timeout' as const,
      );
      if (outcome === 'timeout') {
        this.log.error('engines still finishing their last writes; exiting anyway', {
          afterMs: ENGINE_STOP_BOUND_MS,
        });
      }
    } catch (e) {
      this.log.error('stopping the engines after losing leadership failed', {
        error: (e as Error).message,
      });
    }
    onLostLeadership();
  }

  /** Graceful stop: no new work, in-flight reconciles and Ceph writes finish, lease released. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.secretResync);
    this.secretResync = undefined;
    await Promise.all(Object.values(this.queues).map((q) => q.shutdown()));
    await this.runtimes.close();
    await this.elector?.release();
    await Promise.all(Object.values(this.watches).map((w) => w.stop()));
    this.api.close();
  }

  private enqueue(queue: WorkQueue, key: string, afterMs?: number): void {
    if (afterMs === undefined || afterMs <= 0) queue.add(key);
    else queue.addAfter(key, afterMs);
  }

  private queue(
    kind: string,
    reconcile: (key: string) => Promise<WorkResult>,
    concurrency: number,
  ): WorkQueue {
    return new WorkQueue(
      async (key) => {
        const end = this.o.metrics.reconcileDuration.startTimer({ kind });
        try {
          return await reconcile(key);
        } finally {
          end();
        }
      },
      (key, error, retryInMs) => {
        this.o.metrics.reconcileErrors.inc({ kind });
        // `object`, not `key`: the logger redacts fields named like credentials (src/log.ts).
        this.log.warn('reconcile failed; will retry', {
          kind,
          object: key,
          retryInMs,
          error: describeApiError(error),
        });
      },
      {
        concurrency,
        baseDelayMs: 500,
        maxDelayMs: 120_000,
        deadlineMs: this.o.reconcileDeadlineMs ?? DEFAULT_RECONCILE_DEADLINE_MS,
      },
    );
  }

  private index(dir: MirroredDirectory, deleted: boolean): void {
    this.declared.set(objectKey(dir.metadata), deleted ? undefined : declarationOf(dir));
  }

  /** Reads every referenced Secret again every secretResyncMs, one pass at a time. */
  private scheduleSecretResync(): void {
    if (this.stopping) return;
    this.secretResync = setTimeout(() => {
      void this.secrets
        .resync(referencedSecrets(this.ctx))
        .finally(() => this.scheduleSecretResync());
    }, this.o.secretResyncMs ?? DEFAULT_SECRET_RESYNC_MS);
    // A background poll: never the reason the process stays up.
    this.secretResync.unref();
  }
}
