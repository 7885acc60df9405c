// Exclusive, fenced ownership of one filesystem's `cephfs_mirror` object, enforced by the OSDs.
//
// The owner holds an expiring cls_lock exclusive lock on `cephfs_mirror` and every write it
// makes to that object is one atomic op that (1) asserts the lock (`lock.assert_locked`: this
// RADOS client, this cookie) and (2) asserts the object's user version is the one its own last
// write left. So a writer that lost the lock (a stale leader, a second operator process) is
// refused by Ceph, and any write by someone else in between (the mgr `mirroring` module, a hand
// edit) makes our next write fail instead of silently mixing two writers' maps.
//
// Renewals go through the same ordered channel as the writes (a renewal is itself a guarded write:
// it changes the object's version), so the expected version is always known. The owner stops
// acting (no write, notify or blocklist) once it could not renew before the lock would expire,
// measured on the monotonic clock: a process paused past that point acts on nothing when it
// resumes. A new owner blocklists the previous holder's RADOS address before its first write, so
// that even operations the previous holder had already queued in librados are refused.
import { randomBytes } from 'node:crypto';
import type { IoCtx, Rados } from 'rados-js';
import { assertLockedCall, LOCK_FLAG_MUST_RENEW, lockCall, unlockCall } from './cls-lock.js';
import { MIRROR_OBJECT_NAME } from './dir-map-codec.js';
import { cephOpError, ERRNO } from './errors.js';
import { osdBlocklistAdd } from './mon-commands.js';
import { errnoOf } from './return-code.js';

/** The lock's name on `cephfs_mirror`. */
export const FENCE_LOCK_NAME = 'cephfs-mirror-operator';
/**
 * The current owner's record in the `cephfs_mirror` omap, kept beside the lock because an
 * expired lock no longer names its holder. The mgr module reads only `dir_map_` and `instance_`
 * keys, so this key does not disturb it.
 */
export const HOLDER_KEY = 'operator_lock_holder';

/**
 * Longer than the Lease (15 s), so that a new leader still finds its predecessor's lock, with its
 * address, and fences it; short enough that without leader election a crashed holder's lock
 * frees the filesystem soon.
 */
export const DEFAULT_LOCK_DURATION_MS = 20_000;

/** Who drives the filesystem (see EngineOwner in mirror-engine.ts). */
export interface FenceOwner {
  holder: string;
  mirror: string;
  lease?: { namespace: string; name: string };
}

/** Why the fence stopped its owner (mirrors EngineFailure). */
export interface FenceFailure {
  reason: 'ForeignWrite' | 'LockLost' | 'Blocklisted' | 'OwnershipExpired';
  message: string;
}

/** What the lock's cookie (and the holder record) say about a holder. */
export interface HolderRecord {
  v: 1;
  holder: string;
  mirror: string;
  /** `namespace/name` of the Lease the holder led, or null without leader election. */
  lease: string | null;
  /** The holder's RADOS client address, for the blocklist. */
  addr: string;
  nonce: string;
}

export interface FenceOptions {
  ioctx: IoCtx;
  /** The guarded object; `cephfs_mirror` unless a test names another. */
  oid?: string;
  rados: Rados;
  owner: FenceOwner;
  /** The lock's lifetime; renewed every third of it. */
  durationMs?: number;
  onFailed: (failure: FenceFailure) => void;
  warn?: (message: string, detail?: Record<string, unknown>) => void;
  /** Monotonic milliseconds (tests). */
  now?: () => number;
}

export function parseHolder(text: string): HolderRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<HolderRecord>;
    if (v.v !== 1 || typeof v.holder !== 'string' || typeof v.addr !== 'string') return undefined;
    return {
      v: 1,
      holder: v.holder,
      mirror: typeof v.mirror === 'string' ? v.mirror : '',
      lease: typeof v.lease === 'string' ? v.lease : null,
      addr: v.addr,
      nonce: typeof v.nonce === 'string' ? v.nonce : '',
    };
  } catch {
    return undefined;
  }
}

function leaseName(owner: FenceOwner): string | null {
  return owner.lease ? `${owner.lease.namespace}/${owner.lease.name}` : null;
}

/**
 * The entity address the blocklist takes, from an addrvec such as
 * `[v2:127.0.0.1:0/123,v1:127.0.0.1:0/123]` or a plain `127.0.0.1:0/123`.
 */
export function blocklistAddr(addrs: string): string {
  const first = addrs.replace(/^\[/, '').replace(/\]$/, '').split(',')[0] ?? addrs;
  return first.replace(/^(v1|v2|any):/, '');
}

