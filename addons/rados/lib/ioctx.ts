// IoCtx: object I/O, omap, watch and notify in one pool.
import type { NativeIoCtxHandle } from './native.js';
import { Watch, type NotifyHandler, type WatchErrorHandler } from './watch.js';

export interface ObjectStat {
  size: number;
  /** Modification time, whole seconds. */
  mtime: Date;
}

export interface OmapReadOptions {
  /** Return keys strictly after this one (the last key of the previous page). */
  startAfter?: string;
  /** Return only keys starting with this prefix. */
  prefix?: string;
  /** Page size. The OSD may cap it (osd_max_omap_entries_per_request). */
  max: number;
}

export interface OmapPage {
  /** Sorted by key. */
  entries: Array<[string, Buffer]>;
  /** True if more keys (matching the prefix) follow the last one returned. */
  more: boolean;
  /**
   * The object's user version when the page was read. Every write that changes the object
   * raises it (watches and notifies do not), so equal versions mean an unchanged object.
   */
  version: bigint;
}

/** A class method run inside a write op, e.g. cls_lock's `assert_locked`. */
export interface ClassCall {
  cls: string;
  method: string;
  input: Buffer;
}

/** Conditions the OSD checks before applying a write op; if one fails nothing is applied. */
export interface WriteGuard {
  /** The object's user version must be exactly this (else ERANGE if older, EOVERFLOW if newer). */
  assertVersion?: bigint;
  /** Class methods that must succeed (their error code fails the op). */
  calls?: ClassCall[];
}

export interface Locker {
  /** The locking client's entity name, e.g. `client.4123`. */
  client: string;
  cookie: string;
  /** The locking client's address, e.g. `127.0.0.1:0/3271223`: what `osd blocklist` takes. */
  addr: string;
}

export interface LockInfo {
  exclusive: boolean;
  tag: string;
  lockers: Locker[];
}

/** cls_lock flags (src/cls/lock/cls_lock_types.h). */
export const LOCK_FLAG_MAY_RENEW = 0x1;
export const LOCK_FLAG_MUST_RENEW = 0x2;

export interface OmapWrite {
  set?: Array<[string, Buffer]>;
  remove?: string[];
}

export interface NotifyAck {
  /** The acking client's global id (client.<gid>); for a cephfs-mirror daemon its instance id. */
  gid: bigint;
  cookie: bigint;
  payload: Buffer;
}

export interface NotifyTimeout {
  gid: bigint;
  cookie: bigint;
}

export interface NotifyResult {
  /** 0 if every watcher acked in time, -110 (ETIMEDOUT) if some did not (see `timeouts`). */
  rc: number;
  acks: NotifyAck[];
  timeouts: NotifyTimeout[];
}

export interface WatchOptions {
  /** Seconds the OSD keeps the watch without hearing from us (0/omitted: osd_client_watch_timeout). */
  timeoutSeconds?: number;
}

export class IoCtx {
  readonly #handle: NativeIoCtxHandle;
  /** The pool this context reads and writes. */
  readonly poolId: number;

  /** @internal Created by Rados.openIoCtx(). */
  constructor(handle: NativeIoCtxHandle) {
    this.#handle = handle;
    this.poolId = handle.poolId();
  }

  /**
   * Creates an empty object. With `exclusive` (the default) an existing object is an error
   * (EEXIST); without, creating an existing object succeeds and leaves it unchanged.
   */
  async createObject(oid: string, opts: { exclusive?: boolean } = {}): Promise<void> {
    await this.#handle.createObject(oid, opts.exclusive ?? true);
  }

  /** Size and mtime; rejects with ENOENT if the object does not exist. */
  async stat(oid: string): Promise<ObjectStat> {
    return this.#handle.stat(oid);
  }

  /** Deletes an object (with its omap); rejects with ENOENT if it does not exist. */
  async remove(oid: string): Promise<void> {
    await this.#handle.remove(oid);
  }

  /** Reads one page of omap entries. Rejects with ENOENT if the object does not exist. */
  async omapGetVals(oid: string, opts: OmapReadOptions): Promise<OmapPage> {
    if (!Number.isSafeInteger(opts.max) || opts.max < 1) {
      throw new RangeError('max must be a positive integer');
    }
    return this.#handle.omapGetVals(oid, opts.startAfter, opts.prefix, opts.max);
  }

