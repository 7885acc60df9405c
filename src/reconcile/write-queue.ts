import type { DirPath } from './paths.js';
import { Errno } from './errors.js';
import type { DirMapStore, DirMapWriteBatch } from './ports.js';
import type { DirMapRecord, HoldMark } from './types.js';

/** Called once per queued entry with the result of the op that carried it. */
export type WriteDone = (path: DirPath, r: number) => void;

type Entry =
  | {
      kind: 'dir';
      path: DirPath;
      /** null: remove the key. */
      record: DirMapRecord | null;
      /** With a removal: the directory's acquire mark goes in the same op. */
      withMark?: boolean;
      done: WriteDone;
    }
  | {
      kind: 'mark';
      path: DirPath;
      /** null: remove the mark. */
      record: HoldMark | null;
      done: WriteDone;
    };

/**
 * All dir-map writes of one filesystem, in FIFO order, one op at a time, at most `maxKeys`
 * entries per op. One ordered pipe means a later write of a key always lands after an earlier
 * one (a purge mark cannot be overtaken by a map update sent before it), and concurrent callers
 * share ops instead of each paying a round trip. An op never names a key twice: it is cut
 * before a repeated key, which then goes in the next op.
 *
 * The operator's acquire marks (hold-marks.ts) travel in the same pipe and the same ops, so a
 * tick's marks cost no extra round trip and their order against the dir-map keys is kept.
 */
export class DirMapWriteQueue {
  private queue: Entry[] = [];
  private head = 0;
  private inFlight: Promise<void> | null = null;
  private pumpScheduled = false;
  private stopped = false;

  constructor(
    private readonly store: DirMapStore,
    private readonly maxKeys: number,
    private readonly onOpFailed: (r: number, batch: DirMapWriteBatch) => void = () => undefined,
  ) {}

  get queued(): number {
    return this.queue.length - this.head;
  }

  get busy(): boolean {
    return this.inFlight !== null || this.queued > 0;
  }

  set(path: DirPath, record: DirMapRecord, done: WriteDone): void {
    this.push({ kind: 'dir', path, record, done });
  }

  /** Remove a directory's key; with `withMark`, its acquire mark goes in the same op. */
  remove(path: DirPath, done: WriteDone, withMark = false): void {
    this.push({ kind: 'dir', path, record: null, withMark, done });
  }

  setMark(path: DirPath, mark: HoldMark, done: WriteDone): void {
    this.push({ kind: 'mark', path, record: mark, done });
  }

  removeMark(path: DirPath, done: WriteDone): void {
    this.push({ kind: 'mark', path, record: null, done });
  }

  /** Stop sending: queued entries finish with -ESHUTDOWN; resolves once the op in flight ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    const dropped = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const entry of dropped) entry.done(entry.path, -Errno.ESHUTDOWN);
    while (this.inFlight) await this.inFlight;
  }

  private push(entry: Entry): void {
    if (this.stopped) {
      entry.done(entry.path, -Errno.ESHUTDOWN);
      return;
    }
    this.queue.push(entry);
    // Send after the current synchronous burst, so one tick's entries fill whole ops.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      queueMicrotask(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  private pump(): void {
    if (this.inFlight || this.stopped || this.queued === 0) return;
    const entries: Entry[] = [];
    const set = new Map<string, DirMapRecord>();
    const remove: string[] = [];
    const markSet = new Map<string, HoldMark>();
    const markRemove: string[] = [];
    const seen = new Set<string>();
    let keys = 0;
    while (this.head < this.queue.length) {
      const entry = this.queue[this.head];
      if (!entry) break;
      // A key removal that takes the directory's mark along names two keys.
      const names =
        entry.kind === 'mark'
          ? [`m${entry.path}`]
          : entry.withMark === true
            ? [`d${entry.path}`, `m${entry.path}`]
            : [`d${entry.path}`];
      if (names.some((k) => seen.has(k))) break;
      // An entry larger than an op on its own still goes (the store splits it).
      if (entries.length > 0 && keys + names.length > this.maxKeys) break;
      for (const k of names) seen.add(k);
      keys += names.length;
      entries.push(entry);
      if (entry.kind === 'mark') {
        if (entry.record) markSet.set(entry.path, entry.record);
        else markRemove.push(entry.path);
      } else if (entry.record) set.set(entry.path, entry.record);
      else {
        remove.push(entry.path);
        if (entry.withMark === true) markRemove.push(entry.path);
      }
      this.head++;
    }
    this.compact();
    const batch: DirMapWriteBatch =
      markSet.size > 0 || markRemove.length > 0
        ? { set, remove, marks: { set: markSet, remove: markRemove } }
        : { set, remove };
    this.inFlight = this.send(batch).then((r) => {
      this.inFlight = null;
      if (r < 0) this.onOpFailed(r, batch);
      for (const entry of entries) entry.done(entry.path, r);
      this.pump();
    });
  }

  private async send(batch: DirMapWriteBatch): Promise<number> {
    try {
      return await this.store.writeDirMap(batch);
    } catch {
      return -Errno.EIO;
    }
  }

  /** Drop consumed entries now and then, so a long queue costs O(1) per entry. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
