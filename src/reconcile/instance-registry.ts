import { Errno } from './errors.js';
import type { Blocklister, Clock, DirMapStore, DriverLogger } from './ports.js';
import type { Tunables } from './tunables.js';
import type { InstanceInfo, InstanceRecord } from './types.js';

export interface InstanceChange {
  added: readonly InstanceInfo[];
  removed: readonly InstanceInfo[];
}

/** What the registry needs of the driver that owns it. */
export interface InstanceRegistryHost {
  /** False once the driver is stopping: changes are then no longer applied. */
  running(): boolean;
  /** Instances the policy holds live. */
  liveInstanceIds(): string[];
  /** A removed daemon was blocklisted: whatever it may hold died with its RADOS client. */
  fenced(instanceId: string): void;
  /**
   * The change reaches the policy now (fenced removals, new daemons), after the instance map
   * write was tried. The host moves and kicks the directories and rebalances.
   */
  apply(removed: string[], added: string[], now: number): void;
  /** Something the registry holds needs a tick: re-arm the timer. */
  wake(): void;
}

export interface InstanceRegistryOptions {
  store: DirMapStore;
  blocklister: Blocklister;
  clock: Clock;
  log: DriverLogger;
  /** The driver's current tunables (they can change while running). */
  tunables: () => Readonly<Tunables>;
  host: InstanceRegistryHost;
}

/**
 * The driver's bookkeeping of cephfs-mirror daemons: their addresses and instance records, the
 * ordered application of instance changes (fence, remove the mailbox, write the instance map,
 * then tell the policy), retries of failed blocklists and instance map writes, the mass-failure
 * hold, and which dead daemons might still be running (unfenced). Directory policy stays in the
 * driver, which hears of each change through `InstanceRegistryHost.apply`.
 */
export class InstanceRegistry {
  private readonly addrs = new Map<string, string>();
  /** Instance records not yet written (null: remove), retried on ticks after a failure. */
  private readonly unsaved = new Map<string, InstanceRecord | null>();
  private writeFailed = false;
  private chain: Promise<void> = Promise.resolve();
  private changesInProgress = 0;
  /**
   * Dead instances that were never fenced, with the time until which a failed notify to them
   * is retried instead of counting as done: instances named by directories but missing from
   * the stored instance list (until the instance timeout has passed without the watcher
   * seeing them), and such instances the watcher has just reported alive (until the policy
   * has revived them).
   */
  private readonly unfenced = new Map<string, number>();
  /** When daemons were failed over (clock seconds), for telling a mass failure apart. */
  private recentRemovals: number[] = [];
  /** Every live daemon reported gone at once: held back until `until` (see holdsBackMassFailure). */
  private massFailure:
    { since: number; until: number; instances: Map<string, InstanceInfo> } | undefined;
  /** Removed daemons whose blocklist failed: retried each tick before their directories move. */
  private readonly awaitingFence = new Map<string, InstanceInfo>();

  constructor(private readonly o: InstanceRegistryOptions) {}

  /** The stored instance list, at start-up. Returns the ids for the policy. */
  load(instances: Iterable<readonly [string, InstanceRecord]>): string[] {
    const ids: string[] = [];
    for (const [id, record] of instances) {
      ids.push(id);
      this.addrs.set(id, record.addr);
    }
    return ids;
  }

  /**
   * Instances start-up declared dead without fencing them (named by directories, missing from
   * the instance list): failures towards them are retried for one instance timeout.
   */
  graceUnfenced(ids: Iterable<string>): void {
    const until = this.o.clock.now() + this.o.tunables().instanceTimeoutSeconds;
    for (const id of ids) this.unfenced.set(id, until);
  }

  /** Last address reported for an instance. */
  addr(id: string): string | undefined {
    return this.addrs.get(id);
  }

  /** A change is being applied (or queued behind one). */
  get busy(): boolean {
    return this.changesInProgress > 0;
  }

