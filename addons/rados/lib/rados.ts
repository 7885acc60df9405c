// Rados: one connection to a Ceph cluster (a librados cluster handle).
import { errnoError } from './errors.js';
import { IoCtx } from './ioctx.js';
import { native, type NativeRadosHandle, type NativeRadosState } from './native.js';

/** Connect with a ceph.conf (its keyring is used for authentication). */
export interface ConfFileConnectOptions {
  confPath: string;
  /** Client id without the "client." prefix; default "admin". */
  clientId?: string;
}

/** Connect with explicit credentials; no file is read. */
export interface MonHostConnectOptions {
  /** As in ceph.conf, e.g. "[v2:127.0.0.1:3300,v1:127.0.0.1:6789]" or "10.0.0.1,10.0.0.2". */
  monHost: string;
  /** Client id without the "client." prefix, e.g. "admin". */
  clientId: string;
  /** The client's cephx secret (base64), as in a keyring's `key = ...`. */
  key: string;
}

export interface CommonConnectOptions {
  /**
   * Bound on connecting (client_mount_timeout) and on each mon command (rados_mon_op_timeout).
   * Ceph takes whole seconds: the value is rounded up. Without it librados waits up to 300 s
   * for an unreachable monitor, and mon commands wait forever.
   */
  timeoutMs?: number;
  /** Bound on each OSD operation (rados_osd_op_timeout), whole seconds rounded up. */
  osdOpTimeoutMs?: number;
  /** Further librados settings (rados_conf_set), applied last. */
  conf?: Record<string, string>;
}

export type ConnectOptions = (ConfFileConnectOptions | MonHostConnectOptions) &
  CommonConnectOptions;

/** A mon/mgr command's outcome. `rc` is 0 or a negative errno; `outs` explains failures. */
export interface CommandResult {
  rc: number;
  outbuf: Buffer;
  outs: string;
}

export type RadosState = NativeRadosState;

/** Throws a RadosError if the command failed (rc < 0); returns the result otherwise. */
export function checkCommand(result: CommandResult, what: string): CommandResult {
  if (result.rc < 0) throw errnoError(result.rc, what, undefined, result.outs || undefined);
  return result;
}

function seconds(ms: number, name: string): string {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`${name} must be a positive number`);
  return String(Math.ceil(ms / 1000));
}

function commandText(cmd: object | string): string {
  return typeof cmd === 'string' ? cmd : JSON.stringify(cmd);
}

export class Rados {
  readonly #handle: NativeRadosHandle;

  private constructor(handle: NativeRadosHandle) {
    this.#handle = handle;
  }

  /** Connects; rejects with the librados error (ETIMEDOUT, EACCES, ...) if that fails. */
  static async connect(opts: ConnectOptions): Promise<Rados> {
    const settings: Array<[string, string]> = [];
    let confPath: string | undefined;
    let clientId: string | undefined;
    if ('monHost' in opts) {
      if (!opts.monHost || !opts.clientId || !opts.key) {
        throw new TypeError('monHost, clientId and key are required together');
      }
      clientId = opts.clientId;
      settings.push(['mon_host', opts.monHost], ['key', opts.key]);
      // Nothing on this machine's disk should matter for an explicit-credentials connection.
      settings.push(['keyring', ''], ['keyfile', '']);
    } else {
      if (!opts.confPath) throw new TypeError('confPath or monHost is required');
      confPath = opts.confPath;
      clientId = opts.clientId;
    }
    if (clientId?.startsWith('client.')) clientId = clientId.slice('client.'.length);
    if (opts.timeoutMs !== undefined) {
      const s = seconds(opts.timeoutMs, 'timeoutMs');
      settings.push(['client_mount_timeout', s], ['rados_mon_op_timeout', s]);
    }
    if (opts.osdOpTimeoutMs !== undefined) {
      settings.push(['rados_osd_op_timeout', seconds(opts.osdOpTimeoutMs, 'osdOpTimeoutMs')]);
    }
    for (const [name, value] of Object.entries(opts.conf ?? {})) settings.push([name, value]);
    const handle = new native.RadosHandle();
    await handle.connect(confPath, clientId, settings);
    return new Rados(handle);
  }

  /** 'connected' until shutdown() starts; then 'shutting-down' and 'shutdown'. */
  get state(): RadosState {
    return this.#handle.state();
  }

