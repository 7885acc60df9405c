/**
 * In-memory implementations of the driver's ports and a fake clock, for tests of this layer and
 * of the layers above it (the controllers can run a real driver against these). No I/O.
 *
 * Each port answers automatically (success, or what `respond` decides) or, in manual mode,
 * holds every call until the test settles it, so tests choose the interleaving.
 */
import type { FilesystemMirrorDriver } from './driver.js';
import { driverInternals } from './driver-types.js';
import { Errno } from './errors.js';
import type {
  Blocklister,
  Clock,
  ClockTimer,
  DirMapStore,
  DirMapWriteBatch,
  DirectoryMessage,
  DirectoryNotifier,
  InstanceMapWriteBatch,
} from './ports.js';
import type { DirMapRecord, HoldMark, InstanceRecord } from './types.js';

interface FakeTimer {
  due: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** Time stands still until `advance`; timers fire in due order, each at its due time. */
export class FakeClock implements Clock {
  private timers: FakeTimer[] = [];
  private seq = 0;

  constructor(private current = 1_700_000_000) {}

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, delaySeconds: number): ClockTimer {
    const timer: FakeTimer = {
      due: this.current + Math.max(0, delaySeconds),
      seq: this.seq++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Move time forward, firing every timer that falls due (including ones set meanwhile). */
  advance(seconds: number): void {
    const target = this.current + seconds;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: FakeTimer | undefined;
      for (const t of this.timers) {
        if (
          t.due <= target &&
          (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))
        ) {
          next = t;
        }
      }
      if (!next) break;
      this.current = Math.max(this.current, next.due);
      next.cancelled = true;
      next.callback();
    }
    this.current = target;
  }

  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}

/** A call held in manual mode, waiting for the test to settle it. */
export interface HeldCall<T> {
  readonly request: T;
  settle(r: number): void;
}

/**
 * The `cephfs_mirror` omap and mailbox objects in memory. A write with r >= 0 is applied
 * atomically, one with r < 0 not at all (RADOS write ops are atomic).
 */
export class InMemoryDirMapStore implements DirMapStore {
  readonly dirMap = new Map<string, DirMapRecord>();
  /** The operator's acquire marks (hold-marks.ts), by directory path. */
  readonly marks = new Map<string, HoldMark>();
  readonly instances = new Map<string, InstanceRecord>();
  readonly instanceObjects = new Set<string>();
  /** Every dir-map op, in the order it was issued. */
  readonly dirMapOps: DirMapWriteBatch[] = [];
  readonly heldDirMapWrites: Array<HeldCall<DirMapWriteBatch>> = [];
  readonly heldInstanceWrites: Array<HeldCall<InstanceMapWriteBatch>> = [];
  /** Decide the result of a write in automatic mode (default: 0). */
  respond: (batch: DirMapWriteBatch) => number = () => 0;
  respondInstances: (batch: InstanceMapWriteBatch) => number = () => 0;

  constructor(public manual = false) {}

  writeDirMap(batch: DirMapWriteBatch): Promise<number> {
    this.dirMapOps.push(batch);
    const apply = (r: number): number => {
      if (r >= 0) {
        for (const [path, record] of batch.set) this.dirMap.set(path, { ...record });
        for (const path of batch.remove) this.dirMap.delete(path);
        for (const [path, mark] of batch.marks?.set ?? []) this.marks.set(path, { ...mark });
        for (const path of batch.marks?.remove ?? []) this.marks.delete(path);
      }
      return r;
    };
    if (!this.manual) return Promise.resolve(apply(this.respond(batch)));
    return new Promise((resolve) => {
      this.heldDirMapWrites.push({ request: batch, settle: (r) => resolve(apply(r)) });
    });
  }

  writeInstances(batch: InstanceMapWriteBatch): Promise<number> {
    const apply = (r: number): number => {
      if (r >= 0) {
        for (const [id, record] of batch.set) this.instances.set(id, { ...record });
        for (const id of batch.remove) this.instances.delete(id);
      }
      return r;
    };
    if (!this.manual) return Promise.resolve(apply(this.respondInstances(batch)));
    return new Promise((resolve) => {
      this.heldInstanceWrites.push({ request: batch, settle: (r) => resolve(apply(r)) });
    });
  }

  removeInstanceObject(instanceId: string): Promise<number> {
    return Promise.resolve(this.instanceObjects.delete(instanceId) ? 0 : -Errno.ENOENT);
  }

  /** Settle the oldest held dir-map write. */
  settleDirMapWrite(r = 0): boolean {
    const call = this.heldDirMapWrites.shift();
    call?.settle(r);
    return call !== undefined;
  }

