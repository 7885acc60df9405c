// The error shape both addons reject with, built on the JavaScript side (a closed handle, a
// failed mon command): the same fields and message as include/ceph_addon/errors.h gives errors
// raised in C++.
import { errnoCode } from './errno.js';

/**
 * A failed call of rados-js or cephfs-js. `errno` is positive, `code` its symbolic name
 * ('ENOENT', 'ETIMEDOUT', ...; `E<n>` outside the errno table), `syscall` the call that failed
 * (a libcephfs function such as 'ceph_mkdir', or a rados-js operation such as 'omapWrite'), and
 * the message reads `<syscall>(<subject>): <detail or description> (<code>)` (no `(<subject>)`
 * when the call has none).
 */
export interface ErrnoError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

/** True if `err` has the shape of an addon error, optionally with the given code ('ENOENT', ...). */
export function isErrnoError(err: unknown, code?: string): err is ErrnoError {
  if (!(err instanceof Error)) return false;
  const e = err as Partial<ErrnoError>;
  if (typeof e.errno !== 'number' || typeof e.code !== 'string') return false;
  return code === undefined || e.code === code;
}

/**
 * An ErrnoError for `syscall` (given `subject`, if any) failing with `errno` (sign ignored).
 * Without `detail` the message carries the code where C++ puts the errno's description: there is
 * no portable strerror in JavaScript.
 */
export function errnoError(
  errno: number,
  syscall: string,
  subject?: string,
  detail?: string,
): ErrnoError {
  const e = Math.abs(errno);
  const code = errnoCode(e);
  const where = subject === undefined || subject === '' ? syscall : `${syscall}(${subject})`;
  const error = new Error(`${where}: ${detail ?? code} (${code})`) as ErrnoError;
  error.errno = e;
  error.code = code;
  error.syscall = syscall;
  return error;
}
