import { DeliveryLedger } from './delivery-ledger.js';
import { DirectoryError, Errno } from './errors.js';
import { normalizeDirectoryPath } from './paths.js';
import { dirMapRecord, planActions } from './planner.js';
import {
  DirectoryPolicy,
  type DirectoryStatus,
  type DirectoryStatusWord,
  type InstanceLoad,
} from './policy.js';
import {
  silentLogger,
  systemClock,
  type Blocklister,
  type Clock,
  type ClockTimer,
  type DirMapStore,
  type DirectoryNotifier,
  type DriverLogger,
} from './ports.js';
import { resolveTunables, type Tunables } from './tunables.js';
import type { DirMapRecord, InstanceInfo, InstanceRecord } from './types.js';
import { DirMapWriteQueue } from './write-queue.js';

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
  directories: Iterable<readonly [string, DirMapRecord]>;
  instances: Iterable<readonly [string, InstanceRecord]>;
  /**
   * What an earlier engine of this process had handed out (see `holdings()`), when the map is
   * reloaded after it changed behind our back: a daemon holding a directory the new map gives
   * to another daemon, or to none, is told to release it first.
   */
  previousHoldings?: Iterable<readonly [string, string]>;
}

export interface InstanceChange {
  added: readonly InstanceInfo[];
  removed: readonly InstanceInfo[];
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

export type DirectoryListener = (path: string) => void;

interface Waiter {
  resolve: (path: string) => void;
  reject: (error: Error) => void;
}

type RunState = 'new' | 'running' | 'stopping' | 'stopped';

/**
 * Drives the policy of one mirrored filesystem (the mgr module's FSPolicy, for an event
 * loop). Work accumulates in `pending`; every tick turns it into dir-map writes (through one
 * ordered write queue) and acquire/release notifies, and every result is fed back to the
 * policy, which says what to schedule next. A directory has at most one action in flight.
 *
 * It never blocks: add/remove return promises that settle when their dir-map key is written
 * (as in the mgr module), and failed writes are retried on the next tick, never dropped.
 */
export class FilesystemMirrorDriver {
  private current: Tunables;
  private readonly policy: DirectoryPolicy;
  private readonly clock: Clock;
  private readonly log: DriverLogger;
  private readonly writes: DirMapWriteQueue;

  private runState: RunState = 'new';
  private stopping: Promise<void> | undefined;
  private timer: ClockTimer | null = null;
  private timerDue = Infinity;

  /** Directories to start on the next tick. */
  private pending = new Set<string>();
  /** Directories with an action out (write or notify). */
  private readonly inFlight = new Set<string>();
  /** Scheduled while in flight: look again when the action ends. */
  private readonly recheck = new Set<string>();
  /** Removals whose purge mark is being written; the policy hears of them afterwards. */
  private readonly removing = new Set<string>();
  private readonly addWaiters = new Map<string, Waiter>();
  private readonly removeWaiters = new Map<string, Waiter>();
  /** Add/purge records whose write failed, re-sent on the next tick. */
  private deferredRecords: Array<{ path: string; kind: 'add' | 'purge' }> = [];

  private readonly instanceAddrs = new Map<string, string>();
  /** Instance records not yet written (null: remove), retried on ticks after a failure. */
  private readonly unsavedInstances = new Map<string, InstanceRecord | null>();
  private instanceWriteFailed = false;
  private instanceChain: Promise<void> = Promise.resolve();
  private instanceChangesInProgress = 0;

  private readonly notifiesInFlight = new Set<Promise<void>>();
  /**
   * Dead instances that were never fenced, with the time until which a failed notify to them
   * is retried instead of counting as done: instances named by directories but missing from
   * the stored instance list (until the instance timeout has passed without the watcher
   * seeing them), and such instances the watcher has just reported alive (until the policy
   * has revived them).
   */
  private readonly unfenced = new Map<string, number>();
  private rebalanceAt: number | null = null;
  private rebalanceWhenQuiet = false;

