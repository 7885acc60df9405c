// The pickle codec used for the mgr-compatible omap values of the `cephfs_mirror` object.
export { decodePickle } from './decode.js';
export { encodePickle } from './encode.js';
export {
  PickleError,
  pythonTypeName,
  type PickleDict,
  type PickleScalar,
  type PickleValue,
} from './value.js';
