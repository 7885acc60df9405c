// An in-memory Ceph for in-process tests of the controllers, plugged in through the seams of
// MirrorRuntimes (src/controllers/mirror-runtimes.ts: `connect`, `startEngine`, `syncViewer`):
// - FakeRados answers the mon/mgr commands the controllers send (fs dump, fs mirror
//   enable/disable/peer_add/peer_remove, mgr module ls/enable/disable, config-key, fs authorize,
//   auth get) from a cluster model, with Ceph's return codes; the real src/ceph code parses them.
// - each engine is the real MirrorEngine and policy driver (src/reconcile/driver.ts) over the
//   in-memory ports of src/reconcile/testing.ts: the dir map (kept per filesystem across engine restarts), the
//   daemons' mailboxes and the blocklist, on a FakeClock the test advances. The RADOS lock, the
//   instance watcher and the omap codec are not modelled: they have their own tests against a
//   real cluster (test/integration).
// - FakeSyncViewer says whether a source directory exists; there are no peer snapshot lists.
// - remoteConnect reaches another fake cluster as a peer's remote site (its users' keys, its
//   filesystems, their root xattrs where `ceph.mirror.info` claims live).
import type { Rados } from 'rados-js';
import { cephOpError } from '../../src/ceph/errors.js';
import { requireMirrored, type CephFilesystem } from '../../src/ceph/fsmap.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import {
  MirrorEngine,
  type EngineFailure,
  type MirrorEngineOptions,
} from '../../src/ceph/mirror-engine.js';
import { RemoteSiteError, type RemoteFs, type RemoteSite } from '../../src/ceph/remote.js';
import { SOURCE_PRESENT, type SourceDirectoryState } from '../../src/ceph/source-directory.js';
import type { PeerSyncView, SyncViewer } from '../../src/ceph/sync-view.js';
import type {
  ConnectionSettings,
  MirrorRuntimesOptions,
} from '../../src/controllers/mirror-runtimes.js';
import {
  resolveFilesystemIdentity,
  type IdentityResolver,
} from '../../src/controllers/filesystem-identities.js';
import { FilesystemMirrorDriver } from '../../src/reconcile/index.js';
import {
  FakeClock,
  InMemoryDirMapStore,
  InMemoryNotifier,
  RecordingBlocklister,
  settle,
} from '../../src/reconcile/testing.js';

const ERRNO = {
  ENOENT: 2,
  EPERM: 1,
  EINVAL: 22,
  EEXIST: 17,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
} as const;

interface CommandResult {
  rc: number;
  outbuf: Buffer;
  outs: string;
}

export interface FakePeer {
  client_name: string;
  cluster_name: string;
  fs_name: string;
}

export class FakeFilesystem {
  mirrorEnabled = false;
  mirrorObject = false;
  readonly peers = new Map<string, FakePeer>();
  /** The `cephfs_mirror` omap: survives engine restarts, as RADOS does. */
  readonly store = new InMemoryDirMapStore();
  /** The daemons' mailboxes: what each daemon holds. */
  readonly notifier = new InMemoryNotifier();
  readonly blocklister = new RecordingBlocklister();
  /** Live cephfs-mirror daemons: id → address. */
  readonly daemons = new Map<string, string>();
  /** Paths that do not exist on this filesystem (a stat says ENOENT). */
  readonly missing = new Set<string>();
  readonly engines = new Set<FakeEngine>();

  /** The engine driving this filesystem now (one at most). */
  running(): FakeEngine | undefined {
    return [...this.engines][0];
  }
  /** Another operator process holding the filesystem's RADOS lock. */
  lockedByOther: string | undefined;
  /** Extended attributes of the root (`ceph.mirror.info` when a source claims it). */
  readonly rootXattrs = new Map<string, string>();

  constructor(
    readonly name: string,
    readonly fscid: number,
    readonly metadataPool: number,
  ) {}