  /**
   * One atomic write op: sets the `set` entries, then removes the `remove` keys. Setting creates
   * the object if needed; removing keys of a missing object rejects with ENOENT. An empty write
   * resolves without contacting the cluster.
   */
  async omapWrite(oid: string, write: OmapWrite): Promise<void> {
    const set = write.set ?? [];
    const remove = write.remove ?? [];
    // librados rejects an empty write op (EINVAL); an empty batch is simply nothing to do.
    if (set.length === 0 && remove.length === 0) return;
    await this.#handle.omapWrite(
      oid,
      set.map(([k]) => k),
      set.map(([, v]) => v),
      remove,
    );
  }

  /**
   * One atomic write op guarded by `guard`: the OSD runs the class methods, then checks the
   * version, and applies the omap sets and removals only if all of them passed (the first
   * failure is the op's error). Resolves
   * with the object's user version after the write. An op with guards and no omap change is
   * allowed (it still raises the version): it proves the guards hold at this moment.
   */
  async guardedOmapWrite(oid: string, write: OmapWrite, guard: WriteGuard): Promise<bigint> {
    return this.#handle.omapWrite(
      oid,
      (write.set ?? []).map(([k]) => k),
      (write.set ?? []).map(([, v]) => v),
      write.remove ?? [],
      guard.assertVersion,
      (guard.calls ?? []).map((c) => [c.cls, c.method, c.input]),
    );
  }

  /**
   * Takes (or with LOCK_FLAG_MUST_RENEW/MAY_RENEW renews) an exclusive advisory lock on `oid`.
   * `durationMs` 0 never expires. Rejects with EBUSY when another locker holds it, EEXIST when
   * this client already holds it with this cookie and no renew flag was given.
   */
  async lockExclusive(
    oid: string,
    name: string,
    cookie: string,
    opts: { description?: string; durationMs?: number; flags?: number } = {},
  ): Promise<void> {
    await this.#handle.lockExclusive(
      oid,
      name,
      cookie,
      opts.description ?? '',
      opts.durationMs ?? 0,
      opts.flags ?? 0,
    );
  }

  /** Releases this client's lock `name` with `cookie`; ENOENT when it does not hold it. */
  async unlock(oid: string, name: string, cookie: string): Promise<void> {
    await this.#handle.unlock(oid, name, cookie);
  }

  /** Removes another client's lock entry (`client` as in `listLockers`, e.g. `client.4123`). */
  async breakLock(oid: string, name: string, client: string, cookie: string): Promise<void> {
    await this.#handle.breakLock(oid, name, client, cookie);
  }

  /** The current (unexpired) holders of lock `name` on `oid`. */
  async listLockers(oid: string, name: string): Promise<LockInfo> {
    return this.#handle.listLockers(oid, name);
  }

  /**
   * Notifies the object's watchers and waits for their acks, at most `timeoutMs` (rounded up to
   * whole seconds, the unit librados uses). Watchers that
   * do not ack in time do not make this reject: `rc` is then -110 (ETIMEDOUT) and they are listed
   * in `timeouts`. Other failures (ENOENT for a missing object, ...) reject.
   */
  async notify(
    oid: string,
    payload: Buffer = Buffer.alloc(0),
    timeoutMs = 5000,
  ): Promise<NotifyResult> {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 1) {
      throw new RangeError('timeoutMs must be >= 1');
    }
    // librados truncates the timeout to whole seconds (and treats 0 as the OSD default, 30 s):
    // round up so the caller never waits less than asked, nor 30 s for a sub-second timeout.
    return this.#handle.notify(oid, payload, Math.ceil(timeoutMs / 1000) * 1000);
  }

  /**
   * Watches an object. `onNotify` runs for each notify; what it returns (or resolves to) is the
   * ack payload, sent once it is available. If it throws or rejects, no ack is sent (the
   * notifier sees this watcher time out) and the error goes to `onError`. `onError` also gets
   * watch errors from librados (e.g. ENOTCONN after a disconnect: the watch must be recreated).
   * An active watch keeps the Node.js process alive until unwatch() or close().
   */
  async watch(
    oid: string,
    onNotify: NotifyHandler,
    onError: WatchErrorHandler,
    opts: WatchOptions = {},
  ): Promise<Watch> {
    return Watch.start(this.#handle, oid, onNotify, onError, opts.timeoutSeconds);
  }

  /**
   * Waits for the operations in flight, removes this context's watches and releases it.
   * Idempotent. Later calls reject with EBADF (ESHUTDOWN if its Rados was shut down).
   */
  async close(): Promise<void> {
    await this.#handle.close();
  }
}
