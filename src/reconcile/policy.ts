import { DirectoryError } from './errors.js';
import type { DirPath } from './paths.js';
import { PathTrie } from './path-trie.js';
import {
  IDLE_TRANSITION,
  isIdle,
  isInstanceAction,
  transit,
  type Transition,
} from './transitions.js';
import type { ActionType, DirMapRecord, DirectoryStateName, PolicyAction } from './types.js';

/** Everything the policy knows about one directory. */
interface DirectoryState {
  instanceId: string | null;
  /** Epoch seconds when the directory was last mapped to an instance (`last_shuffled`). */
  mappedTime: number | null;
  state: DirectoryStateName;
  /** MAP found no live instance; the directory waits for one. */
  stalled: boolean;
  transition: Transition;
  /** A state requested while busy, applied when the directory next becomes idle. */
  nextState: DirectoryStateName | null;
  purging: boolean;
}

/** What the driver needs to write a dir-map record or address a notify. */
export interface DirectoryLookup {
  instanceId: string | null;
  mappedTime: number | null;
  purging: boolean;
}

/** Status words of `fs snapshot mirror dirmap`, in the mgr module's vocabulary. */
export type DirectoryStatusWord =
  'mapping' | 'unmapping' | 'shuffling' | 'mapped' | 'resolving' | 'stalled';

export interface DirectoryStatus {
  state: DirectoryStatusWord;
  /** Set when stalled: "no mirror daemons running". */
  reason?: string;
  /** The engine's own state, for callers that want more than the status word. */
  policyState: DirectoryStateName;
  instanceId: string | null;
  /** Epoch seconds of the last mapping (`last_shuffled`), null when unmapped. */
  lastShuffled: number | null;
  purging: boolean;
}

export interface InstanceLoad {
  id: string;
  directories: number;
  /** Removed by the watcher; kept until its directories are moved away. */
  dead: boolean;
}

export interface RebalanceResult {
  /** Directories moved to SHUFFLING; the driver schedules them. */
  shuffled: DirPath[];
  /** Earliest time a directory now held back by the throttle may move, if any is needed. */
  retryAt: number | null;
  /** Some directory that should move was busy; check again when things are quiet. */
  waitingForBusy: boolean;
}

export const STALLED_REASON = 'no mirror daemons running';

/**
 * The directory-to-daemon assignment state machine (the mgr module's `Policy`), pure and
 * synchronous: time comes in as arguments, nothing is read or written outside this object.
 *
 * Indexes kept in step: directory states; instance → directories (insertion ordered, so the
 * least-loaded tie-break and the shuffle order match the mgr module); dead instances (removed
 * but still holding directories); stalled directories (so kicking them costs their number, not
 * the number of directories); and a path trie for the overlap check.
 *
 * Paths enter only as DirPath (`init`, `addDirectory`), so every key of the indexes is one and
 * what comes out (`paths()`, directories to schedule) is typed so; lookups take any string (one
 * that is no tracked key finds nothing).
 */
export class DirectoryPolicy {
  private readonly dirs = new Map<string, DirectoryState>();
  private readonly instances = new Map<string, Set<string>>();
  private readonly dead = new Set<string>();
  private readonly stalledDirs = new Set<string>();
  private readonly trie = new PathTrie();
  private purgingCount = 0;

  constructor(private throttleSeconds = 300) {}

  get shuffleThrottleSeconds(): number {
    return this.throttleSeconds;
  }

  /** A new throttle applies from the next rebalance on. */
  setShuffleThrottle(seconds: number): void {
    this.throttleSeconds = seconds;
  }

  get directoryCount(): number {
    return this.dirs.size;
  }

  has(path: string): boolean {
    return this.dirs.has(path);
  }

  paths(): IterableIterator<DirPath> {
    return this.dirs.keys() as IterableIterator<DirPath>;
  }

  isDeadInstance(id: string): boolean {
    return this.dead.has(id);
  }

  liveInstanceIds(): string[] {
    return [...this.instances.keys()].filter((id) => !this.dead.has(id));
  }