  /** A daemon comes up: every running engine hears of it (the instance watcher's job). */
  async addDaemon(id: string, addr = `10.0.0.1:6800/${id}`): Promise<void> {
    this.daemons.set(id, addr);
    await Promise.all(
      [...this.engines].map((e) =>
        e.driver.updateInstances({ added: [{ id, addr }], removed: [] }),
      ),
    );
  }

  async removeDaemon(id: string): Promise<void> {
    const addr = this.daemons.get(id);
    if (addr === undefined) return;
    this.daemons.delete(id);
    this.notifier.down.add(id);
    await Promise.all(
      [...this.engines].map((e) =>
        e.driver.updateInstances({ added: [], removed: [{ id, addr }] }),
      ),
    );
  }
}

export class FakeCluster {
  readonly filesystems = new Map<string, FakeFilesystem>();
  readonly mgrModules = new Set<string>();
  readonly configKeys = new Map<string, string>();
  /** Ceph users: entity → key and caps. */
  readonly users = new Map<string, { key: string; caps: Record<string, string> }>();
  /** Every command prefix received, in order ('mon:fs dump', 'mgr:...'). */
  readonly commands: string[] = [];
  /** Connections open now. */
  open = 0;
  reachable = true;
  epoch = 1;
  private readonly failures: Array<{ prefix: string; errno: number; outs: string }> = [];

  constructor(
    readonly fsid: string,
    readonly monHost: string,
    readonly clientId: string,
    readonly key: string,
  ) {}

  addFilesystem(
    name: string,
    fscid = this.filesystems.size + 1,
    metadataPool = 2 * fscid,
  ): FakeFilesystem {
    const fs = new FakeFilesystem(name, fscid, metadataPool);
    this.filesystems.set(name, fs);
    this.epoch++;
    return fs;
  }

  fs(name: string): FakeFilesystem {
    const fs = this.filesystems.get(name);
    if (!fs) throw new Error(`fake-ceph: no filesystem ${name}`);
    return fs;
  }

  /** The next command with this prefix fails with -errno (e.g. a mon refusing it). */
  failNext(prefix: string, errno: number, outs = ''): void {
    this.failures.push({ prefix, errno, outs });
  }

  /** @internal */
  command(
    target: 'mon' | 'mgr',
    cmd: Record<string, unknown>,
    input: Buffer | undefined,
  ): CommandResult {
    const prefix = String(cmd.prefix);
    this.commands.push(`${target}:${prefix}`);
    const failure = this.failures.findIndex((f) => f.prefix === prefix);
    if (failure >= 0) {
      const [f] = this.failures.splice(failure, 1);
      return err(f?.errno ?? ERRNO.EINVAL, f?.outs ?? '');
    }
    return target === 'mgr' ? this.mgr(prefix) : this.mon(prefix, cmd, input);
  }

  private mgr(prefix: string): CommandResult {
    if (prefix === 'fs snapshot mirror daemon status') {
      return this.mgrModules.has('mirroring')
        ? ok('[]')
        : err(ERRNO.EOPNOTSUPP, "Module 'mirroring' is not enabled/loaded");
    }
    return err(ERRNO.EINVAL, `unknown command ${prefix}`);
  }

