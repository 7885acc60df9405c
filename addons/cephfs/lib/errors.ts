// The error shape every failed call rejects with: ceph-addon-common's ErrnoError, which rados-js
// shares, with `syscall` naming the libcephfs function.
import { ERRNO, errnoError, isErrnoError, type ErrnoError } from 'ceph-addon-common';

/**
 * A failed libcephfs call: `errno` is positive (as in Node's fs errors' absolute value), `code`
 * its symbolic name ('ENOENT', 'EEXIST', 'ENODATA', ...), `syscall` the libcephfs function, and
 * the message reads `<syscall>(<path>[, <name>]): <description> (<code>)`.
 */
export type CephFSError = ErrnoError;

/** True if `error` is a CephFSError (the shape rados-js errors share), optionally with `code`. */
export const isCephFSError: (error: unknown, code?: string) => error is CephFSError = isErrnoError;

/** What using a closed (or closing) mount rejects with; same shape as the native errors. */
export function closedMountError(syscall: string, subject: string): CephFSError {
  return errnoError(ERRNO.ENOTCONN, syscall, subject, 'the CephFS mount is closed');
}