  private readonly listeners = new Set<DirectoryListener>();
  /** Daemons that may hold a directory without an ack telling us so: acquire only after a release. */
  private readonly ledger = new DeliveryLedger();
  /** When daemons were failed over (clock seconds), for telling a mass failure apart. */
  private recentRemovals: number[] = [];
  /** Every live daemon reported gone at once: held back until `until` (see holdsBackMassFailure). */
  private massFailure:
    { since: number; until: number; instances: Map<string, InstanceInfo> } | undefined;
  /** Removed daemons whose blocklist failed: retried each tick before their directories move. */
  private readonly awaitingFence = new Map<string, InstanceInfo>();
  /** Background releases of orphaned strays in flight (`<instance> <path>`). */
  private readonly orphanReleases = new Set<string>();
  private orphanRetryDue = false;
  /** Clock time of the last finished action, write or notify (for the health check). */
  private lastProgressAt = 0;

  constructor(private readonly options: DriverOptions) {
    this.current = resolveTunables(options.tunables);
    this.policy = new DirectoryPolicy(this.current.shuffleThrottleSeconds);
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silentLogger;
    this.writes = new DirMapWriteQueue(options.store, this.tunables.maxKeysPerWrite, (r, b) =>
      this.log.warn('dir map write failed; retrying', {
        r,
        set: b.set.size,
        remove: b.remove.length,
      }),
    );
  }

  /**
   * Load the map read from RADOS and start ticking. As in the mgr module: directories with an
   * instance re-acquire there, those without are mapped, purging ones resume removal, and an
   * instance named by a directory but missing from the instance list is dead at once.
   */
  start(initial: InitialState): void {
    if (this.runState !== 'new') throw new Error('driver already started');
    this.runState = 'running';
    this.lastProgressAt = this.clock.now();
    this.policy.init(initial.directories);
    // Whoever wrote this map (an earlier operator, the mgr module) may have acquired each
    // mapped directory already: a plain acquire could be its second one.
    const mapped = new Map<string, string>();
    for (const [path, record] of initial.directories) {
      mapped.set(path, record.instanceId);
      if (record.instanceId !== '') this.ledger.markUncertain(path, record.instanceId);
    }
    for (const [path, instanceId] of initial.previousHoldings ?? []) {
      if (mapped.get(path) === instanceId) this.ledger.markUncertain(path, instanceId);
      else this.ledger.markStray(path, instanceId);
    }
    const ids: string[] = [];
    for (const [id, record] of initial.instances) {
      ids.push(id);
      this.instanceAddrs.set(id, record.addr);
    }
    this.policy.addInstancesInitial(ids);
    const graceUntil = this.clock.now() + this.tunables.instanceTimeoutSeconds;
    for (const load of this.policy.instanceLoads()) {
      if (load.dead) this.unfenced.set(load.id, graceUntil);
    }
    for (const path of this.policy.paths()) this.schedule(path);
    // Not in the mgr module: once start-up has settled, check the balance.
    this.rebalanceWhenQuiet = true;
    this.orphanRetryDue = this.ledger.allStrays().length > 0;
    this.armTimer();
  }

  /** Stop ticking, let in-flight work finish (its results are no longer acted on). */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.runState = 'stopping';
    this.timer?.cancel();
    this.timer = null;
    this.pending.clear();
    this.deferredRecords = [];
    // Queued writes are dropped; the op in flight settles its own waiters.
    await this.writes.stop();
    while (this.notifiesInFlight.size > 0) await Promise.all([...this.notifiesInFlight]);
    await this.instanceChain;
    for (const [path, waiter] of [...this.addWaiters, ...this.removeWaiters]) {
      waiter.reject(DirectoryError.shuttingDown(path));
    }
    this.addWaiters.clear();
    this.removeWaiters.clear();
    this.runState = 'stopped';
  }