  private mon(
    prefix: string,
    cmd: Record<string, unknown>,
    input: Buffer | undefined,
  ): CommandResult {
    const fsOf = (field = 'fs_name'): FakeFilesystem | undefined =>
      this.filesystems.get(String(cmd[field]));
    switch (prefix) {
      case 'fs dump':
        return ok(JSON.stringify(this.fsDump()));
      case 'fs mirror enable': {
        const fs = fsOf();
        if (!fs) return err(ERRNO.ENOENT, `Filesystem '${String(cmd.fs_name)}' not found`);
        if (!fs.mirrorEnabled) this.epoch++;
        fs.mirrorEnabled = true;
        return ok('');
      }
      case 'fs mirror disable': {
        const fs = fsOf();
        if (!fs) return err(ERRNO.ENOENT, `Filesystem '${String(cmd.fs_name)}' not found`);
        if (fs.mirrorEnabled) this.epoch++;
        fs.mirrorEnabled = false;
        fs.peers.clear();
        return ok('');
      }
      case 'fs mirror peer_add': {
        const fs = fsOf();
        if (!fs) return err(ERRNO.ENOENT, `Filesystem '${String(cmd.fs_name)}' not found`);
        if (!fs.mirrorEnabled) return err(ERRNO.EINVAL, `Filesystem '${fs.name}' is not mirrored`);
        const [client, site] = String(cmd.remote_cluster_spec).split('@');
        fs.peers.set(String(cmd.uuid), {
          client_name: client ?? '',
          cluster_name: site ?? '',
          fs_name: String(cmd.remote_fs_name),
        });
        this.epoch++;
        return ok('');
      }
      case 'fs mirror peer_remove': {
        const fs = fsOf();
        if (!fs) return err(ERRNO.ENOENT, `Filesystem '${String(cmd.fs_name)}' not found`);
        if (fs.peers.delete(String(cmd.uuid))) this.epoch++;
        return ok('');
      }
      case 'mgr module ls':
        return ok(JSON.stringify({ enabled_modules: [...this.mgrModules], always_on_modules: [] }));
      case 'mgr module enable':
        this.mgrModules.add(String(cmd.module));
        return ok('');
      case 'mgr module disable':
        this.mgrModules.delete(String(cmd.module));
        return ok('');
      case 'config-key set':
        this.configKeys.set(String(cmd.key), String(cmd.val ?? input?.toString() ?? ''));
        return ok('');
      case 'config-key get': {
        const v = this.configKeys.get(String(cmd.key));
        return v === undefined
          ? err(ERRNO.ENOENT, `key '${String(cmd.key)}' doesn't exist`)
          : ok(v);
      }
      case 'config-key rm':
        this.configKeys.delete(String(cmd.key));
        return ok('');
      case 'fs authorize': {
        // Pacific's AuthMonitor "fs authorize": these caps for a new user; an existing user
        // with other caps is refused.
        const entity = String(cmd.entity);
        const fsName = String(cmd.filesystem);
        const caps = {
          mds: `allow rwps fsname=${fsName}`,
          mon: `allow r fsname=${fsName}`,
          osd: `allow rw tag cephfs data=${fsName}`,
        };
        const existing = this.users.get(entity);
        if (existing && JSON.stringify(existing.caps) !== JSON.stringify(caps)) {
          return err(ERRNO.EINVAL, `key for ${entity} exists but cap mds does not match`);
        }
        if (!existing) {
          this.users.set(entity, { key: cephxKey(entity), caps });
        }
        return ok('');
      }
      case 'auth get': {
        const entity = String(cmd.entity);
        const user = this.users.get(entity);
        if (user === undefined) return err(ERRNO.ENOENT, `failed to find ${entity} in keyring`);
        return ok(JSON.stringify([{ entity, key: user.key, caps: user.caps }]));
      }
      case 'osd blocklist':
        return ok('');
      default:
        return err(ERRNO.EINVAL, `command not known to the fake: ${prefix}`);
    }
  }

  private fsDump(): unknown {
    return {
      epoch: this.epoch,
      filesystems: [...this.filesystems.values()].map((fs) => ({
        id: fs.fscid,
        mdsmap: {
          fs_name: fs.name,
          metadata_pool: fs.metadataPool,
          data_pools: [fs.metadataPool + 1],
        },
        ...(fs.mirrorEnabled
          ? {
              mirror_info: {
                peers: Object.fromEntries(
                  [...fs.peers].map(([uuid, remote]) => [uuid, { uuid, remote }]),
                ),
              },
            }
          : {}),
      })),
    };
  }
}

/** A well-formed cephx key (28 bytes, base64), derived from the name so tests can predict it. */
export function cephxKey(name: string): string {
  return Buffer.concat([Buffer.from([1, 0]), Buffer.alloc(26, name)]).toString('base64');
}

