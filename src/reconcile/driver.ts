import {
  registerInternals,
  type DirectoryListener,
  type Distribution,
  type DriverOptions,
  type InitialState,
} from './driver-types.js';
import { DirectoryActions } from './actions.js';
import { DirectoryEvents } from './directory-events.js';
import { DirectoryError } from './errors.js';
import { HoldMarks } from './hold-marks.js';
import { InstanceRegistry, type InstanceChange } from './instance-registry.js';
import { DirectoryMessenger } from './messenger.js';
import { normalizeDirectoryPath, storedDirectoryPath, type DirPath } from './paths.js';
import { DirectoryPolicy, type DirectoryStatus } from './policy.js';
import { silentLogger, systemClock, type Clock, type DriverLogger } from './ports.js';
import { DirectoryRecords } from './records.js';
import { TickTimer } from './tick-timer.js';
import { resolveTunables, type Tunables } from './tunables.js';
import type { DirMapRecord, InstanceInfo } from './types.js';
import { DirMapWriteQueue } from './write-queue.js';

type RunState = 'new' | 'running' | 'stopping' | 'stopped';

/** How soon after a successful step the next one of the same directory starts (seconds). */
const EARLY_TICK_S = 0.02;

/**
 * Drives the policy of one mirrored filesystem (the mgr module's FSPolicy, for an event
 * loop). Scheduled work accumulates; every tick turns it into dir-map writes (through one
 * ordered write queue) and acquire/release notifies, and every result is fed back to the
 * policy, which says what to schedule next. A directory has at most one action in flight.
 *
 * It never blocks: add/remove return promises that settle when their dir-map key is written
 * (as in the mgr module), and failed writes are retried on the next tick, never dropped.
 *
 * Its parts: the directory policy (policy.ts); the directories' actions (actions.ts, planned by
 * planner.ts); the add and remove requests until their record is written (records.ts); notifies
 * and the delivery ledger (messenger.ts); the daemons, their changes and the mass-failure hold
 * (instance-registry.ts).
 */
export class FilesystemMirrorDriver {
  private current: Tunables;
  private readonly policy: DirectoryPolicy;
  private readonly clock: Clock;
  private readonly log: DriverLogger;
  private readonly writes: DirMapWriteQueue;
  private readonly records: DirectoryRecords;
  private readonly messenger: DirectoryMessenger;
  private readonly marks: HoldMarks;
  private readonly instances: InstanceRegistry;

  private runState: RunState = 'new';
  private stopping: Promise<void> | undefined;
  private readonly timer: TickTimer;

  private readonly actions: DirectoryActions;
  private rebalanceAt: number | null = null;
  private rebalanceWhenQuiet = false;
  private readonly events: DirectoryEvents;
  /** Clock time of the last finished action, write or notify (for the health check). */
  private lastProgressAt = 0;

