// Watch: a registered interest in an object, and the bridge that answers notifies.
import { errnoError, isRadosError, type RadosError } from './errors.js';
import type { NativeIoCtxHandle, NativeWatchEvent } from './native.js';

export interface NotifyEvent {
  notifyId: bigint;
  /** The watch's cookie. */
  cookie: bigint;
  /** The notifying client's global id. */
  notifierId: bigint;
  payload: Buffer;
}

/** What a notify handler returns: the ack payload, or nothing for an empty ack. */
// `void` (not `undefined`) so that handlers with no return statement, sync or async, fit.
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type
export type NotifyReply = Buffer | void;

export type NotifyHandler = (event: NotifyEvent) => NotifyReply | Promise<NotifyReply>;
export type WatchErrorHandler = (err: Error) => void;

export class Watch {
  readonly oid: string;
  #cookie = 0n;
  #active = true;
  readonly #handle: NativeIoCtxHandle;
  readonly #onNotify: NotifyHandler;
  readonly #onError: WatchErrorHandler;

  private constructor(
    handle: NativeIoCtxHandle,
    oid: string,
    onNotify: NotifyHandler,
    onError: WatchErrorHandler,
  ) {
    this.#handle = handle;
    this.oid = oid;
    this.#onNotify = onNotify;
    this.#onError = onError;
  }

  /** @internal Used by IoCtx.watch(). */
  static async start(
    handle: NativeIoCtxHandle,
    oid: string,
    onNotify: NotifyHandler,
    onError: WatchErrorHandler,
    timeoutSeconds: number | undefined,
  ): Promise<Watch> {
    if (timeoutSeconds !== undefined && (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0)) {
      throw new RangeError('timeoutSeconds must be a non-negative integer');
    }
    const watch = new Watch(handle, oid, onNotify, onError);
    // Events may arrive before the registration call returns; they carry their own cookie.
    watch.#cookie = await handle.watch(oid, (event) => watch.#dispatch(event), timeoutSeconds);
    return watch;
  }

  /** The librados watch handle. */
  get cookie(): bigint {
    return this.#cookie;
  }

  /** Removes the watch. Idempotent; notifies still queued are dropped. */
  async unwatch(): Promise<void> {
    if (!this.#active) return;
    this.#active = false;
    await this.#handle.unwatch(this.#cookie);
  }

  #dispatch(event: NativeWatchEvent): void {
    if (!this.#active) return;
    if (event.type === 'error') {
      this.#report(
        errnoError(event.errno, 'watch', this.oid, 'the watch is lost and must be recreated'),
      );
      return;
    }
    const { notifyId, cookie, notifierId, payload } = event;
    let reply: NotifyReply | Promise<NotifyReply>;
    try {
      reply = this.#onNotify({ notifyId, cookie, notifierId, payload });
    } catch (err) {
      this.#report(err);
      return;
    }
    Promise.resolve(reply).then(
      (buf) => this.#ack(notifyId, cookie, buf ?? undefined),
      (err: unknown) => this.#report(err),
    );
  }

  #ack(notifyId: bigint, cookie: bigint, payload: Buffer | undefined): void {
    if (!this.#active) return;
    if (payload !== undefined && !Buffer.isBuffer(payload)) {
      this.#report(new TypeError('a notify handler must return a Buffer or nothing'));
      return;
    }
    const failed = (err: unknown): void => {
      // The ioctx closed while the handler ran: the watch is gone, nobody waits for this ack.
      if (isRadosError(err, 'EBADF') || isRadosError(err, 'ESHUTDOWN')) return;
      this.#report(err);
    };
    try {
      this.#handle.notifyAck(this.oid, notifyId, cookie, payload).catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  #report(err: unknown): void {
    const e: Error | RadosError = err instanceof Error ? err : new Error(String(err));
    try {
      this.#onError(e);
    } catch (inner) {
      // An error handler that throws has nowhere else to go.
      queueMicrotask(() => {
        throw inner;
      });
    }
  }
}
