// Error shapes. Every failure from the addon is an Error carrying `errno` (positive), `code`
// ('ENOENT', 'ETIMEDOUT', ...) and `operation` (what was being done, e.g. "stat(obj1)").
import { constants } from 'node:os';

export interface RadosError extends Error {
  errno: number;
  code: string;
  operation: string;
}

/** True if `err` is an error from rados-js, optionally with the given code ('ENOENT', ...). */
export function isRadosError(err: unknown, code?: string): err is RadosError {
  if (!(err instanceof Error)) return false;
  const e = err as Partial<RadosError>;
  if (typeof e.errno !== 'number' || typeof e.code !== 'string') return false;
  return code === undefined || e.code === code;
}

// Linux values libuv does not export but librados returns (ESHUTDOWN is also Ceph's
// EBLOCKLISTED).
const errnoNames = new Map<number, string>([[108, 'ESHUTDOWN']]);
for (const [name, value] of Object.entries(constants.errno)) {
  // Aliases share a number (EAGAIN/EWOULDBLOCK): keep the first, like strerrorname_np.
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}

/** The symbolic name of an errno value (sign ignored), e.g. 2 -> 'ENOENT'. */
export function errnoName(errno: number): string {
  const e = Math.abs(errno);
  return errnoNames.get(e) ?? `E${e}`;
}

/** Builds a RadosError for `operation` failing with `errno` (sign ignored). */
export function radosError(operation: string, errno: number, detail?: string): RadosError {
  const e = Math.abs(errno);
  const code = errnoName(e);
  const err = new Error(`${operation}: ${detail ?? code} (${code})`) as RadosError;
  err.errno = e;
  err.code = code;
  err.operation = operation;
  return err;
}