  /**
   * Daemons that came or went. Removed ones are blocklisted, their mailbox objects removed and
   * the instance map written before the policy hears of the change (as in the mgr module);
   * changes are applied one at a time, in call order.
   */
  update(change: InstanceChange): Promise<void> {
    // Known at once, before the instance map write: a daemon reported alive must not be
    // treated as dead meanwhile, a reported-gone one is about to be fenced.
    for (const { id } of change.added) if (this.unfenced.has(id)) this.unfenced.set(id, Infinity);
    for (const { id } of change.removed) this.unfenced.delete(id);
    this.changesInProgress++;
    const run = this.chain.then(() => this.apply(change));
    this.chain = run
      .catch((error: unknown) => {
        this.o.log.warn('applying instance change failed', { error: String(error) });
      })
      .finally(() => {
        this.changesInProgress--;
        this.o.host.wake();
      });
    return run;
  }

  /** Wait for the change being applied (and those queued behind it). */
  drain(): Promise<void> {
    return this.chain;
  }

  /** A dead instance that might still be running: a failure towards it is not yet "done". */
  isUnfenced(instanceId: string): boolean {
    const until = this.unfenced.get(instanceId);
    if (until === undefined) return false;
    if (this.o.clock.now() < until) return true;
    this.unfenced.delete(instanceId);
    return false;
  }

  /** Every live daemon went silent at once and the removal is being held back. */
  suspectedMassFailure(): { since: number; daemons: number } | undefined {
    const m = this.massFailure;
    return m ? { since: m.since, daemons: m.instances.size } : undefined;
  }

  /** Retries due on a tick: a failed instance map write, a hold that ended, failed fences. */
  tick(now: number): void {
    if (this.writeFailed && this.changesInProgress === 0) {
      this.writeFailed = false;
      this.update({ added: [], removed: [] }).catch(() => undefined);
    }
    if (this.massFailure && now >= this.massFailure.until && this.changesInProgress === 0) {
      // Still silent after a second timeout: it was real.
      const removed = [...this.massFailure.instances.values()];
      this.update({ added: [], removed }).catch(() => undefined);
    }
    if (this.awaitingFence.size > 0 && this.changesInProgress === 0) {
      this.update({ added: [], removed: [...this.awaitingFence.values()] }).catch(() => undefined);
    }
  }

  /** A failed instance map write or blocklist waits for the next tick. */
  get retryDue(): boolean {
    return this.changesInProgress === 0 && (this.writeFailed || this.awaitingFence.size > 0);
  }

  /**
   * When the mass-failure hold needs a tick (Infinity: no hold): at its end; once it is over, at
   * `tickAt`, the next regular tick (never "now": a timer due now that finds the change still
   * being applied would re-arm itself for ever).
   */
  holdDue(now: number, tickAt: number): number {
    if (!this.massFailure) return Infinity;
    const { until } = this.massFailure;
    if (until > now) return until;
    return this.changesInProgress === 0 ? tickAt : Infinity;
  }

  private async apply(change: InstanceChange): Promise<void> {
    const { host } = this.o;
    if (!host.running()) return;
    const live = host.liveInstanceIds();
    const added = change.added.filter((i) => !live.includes(i.id));
    // A daemon back before it could be fenced was never gone: nothing of it moves.
    for (const { id } of change.added) this.awaitingFence.delete(id);
    for (const { id } of change.added) this.massFailure?.instances.delete(id);
    if (this.massFailure?.instances.size === 0) this.massFailure = undefined;
    if (this.holdsBackMassFailure(change, added)) return;
    // The hold is over: whatever change comes first applies the held removals with its own.
    const toRemove = new Map(change.removed.map((i) => [i.id, i]));
    if (this.massFailure && this.o.clock.now() >= this.massFailure.until) {
      for (const [id, info] of this.massFailure.instances) toRemove.set(id, info);
      this.massFailure = undefined;
    }
    const removed = await this.fence([...toRemove.values()]);
    for (const { id, addr } of added) {
      this.addrs.set(id, addr);
      this.unsaved.set(id, { version: 1, addr });
    }
    for (const { id } of removed) {
      this.addrs.delete(id);
      this.unsaved.set(id, null);
    }
    await this.save();
    if (!host.running()) return;

    // As in the mgr module the policy hears of the change even if the instance map write
    // failed: the daemons are gone (or here) whatever the omap says; the write is retried.
    const now = this.o.clock.now();
    const window = now - this.o.tunables().instanceTimeoutSeconds;
    this.recentRemovals = this.recentRemovals.filter((t) => t >= window);
    for (let i = 0; i < removed.length; i++) this.recentRemovals.push(now);
    host.apply(
      removed.map((i) => i.id),
      added.map((i) => i.id),
      now,
    );
    for (const { id } of added) this.unfenced.delete(id);
  }

