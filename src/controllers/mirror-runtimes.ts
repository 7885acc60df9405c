// The live side of each CephFSMirror: its RADOS connection and its running engine (policy driver
// + Ceph layer). Created when the mirror first reconciles, replaced when its connection settings
// or tunables change, stopped when the mirror goes away, loses its filesystem to another mirror,
// stops by itself (fenced), or the operator shuts down or loses its Lease.
//
// One engine per filesystem identity (cluster fsid, fscid) in the process: starting one for an
// identity stops whichever other mirror's engine held it, under a per-identity lock, after the
// caller's ownership check has passed once more inside that lock.
import { createHash } from 'node:crypto';
import { Rados } from 'rados-js';
import {
  enableMirroring,
  ensureMgrModuleOff,
  mgrMirroringModuleEnabled,
} from '../ceph/filesystem.js';
import { connectSecure } from '../ceph/connect.js';
import {
  MirrorEngine,
  type EngineFailure,
  type EngineOwner,
  type MirrorEngineOptions,
} from '../ceph/mirror-engine.js';
import type { CephFilesystem } from '../ceph/fsmap.js';
import type { NotifyObserver } from '../ceph/notifier.js';
import { cephOpError } from '../ceph/errors.js';
import type { Tunables } from '../reconcile/index.js';
import { DEFAULT_FS_CALL_TIMEOUT_MS } from '../ceph/fs-call-guard.js';
import { SourceProbe } from '../ceph/source-probe.js';
import type { RemoteConnectOptions } from '../ceph/remote.js';
import { SyncViewer } from '../ceph/sync-view.js';
import { SyncViewCache } from './sync-views.js';
import { describeIdentity, identityKey, type FilesystemIdentity } from './ownership.js';
import type { Problem } from './status-helpers.js';
import type { Logger } from '../log.js';
import { raceDeadline } from '../deadline.js';

export interface ConnectionSettings {
  monHost: string;
  clientId: string;
  key: string;
  fsid?: string;
  /** spec.cluster.allowInsecureV1: accept monitors reached only over msgr1. */
  allowInsecureV1?: boolean;
}

export interface RuntimeSpec {
  connection: ConnectionSettings;
  fsName: string;
  tunables: Partial<Tunables>;
  takeOverFromMgrModule: boolean;
}

/** The right to start an engine for a filesystem, checked again under the identity's lock. */
export interface RuntimeClaim {
  identity: FilesystemIdentity;
  /** Undefined when this mirror may drive the filesystem now; otherwise why not. */
  check(): Problem | undefined;
}

