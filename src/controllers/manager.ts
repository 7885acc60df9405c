// The controller manager: informers on the three kinds, the Secrets they name read by name (no
// informer on Secrets: src/kube/secret-reader.ts), one rate-limited work queue per kind, leader
// election, and the engines. Only the Lease holder reconciles (and so writes to Ceph); a standby
// keeps its caches warm to take over quickly.
import { hostname } from 'node:os';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import type { OperatorMetrics } from '../metrics.js';
import { declaredPathOf } from './directory-claims.js';
import { TypedCache, directoryKeysOf, mirrorKeyOf, type ControllerContext } from './context.js';
import { DirectoryReconciler, type DirectoryOptions } from './directory-reconciler.js';
import { EventRecorder } from '../kube/events.js';
import { KeyMultimap } from '../kube/key-multimap.js';
import { CachedWatch, type WatchTarget } from '../kube/informers.js';
import { KubeApi, describeApiError } from '../kube/kube-api.js';
import { LeaderElector } from '../kube/leader-election.js';
import { DEFAULT_SECRET_RESYNC_MS, SecretReader, type SecretRef } from '../kube/secret-reader.js';
import { MirrorReconciler } from './mirror-reconciler.js';
import { HealthWatchdog, type Health } from '../kube/health.js';
import { MirrorRuntimes, type CephTimeouts } from './mirror-runtimes.js';
import { PeerReconciler } from './peer-reconciler.js';
import {
  GROUP,
  KINDS,
  VERSION,
  objectKey,
  type KindInfo,
  type MirroredDirectory,
  type MirrorPeer,
  type CephFSMirror,
} from '../api/resources.js';
import { WorkQueue, type WorkResult } from '../kube/work-queue.js';

/** Invalid reasons that depend on another MirroredDirectory, and so clear when it changes. */
const REFUSED_BY_ANOTHER = new Set(['DuplicatePath', 'AncestorOfTracked', 'SubtreeOfTracked']);

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

function customTarget(kc: KubeApi, kind: KindInfo): WatchTarget<KubernetesObject> {
  return {
    name: kind.plural,
    path: (ns) =>
      ns === undefined
        ? `/apis/${GROUP}/${VERSION}/${kind.plural}`
        : `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${kind.plural}`,
    list: (ns) => kc.list(kind, ns) as Promise<{ items: KubernetesObject[] }>,
  };
}

export class Manager {
  private readonly api: KubeApi;
  private readonly log: Logger;
  private readonly runtimes: MirrorRuntimes;
  private readonly watches: {
    mirrors: CachedWatch<KubernetesObject>;
    peers: CachedWatch<KubernetesObject>;
    directories: CachedWatch<KubernetesObject>;
  };
  private readonly secrets: SecretReader;
  private secretResync: NodeJS.Timeout | undefined;
  private readonly queues: { mirror: WorkQueue; peer: WorkQueue; directory: WorkQueue };
  private readonly watchdog: HealthWatchdog;
  private readonly ctx: ControllerContext;
  private readonly elector: LeaderElector | undefined;
  /** `<mirror key>\0<path>` → the MirroredDirectory objects declaring it (almost always one). */
  private readonly pathIndex = new KeyMultimap();
  private readonly indexedAs = new Map<string, string>();
  /** Mirror key → keys of its directories refused because of another one (see REFUSED_BY_ANOTHER). */
  private readonly refused = new Map<string, Set<string>>();
  /** Directory key → generation and deletion mark last seen, to tell spec changes from status. */
  private readonly lastSeenSpec = new Map<string, string>();
  /** Mirror key → generation and deletion mark last seen (see claimChanged). */
  private readonly lastSeenMirror = new Map<string, string>();
  /** Directories whose engine state changed, flushed to the queue every CHANGE_COALESCE_MS. */
  private readonly changed = new Set<string>();
  private changedFlush: NodeJS.Timeout | undefined;
  private synced = false;
  private leading = false;
  private stopping = false;