/** A mounted fake filesystem: its fscid and its root's xattrs, with libcephfs' error codes. */
function mountOf(fs: FakeFilesystem): RemoteFs['fs'] {
  const fsError = (code: 'ENODATA' | 'EEXIST', errno: number): Error =>
    Object.assign(new Error(code), { code, errno });
  const mount = {
    fscid: () => Promise.resolve(fs.fscid),
    getxattr: (path: string, name: string) => {
      const v = path === '/' ? fs.rootXattrs.get(name) : undefined;
      return v === undefined
        ? Promise.reject(fsError('ENODATA', 61))
        : Promise.resolve(Buffer.from(v));
    },
    setxattr: (
      _path: string,
      name: string,
      value: string | Buffer,
      opts: { create?: boolean } = {},
    ) => {
      if (opts.create && fs.rootXattrs.has(name)) return Promise.reject(fsError('EEXIST', 17));
      fs.rootXattrs.set(name, value.toString());
      return Promise.resolve();
    },
    removexattr: (_path: string, name: string) =>
      fs.rootXattrs.delete(name) ? Promise.resolve() : Promise.reject(fsError('ENODATA', 61)),
    close: () => Promise.resolve(),
  };
  return mount as unknown as RemoteFs['fs'];
}

function ok(out: string): CommandResult {
  return { rc: 0, outbuf: Buffer.from(out), outs: '' };
}

function err(errno: number, outs: string): CommandResult {
  return { rc: -errno, outbuf: Buffer.alloc(0), outs };
}

/** The subset of rados-js's Rados the controllers and src/ceph call outside the engine. */
export class FakeRados {
  private closed = false;

  constructor(readonly cluster: FakeCluster) {
    cluster.open++;
  }

  fsid(): Promise<string> {
    return Promise.resolve(this.cluster.fsid);
  }

  confGet(name: string): Promise<string> {
    return Promise.resolve(name === 'mon_host' ? this.cluster.monHost : '');
  }

  getAddrs(): string {
    return '10.0.0.9:0/1';
  }

  monCommand(cmd: object | string, input?: Buffer): Promise<CommandResult> {
    return this.send('mon', cmd, input);
  }

  mgrCommand(cmd: object | string, input?: Buffer): Promise<CommandResult> {
    return this.send('mgr', cmd, input);
  }

  openIoCtx(pool: number | string): Promise<unknown> {
    const fs = [...this.cluster.filesystems.values()].find((f) => f.metadataPool === pool);
    if (!fs)
      return Promise.reject(Object.assign(new Error(`pool ${pool}: ENOENT`), { code: 'ENOENT' }));
    return Promise.resolve({
      createObject: (oid: string, opts: { exclusive?: boolean } = {}) => {
        if (oid === 'cephfs_mirror' && fs.mirrorObject && opts.exclusive) {
          return Promise.reject(Object.assign(new Error(`${oid}: EEXIST`), { code: 'EEXIST' }));
        }
        fs.mirrorObject = true;
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    });
  }

  shutdown(): Promise<void> {
    if (!this.closed) this.cluster.open--;
    this.closed = true;
    return Promise.resolve();
  }

  asRados(): Rados {
    return this as unknown as Rados;
  }

  private async send(
    target: 'mon' | 'mgr',
    cmd: object | string,
    input?: Buffer,
  ): Promise<CommandResult> {
    await Promise.resolve();
    if (this.closed) throw Object.assign(new Error('connection is shut down'), { errno: 108 });
    const parsed = (typeof cmd === 'string' ? JSON.parse(cmd) : cmd) as Record<string, unknown>;
    return this.cluster.command(target, parsed, input);
  }
}

/** A running engine of a fake filesystem: the real MirrorEngine, its driver, and a way to fail it. */
export interface FakeEngine {
  engine: MirrorEngine;
  driver: FilesystemMirrorDriver;
  /** The engine stops by itself, as when its RADOS lock is lost or a foreign write is seen. */
  fail(reason: EngineFailure['reason'], message?: string): void;
}

/**
 * MirrorEngine's constructor is private to keep callers on `start`; the fake builds the real
 * class around its parts (so every engine method the controllers call runs as in production)
 * with stand-ins for the RADOS-bound ones: the pool handle, the lock (fence) and the watcher.
 */
type EngineConstructor = new (
  filesystem: CephFilesystem,
  ioctx: unknown,
  fence: unknown,
  driver: FilesystemMirrorDriver,
  watcher: unknown,
  unreadable: readonly unknown[],
) => MirrorEngine;

export class FakeSyncViewer {
  constructor(
    private readonly fs: FakeFilesystem,
    readonly fsName: string,
  ) {}