  /**
   * Load the directory map read at start-up. A directory with an instance goes INITIALIZING
   * (re-acquire on that instance), one without goes ASSOCIATING, and a purging one resumes
   * removal (skipping the release when it has no instance). A directory in `certain` (its
   * daemon is known to hold it: an acquire mark, hold-marks.ts) starts ASSOCIATED, with nothing
   * to do. Returns nothing: the caller schedules every loaded directory not ASSOCIATED.
   */
  init(
    dirMap: Iterable<readonly [DirPath, DirMapRecord]>,
    certain: ReadonlySet<string> = new Set(),
  ): void {
    for (const [path, record] of dirMap) {
      if (this.dirs.has(path)) continue;
      const instanceId = record.instanceId === '' ? null : record.instanceId;
      const st = newState(instanceId, record.lastShuffled);
      if (instanceId !== null) this.indexAdd(instanceId, path);
      this.dirs.set(path, st);
      this.trie.insert(path);
      if (instanceId !== null && !record.purging && certain.has(path)) {
        // Held, known: idle at once, as after an acked acquire (no row leads into it).
        st.state = 'ASSOCIATED';
        continue;
      }
      let state: DirectoryStateName = instanceId !== null ? 'INITIALIZING' : 'ASSOCIATING';
      if (record.purging) {
        st.purging = true;
        this.purgingCount++;
        state = 'DISASSOCIATING';
        // Nothing to release: pre-set the row so the next one is MAP_REMOVE.
        if (instanceId === null) st.transition = transit(state, st.transition.actionType);
      }
      this.setState(st, state);
    }
  }

  /**
   * The instance list read at start-up. Any instance named by a directory but absent from the
   * list is dead at once and its directories are forced to move. Returns those directories.
   */
  addInstancesInitial(ids: Iterable<string>): DirPath[] {
    const known = new Set(ids);
    for (const id of known) if (!this.instances.has(id)) this.instances.set(id, new Set());
    const vanished = [...this.instances.keys()].filter((id) => !known.has(id));
    return this.removeInstances(vanished);
  }

  /**
   * Daemons that joined. Unknown ids become live. A dead id that is reported alive becomes
   * live again (not in the mgr module, which ignores it for good): this happens when start-up
   * declared an instance dead only because the stored instance list lacked it; a blocklisted
   * daemon cannot answer the watcher, so a fenced one never comes back this way. Its
   * directories keep moving (already forced), but failures towards it are retried again.
   * When a live instance exists, stalled directories are kicked: they are returned to be
   * scheduled. Rebalancing is separate (`rebalance`), so the caller decides when it runs.
   */
  addInstances(ids: Iterable<string>): DirPath[] {
    for (const id of ids) {
      if (!this.instances.has(id)) this.instances.set(id, new Set());
      else this.dead.delete(id);
    }
    if (this.stalledDirs.size === 0 || this.liveInstanceIds().length === 0) return [];
    const kicked = [...this.stalledDirs] as DirPath[];
    for (const path of kicked) {
      const st = this.dirs.get(path);
      if (st) st.stalled = false;
    }
    this.stalledDirs.clear();
    return kicked;
  }

  /**
   * Daemons that went away. One holding nothing is forgotten; one holding directories becomes
   * dead and each of its directories not already being removed is forced to SHUFFLING (queued
   * if busy). Returns the directories that can start moving now.
   */
  removeInstances(ids: Iterable<string>): DirPath[] {
    const shuffle: DirPath[] = [];
    for (const id of ids) {
      const held = this.instances.get(id);
      if (!held) continue;
      if (held.size === 0) {
        this.instances.delete(id);
        this.dead.delete(id);
        continue;
      }
      this.dead.add(id);
      for (const path of held) {
        const st = this.dirs.get(path);
        if (!st || isScheduled(st, 'DISASSOCIATING')) continue;
        if (this.setState(st, 'SHUFFLING', true)) shuffle.push(path as DirPath);
      }
    }
    return shuffle;
  }

