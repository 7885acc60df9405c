import type { DirPath } from './paths.js';

/**
 * Which daemons may hold a directory without the driver knowing it for sure.
 *
 * Released cephfs-mirror daemons (Pacific to Tentacle) keep a list entry per acquire: a second
 * acquire of a directory the daemon holds adds a second entry, and the next release then leaves
 * an entry without its sync stats, which aborts the daemon (protocol note, section 3;
 * PeerReplayer::add_directory / remove_directory / pick_directory). A release of a directory the
 * daemon does not hold is harmless (FSMirror::handle_release_directory ignores it), and a
 * release followed by an acquire leaves exactly one entry. So the one safe way to acquire where
 * an earlier acquire may have arrived is: release, wait for the daemon's ack, then acquire.
 *
 * A pair (directory, instance) is uncertain when an acquire to that instance may have been
 * delivered without its ack reaching us: at start-up for every mapped directory (an earlier
 * operator, or the mgr module, may have acquired it), and after an acquire whose notify failed
 * or timed out. An acked acquire makes the holding certain; an acked release ends it.
 */
export class DeliveryLedger {
  /** path → instances that may hold it unbeknown to us. */
  private readonly uncertain = new Map<DirPath, Set<string>>();
  /**
   * path → instances that may hold it although the map names another one (or none): after the
   * map was changed behind our back, the daemon an earlier engine gave it to was never told to
   * let go. They are released before the directory is acquired anywhere.
   */
  private readonly strays = new Map<DirPath, Set<string>>();

  /** An acquire of `path` by `instanceId` may have been delivered. */
  markUncertain(path: DirPath, instanceId: string): void {
    let set = this.uncertain.get(path);
    if (!set) {
      set = new Set();
      this.uncertain.set(path, set);
    }
    set.add(instanceId);
  }

  /** `instanceId` may hold `path` although the map does not give it that directory. */
  markStray(path: DirPath, instanceId: string): void {
    let set = this.strays.get(path);
    if (!set) {
      set = new Set();
      this.strays.set(path, set);
    }
    set.add(instanceId);
  }

  /** Instances other than the mapped one that must release `path` before it is acquired. */
  straysOf(path: DirPath): string[] {
    return [...(this.strays.get(path) ?? [])];
  }

  /** Every uncertain and stray (path, instance) pair. */
  allPairs(): Array<[DirPath, string]> {
    const out = this.allStrays();
    for (const [path, set] of this.uncertain) for (const id of set) out.push([path, id]);
    return out;
  }

  /** Every (path, instance) stray pair (orphans whose path is no longer tracked included). */
  allStrays(): Array<[DirPath, string]> {
    const out: Array<[DirPath, string]> = [];
    for (const [path, set] of this.strays) for (const id of set) out.push([path, id]);
    return out;
  }

  /** Before acquiring `path` on `instanceId`: must a release go first? */
  needsReleaseFirst(path: DirPath, instanceId: string): boolean {
    return this.uncertain.get(path)?.has(instanceId) ?? false;
  }

  /** The result of an acquire notify: acked → the holding is known; otherwise it may exist. */
  acquired(path: DirPath, instanceId: string, r: number): void {
    if (r === 0) this.clear(path, instanceId);
    else this.markUncertain(path, instanceId);
  }

  /**
   * The result of a release notify: acked → the daemon no longer holds it. Unacked, it may
   * still hold it (the policy may count the step as done for a dead instance, and an instance
   * that was only slow can come back under the same id).
   */
  released(path: DirPath, instanceId: string, r: number): void {
    if (r === 0) {
      this.clear(path, instanceId);
      this.clearStray(path, instanceId);
    } else if (!this.strays.get(path)?.has(instanceId)) this.markUncertain(path, instanceId);
  }

  /** The instance was fenced (blocklisted): whatever it held dies with its RADOS client. */
  forgetInstance(instanceId: string): void {
    for (const map of [this.uncertain, this.strays]) {
      for (const [path, set] of map) {
        set.delete(instanceId);
        if (set.size === 0) map.delete(path);
      }
    }
  }

  /** The directory is no longer tracked (its strays are kept: they still hold it). */
  forgetPath(path: DirPath): void {
    this.uncertain.delete(path);
  }

  /** Number of uncertain and stray pairs (metrics, tests). */
  get size(): number {
    let n = 0;
    for (const set of this.uncertain.values()) n += set.size;
    for (const set of this.strays.values()) n += set.size;
    return n;
  }

  private clearStray(path: DirPath, instanceId: string): void {
    const set = this.strays.get(path);
    if (!set) return;
    set.delete(instanceId);
    if (set.size === 0) this.strays.delete(path);
  }

  private clear(path: DirPath, instanceId: string): void {
    const set = this.uncertain.get(path);
    if (!set) return;
    set.delete(instanceId);
    if (set.size === 0) this.uncertain.delete(path);
  }
}