/** Maps a refused guarded write to the reason the owner must stop, or undefined to retry. */
export function fenceFailureOf(errno: number): FenceFailure['reason'] | undefined {
  switch (errno) {
    case ERRNO.EBUSY:
    case ERRNO.ENOENT:
      return 'LockLost';
    case ERRNO.ERANGE:
    case ERRNO.EOVERFLOW:
      return 'ForeignWrite';
    case ERRNO.ESHUTDOWN: // EBLOCKLISTED
      return 'Blocklisted';
    default:
      return undefined;
  }
}

const FAILURE_TEXT: Record<FenceFailure['reason'], string> = {
  LockLost:
    'the lock on cephfs_mirror is no longer ours (another operator took the filesystem over)',
  ForeignWrite:
    'cephfs_mirror was changed by another writer (the mgr mirroring module, a hand edit or another tool)',
  Blocklisted: "the operator's RADOS client was blocklisted",
  OwnershipExpired: 'the lock on cephfs_mirror could not be renewed before it expired',
};

export class MirrorObjectFence {
  private expected: bigint;
  private chain: Promise<unknown> = Promise.resolve();
  private renewTimer: NodeJS.Timeout | undefined;
  private ownedUntil: number;
  private failure: FenceFailure | undefined;
  private released = false;
  private readonly durationMs: number;
  private readonly now: () => number;
  private readonly oid: string;

  private constructor(
    private readonly o: FenceOptions,
    private readonly cookie: string,
    version: bigint,
    takenAt: number,
  ) {
    this.durationMs = o.durationMs ?? DEFAULT_LOCK_DURATION_MS;
    this.oid = o.oid ?? MIRROR_OBJECT_NAME;
    this.now = o.now ?? (() => performance.now());
    this.expected = version;
    this.ownedUntil = takenAt + this.ownedFor();
    this.scheduleRenew();
  }

  /**
   * Takes the lock. A lock held under the Lease we now lead, or by an earlier incarnation of our
   * identity, is stale: its holder is blocklisted and the lock broken. Any other live holder →
   * FilesystemLockedByOther (retried by the caller; the lock expires if its holder died).
   * The previous holder named by the holder record (its lock expired or was just broken) is
   * blocklisted before we take over.
   */
  static async acquire(o: FenceOptions): Promise<MirrorObjectFence> {
    const now = o.now ?? (() => performance.now());
    const oid = o.oid ?? MIRROR_OBJECT_NAME;
    const ourAddr = blocklistAddr(await o.rados.getAddrs());
    const me: HolderRecord = {
      v: 1,
      holder: o.owner.holder,
      mirror: o.owner.mirror,
      lease: leaseName(o.owner),
      addr: ourAddr,
      nonce: randomBytes(8).toString('hex'),
    };
    const cookie = JSON.stringify(me);
    const info = await o.ioctx.listLockers(oid, FENCE_LOCK_NAME);
    for (const locker of info.lockers) {
      const other = parseHolder(locker.cookie);
      // Stale: taken under the Lease we now lead, or by an earlier incarnation of this very
      // process identity (a restarted container of the same pod; identities are unique among
      // live processes).
      const stale =
        other !== undefined &&
        ((me.lease !== null && other.lease === me.lease) || other.holder === me.holder);
      if (!stale) {
        throw cephOpError(
          'EBUSY',
          `the filesystem is driven by operator ${other?.holder ?? locker.client}` +
            (other?.mirror ? ` for CephFSMirror ${other.mirror}` : '') +
            ' (it holds the lock on cephfs_mirror)',
          'FilesystemLockedByOther',
        );
      }
      // Its holder can no longer be a legitimate writer: fence it first, then break the lock.
      await blocklist(o.rados, locker.addr);
      await o.ioctx
        .breakLock(oid, FENCE_LOCK_NAME, locker.client, locker.cookie)
        .catch((e: unknown) => {
          if (errnoOf(e) !== ERRNO.ENOENT) throw e;
        });
    }
    const previous = await readHolderRecord(o.ioctx, oid);
    if (previous && previous.addr !== ourAddr) await blocklist(o.rados, previous.addr);
    const sentAt = now();
    let version: bigint;
    try {
      version = await o.ioctx.guardedOmapWrite(
        oid,
        { set: [[HOLDER_KEY, Buffer.from(cookie)]] },
        { calls: [lockCall({ name: FENCE_LOCK_NAME, cookie, durationMs: durationOf(o) })] },
      );
    } catch (e) {
      if (errnoOf(e) === ERRNO.EBUSY || errnoOf(e) === ERRNO.EEXIST) {
        throw cephOpError(
          'EBUSY',
          'another operator took the lock on cephfs_mirror at the same moment',
          'FilesystemLockedByOther',
        );
      }
      throw e;
    }
    return new MirrorObjectFence(o, cookie, version, sentAt);
  }

  /** The version our last write left; the next write asserts it. */
  get version(): bigint {
    return this.expected;
  }

  /** Why the fence stopped, once it did. */
  get failed(): FenceFailure | undefined {
    return this.failure;
  }