  /**
   * Fence first: a removed daemon must not act on a directory once another one acquires it.
   * Unlike the mgr module, a removal whose blocklist failed is not applied: the daemon may still
   * be running, so its directories stay where they are and the blocklist is retried. Returns the
   * fenced ones, whose mailbox objects are then removed.
   */
  private async fence(toRemove: InstanceInfo[]): Promise<InstanceInfo[]> {
    const removed: InstanceInfo[] = [];
    await Promise.all(
      toRemove.map(async (info) => {
        const r = await this.o.blocklister.blocklist(info.addr).catch(() => -Errno.EIO);
        if (r < 0) {
          this.o.log.warn('blocklisting instance failed; retrying before moving its directories', {
            id: info.id,
            addr: info.addr,
            r,
          });
          this.awaitingFence.set(info.id, info);
          return;
        }
        // Fenced: its RADOS client (and with it whatever it held) is gone for good.
        this.awaitingFence.delete(info.id);
        this.o.host.fenced(info.id);
        removed.push(info);
      }),
    );
    await Promise.all(
      removed.map(async ({ id }) => {
        const r = await this.o.store.removeInstanceObject(id).catch(() => -Errno.EIO);
        if (r < 0 && r !== -Errno.ENOENT) {
          this.o.log.warn('removing instance object failed', { id, r });
        }
      }),
    );
    return removed;
  }

  /**
   * Every live daemon reported gone at once (two or more): more likely something between us and
   * them than all of them dying together, and acting on it fences every daemon and stalls every
   * directory. Hold it back for another instance timeout, reported (`suspectedMassFailure`);
   * then, if none of them came back, apply it. Returns true when this change is held back.
   */
  private holdsBackMassFailure(change: InstanceChange, added: readonly InstanceInfo[]): boolean {
    const now = this.o.clock.now();
    if (this.massFailure) {
      if (now >= this.massFailure.until) return false;
      // More silence during the hold joins it; a change that also brings a daemon back goes
      // through now (and so is not applied a second time when the hold ends).
      if (change.removed.length === 0 || added.length > 0) return false;
      for (const i of change.removed) this.massFailure.instances.set(i.id, i);
      return true;
    }
    const live = this.o.host.liveInstanceIds();
    const removing = new Set(change.removed.map((i) => i.id));
    const timeout = this.o.tunables().instanceTimeoutSeconds;
    // "At once": the last ones going within one instance timeout of others (daemons stopped a
    // few seconds apart are not seen silent in the same discovery round).
    const windowStart = now - timeout;
    const recent = this.recentRemovals.filter((t) => t >= windowStart).length;
    const everyone =
      live.length > 0 && live.every((id) => removing.has(id)) && live.length + recent >= 2;
    if (!everyone || added.length > 0) return false;
    this.massFailure = {
      since: now,
      until: now + timeout,
      instances: new Map(change.removed.map((i) => [i.id, i])),
    };
    this.o.log.warn('every cephfs-mirror daemon stopped answering at once; holding back', {
      daemons: live.length,
      seconds: timeout,
    });
    this.o.host.wake();
    return true;
  }

  /** Write the unsaved instance records, at most maxKeysPerWrite per op. */
  private async save(): Promise<void> {
    const max = this.o.tunables().maxKeysPerWrite;
    while (this.unsaved.size > 0) {
      const set = new Map<string, InstanceRecord>();
      const remove: string[] = [];
      const sent = new Map<string, InstanceRecord | null>();
      for (const [id, record] of this.unsaved) {
        if (sent.size >= max) break;
        sent.set(id, record);
        if (record) set.set(id, record);
        else remove.push(id);
      }
      const r = await this.o.store.writeInstances({ set, remove }).catch(() => -Errno.EIO);
      if (r < 0) {
        this.o.log.warn('instance map write failed; retrying', { r });
        this.writeFailed = true;
        return;
      }
      // Keep entries changed by a later call while this op was out.
      for (const [id, record] of sent) {
        if (this.unsaved.get(id) === record) this.unsaved.delete(id);
      }
    }
  }
}
