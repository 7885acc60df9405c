import type { InstanceInfo } from './types.js';

interface Seen {
  addr: string;
  /** Liveness time (see `liveTime`) of the last ack. */
  seen: number;
}

export interface LivenessChange {
  added: InstanceInfo[];
  removed: InstanceInfo[];
  /**
   * Ids among `removed` that went on confirmed evidence of death (see `SessionEvidence`), not
   * on the instance timeout: for the log line that says which path was taken.
   */
  confirmedDead?: string[];
}

/**
 * Evidence of death gathered in the same round as the acks: which RADOS global ids held a client
 * session on a monitor, looked up after a notify that a daemon left unanswered (so it had the
 * whole notify timeout to answer) and once more a tick later. A SIGKILLed daemon's sockets are
 * closed by the kernel at once and the monitor drops its session on the reset
 * (Monitor::ms_handle_reset -> remove_session); a SIGSTOPped daemon keeps its sockets, so its
 * session stays (until mon_session_timeout, 300 s).
 */
export interface SessionEvidence {
  /** Each lookup: global ids (decimal strings) with an open monitor session. */
  lookups: ReadonlyArray<ReadonlySet<string>>;
}

/**
 * Lookups an instance must be missing from, in one round in which it also did not ack, before it
 * is declared dead without waiting for the timeout. Two, a tick apart: one lookup racing a
 * daemon's reconnect to another monitor (MonClient hunting closes the old session before the new
 * one opens) is never enough.
 */
export const CONFIRMING_LOOKUPS = 2;

/**
 * The bookkeeping half of the mgr module's instance watcher, without the notify: the Ceph layer
 * notifies `cephfs_mirror` every second and hands the acks here; this says which daemons
 * appeared and which have not answered for `timeoutSeconds` (30 s by default). Instances loaded
 * at start-up count as seen at construction, so one that never answers goes after the timeout.
 *
 * Unlike the mgr module, silence is only counted across rounds the operator itself completed:
 * a round whose notify failed (the operator cut off from the OSDs, blocklisted, shutting its
 * session down) says nothing about the daemons, so the time until the next completed round does
 * not age them. An operator that lost the cluster for a minute must not come back and declare
 * every healthy daemon dead.
 */
export class InstanceLiveness {
  private readonly instances = new Map<string, Seen>();
  /** Seconds of completed-round time: advances only between two completed rounds. */
  private liveTime = 0;
  /** Wall time of the last round, and whether it completed. */
  private lastRound: { at: number; completed: boolean };

  constructor(
    initial: Iterable<InstanceInfo>,
    now: number,
    private timeoutSeconds = 30,
  ) {
    this.lastRound = { at: now, completed: true };
    for (const { id, addr } of initial) this.instances.set(id, { addr, seen: 0 });
  }

  /**
   * Record one completed round of acks at time `now`. When `stopping`, every daemon that did
   * not ack this round is dropped at once (the mgr module's shutdown behaviour). `evidence`,
   * when the round could gather it, lets a daemon that did not ack AND was missing from every
   * session lookup (at least `CONFIRMING_LOOKUPS`) go before the timeout; a paused daemon keeps
   * its session and so only ever goes on the timeout.
   */
  observe(
    acks: Iterable<InstanceInfo>,
    now: number,
    stopping = false,
    evidence?: SessionEvidence,
  ): LivenessChange {
    if (this.lastRound.completed) this.liveTime += Math.max(0, now - this.lastRound.at);
    this.lastRound = { at: now, completed: true };
    const change: LivenessChange = { added: [], removed: [] };
    const acked = new Set<string>();
    for (const { id, addr } of acks) {
      acked.add(id);
      const known = this.instances.get(id);
      if (!known) change.added.push({ id, addr });
      this.instances.set(id, { addr, seen: this.liveTime });
    }
    const lookups = evidence?.lookups ?? [];
    const confirmed: string[] = [];
    for (const [id, seen] of this.instances) {
      const dead =
        !acked.has(id) &&
        lookups.length >= CONFIRMING_LOOKUPS &&
        lookups.every((sessions) => !sessions.has(id));
      if (this.liveTime - seen.seen > this.timeoutSeconds || dead || (stopping && !acked.has(id))) {
        change.removed.push({ id, addr: seen.addr });
        if (dead) confirmed.push(id);
        this.instances.delete(id);
      }
    }
    if (confirmed.length > 0) change.confirmedDead = confirmed;
    return change;
  }

  /** A new instance timeout, from the next round on. */
  setTimeout(seconds: number): void {
    this.timeoutSeconds = seconds;
  }

  /** A round whose notify failed: it neither ages nor refreshes anyone. */
  roundFailed(now: number): void {
    this.lastRound = { at: now, completed: false };
  }

  /**
   * Forget an instance known to be gone for another reason (its mailbox object no longer
   * exists). Returns it, for the removal to be reported, or undefined when it was not known.
   */
  drop(id: string): InstanceInfo | undefined {
    const known = this.instances.get(id);
    if (!known) return undefined;
    this.instances.delete(id);
    return { id, addr: known.addr };
  }

  /** Instances currently believed alive. */
  known(): InstanceInfo[] {
    return [...this.instances].map(([id, { addr }]) => ({ id, addr }));
  }
}
