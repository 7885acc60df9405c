// rados-js: asynchronous, typed bindings for librados.
export {
  Rados,
  checkCommand,
  type CommandResult,
  type CommonConnectOptions,
  type ConfFileConnectOptions,
  type ConnectOptions,
  type MonHostConnectOptions,
  type RadosState,
} from './rados.js';
export {
  IoCtx,
  LOCK_FLAG_MAY_RENEW,
  LOCK_FLAG_MUST_RENEW,
  type ClassCall,
  type LockInfo,
  type Locker,
  type WriteGuard,
  type NotifyAck,
  type NotifyResult,
  type NotifyTimeout,
  type ObjectStat,
  type OmapPage,
  type OmapReadOptions,
  type OmapWrite,
  type WatchOptions,
} from './ioctx.js';
export {
  Watch,
  type NotifyEvent,
  type NotifyHandler,
  type NotifyReply,
  type WatchErrorHandler,
} from './watch.js';
export { errnoCode, errnoError, isRadosError, type RadosError } from './errors.js';
