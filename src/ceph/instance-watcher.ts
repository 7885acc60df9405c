// Discovery of cephfs-mirror daemons: every tick an empty notify goes to `cephfs_mirror`; each
// daemon watching it acks with `{"addr": "<its address>"}`, and its notifier id is its instance
// id. Acks feed the liveness book-keeping; what it reports added or removed goes to the driver.
import type { IoCtx, NotifyAck } from 'rados-js';
import type {
  Clock,
  ClockTimer,
  InstanceChange,
  InstanceInfo,
  SessionEvidence,
} from '../reconcile/index.js';
import { InstanceLiveness } from '../reconcile/index.js';
import { MIRROR_OBJECT_NAME } from './dir-map-codec.js';

export interface InstanceWatcherOptions {
  ioctx: IoCtx;
  clock: Clock;
  /** Instances loaded from the map at start-up; counted as seen now. */
  initial: readonly InstanceInfo[];
  timeoutSeconds: number;
  intervalSeconds: number;
  notifyTimeoutMs?: number;
  onChange: (change: InstanceChange) => Promise<void>;
  onError?: (error: unknown) => void;
  /**
   * The fast signal of death: the RADOS global ids holding a session on the monitors, looked up
   * only while a known daemon leaves a round's notify unanswered (see evidenceFor). It must
   * cover EVERY monitor (a client holds a session on one of them) and resolve undefined when it
   * could not, never a partial set: an id missing from a partial lookup would look dead. Without
   * it only the instance timeout removes a daemon.
   * Production: MonSessionLookup (mon-sessions.ts, `sessions` on each monitor by name through
   * rados_mon_command_target), which MirrorEngine passes by default.
   */
  monSessions?: () => Promise<ReadonlySet<string> | undefined>;
  /** Instances removed on the fast signal (not the timeout), before the change is applied. */
  onConfirmedDead?: (instances: InstanceInfo[]) => void;
}

/** Daemons ack with JSON `{"addr": ...}`; anything else (another kind of watcher) is ignored. */
export function instanceFromAck(ack: NotifyAck): InstanceInfo | undefined {
  try {
    const data = JSON.parse(ack.payload.toString('utf8')) as { addr?: unknown };
    if (typeof data.addr !== 'string') return undefined;
    return { id: ack.gid.toString(), addr: data.addr };
  } catch {
    return undefined;
  }
}

export class InstanceWatcher {
  private readonly liveness: InstanceLiveness;
  private timer: ClockTimer | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;
  private interval: number;

  constructor(private readonly o: InstanceWatcherOptions) {
    this.liveness = new InstanceLiveness(o.initial, o.clock.now(), o.timeoutSeconds);
    this.interval = o.intervalSeconds;
  }

  start(): void {
    this.schedule();
  }

  /** New timing (an edit of the mirror's policy): the next round uses it. */
  setTiming(timeoutSeconds: number, intervalSeconds: number): void {
    this.liveness.setTimeout(timeoutSeconds);
    this.interval = intervalSeconds;
  }

  /** Instances currently believed alive. */
  known(): InstanceInfo[] {
    return this.liveness.known();
  }

  /** Stops notifying; resolves once the round in flight (and its change) has been handled. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.round;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimer(() => {
      this.round = this.runRound().finally(() => this.schedule());
    }, this.interval);
  }

  /**
   * The daemon behind `id` is known to be gone (a notify to its mailbox answered ENOENT: the
   * object it watches no longer exists): report it removed now instead of after the timeout, so
   * that a stale instance record never receives directories.
   */
  drop(id: string): void {
    if (this.stopped) return;
    const gone = this.liveness.drop(id);
    if (gone) void this.report({ added: [], removed: [gone] });
  }

  /** One session lookup; undefined when there is no lookup or it failed (no evidence). */
  private async lookupSessions(): Promise<ReadonlySet<string> | undefined> {
    if (!this.o.monSessions) return undefined;
    try {
      return await this.o.monSessions();
    } catch (e) {
      this.o.onError?.(e);
      return undefined;
    }
  }

  /**
   * The session lookups for the policy, taken only when a known daemon leaves the notify
   * unanswered: a healthy round's notify completes in milliseconds, and only a silent daemon makes
   * it wait (up to the notify timeout). So the first lookup is taken one tick into a notify still
   * waiting (`early`) and the second once it completes: both after the daemon went silent, about
   * the notify timeout apart, at no cost in confirmation time. When the notify completed at once
   * although a daemon was silent (its watch had already lapsed on the OSD), the two lookups are
   * taken on completion and a tick later. Both missing, with the unanswered notify, is the
   * evidence (CONFIRMING_LOOKUPS). A round every daemon answered costs no lookup at all: each
   * `sessions` call opens a monitor connection and writes audit lines to the monitor's log.
   */
  private async evidenceFor(
    acks: readonly InstanceInfo[],
    early: Promise<ReadonlySet<string> | undefined> | undefined,
  ): Promise<SessionEvidence | undefined> {
    if (!this.o.monSessions) return undefined;
    const acked = new Set(acks.map((i) => i.id));
    const silent = this.liveness.known().filter(({ id }) => !acked.has(id));
    const first = await early;
    if (silent.length === 0 || this.stopped) return undefined;
    const missing = (sessions: ReadonlySet<string>): boolean =>
      silent.some(({ id }) => !sessions.has(id));
    if (early) {
      if (!first) return undefined;
      // Every silent daemon held its session a tick into the wait (paused, or slow): no more.
      if (!missing(first)) return { lookups: [first] };
      const second = await this.lookupSessions();
      return second ? { lookups: [first, second] } : undefined;
    }
    const onCompletion = await this.lookupSessions();
    if (!onCompletion || this.stopped) return undefined;
    if (!missing(onCompletion)) return { lookups: [onCompletion] };
    await new Promise<void>((resolve) => this.o.clock.setTimer(resolve, this.interval));
    if (this.stopped) return undefined;
    const later = await this.lookupSessions();
    return later ? { lookups: [onCompletion, later] } : undefined;
  }

  private async runRound(): Promise<void> {
    let acks: InstanceInfo[];
    let early: Promise<ReadonlySet<string> | undefined> | undefined;
    let waiting = true;
    const earlyTimer = this.o.monSessions
      ? this.o.clock.setTimer(() => {
          if (waiting && !this.stopped) early = this.lookupSessions();
        }, this.interval)
      : undefined;
    try {
      const result = await this.o.ioctx.notify(
        MIRROR_OBJECT_NAME,
        Buffer.alloc(0),
        this.o.notifyTimeoutMs ?? 5000,
      );
      acks = result.acks.flatMap((a) => instanceFromAck(a) ?? []);
    } catch (e) {
      // Our own notify failed: that says nothing about the daemons, so this round ages no one.
      this.o.onError?.(e);
      this.liveness.roundFailed(this.o.clock.now());
      await early;
      return;
    } finally {
      waiting = false;
      earlyTimer?.cancel();
    }
    if (this.stopped) return;
    const evidence = await this.evidenceFor(acks, early);
    if (this.stopped) return;
    const change = this.liveness.observe(acks, this.o.clock.now(), false, evidence);
    if (change.confirmedDead) {
      const ids = new Set(change.confirmedDead);
      this.o.onConfirmedDead?.(change.removed.filter((i) => ids.has(i.id)));
    }
    await this.report(change);
  }

  private async report(change: InstanceChange): Promise<void> {
    if (change.added.length === 0 && change.removed.length === 0) return;
    try {
      await this.o.onChange(change);
    } catch (e) {
      this.o.onError?.(e);
    }
  }
}
