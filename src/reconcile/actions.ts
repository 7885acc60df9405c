import type { DirectoryEvents } from './directory-events.js';
import { Errno } from './errors.js';
import type { HoldMarks } from './hold-marks.js';
import type { DirectoryMessenger } from './messenger.js';
import type { DirPath } from './paths.js';
import { planActions } from './planner.js';
import type { DirectoryPolicy } from './policy.js';
import type { DriverLogger } from './ports.js';
import type { DirectoryRecords } from './records.js';
import type { DirMapWriteQueue } from './write-queue.js';

export interface DirectoryActionsOptions {
  policy: DirectoryPolicy;
  records: DirectoryRecords;
  writes: DirMapWriteQueue;
  messenger: DirectoryMessenger;
  /** Acquire marks: a directory's removal takes its mark along in the same op. */
  marks: HoldMarks;
  events: DirectoryEvents;
  log: DriverLogger;
  /** False once the driver is stopping: results are no longer acted on. */
  running: () => boolean;
  /** A dead instance that might still be running: a failure towards it is retried. */
  isUnfenced: (instanceId: string) => boolean;
  /** A notify answered ENOENT: the instance's mailbox, and so its daemon, is gone. */
  onInstanceGone: ((instanceId: string) => void) | undefined;
  /** An action finished (for the driver's health check). */
  progress: () => void;
  /** A directory finished its removal and is forgotten: the balance may have changed. */
  forgotten: () => void;
  /** Something was scheduled or finished: re-arm the timer. */
  wake: () => void;
}

/**
 * The directories' actions: which are scheduled for the next tick, which have an action out,
 * and what a finished action leads to. Each tick starts the next step of every scheduled
 * directory that has none out (planner.ts) as dir-map writes and notifies; each result goes back
 * to the policy, which says whether the directory has more to do. At most one action per
 * directory is out at a time; one scheduled meanwhile is looked at again when it ends.
 */
export class DirectoryActions {
  /** Directories to start on the next tick. */
  private pending = new Set<DirPath>();
  /** Directories with an action out (write or notify). */
  private readonly out = new Set<DirPath>();
  /** Scheduled while in flight: look again when the action ends. */
  private readonly recheck = new Set<DirPath>();
  /** Something scheduled follows a step that succeeded: its next step need not wait a tick. */
  private soon = false;

  constructor(private readonly o: DirectoryActionsOptions) {}

  /** `soon`: the previous step succeeded, so the next may start early (driver armTimer). */
  schedule(path: DirPath, soon = false): void {
    this.pending.add(path);
    if (soon) this.soon = true;
    this.o.wake();
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  get hasSoon(): boolean {
    return this.soon && this.pending.size > 0;
  }

  /** Some action is out. */
  get busy(): boolean {
    return this.out.size > 0;
  }

  /** Directories with an action out (the test view checks they are tracked). */
  get inFlight(): ReadonlySet<DirPath> {
    return this.out;
  }

  /** Stopping: nothing scheduled starts any more. */
  clear(): void {
    this.pending.clear();
  }

  /** On a tick: start the next step of every scheduled directory that has no action out. */
  startDue(now: number): void {
    const { policy } = this.o;
    const due: DirPath[] = [];
    for (const path of this.pending) {
      if (!policy.has(path)) continue;
      if (this.out.has(path)) this.recheck.add(path);
      else due.push(path);
    }
    this.pending = new Set();
    this.soon = false;
    this.start(due, now);
  }

  private start(paths: DirPath[], now: number): void {
    const { policy, records, events } = this.o;
    const before = events.watched ? paths.map((p) => events.fingerprint(p)) : null;
    const plan = planActions(policy, paths, now, (p) => records.removing(p));
    if (before) {
      paths.forEach((p, i) => {
        if (before[i] !== events.fingerprint(p)) events.emit(p);
      });
    }
    for (const { path } of plan.started) this.out.add(path);
    // Sets before removals, as the mgr module orders one update.
    for (const [path, record] of plan.dirMapSets) records.write(path, record, this.done);
    for (const path of plan.dirMapRemovals) {
      const withMark = this.o.marks.has(path);
      this.o.writes.remove(
        path,
        (p, r) => {
          if (withMark) this.o.marks.removedWithKey(p, r);
          this.done(p, r);
        },
        withMark,
      );
    }
    for (const { path, instanceId, mode } of plan.notifies) {
      this.o.messenger.send(path, instanceId, mode, (r) => {
        if (r < 0) this.o.log.warn(`${mode} notify failed`, { path, instanceId, r });
        if (r === -Errno.ENOENT) this.o.onInstanceGone?.(instanceId);
        if (r < 0 && this.o.isUnfenced(instanceId)) this.retry(path);
        else this.done(path, r);
      });
    }
  }

  /** Result of a directory's action: feed the policy and schedule what follows. */
  private readonly done = (path: DirPath, r: number): void => {
    const { policy, events } = this.o;
    this.out.delete(path);
    this.o.progress();
    if (!this.o.running() || !policy.has(path)) return;
    const before = events.watched ? events.fingerprint(path) : '';
    const more = policy.finishAction(path, r);
    if (!policy.has(path)) {
      this.recheck.delete(path);
      this.o.messenger.forgetPath(path);
      events.emit(path);
      this.o.forgotten();
    } else {
      if (events.watched && before !== events.fingerprint(path)) events.emit(path);
      if (this.recheck.delete(path) || more) this.schedule(path, r >= 0);
    }
    this.o.wake();
  };

  /** Send the same action again next tick (its row has no start policy action to re-run). */
  private retry(path: DirPath): void {
    this.out.delete(path);
    this.recheck.delete(path);
    if (this.o.running() && this.o.policy.has(path)) this.schedule(path);
  }
}