  /**
   * Track a new (normalised) directory. Returns false when it is already tracked (the driver
   * reports that case itself). Throws DirectoryError when it overlaps a tracked directory.
   */
  addDirectory(path: DirPath): boolean {
    if (this.dirs.has(path)) return false;
    const conflict = this.trie.findConflict(path);
    if (conflict) {
      throw conflict.kind === 'subtree'
        ? DirectoryError.subtreeOf(path, conflict.trackedPath)
        : DirectoryError.ancestorOf(path, conflict.trackedPath);
    }
    const st = newState(null, null);
    this.dirs.set(path, st);
    this.trie.insert(path);
    return this.setState(st, 'ASSOCIATING');
  }

  /** Start removing a directory. Returns true when it can be scheduled now. */
  removeDirectory(path: string): boolean {
    const st = this.dirs.get(path);
    if (!st) return false;
    if (!st.purging) this.purgingCount++;
    st.purging = true;
    if (st.stalled) {
      // Never mapped anywhere: skip the release and go straight to removing the key. Unlike
      // the mgr module, the stalled mark is cleared too, so a later instance join cannot kick
      // (and double-schedule) a directory whose removal is already under way.
      st.stalled = false;
      this.stalledDirs.delete(path);
      st.state = 'UNASSOCIATED';
      st.transition = transit('DISASSOCIATING', 'NONE');
    }
    return this.setState(st, 'DISASSOCIATING');
  }

  /**
   * Begin the next step of a directory: run the row's start policy action and return the
   * action the driver must perform (NONE when there is nothing to do, or when it stalled).
   */
  startAction(path: string, now: number): ActionType {
    const st = this.mustGet(path);
    const start = st.transition.startPolicyAction;
    if (start && !this.execute(path, st, start, now)) {
      if (st.purging) {
        // Being removed and nowhere to map: remove the key without acquiring anywhere.
        st.nextState = null;
        st.state = 'UNASSOCIATED';
        st.transition = transit('DISASSOCIATING', 'NONE');
        this.setState(st, 'DISASSOCIATING');
        return st.transition.actionType;
      }
      st.stalled = true;
      this.stalledDirs.add(path);
      return 'NONE';
    }
    return st.transition.actionType;
  }

  /**
   * Feed back the result of the directory's current action. A failure is retried (returns
   * true, nothing changes) unless it was an acquire/release addressed to a dead instance: a
   * dead daemon cannot answer and is fenced, so the step counts as done. Returns true when the
   * directory has more to do and must be scheduled again.
   */
  finishAction(path: string, r: number): boolean {
    const st = this.mustGet(path);
    if (r < 0) {
      const deadTarget =
        isInstanceAction(st.transition.actionType) &&
        st.instanceId !== null &&
        this.dead.has(st.instanceId);
      if (!deadTarget) return true;
    }
    const finishAction = st.transition.finishPolicyAction;
    st.transition = transit(st.state, st.transition.actionType);
    if (st.transition.finalState) {
      st.state = st.transition.finalState;
      st.transition = IDLE_TRANSITION;
    }
    if (isIdle(st.state) && st.nextState) this.setState(st, st.nextState);
    const pending = st.transition.actionType !== 'NONE';
    if (finishAction) this.execute(path, st, finishAction, 0);
    return pending;
  }

  lookup(path: string): DirectoryLookup | undefined {
    const st = this.dirs.get(path);
    if (!st) return undefined;
    return { instanceId: st.instanceId, mappedTime: st.mappedTime, purging: st.purging };
  }

  /** Idle in ASSOCIATED: mapped and held, nothing to do. */
  isAssociated(path: string): boolean {
    const st = this.dirs.get(path);
    return st !== undefined && st.state === 'ASSOCIATED' && st.nextState === null;
  }

  /** The current action of a directory (what start/finish are about), for the driver. */
  currentAction(path: string): ActionType | undefined {
    return this.dirs.get(path)?.transition.actionType;
  }

