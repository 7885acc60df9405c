/** The driver's public types, the summary built from its distribution, and its test view. */
import type { FilesystemMirrorDriver } from './driver.js';
import type { DirectoryMessenger } from './messenger.js';
import type { DirPath } from './paths.js';
import type { DirectoryPolicy, DirectoryStatusWord, InstanceLoad } from './policy.js';
import type { Blocklister, Clock, DirMapStore, DirectoryNotifier, DriverLogger } from './ports.js';
import type { Tunables } from './tunables.js';
import type { DirMapRecord, HoldMark, InstanceRecord } from './types.js';

export type { InstanceChange } from './instance-registry.js';

export interface DriverOptions {
  store: DirMapStore;
  notifier: DirectoryNotifier;
  blocklister: Blocklister;
  clock?: Clock;
  tunables?: Partial<Tunables>;
  logger?: DriverLogger;
  /**
   * A notify to this instance's mailbox answered ENOENT: the object its daemon watches is gone,
   * so the daemon is too. The engine tells its instance watcher, which reports it removed.
   */
  onInstanceGone?: (instanceId: string) => void;
}

/** What was read from the `cephfs_mirror` omap at start-up. */
export interface InitialState {
  /** Dir-map entries by their key as stored (taken exactly, never re-validated). */
  directories: Iterable<readonly [string, DirMapRecord]>;
  instances: Iterable<readonly [string, InstanceRecord]>;
  /**
   * The operator's acquire marks by directory key (hold-marks.ts): a mapped directory whose mark
   * matches its record, on an instance of the list, starts ASSOCIATED without any notify.
   */
  marks?: Iterable<readonly [string, HoldMark]>;
  /**
   * What an earlier engine of this process had handed out (see `holdings()`), when the map is
   * reloaded after it changed behind our back: a daemon holding a directory the new map gives
   * to another daemon, or to none, is told to release it first.
   */
  previousHoldings?: Iterable<readonly [string, string]>;
}

export interface InstanceDistribution extends InstanceLoad {
  /** Last address reported for the instance, when known. */
  addr: string | undefined;
}

export interface Distribution {
  instances: InstanceDistribution[];
  directories: number;
  byStatus: Record<DirectoryStatusWord, number>;
}

export type DirectoryListener = (path: DirPath) => void;

/** The `fs snapshot mirror dirmap` summary in the mgr module's format, from a distribution. */
export function mgrSummaryOf(distribution: Distribution): { mapping: Record<string, string> } {
  const mapping: Record<string, string> = {};
  for (const load of distribution.instances) mapping[load.id] = `${load.directories} directories`;
  return { mapping };
}

/**
 * What test helpers may read of a running driver (testing.ts: consistency checks, counts), kept
 * off the class so production code has no members only tests use. Not exported by index.ts.
 */
export interface DriverInternals {
  readonly policy: DirectoryPolicy;
  readonly inFlight: ReadonlySet<DirPath>;
  readonly messenger: DirectoryMessenger;
}

const internals = new WeakMap<FilesystemMirrorDriver, DriverInternals>();

/** Called once by the driver's constructor. */
export function registerInternals(driver: FilesystemMirrorDriver, view: DriverInternals): void {
  internals.set(driver, view);
}

export function driverInternals(driver: FilesystemMirrorDriver): DriverInternals {
  const view = internals.get(driver);
  if (!view) throw new Error('not a FilesystemMirrorDriver');
  return view;
}
