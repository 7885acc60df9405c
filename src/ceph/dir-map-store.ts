// The directory map in RADOS: the omap of `cephfs_mirror` in the filesystem's metadata pool, in
// the mgr module's format (keys `dir_map_<path>` and `instance_<id>`, pickled values), so a map
// written by either side loads in the other.
import type { IoCtx } from 'rados-js';
import type {
  DirMapRecord,
  DirMapStore,
  DirMapWriteBatch,
  HoldMark,
  InitialState,
  InstanceMapWriteBatch,
  InstanceRecord,
} from '../reconcile/index.js';
import {
  DIR_MAP_PREFIX,
  INSTANCE_PREFIX,
  MIRROR_OBJECT_NAME,
  decodeDirMapRecord,
  decodeInstanceRecord,
  dirMapKey,
  encodeDirMapRecord,
  encodeInstanceRecord,
  instanceKey,
  instanceObjectName,
  pathFromDirMapKey,
  instanceIdFromKey,
} from './dir-map-codec.js';
import { ERRNO } from './errors.js';
import {
  HOLD_MARK_PREFIX,
  decodeHoldMark,
  encodeHoldMark,
  holdMarkKey,
  pathFromHoldMarkKey,
} from './hold-mark-codec.js';
import type { MirrorObjectFence } from './mirror-fence.js';
import { returnCodeOf } from './return-code.js';

/** Entries per omap read and per write op, as the mgr module does. */
export const OMAP_PAGE = 256;

export interface UnreadableEntry {
  key: string;
  problem: string;
}

export interface LoadedDirMap extends InitialState {
  directories: Array<[string, DirMapRecord]>;
  instances: Array<[string, InstanceRecord]>;
  /**
   * The operator's acquire marks (hold-mark-codec.ts). One that cannot be decoded is listed
   * with an empty instance id: it proves nothing, and the driver deletes it at start-up.
   */
  marks: Array<[string, HoldMark]>;
  /** Entries that could not be decoded: left in place, untouched, and reported. */
  unreadable: UnreadableEntry[];
  /** The `cephfs_mirror` object's user version that every page was read at. */
  version: bigint;
}

/** A listing is retried this often when the object changes while it is being paged through. */
const LOAD_ATTEMPTS = 5;

export class RadosDirMapStore implements DirMapStore {
  /**
   * With a fence, every write is guarded by it (lock held, no foreign write since our last one);
   * without one (tests, tools), writes are plain.
   */
  constructor(
    private readonly ioctx: IoCtx,
    private readonly maxKeysPerOp = OMAP_PAGE,
    private readonly fence?: MirrorObjectFence,
  ) {}

  /**
   * Reads every directory and instance record, a page at a time, all at one object version: a
   * listing that saw the object change part-way is read again.
   */
  async load(): Promise<LoadedDirMap> {
    for (let attempt = 1; ; attempt++) {
      const versions = new Set<bigint>();
      const dirs = await this.readAll(DIR_MAP_PREFIX, versions);
      const insts = await this.readAll(INSTANCE_PREFIX, versions);
      const marks = await this.readAll(HOLD_MARK_PREFIX, versions);
      if (versions.size === 1 || attempt === LOAD_ATTEMPTS) {
        // After the last attempt the newest version is adopted: a write in between is then
        // refused as foreign, and the engine restarts with a fresh load.
        return {
          ...this.decode(
            dirs,
            insts,
            [...versions].reduce((a, b) => (a > b ? a : b), 0n),
          ),
          marks: decodeMarks(marks),
        };
      }
    }
  }