  constructor(options: DriverOptions) {
    this.current = resolveTunables(options.tunables);
    this.policy = new DirectoryPolicy(this.current.shuffleThrottleSeconds);
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silentLogger;
    this.timer = new TickTimer(this.clock, () => this.tick());
    this.events = new DirectoryEvents(this.policy, this.log);
    this.writes = new DirMapWriteQueue(options.store, this.current.maxKeysPerWrite, (r, b) =>
      this.log.warn('dir map write failed; retrying', {
        r,
        set: b.set.size,
        remove: b.remove.length,
      }),
    );
    this.records = new DirectoryRecords({
      policy: this.policy,
      writes: this.writes,
      log: this.log,
      running: () => this.runState === 'running',
      progress: () => void (this.lastProgressAt = this.clock.now()),
      // Its key (or purge mark) is written: the next step need not wait for a whole tick.
      schedule: (path) => this.actions.schedule(path, true),
      emit: (path) => this.events.emit(path),
      fingerprint: (path) => this.events.fingerprint(path),
      wake: () => this.armTimer(),
    });
    this.marks = new HoldMarks(this.writes, () => this.armTimer());
    this.messenger = new DirectoryMessenger({
      notifier: options.notifier,
      marks: this.marks,
      markOf: (path, instanceId) => {
        const look = this.policy.lookup(path);
        if (!look || look.purging || look.instanceId !== instanceId) return undefined;
        return { instanceId, lastShuffled: look.mappedTime ?? 0 };
      },
      isTracked: (path) => this.policy.has(path),
      wake: () => this.armTimer(),
    });
    this.instances = new InstanceRegistry({
      store: options.store,
      blocklister: options.blocklister,
      clock: this.clock,
      log: this.log,
      tunables: () => this.current,
      host: {
        running: () => this.runState === 'running',
        liveInstanceIds: () => this.policy.liveInstanceIds(),
        fenced: (id) => this.messenger.forgetInstance(id),
        apply: (removed, added, now) => this.instancesChanged(removed, added, now),
        wake: () => this.armTimer(),
      },
    });
    this.actions = new DirectoryActions({
      policy: this.policy,
      records: this.records,
      writes: this.writes,
      messenger: this.messenger,
      marks: this.marks,
      events: this.events,
      log: this.log,
      running: () => this.runState === 'running',
      isUnfenced: (id) => this.instances.isUnfenced(id),
      onInstanceGone: options.onInstanceGone,
      progress: () => void (this.lastProgressAt = this.clock.now()),
      forgotten: () => void (this.rebalanceWhenQuiet = true),
      wake: () => this.armTimer(),
    });
    registerInternals(this, {
      policy: this.policy,
      inFlight: this.actions.inFlight,
      messenger: this.messenger,
    });
  }

  /**
   * Load the map read from RADOS and start ticking. As in the mgr module: directories with an
   * instance re-acquire there, those without are mapped, purging ones resume removal, and an
   * instance named by a directory but missing from the instance list is dead at once. Not in
   * the mgr module: a directory whose acquire mark proves its daemon holds it (hold-marks.ts)
   * starts ASSOCIATED and gets no notify at all. Keys are taken as stored: one the input rules
   * now refuse is still driven, released and removable.
   */
  start(initial: InitialState): void {
    if (this.runState !== 'new') throw new Error('driver already started');
    this.runState = 'running';
    this.lastProgressAt = this.clock.now();
    const directories = new Map<DirPath, DirMapRecord>();
    for (const [key, record] of initial.directories) {
      const path = storedDirectoryPath(key);
      if (!directories.has(path)) directories.set(path, record);
    }
    const instanceIds = this.instances.load(initial.instances);
    const marks = this.marks.load(
      [...(initial.marks ?? [])].map(([key, mark]) => [storedDirectoryPath(key), mark] as const),
      directories,
      new Set(instanceIds),
    );
    const previous = [...(initial.previousHoldings ?? [])].map(
      ([key, id]) => [storedDirectoryPath(key), id] as const,
    );
    // A directory another daemon may still hold (a stray) must go through an acquire, which
    // releases the stray first: it is not certain, whatever its mark says.
    for (const [path, id] of previous) {
      if (directories.get(path)?.instanceId !== id) marks.certain.delete(path);
    }
    this.policy.init(directories, marks.certain);
    this.messenger.load(directories, previous, marks.certain);
    this.marks.collect(marks.garbage);
    this.policy.addInstancesInitial(instanceIds);
    this.instances.graceUnfenced(
      this.policy
        .instanceLoads()
        .filter((load) => load.dead)
        .map((load) => load.id),
    );
    for (const path of this.policy.paths()) {
      if (!this.policy.isAssociated(path)) this.schedule(path);
    }
    // Not in the mgr module: once start-up has settled, check the balance.
    this.rebalanceWhenQuiet = true;
    this.armTimer();
  }

