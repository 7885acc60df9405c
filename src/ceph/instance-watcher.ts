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
   * before and after each round's notify. It must cover EVERY monitor (a client holds a session
   * on one of them) and resolve undefined when it could not, never a partial set: an id missing
   * from a partial lookup would look dead. Without it only the instance timeout removes a daemon.
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
   * The lookups for the policy, once the notify completed. A daemon killed between the first
   * lookup and the notify is silent and missing from the second lookup only: rather than wait a
   * whole round (the notify timeout again) for a second missing lookup, a third is taken one
   * tick later, and the two taken after the unanswered notify are the evidence.
   */
  private async evidenceAfter(
    before: ReadonlySet<string>,
    acks: readonly InstanceInfo[],
  ): Promise<SessionEvidence | undefined> {
    const after = await this.lookupSessions();
    if (!after) return undefined;
    const acked = new Set(acks.map((i) => i.id));
    const justLost = this.liveness
      .known()
      .some(({ id }) => !acked.has(id) && before.has(id) && !after.has(id));
    if (!justLost || this.stopped) return { lookups: [before, after] };
    await new Promise<void>((resolve) => this.o.clock.setTimer(resolve, this.interval));
    const again = await this.lookupSessions();
    return again ? { lookups: [after, again] } : undefined;
  }

  private async runRound(): Promise<void> {
    let acks: InstanceInfo[];
    const before = await this.lookupSessions();
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
      return;
    }
    if (this.stopped) return;
    const evidence = before ? await this.evidenceAfter(before, acks) : undefined;
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
