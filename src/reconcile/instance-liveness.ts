import type { InstanceInfo } from './types.js';

interface Seen {
  addr: string;
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
 */
export class InstanceLiveness {
  private readonly instances = new Map<string, Seen>();

  constructor(
    initial: Iterable<InstanceInfo>,
    now: number,
    private readonly timeoutSeconds = 30,
  ) {
    for (const { id, addr } of initial) this.instances.set(id, { addr, seen: now });
  }

  /**
   * Record one round of acks at time `now`. When `stopping`, every daemon that did not ack
   * this round is dropped at once (the mgr module's shutdown behaviour).
   */
  observe(acks: Iterable<InstanceInfo>, now: number, stopping = false): LivenessChange {
    const change: LivenessChange = { added: [], removed: [] };
    const acked = new Set<string>();
    for (const { id, addr } of acks) {
      acked.add(id);
      const known = this.instances.get(id);
      if (!known) change.added.push({ id, addr });
      this.instances.set(id, { addr, seen: now });
    }
    for (const [id, { addr, seen }] of this.instances) {
      if (now - seen > this.timeoutSeconds || (stopping && !acked.has(id))) {
        change.removed.push({ id, addr });
        this.instances.delete(id);
      }
    }
    return change;
  }

  /** Instances currently believed alive. */
  known(): InstanceInfo[] {
    return [...this.instances].map(([id, { addr }]) => ({ id, addr }));
  }
}