  /** Stop ticking, let in-flight work finish (its results are no longer acted on). */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.runState = 'stopping';
    this.timer.cancel();
    this.actions.clear();
    this.records.dropRetries();
    // Queued writes are dropped; the op in flight settles its own waiters.
    await this.writes.stop();
    await this.messenger.drain();
    await this.instances.drain();
    this.records.rejectWaiters();
    this.runState = 'stopped';
  }

  /**
   * Track a directory given by a user: the path is checked and normalised here (the strict
   * input rules, paths.ts). Resolves with the normalised path once its dir-map key is written.
   * Rejects with DirectoryError: RelativePath, InvalidPath, AlreadyTracked, RemovalInProgress,
   * SubtreeOfTracked / AncestorOfTracked (naming the conflicting path), ShuttingDown.
   */
  addDirectory(rawPath: string): Promise<DirPath> {
    try {
      const path = normalizeDirectoryPath(rawPath);
      if (this.runState !== 'running') throw DirectoryError.shuttingDown(path);
      return this.records.add(path);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Stop mirroring a directory, named by its exact key (as `trackedPaths()` gives it) or by a
   * path that normalises to one. Resolves with the key once the purge mark is written (the
   * release and key removal follow; watch `onDirectoryChanged` and `status` for the end).
   * Rejects with DirectoryError: RelativePath, InvalidPath, NotTracked, UnderRemoval,
   * ShuttingDown.
   */
  removeDirectory(path: string): Promise<DirPath> {
    try {
      const key = this.trackedKey(path);
      if (this.runState !== 'running') throw DirectoryError.shuttingDown(key);
      return this.records.remove(key);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Daemons that came or went, as the instance watcher saw them. Removed ones are blocklisted,
   * their mailbox objects removed and the instance map written before the policy hears of
   * the change (as in the mgr module); changes are applied one at a time, in call order.
   */
  updateInstances(change: InstanceChange): Promise<void> {
    return this.instances.update(change);
  }

  addInstances(added: readonly InstanceInfo[]): Promise<void> {
    return this.updateInstances({ added, removed: [] });
  }

  removeInstances(removed: readonly InstanceInfo[]): Promise<void> {
    return this.updateInstances({ added: [], removed });
  }

  /** Every tracked directory by its key, including those being removed. */
  trackedPaths(): DirPath[] {
    return [...this.policy.paths()];
  }

  /**
   * Status of a tracked directory, by its key or a path normalising to one; undefined when none
   * is tracked (a path the input rules refuse included: no such directory can be tracked but by
   * its stored key, and a caller walking `trackedPaths()` may meet one just removed).
   */
  status(path: string): DirectoryStatus | undefined {
    if (this.policy.has(path)) return this.policy.status(path);
    try {
      return this.policy.status(normalizeDirectoryPath(path));
    } catch (error) {
      if (error instanceof DirectoryError) return undefined;
      throw error;
    }
  }

  distribution(): Distribution {
    return {
      instances: this.policy
        .instanceLoads()
        .map((load) => ({ ...load, addr: this.instances.addr(load.id) })),
      directories: this.policy.directoryCount,
      byStatus: this.policy.statusCounts(),
    };
  }

  /** Called (synchronously) whenever a directory's status changes or it stops being tracked. */
  onDirectoryChanged(listener: DirectoryListener): () => void {
    return this.events.subscribe(listener);
  }

  /** Nothing scheduled, in flight or being written. */
  isQuiet(): boolean {
    return (
      !this.actions.hasPending &&
      !this.actions.busy &&
      !this.writes.busy &&
      this.records.idle &&
      !this.instances.busy &&
      !this.messenger.orphansPending
    );
  }

  /**
   * Which daemon may hold which directory, as far as this driver knows: each tracked directory's
   * instance, plus unacknowledged and stray deliveries. Handed to the next engine when the map
   * has to be reloaded (InitialState.previousHoldings).
   */
  holdings(): Array<[DirPath, string]> {
    const out = new Set<string>();
    const pairs: Array<[DirPath, string]> = [];
    const add = (path: DirPath, id: string): void => {
      const k = `${id}\u0000${path}`;
      if (out.has(k)) return;
      out.add(k);
      pairs.push([path, id]);
    };
    for (const path of this.policy.paths()) {
      const id = this.policy.lookup(path)?.instanceId;
      if (id) add(path, id);
    }
    for (const [path, id] of this.messenger.possibleHolders()) add(path, id);
    return pairs;
  }

  /**
   * Seconds that work has been out (actions, writes) without any of it finishing; 0 when
   * nothing is out. Every Ceph call has a deadline, so this only grows when the engine is wedged.
   */
  stalledForSeconds(): number {
    const busy = this.actions.busy || this.writes.busy || this.records.adding;
    if (!busy) {
      this.lastProgressAt = this.clock.now();
      return 0;
    }
    return Math.max(0, this.clock.now() - this.lastProgressAt);
  }

  get tunables(): Readonly<Tunables> {
    return this.current;
  }

  /**
   * Applies new tunables to the running driver (an edit of the mirror's spec.policy), without a
   * restart: a restart would cost a release and an acquire per directory. The write size stays
   * as started (it is the mgr module's fixed 256). Throws RangeError like resolveTunables.
   */
  updateTunables(overrides: Partial<Tunables>): void {
    const next = resolveTunables({ ...overrides, maxKeysPerWrite: this.current.maxKeysPerWrite });
    const throttleChanged = next.shuffleThrottleSeconds !== this.current.shuffleThrottleSeconds;
    this.current = next;
    this.policy.setShuffleThrottle(next.shuffleThrottleSeconds);
    if (throttleChanged) this.rebalanceWhenQuiet = true;
    // The timer's due time was computed with the old tick: re-arm from now.
    this.timer.cancel();
    this.armTimer();
  }

  /** Every live daemon went silent at once and the removal is being held back. */
  suspectedMassFailure(): { since: number; daemons: number } | undefined {
    return this.instances.suspectedMassFailure();
  }

  /** Process accumulated work now (the timer calls this every tick). */
  tick(): void {
    if (this.runState !== 'running') return;
    this.timer.cancel();
    const now = this.clock.now();

    this.records.retry();
    this.instances.tick(now);
    if ((this.rebalanceAt !== null && now >= this.rebalanceAt) || this.quietForRebalance()) {
      this.rebalance(now);
    }
    this.messenger.releaseOrphans();

    this.actions.startDue(now);
    this.armTimer();
  }

  /**
   * A tracked directory's key: `path` itself when it is one (a stored key the input rules
   * refuse included: it must stay releasable and removable), else `path` under the input rules.
   */
  private trackedKey(path: string): DirPath {
    return this.policy.has(path) ? storedDirectoryPath(path) : normalizeDirectoryPath(path);
  }

  /** A change of daemons reaches the policy: move and kick directories, then rebalance. */
  private instancesChanged(removed: string[], added: string[], now: number): void {
    const touched = this.policy.removeInstances(removed);
    touched.push(...this.policy.addInstances(added));
    for (const path of touched) {
      this.schedule(path);
      this.events.emit(path);
    }
    if (added.length > 0) this.rebalance(now);
    if (added.length > 0 || removed.length > 0) this.rebalanceWhenQuiet = true;
  }

  private rebalance(now: number): void {
    this.rebalanceWhenQuiet = false;
    const result = this.policy.rebalance(now);
    for (const path of result.shuffled) {
      this.schedule(path);
      this.events.emit(path);
    }
    this.rebalanceAt = result.retryAt;
    if (result.waitingForBusy) this.rebalanceWhenQuiet = true;
    if (result.shuffled.length > 0) {
      this.log.debug?.('rebalancing', { moving: result.shuffled.length });
    }
  }

  private quietForRebalance(): boolean {
    return this.rebalanceWhenQuiet && this.isQuiet();
  }

  private schedule(path: DirPath): void {
    this.actions.schedule(path);
  }

  /** Keep one timer, due at the earliest moment something needs a tick. */
  private armTimer(): void {
    if (this.runState !== 'running') return;
    const now = this.clock.now();
    const tickAt = now + this.current.tickSeconds;
    let due = Infinity;
    if (
      this.actions.hasPending ||
      this.records.retryDue ||
      this.instances.retryDue ||
      this.messenger.retryDue ||
      this.quietForRebalance()
    ) {
      // A step that just succeeded leads straight to the next (coalesced over EARLY_TICK_S);
      // retries and everything else keep the tick.
      due = this.actions.hasSoon ? Math.min(tickAt, now + EARLY_TICK_S) : tickAt;
    } else if (this.rebalanceAt !== null) {
      due = Math.max(this.rebalanceAt, now);
    }
    this.timer.armAt(Math.min(due, this.instances.holdDue(now, tickAt)));
  }
}