export interface MirrorRuntime {
  readonly key: string;
  readonly fsName: string;
  readonly identity: FilesystemIdentity;
  readonly rados: Rados;
  readonly engine: MirrorEngine;
  readonly filesystem: CephFilesystem;
  readonly takeOverFromMgrModule: boolean;
  /** True when this start disabled the mgr `mirroring` module to take the filesystem over. */
  readonly tookOverFromMgrModule: boolean;
  /** Per-directory snapshot comparison with each peer, refreshed in the background. */
  readonly syncViews: SyncViewCache;
  /** Whether the source filesystem's MDS answers the operator's own calls (poked each refresh). */
  readonly sourceProbe: SourceProbe;
  /** Passed to the peers' remote-site calls: empty in production (the test seams). */
  readonly remote: Pick<RemoteConnectOptions, 'connect' | 'mountLocal'>;
  /** Runs `fn` after every earlier call for this mirror: peer changes must not interleave. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
}

/** An engine that stopped by itself, as the reconciler reports it and backs off from it. */
export interface EngineStop {
  reason: string;
  message: string;
  /** When it stopped (ms since the epoch), and how many times in a row. */
  at: number;
  count: number;
}

/** The process's part of an engine's RADOS lock owner (the mirror key is added per engine). */
export interface ProcessOwner {
  holder: string;
  lease?: { namespace: string; name: string };
}

export interface MirrorRuntimesOptions {
  onNotify?: NotifyObserver;
  owner?: ProcessOwner;
  /** Deadlines of the engines' Ceph calls (defaults: connect/mon 20 s, OSD op 60 s). */
  timeouts?: CephTimeouts;
  /**
   * Test seams (production leaves them unset): how a connection is made, how an engine starts
   * over it, and what reads a directory's snapshots, so in-process tests can run the reconcilers
   * against an in-memory cluster (test/support/fake-ceph.ts) instead of librados.
   */
  connect?: (connection: ConnectionSettings, timeouts: CephTimeouts) => Promise<Rados>;
  startEngine?: (options: MirrorEngineOptions) => Promise<MirrorEngine>;
  syncViewer?: (rados: Rados, fsName: string) => SyncViewer;
  /** Test seam: how the peers' remote-site calls reach a remote and mount the local filesystem. */
  remote?: Pick<RemoteConnectOptions, 'connect' | 'mountLocal'>;
}

/** Every call into Ceph ends by these: librados fails it with ETIMEDOUT. */
export interface CephTimeouts {
  /** Connecting and each mon/mgr command. */
  monMs: number;
  /** Each OSD operation (dir-map reads and writes, notifies). */
  osdMs: number;
  /** Each libcephfs call (stat, snapshot lists); libcephfs itself has no per-call deadline. */
  fsMs?: number;
}

interface Entry extends MirrorRuntime {
  fingerprint: string;
  /** The policy tunables the engine runs with (applied in place when they change). */
  tunables: string;
  unsubscribe: () => void;
}

export type DirectoryChangeListener = (mirrorKey: string, path: string) => void;
/** An engine stopped for a reason other than the mirror's own reconcile (fenced, displaced). */
export type EngineStoppedListener = (mirrorKey: string, stop: EngineStop) => void;

const CONNECT_TIMEOUT_MS = 20_000;
const OSD_OP_TIMEOUT_MS = 60_000;
/** Bound on the mgr-module check made after an engine failed (the connection may be fenced). */
const FAILURE_PROBE_TIMEOUT_MS = 5_000;
/** A failure this long after the previous one starts the backoff over. */
const FAILURE_STREAK_RESET_MS = 10 * 60_000;

/** Connects with explicit credentials; every connection the controllers make goes through here. */
export function connectCluster(
  connection: ConnectionSettings,
  timeoutMs = CONNECT_TIMEOUT_MS,
  osdOpTimeoutMs = OSD_OP_TIMEOUT_MS,
): Promise<Rados> {
  // cephx only, msgr2 secure mode, v1-only monitors refused (src/ceph/connect.ts).
  return connectSecure({
    allowInsecureV1: connection.allowInsecureV1 === true,
    monHost: connection.monHost,
    clientId: connection.clientId,
    key: connection.key,
    timeoutMs,
    // Without a bound, an OSD op against a dead cluster never ends, and neither would shutdown.
    osdOpTimeoutMs,
    // The sync view's CephFS mount shares these settings; it only lists `.snap` directories.
    conf: { client_cache_size: '1024' },
  });
}

/**
 * Identifies what a restart is needed for (connection, filesystem, takeover; not the tunables,
 * applied in place) without keeping the secret itself around in memory longer than needed.
 */
function fingerprint(spec: RuntimeSpec, identity: FilesystemIdentity): string {
  const { tunables: _appliedInPlace, ...rest } = spec;
  return createHash('sha256')
    .update(JSON.stringify({ spec: rest, identity: identityKey(identity) }))
    .digest('hex');
}

/** Restarting an engine costs a release and an acquire per directory: tunables change in place. */
function applyTunables(entry: Entry, tunables: Partial<Tunables>, log: Logger): Entry {
  const wanted = JSON.stringify(tunables);
  if (entry.tunables === wanted) return entry;
  entry.engine.updateTunables(tunables);
  entry.tunables = wanted;
  log.info('mirror engine tunables updated', { mirror: entry.key, tunables });
  return entry;
}

export class MirrorRuntimes {
  private readonly entries = new Map<string, Entry>();
  private readonly starting = new Map<string, Promise<MirrorRuntime>>();
  /** Identity key → the mirror whose engine drives it. */
  private readonly holders = new Map<string, string>();
  /**
   * Identity key → which daemon may hold which directory, from the last engine of that identity
   * that stopped: the next engine tells a daemon its map no longer names for a directory to
   * release it before anyone acquires it (a map changed behind the old engine's back, another
   * mirror's engine, the mgr module in between).
   */
  private readonly handedOver = new Map<string, Array<[string, string]>>();
  /** Identity key → tail of the chain of starts and stops for it. */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Mirror key → why it has no engine, as last decided by its reconcile. */
  private readonly notRunning = new Map<string, Problem>();
  /** Mirror key → the last time its engine stopped by itself. */
  private readonly stops = new Map<string, EngineStop>();
  private readonly listeners = new Set<DirectoryChangeListener>();
  private readonly stoppedListeners = new Set<EngineStoppedListener>();
  private closed = false;