  private decode(
    dirs: Array<[string, Buffer]>,
    insts: Array<[string, Buffer]>,
    version: bigint,
  ): Omit<LoadedDirMap, 'marks'> {
    const unreadable: UnreadableEntry[] = [];
    const directories: Array<[string, DirMapRecord]> = [];
    const instances: Array<[string, InstanceRecord]> = [];
    for (const [key, value] of dirs) {
      try {
        directories.push([pathFromDirMapKey(key), decodeDirMapRecord(key, value)]);
      } catch (e) {
        unreadable.push({ key, problem: (e as Error).message });
      }
    }
    for (const [key, value] of insts) {
      try {
        instances.push([instanceIdFromKey(key), decodeInstanceRecord(key, value)]);
      } catch (e) {
        unreadable.push({ key, problem: (e as Error).message });
      }
    }
    return { directories, instances, unreadable, version };
  }

  writeDirMap(batch: DirMapWriteBatch): Promise<number> {
    const set: Array<[string, Buffer]> = [];
    for (const [path, record] of batch.set) set.push([dirMapKey(path), encodeDirMapRecord(record)]);
    const remove = batch.remove.map(dirMapKey);
    // The acquire marks of the same tick ride in the same op (the driver counted them).
    for (const [path, mark] of batch.marks?.set ?? []) {
      set.push([holdMarkKey(path), encodeHoldMark(mark)]);
    }
    for (const path of batch.marks?.remove ?? []) remove.push(holdMarkKey(path));
    return this.write(set, remove);
  }

  writeInstances(batch: InstanceMapWriteBatch): Promise<number> {
    const set: Array<[string, Buffer]> = [];
    for (const [id, record] of batch.set) set.push([instanceKey(id), encodeInstanceRecord(record)]);
    return this.write(set, batch.remove.map(instanceKey));
  }

  async removeInstanceObject(instanceId: string): Promise<number> {
    if (this.fence && !this.fence.owned()) return -ERRNO.ESHUTDOWN;
    return returnCodeOf(this.ioctx.remove(instanceObjectName(instanceId)));
  }

  private async readAll(prefix: string, versions: Set<bigint>): Promise<Array<[string, Buffer]>> {
    const all: Array<[string, Buffer]> = [];
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.ioctx.omapGetVals(MIRROR_OBJECT_NAME, {
        prefix,
        max: OMAP_PAGE,
        ...(startAfter === undefined ? {} : { startAfter }),
      });
      all.push(...page.entries);
      versions.add(page.version);
      const last = page.entries.at(-1);
      if (!page.more || last === undefined) return all;
      startAfter = last[0];
    }
  }

  /**
   * One atomic op when it fits (the driver sizes its batches so); otherwise sets first, then
   * removals, in ops of at most `maxKeysPerOp` entries, each sent after the previous completed.
   */
  private async write(set: Array<[string, Buffer]>, remove: string[]): Promise<number> {
    const entries: Array<{ set: [string, Buffer] } | { remove: string }> = [
      ...set.map((e) => ({ set: e })),
      ...remove.map((k) => ({ remove: k })),
    ];
    for (let i = 0; i < entries.length; i += this.maxKeysPerOp) {
      const op = { set: [] as Array<[string, Buffer]>, remove: [] as string[] };
      for (const e of entries.slice(i, i + this.maxKeysPerOp)) {
        if ('set' in e) op.set.push(e.set);
        else op.remove.push(e.remove);
      }
      const r = this.fence
        ? await this.fence.write(op.set, op.remove)
        : await returnCodeOf(this.ioctx.omapWrite(MIRROR_OBJECT_NAME, op));
      if (r < 0) return r;
    }
    return 0;
  }
}

/** Marks as read; an undecodable one is kept with an empty instance id (deleted at start-up). */
function decodeMarks(entries: Array<[string, Buffer]>): Array<[string, HoldMark]> {
  const out: Array<[string, HoldMark]> = [];
  for (const [key, value] of entries) {
    let mark: HoldMark;
    try {
      mark = decodeHoldMark(key, value);
    } catch {
      mark = { instanceId: '', lastShuffled: 0 };
    }
    out.push([pathFromHoldMarkKey(key), mark]);
  }
  return out;
}
