/**
 * The policy engine: which cephfs-mirror daemon owns which directory, and the per-filesystem
 * driver that carries the decisions out through injected ports. Pure TypeScript, no I/O.
 */
export type {
  ActionType,
  DirMapRecord,
  DirectoryStateName,
  HoldMark,
  InstanceInfo,
  InstanceRecord,
  PolicyAction,
} from './types.js';
export {
  IDLE_TRANSITION,
  TRANSITION_TABLE,
  TransitionError,
  isIdle,
  isInstanceAction,
  transit,
  type Transition,
} from './transitions.js';
export { DirectoryError, Errno, type DirectoryErrorReason, type ErrnoCode } from './errors.js';
export { normalizeDirectoryPath, splitPath, storedDirectoryPath, type DirPath } from './paths.js';
export { PathTrie, type PathConflict } from './path-trie.js';
export { DEFAULT_TUNABLES, resolveTunables, type Tunables } from './tunables.js';
export {
  DirectoryPolicy,
  STALLED_REASON,
  type DirectoryLookup,
  type DirectoryStatus,
  type DirectoryStatusWord,
  type InstanceLoad,
  type RebalanceResult,
} from './policy.js';
export { dirMapRecord, planActions, type ActionPlan, type PlannedNotify } from './planner.js';
export { DirMapWriteQueue, type WriteDone } from './write-queue.js';
export {
  silentLogger,
  systemClock,
  type Blocklister,
  type Clock,
  type ClockTimer,
  type DirMapStore,
  type DirMapWriteBatch,
  type DirectoryMessage,
  type DirectoryNotifier,
  type DriverLogger,
  type InstanceMapWriteBatch,
} from './ports.js';
export { FilesystemMirrorDriver } from './driver.js';
export {
  mgrSummaryOf,
  type DirectoryListener,
  type Distribution,
  type DriverOptions,
  type InitialState,
  type InstanceChange,
  type InstanceDistribution,
} from './driver-types.js';
export {
  CONFIRMING_LOOKUPS,
  InstanceLiveness,
  type LivenessChange,
  type SessionEvidence,
} from './instance-liveness.js';