  /**
   * Waits for operations in flight, closes the IoCtxs still open (removing their watches) and
   * disconnects. Idempotent. Rejects with EBUSY while the native handle is acquired.
   */
  async shutdown(): Promise<void> {
    await this.#handle.shutdown();
  }

  async fsid(): Promise<string> {
    return this.#handle.fsid();
  }

  /** A librados configuration value; rejects with ENOENT for an unknown option. */
  async confGet(name: string): Promise<string> {
    return this.#handle.confGet(name);
  }

  /** This client's global id (the N of client.N; the notifier/gid others see in notify acks). */
  async instanceId(): Promise<bigint> {
    return this.#handle.instanceId();
  }

  /** This client's addresses as an addrvec string, e.g. "[v2:127.0.0.1:0/123,v1:...]". */
  async getAddrs(): Promise<string> {
    return this.#handle.getAddrs();
  }

  /** Sends a mon command; resolves whatever its rc (see checkCommand). */
  async monCommand(cmd: object | string, input?: Buffer): Promise<CommandResult> {
    return this.#handle.monCommand(commandText(cmd), input);
  }

  /** Sends a mgr command; resolves whatever its rc (see checkCommand). */
  async mgrCommand(cmd: object | string, input?: Buffer): Promise<CommandResult> {
    return this.#handle.mgrCommand(commandText(cmd), input);
  }

  /**
   * Sends a command to ONE monitor, by name (as in the mon map: `a` for mon.a) or by rank: a
   * "tell" command only that monitor answers, e.g. `{ prefix: 'sessions' }`
   * (`ceph tell mon.a sessions`; through monCommand it is "unrecognized"). librados opens a
   * connection of its own to that monitor; `timeoutMs` (rados_mon_op_timeout) bounds it, and a
   * name not in the client's mon map resolves with rc -ENOENT. Resolves whatever its rc (see
   * checkCommand). A name made only of digits is refused (librados would read it as a rank):
   * pass the rank as a number.
   */
  async monCommandTarget(
    mon: string | number,
    cmd: object | string,
    input?: Buffer,
  ): Promise<CommandResult> {
    if (typeof mon === 'number') {
      if (!Number.isInteger(mon) || mon < 0 || mon > 65535) {
        throw new RangeError('mon rank must be an integer in [0, 65535]');
      }
    } else if (typeof mon !== 'string' || mon === '') {
      throw new TypeError('mon must be a monitor name or a rank');
    } else if (/^[0-9]+$/.test(mon)) {
      throw new TypeError(
        `mon "${mon}" is all digits, which librados reads as a rank: pass a number`,
      );
    }
    return this.#handle.monCommandTarget(mon, commandText(cmd), input);
  }

  /** A pool's id; rejects with ENOENT if there is no such pool. */
  async poolLookup(name: string): Promise<number> {
    return this.#handle.poolLookup(name);
  }

  /** A pool's name; rejects with ENOENT if there is no such pool. */
  async poolReverseLookup(poolId: number): Promise<string> {
    if (!Number.isSafeInteger(poolId)) throw new TypeError('poolId must be an integer');
    return this.#handle.poolReverseLookup(poolId);
  }

  /** Opens an I/O context on a pool, by id or by name. */
  async openIoCtx(pool: number | string): Promise<IoCtx> {
    if (typeof pool === 'number' && !Number.isSafeInteger(pool)) {
      throw new TypeError('pool id must be an integer');
    }
    return new IoCtx(await this.#handle.openIoCtx(pool));
  }

  /**
   * Adds an entity address (e.g. "127.0.0.1:0/3271223") to the OSD blocklist, for
   * `expireSeconds` (0 or omitted: the cluster default, one hour).
   */
  async blocklistAdd(addr: string, expireSeconds = 0): Promise<void> {
    if (!Number.isInteger(expireSeconds) || expireSeconds < 0 || expireSeconds > 0xffffffff) {
      throw new RangeError('expireSeconds must be an integer in [0, 2^32)');
    }
    await this.#handle.blocklistAdd(addr, expireSeconds);
  }

  /**
   * For sibling addons (cephfs-js): a Napi::External wrapping the raw `rados_t` (no finalizer),
   * and a pin. While pinned, shutdown() rejects with EBUSY. Pair with releaseNativeHandle().
   */
  acquireNativeHandle(): unknown {
    return this.#handle.acquireNativeHandle();
  }

  /** Drops one pin taken by acquireNativeHandle(). */
  releaseNativeHandle(): void {
    this.#handle.releaseNativeHandle();
  }
}