  constructor(
    private readonly log: Logger,
    private readonly options: MirrorRuntimesOptions = {},
  ) {}

  /** The running runtime of a mirror; undefined when it does not (or may not) drive Ceph. */
  get(key: string): MirrorRuntime | undefined {
    return this.entries.get(key);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Why the mirror has no engine, when its reconcile decided it must not have one: e.g.
   * `FilesystemOwnedByOther` (another CephFSMirror drives the filesystem: nothing of this
   * mirror's is in Ceph, its dependents must not touch Ceph and may go without waiting),
   * `MgrModuleEnabled`, or the reason an engine stopped by itself.
   */
  whyNotRunning(key: string): Problem | undefined {
    return this.entries.has(key) ? undefined : this.notRunning.get(key);
  }

  /** Records (or, with undefined, clears) why the mirror has no engine. */
  setNotRunning(key: string, problem: Problem | undefined): void {
    if (problem) this.notRunning.set(key, problem);
    else this.notRunning.delete(key);
  }

  /** The last time the mirror's engine stopped by itself, until the mirror is forgotten. */
  lastStop(key: string): EngineStop | undefined {
    return this.stops.get(key);
  }

  /** The mirror whose engine drives `identity` in this process. */
  holderOf(identity: FilesystemIdentity): string | undefined {
    return this.holders.get(identityKey(identity));
  }

  onDirectoryChanged(listener: DirectoryChangeListener): void {
    this.listeners.add(listener);
  }

  onEngineStopped(listener: EngineStoppedListener): void {
    this.stoppedListeners.add(listener);
  }

  /**
   * Returns the running runtime for `key`, starting it (connect, check the mgr module, enable
   * mirroring, load the dir map, start the engine) or restarting it when `spec` changed. The
   * start happens under the identity's lock, after `claim.check()` passed there; another mirror's
   * engine on the same identity is stopped first.
   */
  async ensure(key: string, spec: RuntimeSpec, claim: RuntimeClaim): Promise<MirrorRuntime> {
    const inFlight = this.starting.get(key);
    if (inFlight) return inFlight;
    const fp = fingerprint(spec, claim.identity);
    const existing = this.entries.get(key);
    if (existing && existing.fingerprint === fp)
      return applyTunables(existing, spec.tunables, this.log);
    const start = this.exclusive(identityKey(claim.identity), async () => {
      if (this.closed) {
        throw cephOpError('ESHUTDOWN', 'the operator is stopping', 'OperatorStopping');
      }
      const refusal = claim.check();
      if (refusal) throw cephOpError('EBUSY', refusal.message, refusal.reason);
      const current = this.entries.get(key);
      if (current && current.fingerprint === fp) {
        return applyTunables(current, spec.tunables, this.log);
      }
      const holder = this.holders.get(identityKey(claim.identity));
      if (holder !== undefined && holder !== key) {
        await this.stop(holder);
        const stop = this.recordStop(holder, {
          reason: 'FilesystemOwnedByOther',
          message: `${describeIdentity(claim.identity)} is driven by CephFSMirror ${key}`,
        });
        this.log.warn('stopped the engine of a younger claimant', {
          mirror: holder,
          owner: key,
        });
        for (const l of this.stoppedListeners) l(holder, stop);
      }
      if (current) await this.stop(key);
      return this.start(key, spec, claim.identity, fp);
    });
    this.starting.set(key, start);
    try {
      return await start;
    } finally {
      this.starting.delete(key);
    }
  }

  /**
   * Stops the mirror's engine: no write or notify is started after this is called; those in
   * flight are awaited, then the peer operations queued on `serial`, then the connection goes.
   */
  async stop(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    const id = identityKey(entry.identity);
    if (this.holders.get(id) === key) this.holders.delete(id);
    entry.unsubscribe();
    await entry.engine.stop();
    this.handedOver.set(id, entry.engine.holdings());
    await entry.serial(async () => undefined);
    await entry.syncViews.close();
    await entry.rados.shutdown();
    this.log.info('mirror engine stopped', { mirror: key });
  }

  /** Forgets everything about a mirror that is gone. */
  async forget(key: string): Promise<void> {
    await this.stop(key);
    this.notRunning.delete(key);
    this.stops.delete(key);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.keys().map((k) => this.stop(k)));
  }

  /**
   * No engine starts any more, and every running one stops now (leadership lost, shutdown):
   * each engine is told to stop before anything else is awaited.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.stopAll();
  }

  private exclusive<T>(identity: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(identity) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(identity, tail);
    void tail.then(() => {
      if (this.locks.get(identity) === tail) this.locks.delete(identity);
    });
    return run;
  }

  private recordStop(key: string, problem: Problem): EngineStop {
    const now = Date.now();
    const previous = this.stops.get(key);
    const count = previous && now - previous.at < FAILURE_STREAK_RESET_MS ? previous.count + 1 : 1;
    const stop: EngineStop = { ...problem, at: now, count };
    this.stops.set(key, stop);
    this.notRunning.set(key, problem);
    return stop;
  }

  /** The engine stopped by itself: drop the runtime (its connection may be fenced for good). */
  private async engineFailed(entry: Entry, failure: EngineFailure): Promise<void> {
    if (this.entries.get(entry.key) !== entry) return;
    this.log.warn('mirror engine stopped by itself', {
      mirror: entry.key,
      reason: failure.reason,
      detail: failure.message,
    });
    let problem: Problem = { reason: failure.reason, message: failure.message };
    // A foreign write is most likely the mgr module, enabled behind our back: say so, as the
    // next start would (unless a takeover was asked for: then the next start takes over again).
    if (!entry.takeOverFromMgrModule) {
      // Unknown (undefined) when the probe fails or does not answer in time.
      const enabled = await raceDeadline(
        mgrMirroringModuleEnabled(entry.rados).catch(() => undefined),
        FAILURE_PROBE_TIMEOUT_MS,
        () => undefined,
      );
      if (enabled === true) problem = mgrModuleProblem(failure.message);
    }
    await this.stop(entry.key).catch((e: unknown) =>
      this.log.warn('stopping a failed engine did not complete', {
        mirror: entry.key,
        error: String(e),
      }),
    );
    const stop = this.recordStop(entry.key, problem);
    for (const l of this.stoppedListeners) l(entry.key, stop);
  }

  private async start(
    key: string,
    spec: RuntimeSpec,
    identity: FilesystemIdentity,
    fp: string,
  ): Promise<MirrorRuntime> {
    const { connection } = spec;
    const timeouts: CephTimeouts = {
      monMs: this.options.timeouts?.monMs ?? CONNECT_TIMEOUT_MS,
      osdMs: this.options.timeouts?.osdMs ?? OSD_OP_TIMEOUT_MS,
    };
    const rados = this.options.connect
      ? await this.options.connect(connection, timeouts)
      : await connectCluster(connection, timeouts.monMs, timeouts.osdMs);
    let earlyFailure: EngineFailure | undefined;
    let entry: Entry | undefined;
    try {
      const fsid = await rados.fsid();
      if (connection.fsid && fsid !== connection.fsid) {
        throw cephOpError(
          'EINVAL',
          `cluster fsid is ${fsid}, the CephFSMirror expects ${connection.fsid}`,
          'FsidMismatch',
        );
      }
      const tookOverFromMgrModule =
        (await ensureMgrModuleOff(rados, spec.takeOverFromMgrModule)) === 'disabled';
      if (tookOverFromMgrModule) {
        this.log.warn('disabled the Ceph mgr mirroring module to take over', { mirror: key });
      }
      const filesystem = await enableMirroring(rados, spec.fsName);
      if (fsid !== identity.fsid || filesystem.fscid !== identity.fscid) {
        // The filesystem was recreated (or the Secret now reaches another cluster) since the
        // ownership decision: decide again before driving anything.
        throw cephOpError(
          'EAGAIN',
          `${spec.fsName} is now fscid ${filesystem.fscid} of cluster ${fsid}, not the ` +
            `${describeIdentity(identity)} ownership was decided for`,
          'FilesystemIdentityChanged',
        );
      }
      const engineLog = this.log.child({ mirror: key });
      const owner: EngineOwner = {
        holder: this.options.owner?.holder ?? `pid-${process.pid}`,
        mirror: key,
        ...(this.options.owner?.lease ? { lease: this.options.owner.lease } : {}),
      };
      const previousHoldings = this.handedOver.get(identityKey(identity));
      const engine = await (this.options.startEngine ?? MirrorEngine.start)({
        rados,
        owner,
        ...(previousHoldings ? { previousHoldings } : {}),
        onFailed: (failure) => {
          if (entry) void this.engineFailed(entry, failure);
          else earlyFailure ??= failure;
        },
        fsName: spec.fsName,
        tunables: spec.tunables,
        logger: {
          warn: (message, detail) => engineLog.warn(message, detail),
          debug: (message, detail) => engineLog.debug(message, detail),
        },
        ...(this.options.onNotify ? { onNotify: this.options.onNotify } : {}),
      });
      if (earlyFailure) {
        await engine.stop().catch(() => undefined);
        throw cephOpError('EIO', earlyFailure.message, earlyFailure.reason);
      }
      for (const u of engine.unreadable) {
        this.log.warn('dir map entry could not be read; left untouched', { mirror: key, ...u });
      }
      let chain: Promise<unknown> = Promise.resolve();
      const serial = <T>(fn: () => Promise<T>): Promise<T> => {
        const run = chain.then(fn, fn);
        chain = run.catch(() => undefined);
        return run;
      };
      const unsubscribe = engine.onDirectoryChanged((path) => {
        for (const l of this.listeners) l(key, path);
      });
      const viewer =
        this.options.syncViewer?.(rados, spec.fsName) ??
        new SyncViewer(rados, spec.fsName, {
          timeoutMs: this.options.timeouts?.fsMs ?? DEFAULT_FS_CALL_TIMEOUT_MS,
        });
      entry = {
        key,
        fsName: spec.fsName,
        identity,
        rados,
        engine,
        filesystem,
        takeOverFromMgrModule: spec.takeOverFromMgrModule,
        tookOverFromMgrModule,
        syncViews: new SyncViewCache(viewer),
        remote: this.options.remote ?? {},
        sourceProbe: new SourceProbe(() => viewer.sourceDirectory('/')),
        serial,
        fingerprint: fp,
        tunables: JSON.stringify(spec.tunables),
        unsubscribe,
      };
      this.entries.set(key, entry);
      this.holders.set(identityKey(identity), key);
      this.handedOver.delete(identityKey(identity));
      this.notRunning.delete(key);
      this.log.info('mirror engine started', {
        mirror: key,
        filesystem: spec.fsName,
        fscid: filesystem.fscid,
        fsid,
      });
      return entry;
    } catch (e) {
      await rados.shutdown().catch(() => undefined);
      throw e;
    }
  }
}

/** Ready=False while the mgr `mirroring` module is enabled and no takeover was asked for. */
export function mgrModuleProblem(detail?: string): Problem {
  return {
    reason: 'MgrModuleEnabled',
    message:
      'the Ceph mgr "mirroring" module is enabled: the operator stopped writing to this ' +
      'filesystem so that the two do not fight over the directory map; disable the module ' +
      '(ceph mgr module disable mirroring) or set spec.takeOverFromMgrModule: true' +
      (detail ? ` (${detail})` : ''),
  };
}
