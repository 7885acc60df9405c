/**
 * Errors of Ceph-layer operations (tokens, peers, filesystems, mon commands, omap records).
 *
 * Ceph reports failures as negative Linux errno values; the mgr module turns them into
 * `(-errno, message)`. A CephOpError keeps the same information in a typed form: `errno`
 * (positive), its symbolic `code`, a human `message`, and a CamelCase `reason` that controllers
 * copy into a Kubernetes condition as is.
 */

import { ERRNO, errnoCode, type ErrnoCode } from 'ceph-addon-common';

// The errno table is the addons' (ceph-addon-common): one table for the whole project.
export { ERRNO, errnoCode, type ErrnoCode };

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