  settleInstanceWrite(r = 0): boolean {
    const call = this.heldInstanceWrites.shift();
    call?.settle(r);
    return call !== undefined;
  }
}

export interface SentNotify {
  instanceId: string;
  message: DirectoryMessage;
}

/**
 * The cephfs-mirror daemons as seen through their mailboxes: which directories each one
 * holds (acquired and not released). A daemon marked down never answers (-ETIMEDOUT); one
 * whose mailbox object is gone answers -ENOENT.
 */
export class InMemoryNotifier implements DirectoryNotifier {
  readonly held = new Map<string, Set<string>>();
  readonly down = new Set<string>();
  readonly gone = new Set<string>();
  readonly sent: SentNotify[] = [];
  /**
   * Acquires that reached a daemon already holding the directory: a released cephfs-mirror
   * daemon keeps a second list entry for each, and aborts after the next release (protocol
   * note, section 3). Tests assert this stays empty.
   */
  readonly duplicateAcquires: SentNotify[] = [];
  readonly heldNotifies: Array<
    HeldCall<SentNotify> & { settleApplied(r: number, applied: boolean): void }
  > = [];
  /** Decide the result in automatic mode (default: 0 for live daemons). */
  respond: (n: SentNotify) => number = () => 0;

  constructor(public manual = false) {}

  notify(instanceId: string, message: DirectoryMessage): Promise<number> {
    const n: SentNotify = { instanceId, message };
    this.sent.push(n);
    if (!this.manual) {
      const unreachable = this.unreachable(instanceId);
      if (unreachable !== 0) return Promise.resolve(unreachable);
      const r = this.respond(n);
      if (r >= 0) this.apply(n);
      return Promise.resolve(r);
    }
    return new Promise((resolve) => {
      const settleApplied = (r: number, applied: boolean): void => {
        const unreachable = this.unreachable(instanceId);
        if (unreachable !== 0) return resolve(unreachable);
        if (applied) this.apply(n);
        resolve(r);
      };
      this.heldNotifies.push({
        request: n,
        settle: (r) => settleApplied(r, r >= 0),
        settleApplied,
      });
    });
  }

  /** Directories held by a daemon. */
  holdings(instanceId: string): ReadonlySet<string> {
    return this.held.get(instanceId) ?? new Set();
  }

  /** Daemons (other than those in `except`) holding `path`. */
  holders(path: string, except: ReadonlySet<string> = new Set()): string[] {
    const out: string[] = [];
    for (const [id, dirs] of this.held) if (!except.has(id) && dirs.has(path)) out.push(id);
    return out;
  }

  settleNotify(index: number, r: number, applied = r >= 0): boolean {
    const [call] = this.heldNotifies.splice(index, 1);
    call?.settleApplied(r, applied);
    return call !== undefined;
  }

  private unreachable(instanceId: string): number {
    if (this.gone.has(instanceId)) return -Errno.ENOENT;
    if (this.down.has(instanceId)) return -Errno.ETIMEDOUT;
    return 0;
  }

  private apply({ instanceId, message }: SentNotify): void {
    let dirs = this.held.get(instanceId);
    if (!dirs) {
      dirs = new Set();
      this.held.set(instanceId, dirs);
    }
    if (message.mode === 'acquire') {
      if (dirs.has(message.dir_path)) this.duplicateAcquires.push({ instanceId, message });
      dirs.add(message.dir_path);
    } else dirs.delete(message.dir_path);
  }
}

export class RecordingBlocklister implements Blocklister {
  /** Successful blocklistings, in order. */
  readonly addrs: string[] = [];
  /** The next this-many calls fail with -ETIMEDOUT (a mon that does not answer). */
  failNext = 0;
  blocklist(addr: string): Promise<number> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.resolve(-Errno.ETIMEDOUT);
    }
    this.addrs.push(addr);
    return Promise.resolve(0);
  }
}

/** Let every promise chain that can run without outside help run to completion. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Throws when a driver's indexes disagree: the policy's, and an action in flight for a
 * directory that is not tracked. O(directories).
 */
export function checkDriverConsistency(driver: FilesystemMirrorDriver): void {
  const { policy, inFlight } = driverInternals(driver);
  policy.checkConsistency();
  for (const path of inFlight) {
    if (!policy.has(path)) throw new Error(`driver: in-flight ${path} is not tracked`);
  }
}

/** (directory, daemon) pairs that get a release before their next acquire. */
export function uncertainDeliveries(driver: FilesystemMirrorDriver): number {
  return driverInternals(driver).messenger.uncertainCount;
}