  /**
   * Track a directory. Resolves with the normalised path once its dir-map key is written.
   * Rejects with DirectoryError: RelativePath, AlreadyTracked, RemovalInProgress,
   * SubtreeOfTracked / AncestorOfTracked (naming the conflicting path), ShuttingDown.
   */
  addDirectory(rawPath: string): Promise<string> {
    try {
      const path = normalizeDirectoryPath(rawPath);
      if (this.runState !== 'running') throw DirectoryError.shuttingDown(path);
      const look = this.policy.lookup(path);
      if (this.removing.has(path) || look?.purging) throw DirectoryError.removalInProgress(path);
      if (look) throw DirectoryError.alreadyTracked(path);
      this.policy.addDirectory(path);
      this.emit(path);
      return new Promise((resolve, reject) => {
        this.addWaiters.set(path, { resolve, reject });
        this.writeAddRecord(path);
      });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Stop mirroring a directory. Resolves with the normalised path once the purge mark is
   * written (the release and key removal follow; watch `onDirectoryChanged` and `status`
   * for the end). Rejects with DirectoryError: RelativePath, NotTracked, UnderRemoval,
   * ShuttingDown.
   */
  removeDirectory(rawPath: string): Promise<string> {
    try {
      const path = normalizeDirectoryPath(rawPath);
      if (this.runState !== 'running') throw DirectoryError.shuttingDown(path);
      const look = this.policy.lookup(path);
      if (!look) throw DirectoryError.notTracked(path);
      if (look.purging || this.removing.has(path)) throw DirectoryError.underRemoval(path);
      this.removing.add(path);
      return new Promise((resolve, reject) => {
        this.removeWaiters.set(path, { resolve, reject });
        this.writePurgeRecord(path);
      });
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
    // Known at once, before the instance map write: a daemon reported alive must not be
    // treated as dead meanwhile, a reported-gone one is about to be fenced.
    for (const { id } of change.added) if (this.unfenced.has(id)) this.unfenced.set(id, Infinity);
    for (const { id } of change.removed) this.unfenced.delete(id);
    this.instanceChangesInProgress++;
    const run = this.instanceChain.then(() => this.applyInstanceChange(change));
    this.instanceChain = run
      .catch((error: unknown) => {
        this.log.warn('applying instance change failed', { error: String(error) });
      })
      .finally(() => {
        this.instanceChangesInProgress--;
        this.armTimer();
      });
    return run;
  }

  addInstances(added: readonly InstanceInfo[]): Promise<void> {
    return this.updateInstances({ added, removed: [] });
  }

  removeInstances(removed: readonly InstanceInfo[]): Promise<void> {
    return this.updateInstances({ added: [], removed });
  }

  /** Every tracked directory, including those being removed. */
  trackedPaths(): string[] {
    return [...this.policy.paths()];
  }

  /** Status of a tracked directory (path is normalised first), undefined when not tracked. */
  status(rawPath: string): DirectoryStatus | undefined {
    return this.policy.status(normalizeDirectoryPath(rawPath));
  }

  distribution(): Distribution {
    return {
      instances: this.policy
        .instanceLoads()
        .map((load) => ({ ...load, addr: this.instanceAddrs.get(load.id) })),
      directories: this.policy.directoryCount,
      byStatus: this.policy.statusCounts(),
    };
  }

  /** `fs snapshot mirror dirmap` summary in the mgr module's format. */
  mgrSummary(): { mapping: Record<string, string> } {
    const mapping: Record<string, string> = {};
    for (const load of this.policy.instanceLoads()) {
      mapping[load.id] = `${load.directories} directories`;
    }
    return { mapping };
  }

  /** Called (synchronously) whenever a directory's status changes or it stops being tracked. */
  onDirectoryChanged(listener: DirectoryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Nothing scheduled, in flight or being written. */
  isQuiet(): boolean {
    return (
      this.pending.size === 0 &&
      this.inFlight.size === 0 &&
      !this.writes.busy &&
      this.deferredRecords.length === 0 &&
      this.instanceChangesInProgress === 0 &&
      this.addWaiters.size === 0 &&
      this.removeWaiters.size === 0 &&
      this.orphanReleases.size === 0 &&
      !this.orphanRetryDue
    );
  }

  /**
   * Which daemon may hold which directory, as far as this driver knows: each tracked directory's
   * instance, plus unacknowledged and stray deliveries. Handed to the next engine when the map
   * has to be reloaded (InitialState.previousHoldings).
   */
  holdings(): Array<[string, string]> {
    const out = new Set<string>();
    const pairs: Array<[string, string]> = [];
    const add = (path: string, id: string): void => {
      const k = `${id}\u0000${path}`;
      if (out.has(k)) return;
      out.add(k);
      pairs.push([path, id]);
    };
    for (const path of this.policy.paths()) {
      const id = this.policy.lookup(path)?.instanceId;
      if (id) add(path, id);
    }
    for (const [path, id] of this.ledger.allPairs()) add(path, id);
    return pairs;
  }

  /**
   * Seconds that work has been out (actions, writes) without any of it finishing; 0 when
   * nothing is out. Every Ceph call has a deadline, so this only grows when the engine is wedged.
   */
  stalledForSeconds(): number {
    const busy = this.inFlight.size > 0 || this.writes.busy || this.addWaiters.size > 0;
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
    this.timer?.cancel();
    this.timer = null;
    this.timerDue = Infinity;
    this.armTimer();
  }

  /** (directory, daemon) pairs that get a release before their next acquire. */
  get uncertainDeliveries(): number {
    return this.ledger.size;
  }

  /** For tests: throws when the policy's indexes disagree. */
  checkConsistency(): void {
    this.policy.checkConsistency();
    for (const path of this.inFlight) {
      if (!this.policy.has(path)) throw new Error(`driver: in-flight ${path} is not tracked`);
    }
  }

  /** Process accumulated work now (the timer calls this every tick). */
  tick(): void {
    if (this.runState !== 'running') return;
    this.timer?.cancel();
    this.timer = null;
    this.timerDue = Infinity;
    const now = this.clock.now();

    const deferred = this.deferredRecords;
    this.deferredRecords = [];
    for (const { path, kind } of deferred) {
      if (kind === 'add' && this.addWaiters.has(path)) this.writeAddRecord(path);
      if (kind === 'purge' && this.removing.has(path)) this.writePurgeRecord(path);
    }
    if (this.instanceWriteFailed && this.instanceChangesInProgress === 0) {
      this.instanceWriteFailed = false;
      this.updateInstances({ added: [], removed: [] }).catch(() => undefined);
    }
    if (this.massFailure && now >= this.massFailure.until && this.instanceChangesInProgress === 0) {
      // Still silent after a second timeout: it was real.
      const removed = [...this.massFailure.instances.values()];
      this.updateInstances({ added: [], removed }).catch(() => undefined);
    }
    if (this.awaitingFence.size > 0 && this.instanceChangesInProgress === 0) {
      this.updateInstances({ added: [], removed: [...this.awaitingFence.values()] }).catch(
        () => undefined,
      );
    }
    if ((this.rebalanceAt !== null && now >= this.rebalanceAt) || this.quietForRebalance()) {
      this.rebalance(now);
    }
    this.orphanRetryDue = false;
    this.releaseOrphans();

    const due: string[] = [];
    for (const path of this.pending) {
      if (!this.policy.has(path)) continue;
      if (this.inFlight.has(path)) this.recheck.add(path);
      else due.push(path);
    }
    this.pending = new Set();
    this.startActions(due, now);
    this.armTimer();
  }

  private startActions(paths: string[], now: number): void {
    const before = this.listeners.size > 0 ? paths.map((p) => this.fingerprint(p)) : null;
    const plan = planActions(this.policy, paths, now, (p) => this.removing.has(p));
    if (before) {
      paths.forEach((p, i) => {
        if (before[i] !== this.fingerprint(p)) this.emit(p);
      });
    }
    for (const { path } of plan.started) this.inFlight.add(path);
    // Sets before removals, as the mgr module orders one update.
    for (const [path, record] of plan.dirMapSets) this.writeRecord(path, record, this.actionDone);
    for (const path of plan.dirMapRemovals) this.writes.remove(path, this.actionDone);
    for (const { path, instanceId, mode } of plan.notifies) {
      const sent: Promise<void> = (
        mode === 'acquire' ? this.safeAcquire(path, instanceId) : this.release(path, instanceId)
      ).then((r) => {
        this.notifiesInFlight.delete(sent);
        if (r < 0) this.log.warn(`${mode} notify failed`, { path, instanceId, r });
        if (r === -Errno.ENOENT) this.options.onInstanceGone?.(instanceId);
        if (r < 0 && this.isUnfenced(instanceId)) this.retryAction(path);
        else this.actionDone(path, r);
      });
      this.notifiesInFlight.add(sent);
    }
  }

  /**
   * Acquire without ever giving a daemon a directory twice: where an earlier acquire may have
   * arrived unacknowledged, release first and acquire only once the daemon acked the release
   * (its notifies are handled in order, and a release of a directory it does not hold is a
   * no-op). A failed release fails the step; the policy retries it like a failed acquire.
   */
  private async safeAcquire(path: string, instanceId: string): Promise<number> {
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
    const r = await this.send(instanceId, path, 'acquire');
    this.ledger.acquired(path, instanceId, r);
    return r;
  }

  private async release(path: string, instanceId: string): Promise<number> {
    const r = await this.send(instanceId, path, 'release');
    this.ledger.released(path, instanceId, r);
    return r;
  }

  private send(instanceId: string, path: string, mode: 'acquire' | 'release'): Promise<number> {
    return this.options.notifier
      .notify(instanceId, { dir_path: path, mode })
      .catch(() => -Errno.EIO);
  }

  /**
   * Stray holders of directories nobody tracks any more (removed from the map behind our back)
   * are released in the background, retried each tick until acked or the daemon is gone.
   */
  private releaseOrphans(): void {
    for (const [path, id] of this.ledger.allStrays()) {
      if (this.policy.has(path) || this.orphanReleases.has(`${id} ${path}`)) continue;
      const key = `${id} ${path}`;
      this.orphanReleases.add(key);
      const sent: Promise<void> = this.release(path, id).then((r) => {
        this.notifiesInFlight.delete(sent);
        this.orphanReleases.delete(key);
        if (r === -Errno.ENOENT) this.ledger.forgetInstance(id);
        else if (r < 0) this.orphanRetryDue = true;
        this.armTimer();
      });
      this.notifiesInFlight.add(sent);
    }
  }

  /** Result of a directory's action: feed the policy and schedule what follows. */
  private readonly actionDone = (path: string, r: number): void => {
    this.inFlight.delete(path);
    this.lastProgressAt = this.clock.now();
    if (this.runState !== 'running' || !this.policy.has(path)) return;
    const before = this.listeners.size > 0 ? this.fingerprint(path) : '';
    const more = this.policy.finishAction(path, r);
    if (!this.policy.has(path)) {
      this.recheck.delete(path);
      this.ledger.forgetPath(path);
      this.emit(path);
      this.rebalanceWhenQuiet = true;
    } else {
      if (this.listeners.size > 0 && before !== this.fingerprint(path)) this.emit(path);
      if (this.recheck.delete(path) || more) this.schedule(path);
    }
    this.armTimer();
  };

  /** A dead instance that might still be running: a failure towards it is not yet "done". */
  private isUnfenced(instanceId: string): boolean {
    const until = this.unfenced.get(instanceId);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.unfenced.delete(instanceId);
    return false;
  }

  /** Send the same action again next tick (its row has no start policy action to re-run). */
  private retryAction(path: string): void {
    this.inFlight.delete(path);
    this.recheck.delete(path);
    if (this.runState === 'running' && this.policy.has(path)) this.schedule(path);
  }

  /**
   * The new directory's key (instance '', time 0). Built from the current state, so a retry
   * that lands after a purge mark carries the mark too.
   */
  private writeAddRecord(path: string): void {
    const look = this.policy.lookup(path);
    if (!look) return;
    const purging = look.purging || this.removing.has(path);
    this.writeRecord(
      path,
      dirMapRecord(look.instanceId, look.mappedTime, purging),
      this.addRecordDone,
    );
  }

  private readonly addRecordDone = (path: string, r: number): void => {
    this.lastProgressAt = this.clock.now();
    const waiter = this.addWaiters.get(path);
    if (r < 0) {
      if (this.runState === 'running') {
        this.log.warn('writing new directory failed; retrying', { path, r });
        this.deferredRecords.push({ path, kind: 'add' });
        this.armTimer();
      }
      return;
    }
    this.addWaiters.delete(path);
    if (this.runState === 'running') this.schedule(path);
    waiter?.resolve(path);
  };

  private writePurgeRecord(path: string): void {
    const look = this.policy.lookup(path);
    if (!look) return;
    this.writes.set(path, dirMapRecord(look.instanceId, look.mappedTime, true), this.purgeDone);
  }

  private readonly purgeDone = (path: string, r: number): void => {
    if (r >= 0) {
      this.purgeMarkWritten(path);
    } else if (this.runState === 'running' && this.removing.has(path)) {
      this.log.warn('marking directory for removal failed; retrying', { path, r });
      this.deferredRecords.push({ path, kind: 'purge' });
      this.armTimer();
    }
  };

  /**
   * A record carrying the purge mark reached the store (the purge record itself, or an add
   * record or map update that carried it): from now on a restart resumes the removal, so the
   * removal is committed. Tell the policy and settle the caller.
   */
  private purgeMarkWritten(path: string): void {
    if (!this.removing.delete(path)) return;
    const waiter = this.removeWaiters.get(path);
    this.removeWaiters.delete(path);
    if (this.runState === 'running' && this.policy.has(path)) {
      const before = this.fingerprint(path);
      if (this.policy.removeDirectory(path)) this.schedule(path);
      if (before !== this.fingerprint(path)) this.emit(path);
    }
    waiter?.resolve(path);
  }

  /** Write a record; when it carries the purge mark, its success commits a pending removal. */
  private writeRecord(
    path: string,
    record: DirMapRecord,
    done: (path: string, r: number) => void,
  ): void {
    if (!record.purging) {
      this.writes.set(path, record, done);
      return;
    }
    this.writes.set(path, record, (p, r) => {
      done(p, r);
      if (r >= 0) this.purgeMarkWritten(p);
    });
  }

  private async applyInstanceChange(change: InstanceChange): Promise<void> {
    if (this.runState !== 'running') return;
    const added = change.added.filter((i) => !this.policy.liveInstanceIds().includes(i.id));
    // A daemon back before it could be fenced was never gone: nothing of it moves.
    for (const { id } of change.added) this.awaitingFence.delete(id);
    for (const { id } of change.added) this.massFailure?.instances.delete(id);
    if (this.massFailure?.instances.size === 0) this.massFailure = undefined;
    if (this.holdsBackMassFailure(change, added)) return;
    // The hold is over: whatever change comes first applies the held removals with its own.
    const toRemove = new Map(change.removed.map((i) => [i.id, i]));
    if (this.massFailure && this.clock.now() >= this.massFailure.until) {
      for (const [id, info] of this.massFailure.instances) toRemove.set(id, info);
      this.massFailure = undefined;
    }
    const { store, blocklister } = this.options;

    // Fence first: a removed daemon must not act on a directory once another one acquires it.
    // Unlike the mgr module, a removal whose blocklist failed is not applied: the daemon may
    // still be running, so its directories stay where they are and the blocklist is retried.
    const removed: InstanceInfo[] = [];
    await Promise.all(
      [...toRemove.values()].map(async (info) => {
        const r = await blocklister.blocklist(info.addr).catch(() => -Errno.EIO);
        if (r < 0) {
          this.log.warn('blocklisting instance failed; retrying before moving its directories', {
            id: info.id,
            addr: info.addr,
            r,
          });
          this.awaitingFence.set(info.id, info);
          return;
        }
        // Fenced: its RADOS client (and with it whatever it held) is gone for good.
        this.awaitingFence.delete(info.id);
        this.ledger.forgetInstance(info.id);
        removed.push(info);
      }),
    );
    await Promise.all(
      removed.map(async ({ id }) => {
        const r = await store.removeInstanceObject(id).catch(() => -Errno.EIO);
        if (r < 0 && r !== -Errno.ENOENT) {
          this.log.warn('removing instance object failed', { id, r });
        }
      }),
    );
    for (const { id, addr } of added) {
      this.instanceAddrs.set(id, addr);
      this.unsavedInstances.set(id, { version: 1, addr });
    }
    for (const { id } of removed) {
      this.instanceAddrs.delete(id);
      this.unsavedInstances.set(id, null);
    }
    await this.saveInstances();
    if (this.runState !== 'running') return;

    // As in the mgr module the policy hears of the change even if the instance map write
    // failed: the daemons are gone (or here) whatever the omap says; the write is retried.
    const now = this.clock.now();
    const touched = this.policy.removeInstances(removed.map((i) => i.id));
    const window = now - this.current.instanceTimeoutSeconds;
    this.recentRemovals = this.recentRemovals.filter((t) => t >= window);
    for (let i = 0; i < removed.length; i++) this.recentRemovals.push(now);
    touched.push(...this.policy.addInstances(added.map((i) => i.id)));
    for (const { id } of added) this.unfenced.delete(id);
    for (const path of touched) {
      this.schedule(path);
      this.emit(path);
    }
    if (added.length > 0) this.rebalance(now);
    if (added.length > 0 || removed.length > 0) this.rebalanceWhenQuiet = true;
  }

  /**
   * Every live daemon reported gone at once (two or more): more likely something between us and
   * them than all of them dying together, and acting on it fences every daemon and stalls every
   * directory. Hold it back for another instance timeout, reported (`suspectedMassFailure`);
   * then, if none of them came back, apply it. Returns true when this change is held back.
   */
  private holdsBackMassFailure(change: InstanceChange, added: readonly InstanceInfo[]): boolean {
    if (this.massFailure) {
      if (this.clock.now() >= this.massFailure.until) return false;
      // More silence during the hold joins it; a change that also brings a daemon back goes
      // through now (and so is not applied a second time when the hold ends).
      if (change.removed.length === 0 || added.length > 0) return false;
      for (const i of change.removed) this.massFailure.instances.set(i.id, i);
      return true;
    }
    const live = this.policy.liveInstanceIds();
    const removing = new Set(change.removed.map((i) => i.id));
    const now = this.clock.now();
    // "At once": the last ones going within one instance timeout of others (daemons stopped a
    // few seconds apart are not seen silent in the same discovery round).
    const windowStart = now - this.current.instanceTimeoutSeconds;
    const recent = this.recentRemovals.filter((t) => t >= windowStart).length;
    const everyone =
      live.length > 0 && live.every((id) => removing.has(id)) && live.length + recent >= 2;
    if (!everyone || added.length > 0) return false;
    this.massFailure = {
      since: now,
      until: now + this.current.instanceTimeoutSeconds,
      instances: new Map(change.removed.map((i) => [i.id, i])),
    };
    this.log.warn('every cephfs-mirror daemon stopped answering at once; holding back', {
      daemons: live.length,
      seconds: this.current.instanceTimeoutSeconds,
    });
    this.armTimer();
    return true;
  }

  /** Every live daemon went silent at once and the removal is being held back (see above). */
  suspectedMassFailure(): { since: number; daemons: number } | undefined {
    const m = this.massFailure;
    return m ? { since: m.since, daemons: m.instances.size } : undefined;
  }

  /** Write the unsaved instance records, at most maxKeysPerWrite per op. */
  private async saveInstances(): Promise<void> {
    while (this.unsavedInstances.size > 0) {
      const set = new Map<string, InstanceRecord>();
      const remove: string[] = [];
      const sent = new Map<string, InstanceRecord | null>();
      for (const [id, record] of this.unsavedInstances) {
        if (sent.size >= this.tunables.maxKeysPerWrite) break;
        sent.set(id, record);
        if (record) set.set(id, record);
        else remove.push(id);
      }
      const r = await this.options.store.writeInstances({ set, remove }).catch(() => -Errno.EIO);
      if (r < 0) {
        this.log.warn('instance map write failed; retrying', { r });
        this.instanceWriteFailed = true;
        return;
      }
      // Keep entries changed by a later call while this op was out.
      for (const [id, record] of sent) {
        if (this.unsavedInstances.get(id) === record) this.unsavedInstances.delete(id);
      }
    }
  }

  private rebalance(now: number): void {
    this.rebalanceWhenQuiet = false;
    const result = this.policy.rebalance(now);
    for (const path of result.shuffled) {
      this.schedule(path);
      this.emit(path);
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

  private schedule(path: string): void {
    this.pending.add(path);
    this.armTimer();
  }

  /** Keep one timer, due at the earliest moment something needs a tick. */
  private armTimer(): void {
    if (this.runState !== 'running') return;
    const now = this.clock.now();
    let due = Infinity;
    if (
      this.pending.size > 0 ||
      this.deferredRecords.length > 0 ||
      (this.instanceWriteFailed && this.instanceChangesInProgress === 0) ||
      this.orphanRetryDue ||
      (this.awaitingFence.size > 0 && this.instanceChangesInProgress === 0) ||
      this.quietForRebalance()
    ) {
      due = now + this.tunables.tickSeconds;
    } else if (this.rebalanceAt !== null) {
      due = Math.max(this.rebalanceAt, now);
    }
    if (this.massFailure) {
      // At the end of the hold; once it is over, on the next tick (never "now": a timer due now
      // that finds the change still being applied would re-arm itself for ever).
      const { until } = this.massFailure;
      if (until > now) due = Math.min(due, until);
      else if (this.instanceChangesInProgress === 0)
        due = Math.min(due, now + this.current.tickSeconds);
    }
    if (due === Infinity || due >= this.timerDue) return;
    this.timer?.cancel();
    this.timerDue = due;
    this.timer = this.clock.setTimer(() => {
      this.timer = null;
      this.timerDue = Infinity;
      this.tick();
    }, due - now);
  }

  private fingerprint(path: string): string {
    const s = this.policy.status(path);
    if (!s) return '';
    return `${s.state}|${s.policyState}|${s.instanceId}|${s.lastShuffled}|${s.purging}`;
  }

  private emit(path: string): void {
    for (const listener of this.listeners) {
      try {
        listener(path);
      } catch (error) {
        this.log.warn('directory listener threw', { path, error: String(error) });
      }
    }
  }
}
