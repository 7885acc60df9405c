/**
 * Errors of Ceph-layer operations (tokens, peers, filesystems, mon commands, omap records).
 *
 * Ceph reports failures as negative Linux errno values; the mgr module turns them into
 * `(-errno, message)`. A CephOpError keeps the same information in a typed form: `errno`
 * (positive), its symbolic `code`, a human `message`, and a CamelCase `reason` that controllers
 * copy into a Kubernetes condition as is.
 */

/** Linux errno numbers (Ceph daemons and librados use Linux values on every platform). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOMSG: 42,
  ENODATA: 61,
  ETIME: 62,
  EPROTO: 71,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
  ESTALE: 116,
  EDQUOT: 122,
  ECANCELED: 125,
  EKEYREJECTED: 129,
} as const;

export type ErrnoCode = keyof typeof ERRNO;

const CODE_BY_ERRNO = new Map<number, ErrnoCode>(
  Object.entries(ERRNO).map(([code, n]) => [n, code as ErrnoCode]),
);

/** Default condition reasons for the codes that Ceph-layer operations commonly return. */
const DEFAULT_REASONS: Partial<Record<ErrnoCode, string>> = {
  EPERM: 'PermissionDenied',
  EACCES: 'PermissionDenied',
  ENOENT: 'NotFound',
  EEXIST: 'AlreadyExists',
  EINVAL: 'InvalidArgument',
  EAGAIN: 'TryAgain',
  EBUSY: 'Busy',
  ETIMEDOUT: 'Timeout',
  ENOTCONN: 'NotConnected',
  ESHUTDOWN: 'Blocklisted', // librados: a blocklisted client gets -ESHUTDOWN (EBLOCKLISTED)
  ECONNREFUSED: 'ConnectionRefused',
  ENODATA: 'NoData',
  EOPNOTSUPP: 'NotSupported',
  ENOSPC: 'NoSpace',
  EDQUOT: 'QuotaExceeded',
  EIO: 'IOError',
  ECANCELED: 'Canceled',
};

// Kubernetes metav1.Condition.reason: ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$; CamelCase here.
const REASON_PATTERN = /^[A-Z][A-Za-z0-9]*$/;

/** Symbolic name of a (positive or negative) errno, or `E<n>` for numbers outside the table. */
export function errnoCode(errno: number): string {
  const n = Math.abs(errno);
  return CODE_BY_ERRNO.get(n) ?? `E${n}`;
}

/** The default CamelCase reason for an errno code (`CephError` when there is no better word). */
export function defaultReason(code: string): string {
  return DEFAULT_REASONS[code as ErrnoCode] ?? 'CephError';
}

export interface CephOpErrorOptions {
  /** CamelCase reason for a Kubernetes condition; defaults from the errno code. */
  reason?: string;
  cause?: unknown;
}

export class CephOpError extends Error {
  override name = 'CephOpError';
  /** Positive errno value. */
  readonly errno: number;
  /** Symbolic errno name, e.g. 'EINVAL'. */
  readonly code: string;
  /** CamelCase reason, suitable for a Kubernetes condition. */
  readonly reason: string;

  constructor(errno: number, message: string, options: CephOpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!Number.isInteger(errno) || errno === 0) {
      throw new TypeError(`CephOpError needs a non-zero integer errno, got ${errno}`);
    }
    this.errno = Math.abs(errno);
    this.code = errnoCode(this.errno);
    this.reason = options.reason ?? defaultReason(this.code);
    if (!REASON_PATTERN.test(this.reason)) {
      throw new TypeError(`CephOpError reason must be CamelCase, got "${this.reason}"`);
    }
  }

  /** `-errno`, as librados and the mgr module report it. */
  get returnCode(): number {
    return -this.errno;
  }
}

/** A CephOpError from a symbolic code: `cephOpError('EINVAL', 'bad thing', 'BadThing')`. */
export function cephOpError(
  code: ErrnoCode,
  message: string,
  reason?: string,
  cause?: unknown,
): CephOpError {
  return new CephOpError(ERRNO[code], message, { reason, cause });
}

/**
 * A CephOpError from a return code as librados/mon commands give it (`r < 0`), with what was
 * being done: `fromReturnCode(-2, 'config-key get cephfs/mirror/peer/a/u')` gives
 * "config-key get cephfs/mirror/peer/a/u: ENOENT" plus the status text when there is one.
 */
export function fromReturnCode(
  r: number,
  operation: string,
  detail?: string,
  reason?: string,
): CephOpError {
  const code = errnoCode(r);
  const suffix = detail === undefined || detail === '' ? '' : `: ${detail}`;
  return new CephOpError(r, `${operation}: ${code}${suffix}`, { reason });
}

/** True when `e` is a CephOpError, optionally with the given code. */
export function isCephOpError(e: unknown, code?: ErrnoCode): e is CephOpError {
  return e instanceof CephOpError && (code === undefined || e.code === code);
}