  /**
   * Adopts the version a read saw (the dir map load after taking the lock): writes made by
   * others before that read are part of what was read, so they are not foreign.
   */
  adoptVersion(version: bigint): void {
    this.expected = version;
  }

  /**
   * True while we may act on the filesystem (write, notify, blocklist). Once false it stays
   * false, and the owner is told why.
   */
  owned(): boolean {
    if (this.failure || this.released) return false;
    if (this.now() < this.ownedUntil) return true;
    this.fail('OwnershipExpired');
    return false;
  }

  /** Runs `fn` between guarded writes (e.g. a read whose version is then adopted). */
  exclusively<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(fn);
  }

  /**
   * One guarded omap write on `cephfs_mirror`, after every earlier one. Resolves 0 or -errno; a
   * guard refusal stops the owner (and resolves with the refusal's errno).
   */
  write(set: Array<[string, Buffer]>, remove: string[]): Promise<number> {
    return this.serial(async () => {
      if (!this.owned()) return -ERRNO.ESHUTDOWN;
      try {
        this.expected = await this.o.ioctx.guardedOmapWrite(
          this.oid,
          { set, remove },
          { calls: [assertLockedCall(FENCE_LOCK_NAME, this.cookie)], assertVersion: this.expected },
        );
        return 0;
      } catch (e) {
        return this.refused(errnoOf(e));
      }
    });
  }

  /** Stops renewing and gives the lock up (best effort: it expires anyway). */
  async release(): Promise<void> {
    if (this.released) return;
    clearTimeout(this.renewTimer);
    await this.serial(async () => {
      if (this.failure) return;
      this.released = true;
      // Unlock and forget the holder record in one op, only if both are still ours.
      await this.o.ioctx
        .guardedOmapWrite(
          this.oid,
          { remove: [HOLDER_KEY] },
          { calls: [unlockCall(FENCE_LOCK_NAME, this.cookie)], assertVersion: this.expected },
        )
        .catch(() => this.o.ioctx.unlock(this.oid, FENCE_LOCK_NAME, this.cookie).catch(() => 0));
    });
    this.released = true;
  }

  private ownedFor(): number {
    // Stop acting a margin before the lock expires on the OSD: our clock and the OSD's differ,
    // and an op sent just in time still needs to arrive.
    return this.durationMs - Math.min(5000, this.durationMs / 6);
  }

  private scheduleRenew(): void {
    if (this.failure || this.released) return;
    this.renewTimer = setTimeout(() => void this.renew(), this.durationMs / 3);
    this.renewTimer.unref();
  }

  private renew(): Promise<void> {
    return this.serial(async () => {
      if (!this.owned()) return;
      const sentAt = this.now();
      try {
        this.expected = await this.o.ioctx.guardedOmapWrite(
          this.oid,
          {},
          {
            calls: [
              lockCall({
                name: FENCE_LOCK_NAME,
                cookie: this.cookie,
                durationMs: this.durationMs,
                flags: LOCK_FLAG_MUST_RENEW,
              }),
            ],
            assertVersion: this.expected,
          },
        );
        this.ownedUntil = sentAt + this.ownedFor();
      } catch (e) {
        const r = this.refused(errnoOf(e));
        this.o.warn?.('renewing the cephfs_mirror lock failed', { r });
      }
    }).finally(() => this.scheduleRenew());
  }

  /** A failed guarded op: stop for good on a guard refusal, else report it for a retry. */
  private refused(errno: number): number {
    const reason = fenceFailureOf(errno);
    if (reason) this.fail(reason);
    return -errno;
  }

  private fail(reason: FenceFailure['reason']): void {
    if (this.failure || this.released) return;
    this.failure = { reason, message: FAILURE_TEXT[reason] };
    clearTimeout(this.renewTimer);
    this.o.onFailed(this.failure);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

function durationOf(o: FenceOptions): number {
  return o.durationMs ?? DEFAULT_LOCK_DURATION_MS;
}

async function readHolderRecord(ioctx: IoCtx, oid: string): Promise<HolderRecord | undefined> {
  const page = await ioctx.omapGetVals(oid, { prefix: HOLDER_KEY, max: 1 });
  const entry = page.entries.find(([k]) => k === HOLDER_KEY);
  return entry ? parseHolder(entry[1].toString('utf8')) : undefined;
}

/** Blocklists a previous holder; failure stops the take-over (it is retried by the caller). */
async function blocklist(rados: Rados, addrs: string): Promise<void> {
  const addr = blocklistAddr(addrs);
  const { rc, outs } = await rados.monCommand(osdBlocklistAdd(addr));
  if (rc < 0) {
    throw cephOpError(
      'EIO',
      `could not blocklist the previous owner ${addr} of cephfs_mirror: ${outs || rc}`,
      'FencingFailed',
    );
  }
}
