// The error shape every failed call rejects with.
import { constants } from 'node:os';

/**
 * A failed libcephfs call: `errno` is positive (as in Node's fs errors' absolute value), `code`
 * its symbolic name ('ENOENT', 'EEXIST', 'ENODATA', ...), `syscall` the libcephfs function, and
 * the message reads `<syscall>(<path>[, <name>]): <description>`.
 */
export interface CephFSError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

export function isCephFSError(error: unknown): error is CephFSError {
  return (
    error instanceof Error &&
    typeof (error as Partial<CephFSError>).errno === 'number' &&
    typeof (error as Partial<CephFSError>).code === 'string'
  );
}

/** What using a closed (or closing) mount rejects with; same shape as the native errors. */
export function closedMountError(syscall: string, subject: string): CephFSError {
  const error = new Error(`${syscall}(${subject}): the CephFS mount is closed`) as CephFSError;
  error.errno = constants.errno.ENOTCONN;
  error.code = 'ENOTCONN';
  error.syscall = syscall;
  return error;
}