  status(path: string): DirectoryStatus | undefined {
    const st = this.dirs.get(path);
    if (!st) return undefined;
    const base = {
      policyState: st.state,
      instanceId: st.instanceId,
      lastShuffled: st.mappedTime,
      purging: st.purging,
    };
    if (st.stalled) return { ...base, state: 'stalled', reason: STALLED_REASON };
    return { ...base, state: statusWord(st) };
  }

  /** Directory count per instance, in insertion order; dead instances included and marked. */
  instanceLoads(): InstanceLoad[] {
    return [...this.instances].map(([id, held]) => ({
      id,
      directories: held.size,
      dead: this.dead.has(id),
    }));
  }

  /** Counts of directories per status word (one pass over all directories). */
  statusCounts(): Record<DirectoryStatusWord, number> {
    const counts: Record<DirectoryStatusWord, number> = {
      mapping: 0,
      unmapping: 0,
      shuffling: 0,
      mapped: 0,
      resolving: 0,
      stalled: 0,
    };
    for (const st of this.dirs.values()) counts[st.stalled ? 'stalled' : statusWord(st)]++;
    return counts;
  }

  /**
   * Move directories off instances holding more than their share. The share of each live
   * instance is floor(N/k) or one more (N = directories not being removed, k = live
   * instances; the larger shares go to the instances holding most, so no directory moves
   * that would only come back). A directory moves only when idle and mapped at least the
   * shuffle throttle ago; directories already leaving count towards the excess.
   */
  rebalance(now: number): RebalanceResult {
    const result: RebalanceResult = { shuffled: [], retryAt: null, waitingForBusy: false };
    const live = [...this.instances].filter(([id]) => !this.dead.has(id));
    if (live.length === 0) return result;
    const total = this.dirs.size - this.purgingCount;
    const base = Math.floor(total / live.length);
    let larger = total - base * live.length;
    live.sort((a, b) => b[1].size - a[1].size);
    for (const [, held] of live) {
      const share = larger-- > 0 ? base + 1 : base;
      let excess = held.size - share;
      if (excess <= 0) continue;
      for (const path of held) {
        if (excess === 0) break;
        const st = this.dirs.get(path);
        if (!st) continue;
        if (st.purging || isScheduled(st, 'SHUFFLING') || isScheduled(st, 'DISASSOCIATING')) {
          excess--;
        } else if (!isIdle(st.state)) {
          result.waitingForBusy = true;
        } else if (now - (st.mappedTime ?? 0) >= this.shuffleThrottleSeconds) {
          if (this.setState(st, 'SHUFFLING')) result.shuffled.push(path as DirPath);
          excess--;
        } else {
          const at = (st.mappedTime ?? 0) + this.shuffleThrottleSeconds;
          result.retryAt = result.retryAt === null ? at : Math.min(result.retryAt, at);
        }
      }
    }
    return result;
  }

  /**
   * Throw if the indexes disagree with the directory states. O(directories); for tests and
   * debugging, never on a hot path.
   */
  checkConsistency(): void {
    const fail = (msg: string): never => {
      throw new Error(`policy inconsistent: ${msg}`);
    };
    let purging = 0;
    for (const [path, st] of this.dirs) {
      if (st.purging) purging++;
      if (!this.trie.has(path)) fail(`${path} missing from the path trie`);
      if (st.stalled !== this.stalledDirs.has(path)) fail(`${path} stalled index mismatch`);
      if (st.instanceId !== null && !this.instances.get(st.instanceId)?.has(path)) {
        fail(`${path} maps to ${st.instanceId} but its index lacks it`);
      }
      if (isIdle(st.state) && st.nextState !== null) fail(`${path} idle with a queued state`);
    }
    if (purging !== this.purgingCount) fail(`purging count ${this.purgingCount} != ${purging}`);
    if (this.trie.size !== this.dirs.size) fail(`trie holds ${this.trie.size} paths`);
    for (const [id, held] of this.instances) {
      for (const path of held) {
        if (this.dirs.get(path)?.instanceId !== id) fail(`index of ${id} lists ${path}`);
      }
      if (this.dead.has(id) && held.size === 0) fail(`dead instance ${id} holds nothing`);
    }
    for (const id of this.dead) if (!this.instances.has(id)) fail(`dead ${id} not indexed`);
    for (const path of this.stalledDirs) if (!this.dirs.has(path)) fail(`stalled ${path} gone`);
  }

