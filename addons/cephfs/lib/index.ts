// cephfs-js: async, typed bindings for libcephfs. See README.md.
export { CephFS } from './cephfs.js';
export type {
  CephStat,
  ConfPathMountOptions,
  KeyMountOptions,
  ListSnapsOptions,
  MountOptions,
  RadosMountOptions,
  SetXattrOptions,
} from './cephfs.js';
export { isCephFSError } from './errors.js';
export type { CephFSError } from './errors.js';
export type { RadosHandleProvider } from './rados-handle.js';
