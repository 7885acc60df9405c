import type { DirPath } from './paths.js';
import type { DirMapRecord, HoldMark } from './types.js';
import type { DirMapWriteQueue } from './write-queue.js';

/** What start-up makes of the stored marks. */
export interface MarkLoad {
  /** Mapped directories whose daemon is known to hold them exactly once: no notify needed. */
  certain: Set<DirPath>;
  /** Stored marks that prove nothing (path no longer mapped, record changed): deleted at start. */
  garbage: DirPath[];
}

/**
 * The operator's durable record of acquires its daemons acked (docs/ceph-layer.md, "Restart
 * without churn"). Two rules keep every crash point safe:
 * - a mark is written only AFTER the daemon acked the acquire (so a mark never names a holding
 *   that may not exist);
 * - a directory's mark is removed durably BEFORE any release of it is sent (so a mark never
 *   outlives the holding it names).
 * A restart then trusts a mark only while the directory's dir-map record still names the same
 * instance and `last_shuffled` (anyone else's rewrite of the record invalidates it); every
 * other mapped pair stays uncertain and gets today's release-then-acquire.
 *
 * Writes go through the driver's dir-map write queue, so a tick's marks share its ops.
 */
export class HoldMarks {
  /**
   * Marks that are or may be stored: set when a write is queued (it may land), deleted only
   * when a removal is known durable. A release of a path listed here waits for its removal.
   */
  private readonly stored = new Map<DirPath, HoldMark>();

  /** `settled`: a mark write finished (the driver may have become quiet: re-arm its timer). */
  constructor(
    private readonly writes: DirMapWriteQueue,
    private readonly settled: () => void = () => undefined,
  ) {}

  /**
   * Sort the marks read at start-up. A directory is certain when it is mapped (not being
   * removed) to an instance of the stored instance list and its mark names that instance and
   * the record's `last_shuffled`. Every read mark is remembered as stored, certain or not.
   */
  load(
    marks: Iterable<readonly [DirPath, HoldMark]>,
    directories: ReadonlyMap<DirPath, DirMapRecord>,
    instanceIds: ReadonlySet<string>,
  ): MarkLoad {
    const out: MarkLoad = { certain: new Set(), garbage: [] };
    for (const [path, mark] of marks) {
      this.stored.set(path, mark);
      const record = directories.get(path);
      const valid =
        record !== undefined &&
        record.purging !== true &&
        record.instanceId !== '' &&
        record.instanceId === mark.instanceId &&
        record.lastShuffled === mark.lastShuffled;
      if (valid && instanceIds.has(mark.instanceId)) out.certain.add(path);
      else if (!valid) out.garbage.push(path);
      // Valid but on an instance missing from the list: the instance is dead at start-up and
      // its directories move; the release towards it removes the mark first, as always.
    }
    return out;
  }

  /** Delete marks that prove nothing; a failure leaves them listed (removed before a release). */
  collect(paths: Iterable<DirPath>): void {
    for (const path of paths) void this.remove(path);
  }

  /** The daemon acked the acquire of `path` made under `mark`: record it (after the ack). */
  acquired(path: DirPath, mark: HoldMark): void {
    this.stored.set(path, mark);
    // A failed write leaves no mark (ops are atomic): the pair is merely uncertain at the next
    // start-up. It stays listed, so a later release still removes it first (harmless).
    this.writes.setMark(path, mark, () => this.settled());
  }

  /**
   * Before any release of `path`: resolves 0 once no mark of it is stored, or the write's error
   * (the release must then not be sent).
   */
  beforeRelease(path: DirPath): Promise<number> {
    return this.stored.has(path) ? this.remove(path) : Promise.resolve(0);
  }

  /** Whether a mark of `path` is or may be stored (a dir-map removal takes it along). */
  has(path: DirPath): boolean {
    return this.stored.has(path);
  }

  /** The dir-map key and the mark were removed in one op. */
  removedWithKey(path: DirPath, r: number): void {
    if (r === 0) this.stored.delete(path);
  }

  /** Number of marks that are or may be stored (tests, metrics). */
  get size(): number {
    return this.stored.size;
  }

  private remove(path: DirPath): Promise<number> {
    const mark = this.stored.get(path);
    return new Promise((resolve) => {
      this.writes.removeMark(path, (_p, r) => {
        // Only forget it if no new mark was queued meanwhile (it would follow in the queue).
        if (r === 0 && this.stored.get(path) === mark) this.stored.delete(path);
        resolve(r);
        this.settled();
      });
    });
  }
}
