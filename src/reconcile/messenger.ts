import { DeliveryLedger } from './delivery-ledger.js';
import { Errno } from './errors.js';
import type { HoldMarks } from './hold-marks.js';
import type { DirPath } from './paths.js';
import type { DirectoryNotifier } from './ports.js';
import type { DirMapRecord, HoldMark } from './types.js';

export interface MessengerOptions {
  notifier: DirectoryNotifier;
  /** The durable acquire marks: written after an acked acquire, removed before any release. */
  marks: HoldMarks;
  /**
   * The mark an acked acquire of `path` by `instanceId` earns: the record it was made under
   * (undefined when the directory no longer maps there, or is being removed).
   */
  markOf: (path: DirPath, instanceId: string) => HoldMark | undefined;
  /** Whether the driver still tracks a directory (an untracked one's strays are orphans). */
  isTracked: (path: DirPath) => boolean;
  /** A background release finished: re-arm the timer. */
  wake: () => void;
}

/**
 * Acquire and release notifies to the daemons' mailboxes, with the delivery ledger that keeps
 * them daemon-safe (see delivery-ledger.ts): a directory is never acquired twice by one daemon,
 * nor held by two. Also releases stray holders of directories nobody tracks any more, in the
 * background. Counts what is in flight, so the driver can wait for it when it stops.
 */
export class DirectoryMessenger {
  /** Daemons that may hold a directory without an ack telling us so: acquire only after a release. */
  private readonly ledger = new DeliveryLedger();
  private readonly inFlight = new Set<Promise<void>>();
  /** Background releases of orphaned strays in flight (`<instance> <path>`). */
  private readonly orphanReleases = new Set<string>();
  private orphanRetryDue = false;

  constructor(private readonly o: MessengerOptions) {}

  /**
   * What start-up knows of earlier deliveries. Whoever wrote the map (an earlier operator, the
   * mgr module) may have acquired each mapped directory already: a plain acquire could be its
   * second one, unless its acquire mark makes it `certain` (hold-marks.ts). `previous` is what
   * an earlier engine of this process handed out.
   */
  load(
    directories: Iterable<readonly [DirPath, DirMapRecord]>,
    previous: Iterable<readonly [DirPath, string]>,
    certain: ReadonlySet<DirPath> = new Set(),
  ): void {
    const mapped = new Map<string, string>();
    for (const [path, record] of directories) {
      mapped.set(path, record.instanceId);
      if (record.instanceId !== '' && !certain.has(path)) {
        this.ledger.markUncertain(path, record.instanceId);
      }
    }
    for (const [path, instanceId] of previous) {
      if (mapped.get(path) !== instanceId) this.ledger.markStray(path, instanceId);
      else if (!certain.has(path)) this.ledger.markUncertain(path, instanceId);
    }
    this.orphanRetryDue = this.ledger.allStrays().length > 0;
  }

  /** Send a directory's acquire or release; `done` gets the notify's result. */
  send(
    path: DirPath,
    instanceId: string,
    mode: 'acquire' | 'release',
    done: (r: number) => void,
  ): void {
    this.track(
      mode === 'acquire' ? this.safeAcquire(path, instanceId) : this.release(path, instanceId),
      done,
    );
  }

  /** Uncertain and stray (path, instance) pairs: who may hold what unbeknown to the map. */
  possibleHolders(): Array<[DirPath, string]> {
    return this.ledger.allPairs();
  }

  /** The instance was fenced: whatever it held dies with its RADOS client. */
  forgetInstance(instanceId: string): void {
    this.ledger.forgetInstance(instanceId);
  }

  /** The directory is no longer tracked. */
  forgetPath(path: DirPath): void {
    this.ledger.forgetPath(path);
  }

  /** Orphan releases are out, or one failed and waits for the next tick. */
  get orphansPending(): boolean {
    return this.orphanReleases.size > 0 || this.orphanRetryDue;
  }

  /** A failed orphan release waits for the next tick. */
  get retryDue(): boolean {
    return this.orphanRetryDue;
  }

  /** Number of uncertain and stray pairs (tests, through testing.ts). */
  get uncertainCount(): number {
    return this.ledger.size;
  }

  /** Wait for every notify in flight, including those sent meanwhile. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /**
   * Stray holders of directories nobody tracks any more (removed from the map behind our back)
   * are released in the background, retried each tick until acked or the daemon is gone.
   */
  releaseOrphans(): void {
    this.orphanRetryDue = false;
    for (const [path, id] of this.ledger.allStrays()) {
      const key = `${id} ${path}`;
      if (this.o.isTracked(path) || this.orphanReleases.has(key)) continue;
      this.orphanReleases.add(key);
      this.track(this.release(path, id), (r) => {
        this.orphanReleases.delete(key);
        if (r === -Errno.ENOENT) this.ledger.forgetInstance(id);
        else if (r < 0) this.orphanRetryDue = true;
        this.o.wake();
      });
    }
  }

  private track(work: Promise<number>, done: (r: number) => void): void {
    const sent: Promise<void> = work.then((r) => {
      this.inFlight.delete(sent);
      done(r);
    });
    this.inFlight.add(sent);
  }

  /**
   * Acquire without ever giving a daemon a directory twice: where an earlier acquire may have
   * arrived unacknowledged, release first and acquire only once the daemon acked the release
   * (its notifies are handled in order, and a release of a directory it does not hold is a
   * no-op). A failed release fails the step; the policy retries it like a failed acquire.
   */
  private async safeAcquire(path: DirPath, instanceId: string): Promise<number> {
    // Two daemons must never sync one directory: a stray holder lets go first.
    for (const stray of this.ledger.straysOf(path)) {
      const r = await this.release(path, stray);
      if (r < 0 && r !== -Errno.ENOENT) return r;
      if (r === -Errno.ENOENT) this.ledger.forgetInstance(stray);
    }
    if (this.ledger.needsReleaseFirst(path, instanceId)) {
      const r = await this.release(path, instanceId);
      if (r < 0) return r;
    }
    const r = await this.notify(instanceId, path, 'acquire');
    this.ledger.acquired(path, instanceId, r);
    if (r === 0) {
      // Only now is the holding known: the mark follows the ack, never precedes it.
      const mark = this.o.markOf(path, instanceId);
      if (mark) this.o.marks.acquired(path, mark);
    }
    return r;
  }

  private async release(path: DirPath, instanceId: string): Promise<number> {
    // A mark must never outlive the holding it names: it goes, durably, before the release.
    const cleared = await this.o.marks.beforeRelease(path);
    // Not sent. A write's ENOENT must not read as the daemon's mailbox being gone.
    if (cleared < 0) return cleared === -Errno.ENOENT ? -Errno.EIO : cleared;
    const r = await this.notify(instanceId, path, 'release');
    this.ledger.released(path, instanceId, r);
    return r;
  }

  private notify(instanceId: string, path: DirPath, mode: 'acquire' | 'release'): Promise<number> {
    return this.o.notifier.notify(instanceId, { dir_path: path, mode }).catch(() => -Errno.EIO);
  }
}
