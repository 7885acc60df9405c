// Error shapes. Every failure from the addon is ceph-addon-common's ErrnoError, which cephfs-js
// shares: an Error carrying `errno` (positive), `code` ('ENOENT', 'ETIMEDOUT', ...) and `syscall`
// (the rados-js operation that failed, e.g. 'stat'); the message reads
// `<syscall>(<object or other subject>): <detail> (<code>)`.
import { isErrnoError, type ErrnoError } from 'ceph-addon-common';

export { errnoCode, errnoError } from 'ceph-addon-common';

export type RadosError = ErrnoError;

/** True if `err` is an error from rados-js, optionally with the given code ('ENOENT', ...). */
export const isRadosError: (err: unknown, code?: string) => err is RadosError = isErrnoError;
