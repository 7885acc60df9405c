// The live side of each CephFSMirror: its RADOS connection and its running engine (policy driver
// + Ceph layer). Created when the mirror first reconciles, replaced when its connection settings
// or tunables change, stopped when the mirror goes away or the operator shuts down.
import { createHash } from 'node:crypto';
import { Rados } from 'rados-js';
import { enableMirroring, ensureMgrModuleOff } from '../ceph/filesystem.js';
import { MirrorEngine } from '../ceph/mirror-engine.js';
import type { CephFilesystem } from '../ceph/fsmap.js';
import type { NotifyObserver } from '../ceph/notifier.js';
import { cephOpError } from '../ceph/errors.js';
import type { Tunables } from '../reconcile/index.js';
import { SyncViewer } from '../ceph/sync-view.js';
import { SyncViewCache } from './sync-views.js';
import type { Logger } from '../log.js';

export interface ConnectionSettings {
  monHost: string;
  clientId: string;
  key: string;
  fsid?: string;
}

export interface RuntimeSpec {
  connection: ConnectionSettings;
  fsName: string;
  tunables: Partial<Tunables>;
  takeOverFromMgrModule: boolean;
}

export interface MirrorRuntime {
  readonly key: string;
  readonly fsName: string;
  readonly rados: Rados;
  readonly engine: MirrorEngine;
  readonly filesystem: CephFilesystem;
  /** True when this start disabled the mgr `mirroring` module to take the filesystem over. */
  readonly tookOverFromMgrModule: boolean;
  /** Per-directory snapshot comparison with each peer, refreshed in the background. */
  readonly syncViews: SyncViewCache;
  /** Runs `fn` after every earlier call for this mirror: peer changes must not interleave. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
}

interface Entry extends MirrorRuntime {
  fingerprint: string;
  unsubscribe: () => void;
}

export type DirectoryChangeListener = (mirrorKey: string, path: string) => void;

const CONNECT_TIMEOUT_MS = 20_000;
const OSD_OP_TIMEOUT_MS = 60_000;

/** Identifies a spec without keeping the secret itself around in memory longer than needed. */
function fingerprint(spec: RuntimeSpec): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex');
}

export class MirrorRuntimes {
  private readonly entries = new Map<string, Entry>();
  private readonly starting = new Map<string, Promise<MirrorRuntime>>();
  private readonly listeners = new Set<DirectoryChangeListener>();

  constructor(
    private readonly log: Logger,
    private readonly onNotify?: NotifyObserver,
  ) {}

  get(key: string): MirrorRuntime | undefined {
    return this.entries.get(key);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  onDirectoryChanged(listener: DirectoryChangeListener): void {
    this.listeners.add(listener);
  }

  /**
   * Returns the running runtime for `key`, starting it (connect, check the mgr module, enable
   * mirroring, load the dir map, start the engine) or restarting it when `spec` changed.
   */
  async ensure(key: string, spec: RuntimeSpec): Promise<MirrorRuntime> {
    const inFlight = this.starting.get(key);
    if (inFlight) return inFlight;
    const existing = this.entries.get(key);
    const fp = fingerprint(spec);
    if (existing && existing.fingerprint === fp) return existing;
    const start = (async () => {
      if (existing) await this.stop(key);
      return this.start(key, spec, fp);
    })();
    this.starting.set(key, start);
    try {
      return await start;
    } finally {
      this.starting.delete(key);
    }
  }

  async stop(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    entry.unsubscribe();
    await entry.serial(async () => undefined);
    await entry.engine.stop();
    await entry.syncViews.close();
    await entry.rados.shutdown();
    this.log.info('mirror engine stopped', { mirror: key });
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.keys().map((k) => this.stop(k)));
  }

  private async start(key: string, spec: RuntimeSpec, fp: string): Promise<MirrorRuntime> {
    const { connection } = spec;
    const rados = await Rados.connect({
      monHost: connection.monHost,
      clientId: connection.clientId,
      key: connection.key,
      timeoutMs: CONNECT_TIMEOUT_MS,
      // Without a bound, an OSD op against a dead cluster never ends, and neither would shutdown.
      osdOpTimeoutMs: OSD_OP_TIMEOUT_MS,
      // The sync view's CephFS mount shares these settings; it only lists `.snap` directories.
      conf: { client_cache_size: '1024' },
    });
    try {
      if (connection.fsid) {
        const actual = await rados.fsid();
        if (actual !== connection.fsid) {
          throw cephOpError(
            'EINVAL',
            `cluster fsid is ${actual}, the CephFSMirror expects ${connection.fsid}`,
            'FsidMismatch',
          );
        }
      }
      const tookOverFromMgrModule =
        (await ensureMgrModuleOff(rados, spec.takeOverFromMgrModule)) === 'disabled';
      if (tookOverFromMgrModule) {
        this.log.warn('disabled the Ceph mgr mirroring module to take over', { mirror: key });
      }
      const filesystem = await enableMirroring(rados, spec.fsName);
      const engineLog = this.log.child({ mirror: key });
      const engine = await MirrorEngine.start({
        rados,
        fsName: spec.fsName,
        tunables: spec.tunables,
        logger: {
          warn: (message, detail) => engineLog.warn(message, detail),
          debug: (message, detail) => engineLog.debug(message, detail),
        },
        ...(this.onNotify ? { onNotify: this.onNotify } : {}),
      });
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
      const entry: Entry = {
        key,
        fsName: spec.fsName,
        rados,
        engine,
        filesystem,
        tookOverFromMgrModule,
        syncViews: new SyncViewCache(new SyncViewer(rados, spec.fsName)),
        serial,
        fingerprint: fp,
        unsubscribe,
      };
      this.entries.set(key, entry);
      this.log.info('mirror engine started', {
        mirror: key,
        filesystem: spec.fsName,
        fscid: filesystem.fscid,
      });
      return entry;
    } catch (e) {
      await rados.shutdown().catch(() => undefined);
      throw e;
    }
  }
}