  sourceDirectory(path: string): Promise<SourceDirectoryState> {
    if (this.fs.missing.has(path)) {
      return Promise.resolve({
        state: 'missing',
        message: `${path} does not exist on filesystem ${this.fsName}`,
      });
    }
    return Promise.resolve(SOURCE_PRESENT);
  }

  view(_path: string): Promise<PeerSyncView[]> {
    return Promise.resolve([]);
  }

  forgetPeers(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Every fake cluster, by mon_host, with the seams MirrorRuntimes takes. */
export class FakeCeph {
  readonly clusters = new Map<string, FakeCluster>();
  readonly clock = new FakeClock();
  /** Engines started, in order (the running ones are in each filesystem's `engines`). */
  readonly started: FakeEngine[] = [];

  addCluster(fsid: string, monHost: string, clientId = 'admin', key = 'AQ-fake-key'): FakeCluster {
    const c = new FakeCluster(fsid, monHost, clientId, key);
    this.clusters.set(monHost, c);
    return c;
  }

  /** Connects as connectSecure would: unreachable monitors time out, a wrong key is refused. */
  connect(settings: ConnectionSettings): Promise<Rados> {
    const cluster = this.clusters.get(settings.monHost);
    if (!cluster || !cluster.reachable) {
      return Promise.reject(
        cephOpError('ETIMEDOUT', `no monitor answered at ${settings.monHost}`, 'CephUnreachable'),
      );
    }
    if (settings.clientId !== cluster.clientId || settings.key !== cluster.key) {
      return Promise.reject(
        cephOpError(
          'EPERM',
          `client.${settings.clientId} was refused by the monitors`,
          'AuthenticationFailed',
        ),
      );
    }
    return Promise.resolve(new FakeRados(cluster).asRados());
  }

  /** Starts an engine as MirrorEngine.start does, minus the RADOS lock and instance watcher. */
  async startEngine(o: MirrorEngineOptions): Promise<MirrorEngine> {
    const cluster = (o.rados as unknown as FakeRados).cluster;
    const filesystem = requireMirrored(await fetchFsMap(o.rados), o.fsName);
    const fs = cluster.fs(o.fsName);
    if (fs.lockedByOther !== undefined || fs.engines.size > 0) {
      throw cephOpError(
        'EBUSY',
        `filesystem ${o.fsName} is driven by ${fs.lockedByOther ?? 'another engine'}`,
        'FilesystemLockedByOther',
      );
    }
    const driver = new FilesystemMirrorDriver({
      store: fs.store,
      notifier: fs.notifier,
      blocklister: fs.blocklister,
      clock: this.clock,
      ...(o.tunables ? { tunables: o.tunables } : {}),
    });
    driver.start({
      directories: [...fs.store.dirMap],
      instances: [...fs.store.instances],
      ...(o.previousHoldings ? { previousHoldings: o.previousHoldings } : {}),
    });
    const live = [...fs.daemons].map(([id, addr]) => ({ id, addr }));
    const gone = [...fs.store.instances]
      .filter(([id]) => !fs.daemons.has(id))
      .map(([id, r]) => ({ id, addr: r.addr }));
    await driver.updateInstances({ added: live, removed: gone });
    const fake: FakeEngine = {
      driver,
      engine: undefined as unknown as MirrorEngine,
      fail: (reason, message = `engine failed: ${reason}`) =>
        (
          fake.engine as unknown as {
            failed(f: EngineFailure, n?: (f: EngineFailure) => void): void;
          }
        ).failed({ reason, message }, o.onFailed),
    };
    const fence = {
      release: () => {
        fs.engines.delete(fake);
        return Promise.resolve();
      },
    };
    const watcher = {
      stop: () => Promise.resolve(),
      setTiming: () => undefined,
      drop: () => undefined,
    };
    const ioctx = { close: () => Promise.resolve() };
    fake.engine = new (MirrorEngine as unknown as EngineConstructor)(
      filesystem,
      ioctx,
      fence,
      driver,
      watcher,
      [],
    );
    fs.engines.add(fake);
    this.started.push(fake);
    return fake.engine;
  }

  /** resolveFilesystemIdentity (filesystem-identities.ts) over these clusters. */
  resolver(): IdentityResolver {
    return (settings, fsName) =>
      resolveFilesystemIdentity(settings, fsName, (s) => this.connect(s));
  }

  syncViewer(rados: Rados, fsName: string): SyncViewer {
    const cluster = (rados as unknown as FakeRados).cluster;
    return new FakeSyncViewer(cluster.fs(fsName), fsName) as unknown as SyncViewer;
  }

  /**
   * Reaches a remote site as connectRemote (src/ceph/remote.ts) does: by mon_host and the peer
   * user's key, then "mounts" the named filesystem, whose root xattrs are the fake's.
   */
  async remoteConnect(site: RemoteSite): Promise<RemoteFs> {
    await Promise.resolve();
    const cluster = site.monHost === undefined ? undefined : this.clusters.get(site.monHost);
    if (!cluster || !cluster.reachable) {
      throw new RemoteSiteError(
        site.siteName,
        'connect',
        ERRNO.ETIMEDOUT,
        `cannot connect to site ${site.siteName} as ${site.clientName}: ETIMEDOUT`,
        'RemoteSiteUnreachable',
      );
    }
    if (cluster.users.get(site.clientName)?.key !== site.key) {
      throw new RemoteSiteError(
        site.siteName,
        'connect',
        ERRNO.EPERM,
        `cannot connect to site ${site.siteName} as ${site.clientName}: EPERM`,
        'RemoteAccessDenied',
      );
    }
    const fs = cluster.filesystems.get(site.fsName);
    if (!fs) {
      throw new RemoteSiteError(
        site.siteName,
        'mount',
        ERRNO.ENOENT,
        `filesystem ${site.fsName} does not exist on site ${site.siteName}`,
        'RemoteFilesystemNotFound',
      );
    }
    return { site, rados: new FakeRados(cluster).asRados(), fs: mountOf(fs) };
  }

  /** The seams to pass to `new MirrorRuntimes(log, { ...fake.runtimeOptions() })`. */
  runtimeOptions(): Pick<
    MirrorRuntimesOptions,
    'connect' | 'startEngine' | 'syncViewer' | 'remote'
  > {
    return {
      connect: (settings) => this.connect(settings),
      startEngine: (o) => this.startEngine(o),
      syncViewer: (rados, fsName) => this.syncViewer(rados, fsName),
      remote: {
        connect: (site) => this.remoteConnect(site),
        mountLocal: (rados, fsName) =>
          Promise.resolve(mountOf((rados as unknown as FakeRados).cluster.fs(fsName))),
      },
    };
  }

  /** Lets the engines run for `seconds` of fake time, a tick at a time, settling in between. */
  async run(seconds = 3): Promise<void> {
    for (let i = 0; i < seconds; i++) {
      await settle();
      this.clock.advance(1);
      await settle();
    }
  }
}
