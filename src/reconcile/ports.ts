/**
 * The driver's only contact with the world. The Ceph layer implements these over librados;
 * tests use the in-memory versions in `testing.ts`. Results follow librados: 0 or a negative
 * errno. A rejected promise is treated as -EIO.
 */
import type { DirMapRecord, HoldMark, InstanceRecord } from './types.js';

/**
 * One atomic omap write op on the `cephfs_mirror` object. Keys are given without their prefix
 * (`dir_map_` / `instance_`), set and remove never name the same key, and the total number of
 * entries never exceeds the driver's `maxKeysPerWrite` (256 by default).
 */
export interface DirMapWriteBatch {
  /** Directory path → record, to be stored at key `dir_map_<path>`. */
  set: ReadonlyMap<string, DirMapRecord>;
  /** Directory paths whose `dir_map_<path>` key is removed. */
  remove: readonly string[];
  /**
   * The operator's acquire marks (HoldMark), in the same atomic op. Their keys never collide
   * with `dir_map_`/`instance_` keys; each entry counts towards `maxKeysPerWrite` like the others.
   */
  marks?: {
    set: ReadonlyMap<string, HoldMark>;
    remove: readonly string[];
  };
}

export interface InstanceMapWriteBatch {
  /** Instance id → record, stored at key `instance_<id>`. */
  set: ReadonlyMap<string, InstanceRecord>;
  remove: readonly string[];
}

/** The omap of `cephfs_mirror` and the per-instance mailbox objects, in the metadata pool. */
export interface DirMapStore {
  writeDirMap(batch: DirMapWriteBatch): Promise<number>;
  writeInstances(batch: InstanceMapWriteBatch): Promise<number>;
  /** Remove `cephfs_mirror.<id>`; -ENOENT is expected (daemons remove their own on exit). */
  removeInstanceObject(instanceId: string): Promise<number>;
}

/** The payload of a notify, sent as JSON: `{"dir_path": "/d1", "mode": "acquire"}`. */
export interface DirectoryMessage {
  dir_path: string;
  mode: 'acquire' | 'release';
}

/** Notifies to `cephfs_mirror.<instance_id>`; r is the notify's return code (-110: timeout). */
export interface DirectoryNotifier {
  notify(instanceId: string, message: DirectoryMessage): Promise<number>;
}

/** `{"prefix": "osd blocklist", "blocklistop": "add", "addr": addr}` as a mon command. */
export interface Blocklister {
  blocklist(addr: string): Promise<number>;
}

export interface ClockTimer {
  cancel(): void;
}

/** Wall time in epoch seconds (float, like Python's `time.time()`) and timers. */
export interface Clock {
  now(): number;
  setTimer(callback: () => void, delaySeconds: number): ClockTimer;
}

/** The real clock. Timers are unref'd: the driver never keeps a process alive by itself. */
export const systemClock: Clock = {
  now: () => Date.now() / 1000,
  setTimer(callback, delaySeconds) {
    const handle = setTimeout(callback, Math.max(0, delaySeconds * 1000));
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** Where the driver reports failures it handles itself (retries); the operator logs them. */
export interface DriverLogger {
  warn(message: string, detail?: Record<string, unknown>): void;
  debug?(message: string, detail?: Record<string, unknown>): void;
}

export const silentLogger: DriverLogger = { warn: () => undefined };
