// ceph-addon-common: what rados-js and cephfs-js share on the JavaScript side (the errno table and
// the error shape); include/ holds the C++ side. See README.md.
export { ERRNO, errnoCode, type ErrnoCode } from './errno.js';
export { errnoError, isErrnoError, type ErrnoError } from './errors.js';