  /**
   * Put a directory in `state`. An idle directory takes it at once (returns true: schedule
   * it); a busy one records it as the next state. `force` applies it even when the state is
   * unchanged (failover off a dead instance). A directory being removed only accepts
   * DISASSOCIATING, so nothing can resurrect it.
   */
  private setState(st: DirectoryState, state: DirectoryStateName, force = false): boolean {
    if (!force && st.state === state) return false;
    if (st.purging && state !== 'DISASSOCIATING') return false;
    if (isIdle(st.state)) {
      st.state = state;
      st.nextState = null;
      st.transition = transit(state, st.transition.actionType);
      return true;
    }
    st.nextState = state;
    return false;
  }

  private execute(path: string, st: DirectoryState, action: PolicyAction, now: number): boolean {
    switch (action) {
      case 'MAP':
        return this.map(path, st, now);
      case 'UNMAP':
        this.unmap(path, st);
        return true;
      case 'REMOVE':
        if (st.state === 'UNASSOCIATED') this.forget(path, st);
        return true;
    }
  }

  /** Keep a live instance; else pick the live instance holding fewest directories. */
  private map(path: string, st: DirectoryState, now: number): boolean {
    if (st.instanceId !== null) {
      if (!this.dead.has(st.instanceId)) return true;
      this.unmap(path, st);
    }
    let best: string | null = null;
    let bestLoad = Infinity;
    for (const [id, held] of this.instances) {
      if (held.size < bestLoad && !this.dead.has(id)) {
        best = id;
        bestLoad = held.size;
      }
    }
    if (best === null) return false;
    st.instanceId = best;
    st.mappedTime = now;
    this.indexAdd(best, path);
    if (st.stalled) {
      st.stalled = false;
      this.stalledDirs.delete(path);
    }
    return true;
  }

  /** Take the directory off its instance; a dead instance is forgotten once it holds none. */
  private unmap(path: string, st: DirectoryState): void {
    const id = st.instanceId;
    if (id === null) return;
    const held = this.instances.get(id);
    held?.delete(path);
    st.instanceId = null;
    st.mappedTime = null;
    if (this.dead.has(id) && (!held || held.size === 0)) {
      this.instances.delete(id);
      this.dead.delete(id);
    }
  }

  private forget(path: string, st: DirectoryState): void {
    if (st.instanceId !== null) this.unmap(path, st);
    if (st.purging) this.purgingCount--;
    this.stalledDirs.delete(path);
    this.dirs.delete(path);
    this.trie.delete(path);
  }

  private indexAdd(id: string, path: string): void {
    let held = this.instances.get(id);
    if (!held) {
      held = new Set();
      this.instances.set(id, held);
    }
    held.add(path);
  }

  private mustGet(path: string): DirectoryState {
    const st = this.dirs.get(path);
    if (!st) throw new Error(`policy: ${path} is not tracked`);
    return st;
  }
}

function newState(instanceId: string | null, mappedTime: number | null): DirectoryState {
  return {
    instanceId,
    mappedTime,
    state: 'UNASSOCIATED',
    stalled: false,
    transition: IDLE_TRANSITION,
    nextState: null,
    purging: false,
  };
}

function isScheduled(st: DirectoryState, state: DirectoryStateName): boolean {
  return st.state === state || st.nextState === state;
}

function statusWord(st: DirectoryState): DirectoryStatusWord {
  switch (st.state) {
    case 'ASSOCIATING':
      return 'mapping';
    case 'DISASSOCIATING':
      return 'unmapping';
    case 'SHUFFLING':
      return 'shuffling';
    case 'ASSOCIATED':
      return 'mapped';
    case 'INITIALIZING':
      return 'resolving';
    case 'UNASSOCIATED':
      // Only seen for an instant inside a step; report where it is heading.
      return st.purging ? 'unmapping' : 'mapping';
  }
}