  constructor(private readonly o: ManagerOptions) {
    this.api = new KubeApi(o.kc);
    this.log = o.log;
    const namespaces = o.namespaces && o.namespaces.length > 0 ? o.namespaces : undefined;
    const watch = <T extends KubernetesObject>(target: WatchTarget<T>): CachedWatch<T> =>
      new CachedWatch<T>(o.kc, target, namespaces, o.log);
    this.watches = {
      mirrors: watch(customTarget(this.api, KINDS.mirror)),
      peers: watch(customTarget(this.api, KINDS.peer)),
      directories: watch(customTarget(this.api, KINDS.directory)),
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
      events: new EventRecorder(this.api, o.log, identity),
      log: o.log,
      metrics: o.metrics,
      enqueue: {
        mirror: (key, afterMs) => this.enqueue(this.queues.mirror, key, afterMs),
        peer: (key, afterMs) => this.enqueue(this.queues.peer, key, afterMs),
        directory: (key, afterMs) => this.enqueue(this.queues.directory, key, afterMs),
      },
      declaredBy: (mirrorKey, path) => this.pathIndex.get(`${mirrorKey}\0${path}`),
    };
    const mirrors = new MirrorReconciler(this.ctx);
    const peers = new PeerReconciler(this.ctx);
    const directories = new DirectoryReconciler(this.ctx, o.directories);
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
      for (const key of this.pathIndex.get(`${mirrorKey}\0${path}`)) this.changed.add(key);
      // A directory passes through several states within a tick or two: one reconcile per burst.
      this.changedFlush ??= setTimeout(() => {
        this.changedFlush = undefined;
        for (const key of this.changed) this.queues.directory.add(key, true);
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
    // managedFields are large and never read here; dropping them from the cached objects saves
    // several KiB per object (an update sent without them leaves the server's copy as it is).
    // The metadata is rebuilt rather than `delete`d from: deleting a property turns an object
    // into a hash table, some 400 bytes more for each of 10,000 cached objects.
    for (const w of Object.values(this.watches)) {
      (w as CachedWatch<KubernetesObject>).on((obj) => {
        if (obj.metadata?.managedFields === undefined) return;
        const { managedFields: _dropped, ...metadata } = obj.metadata;
        obj.metadata = metadata;
      });
    }
    this.watches.directories.on((obj, type) => {
      this.index(obj as unknown as MirroredDirectory, type === 'delete');
      this.trackRefused(obj as unknown as MirroredDirectory, type === 'delete');
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
    this.watches.mirrors.on((obj, type) => {
      this.queues.mirror.add(keyOf(obj));
      // Peers and directories that said MirrorNotFound (or name a mirror that is now gone) only
      // learn of it by reconciling again.
      if (type !== 'update') this.enqueueDependents(obj as unknown as CephFSMirror);
      // A mirror that comes, goes or names another filesystem may change who owns a filesystem:
      // every other mirror decides again (there are few CephFSMirrors; the queue coalesces).
      if (this.claimChanged(obj as unknown as CephFSMirror, type)) {
        for (const m of this.ctx.mirrors.list()) {
          const other = objectKey(m.metadata);
          if (other !== keyOf(obj)) this.queues.mirror.add(other);
        }
      }
    });
    this.watches.peers.on((obj) => this.queues.peer.add(keyOf(obj)));
    this.watches.directories.on((obj, type) => {
      // Updates that change neither spec nor deletion are our own status and finalizer writes:
      // reconciling for them would only find nothing to do (for every directory, every time).
      if (!this.specChanged(obj as unknown as MirroredDirectory, type)) return;
      this.queues.directory.add(keyOf(obj));
      this.retryRefusedSiblings(obj as unknown as MirroredDirectory);
    });
    this.secrets.onChange((ref) => this.onSecret(ref));
    this.scheduleSecretResync();
    for (const m of this.watches.mirrors.list()) this.queues.mirror.add(keyOf(m));
    for (const p of this.watches.peers.list()) this.queues.peer.add(keyOf(p));
    for (const d of this.watches.directories.list()) this.queues.directory.add(keyOf(d));
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
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ENGINE_STOP_BOUND_MS);
    });
    try {
      const outcome = await Promise.race([this.runtimes.close(), bound]);
      if (outcome === 'timeout') {
        this.log.error('engines still finishing their last writes; exiting anyway', {
          afterMs: ENGINE_STOP_BOUND_MS,
        });
      }
    } catch (e) {
      this.log.error('stopping the engines after losing leadership failed', {
        error: (e as Error).message,
      });
    } finally {
      clearTimeout(timer);
    }
    onLostLeadership();
  }

  /** True for an add or delete, and for an update of the spec (generation) or a deletion start. */
  private claimChanged(mirror: CephFSMirror, type: 'add' | 'update' | 'delete'): boolean {
    const key = objectKey(mirror.metadata);
    const seen = `${mirror.metadata.generation ?? 0}|${mirror.metadata.deletionTimestamp ?? ''}`;
    const last = this.lastSeenMirror.get(key);
    if (type === 'delete') {
      this.lastSeenMirror.delete(key);
      return true;
    }
    this.lastSeenMirror.set(key, seen);
    return last !== seen;
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
    const key = keyOf(dir as unknown as KubernetesObject);
    const old = this.indexedAs.get(key);
    if (old !== undefined) {
      this.pathIndex.delete(old, key);
      this.indexedAs.delete(key);
    }
    if (deleted) return;
    // spec.path, or the path a subvolume/claim source was resolved to (directory-claims.ts).
    const path = declaredPathOf(dir);
    if (path === undefined) return;
    const entry = `${mirrorKeyOf(dir)}\0${path}`;
    this.pathIndex.add(entry, key);
    this.indexedAs.set(key, entry);
  }

  /** Every MirrorPeer and MirroredDirectory that refers to `mirror`. */
  private enqueueDependents(mirror: CephFSMirror): void {
    const ns = mirror.metadata.namespace;
    const name = mirror.metadata.name;
    for (const p of this.ctx.peers.list(ns)) {
      if (p.spec.mirrorRef?.name === name) this.queues.peer.add(objectKey(p.metadata));
    }
    for (const key of directoryKeysOf(this.ctx.directories, objectKey(mirror.metadata))) {
      this.queues.directory.add(key);
    }
  }

  /**
   * Keeps the set of directories refused because of another declaration (a duplicate or an
   * overlapping path); called on every watch event, leader or not, so it is complete on takeover.
   */
  private trackRefused(dir: MirroredDirectory, deleted: boolean): void {
    const key = keyOf(dir as unknown as KubernetesObject);
    const mirrorKey = mirrorKeyOf(dir);
    const invalid = dir.status?.conditions?.find((c) => c.type === 'Invalid');
    const refused =
      !deleted && invalid?.status === 'True' && REFUSED_BY_ANOTHER.has(invalid.reason);
    for (const [m, set] of this.refused) {
      if (m !== mirrorKey || !refused) set.delete(key);
      if (set.size === 0) this.refused.delete(m);
    }
    if (!refused) return;
    let set = this.refused.get(mirrorKey);
    if (!set) this.refused.set(mirrorKey, (set = new Set()));
    set.add(key);
  }

  /**
   * A directory refused as a duplicate or overlap of another is retried when that other one
   * comes, goes, starts being deleted or changes its path: nothing else would enqueue it (its own
   * object does not change), and it would stay refused forever. Status-only updates do not count,
   * so two refused directories cannot keep re-enqueuing each other.
   */
  /** True for an add or delete, and for an update that changed the spec or started deletion. */
  private specChanged(dir: MirroredDirectory, type: 'add' | 'update' | 'delete'): boolean {
    const key = keyOf(dir as unknown as KubernetesObject);
    const seen = `${dir.metadata.generation ?? 0}|${dir.metadata.deletionTimestamp ?? ''}`;
    if (type === 'delete') {
      this.lastSeenSpec.delete(key);
      return true;
    }
    if (this.lastSeenSpec.get(key) === seen) return false;
    this.lastSeenSpec.set(key, seen);
    return true;
  }

  private retryRefusedSiblings(dir: MirroredDirectory): void {
    const key = keyOf(dir as unknown as KubernetesObject);
    for (const sibling of this.refused.get(mirrorKeyOf(dir)) ?? []) {
      if (sibling !== key) this.queues.directory.add(sibling);
    }
  }

  /** Every Secret a CephFSMirror or MirrorPeer names (what the Secret resync reads again). */
  private referencedSecrets(): SecretRef[] {
    const refs = new Map<string, SecretRef>();
    const add = (namespace: string, name: string | undefined): void => {
      if (name) refs.set(`${namespace}/${name}`, { namespace, name });
    };
    for (const m of this.ctx.mirrors.list()) {
      add(m.metadata.namespace, m.spec.cluster?.secretRef?.name);
      add(m.metadata.namespace, m.spec.bootstrapTokenSecret?.name);
    }
    for (const p of this.ctx.peers.list()) {
      add(p.metadata.namespace, p.spec.bootstrapTokenSecretRef?.name);
      add(p.metadata.namespace, p.spec.remote?.keySecretRef?.name);
    }
    return [...refs.values()];
  }

  /** Reads every referenced Secret again every secretResyncMs, one pass at a time. */
  private scheduleSecretResync(): void {
    if (this.stopping) return;
    this.secretResync = setTimeout(() => {
      void this.secrets.resync(this.referencedSecrets()).finally(() => this.scheduleSecretResync());
    }, this.o.secretResyncMs ?? DEFAULT_SECRET_RESYNC_MS);
    // A background poll: never the reason the process stays up.
    this.secretResync.unref();
  }

  /** A Secret changed (or appeared, or went): everything that names it reconciles again. */
  private onSecret(ref: SecretRef): void {
    const { namespace: ns, name } = ref;
    for (const m of this.ctx.mirrors.list(ns)) {
      if (m.spec.cluster?.secretRef?.name === name || m.spec.bootstrapTokenSecret?.name === name) {
        this.queues.mirror.add(objectKey(m.metadata));
      }
    }
    for (const p of this.ctx.peers.list(ns)) {
      if (
        p.spec.bootstrapTokenSecretRef?.name === name ||
        p.spec.remote?.keySecretRef?.name === name
      ) {
        this.queues.peer.add(objectKey(p.metadata));
      }
    }
  }
}

function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}
