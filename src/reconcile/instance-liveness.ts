import type { InstanceInfo } from './types.js';

interface Seen {
  addr: string;
  /** Liveness time (see `liveTime`) of the last ack. */
  seen: number;
}

export interface LivenessChange {
  added: InstanceInfo[];
  removed: InstanceInfo[];
}

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
   * not ack this round is dropped at once (the mgr module's shutdown behaviour).
   */
  observe(acks: Iterable<InstanceInfo>, now: number, stopping = false): LivenessChange {
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
    for (const [id, { addr, seen }] of this.instances) {
      if (this.liveTime - seen > this.timeoutSeconds || (stopping && !acked.has(id))) {
        change.removed.push({ id, addr });
        this.instances.delete(id);
      }
    }
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
