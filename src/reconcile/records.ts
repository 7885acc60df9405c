import { DirectoryError } from './errors.js';
import type { DirPath } from './paths.js';
import { dirMapRecord } from './planner.js';
import type { DirectoryPolicy } from './policy.js';
import type { DriverLogger } from './ports.js';
import type { DirMapRecord } from './types.js';
import type { DirMapWriteQueue, WriteDone } from './write-queue.js';

/** What the records need of the driver that owns them. */
export interface DirectoryRecordsOptions {
  policy: DirectoryPolicy;
  writes: DirMapWriteQueue;
  log: DriverLogger;
  /** False once the driver is stopping: results are no longer acted on. */
  running: () => boolean;
  /** A write finished (for the driver's health check). */
  progress: () => void;
  schedule: (path: DirPath) => void;
  emit: (path: DirPath) => void;
  /** The directory's status as a string, to tell whether a change is worth an emit. */
  fingerprint: (path: DirPath) => string;
  /** A retry waits for the next tick: re-arm the timer. */
  wake: () => void;
}

interface Waiter {
  resolve: (path: DirPath) => void;
  reject: (error: Error) => void;
}

/**
 * Add and remove requests until their dir-map record is written: the new directory's key, and
 * the purge mark that commits a removal. Callers wait for that write (as in the mgr module);
 * a failed one is retried on the next tick, never dropped.
 */
export class DirectoryRecords {
  /** Removals whose purge mark is being written; the policy hears of them afterwards. */
  private readonly removals = new Set<DirPath>();
  private readonly addWaiters = new Map<DirPath, Waiter>();
  private readonly removeWaiters = new Map<DirPath, Waiter>();
  /** Add/purge records whose write failed, re-sent on the next tick. */
  private deferred: Array<{ path: DirPath; kind: 'add' | 'purge' }> = [];

  constructor(private readonly o: DirectoryRecordsOptions) {}

  /**
   * Track a new directory and write its key. Throws DirectoryError RemovalInProgress,
   * AlreadyTracked, or an overlap (from the policy).
   */
  add(path: DirPath): Promise<DirPath> {
    const look = this.o.policy.lookup(path);
    if (this.removals.has(path) || look?.purging) throw DirectoryError.removalInProgress(path);
    if (look) throw DirectoryError.alreadyTracked(path);
    this.o.policy.addDirectory(path);
    this.o.emit(path);
    return new Promise((resolve, reject) => {
      this.addWaiters.set(path, { resolve, reject });
      this.writeAddRecord(path);
    });
  }

  /** Write the purge mark of a tracked directory. Throws DirectoryError NotTracked, UnderRemoval. */
  remove(path: DirPath): Promise<DirPath> {
    const look = this.o.policy.lookup(path);
    if (!look) throw DirectoryError.notTracked(path);
    if (look.purging || this.removals.has(path)) throw DirectoryError.underRemoval(path);
    this.removals.add(path);
    return new Promise((resolve, reject) => {
      this.removeWaiters.set(path, { resolve, reject });
      this.writePurgeRecord(path);
    });
  }

  /** A removal whose purge mark is being written, which the policy does not know of yet. */
  removing(path: DirPath): boolean {
    return this.removals.has(path);
  }

  /** A new directory's key is still being written. */
  get adding(): boolean {
    return this.addWaiters.size > 0;
  }

  /** No request waits for its record. */
  get idle(): boolean {
    return (
      this.deferred.length === 0 && this.addWaiters.size === 0 && this.removeWaiters.size === 0
    );
  }

  /** A failed record write waits for the next tick. */
  get retryDue(): boolean {
    return this.deferred.length > 0;
  }

  /** On a tick: re-send the records whose write failed. */
  retry(): void {
    const deferred = this.deferred;
    this.deferred = [];
    for (const { path, kind } of deferred) {
      if (kind === 'add' && this.addWaiters.has(path)) this.writeAddRecord(path);
      if (kind === 'purge' && this.removals.has(path)) this.writePurgeRecord(path);
    }
  }

  /** Stopping: failed writes are no longer retried. */
  dropRetries(): void {
    this.deferred = [];
  }

  /** Stopped: whoever still waits is told so. */
  rejectWaiters(): void {
    for (const [path, waiter] of [...this.addWaiters, ...this.removeWaiters]) {
      waiter.reject(DirectoryError.shuttingDown(path));
    }
    this.addWaiters.clear();
    this.removeWaiters.clear();
  }

  /** Write a record; when it carries the purge mark, its success commits a pending removal. */
  write(path: DirPath, record: DirMapRecord, done: WriteDone): void {
    if (!record.purging) {
      this.o.writes.set(path, record, done);
      return;
    }
    this.o.writes.set(path, record, (p, r) => {
      done(p, r);
      if (r >= 0) this.purgeMarkWritten(p);
    });
  }

  /**
   * The new directory's key (instance '', time 0). Built from the current state, so a retry
   * that lands after a purge mark carries the mark too.
   */
  private writeAddRecord(path: DirPath): void {
    const look = this.o.policy.lookup(path);
    if (!look) return;
    const purging = look.purging || this.removals.has(path);
    this.write(path, dirMapRecord(look.instanceId, look.mappedTime, purging), this.addRecordDone);
  }

  private readonly addRecordDone = (path: DirPath, r: number): void => {
    this.o.progress();
    const waiter = this.addWaiters.get(path);
    if (r < 0) {
      if (this.o.running()) {
        this.o.log.warn('writing new directory failed; retrying', { path, r });
        this.deferred.push({ path, kind: 'add' });
        this.o.wake();
      }
      return;
    }
    this.addWaiters.delete(path);
    if (this.o.running()) this.o.schedule(path);
    waiter?.resolve(path);
  };

  private writePurgeRecord(path: DirPath): void {
    const look = this.o.policy.lookup(path);
    if (!look) return;
    this.o.writes.set(path, dirMapRecord(look.instanceId, look.mappedTime, true), this.purgeDone);
  }

  private readonly purgeDone = (path: DirPath, r: number): void => {
    if (r >= 0) {
      this.purgeMarkWritten(path);
    } else if (this.o.running() && this.removals.has(path)) {
      this.o.log.warn('marking directory for removal failed; retrying', { path, r });
      this.deferred.push({ path, kind: 'purge' });
      this.o.wake();
    }
  };

  /**
   * A record carrying the purge mark reached the store (the purge record itself, or an add
   * record or map update that carried it): from now on a restart resumes the removal, so the
   * removal is committed. Tell the policy and settle the caller.
   */
  private purgeMarkWritten(path: DirPath): void {
    if (!this.removals.delete(path)) return;
    const waiter = this.removeWaiters.get(path);
    this.removeWaiters.delete(path);
    if (this.o.running() && this.o.policy.has(path)) {
      const before = this.o.fingerprint(path);
      if (this.o.policy.removeDirectory(path)) this.o.schedule(path);
      if (before !== this.o.fingerprint(path)) this.o.emit(path);
    }
    waiter?.resolve(path);
  }
}
