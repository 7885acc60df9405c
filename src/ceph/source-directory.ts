// Whether a mirrored directory exists on its source filesystem. The mgr module never looks: it
// tracks any path, and a 16.2 cephfs-mirror daemon given a path that does not exist creates it on
// the peer (PeerReplayer::try_lock_directory → ceph_mkdirs on the remote), then fails on the
// local side (sync_perms: ceph_statx → ENOENT) every scan interval (10 s), and after
// cephfs_mirror_max_consecutive_failures_per_directory (10) marks the directory failed and
// retries it only every cephfs_mirror_retry_failed_directories_interval (60 s). Nothing aborts,
// but the peer gets an empty directory for a source that is not there, the daemon reports failed
// directories, and a directory created later starts syncing up to a minute late. So the operator
// looks first: one stat on the mirror's own libcephfs mount.
import type { CephStat } from 'cephfs-js';
import { raceDeadline } from '../deadline.js';

export type SourceDirectoryState =
  | { state: 'present' }
  /** ENOENT (the path or a parent missing), or a path that is not a directory. */
  | { state: 'missing'; message: string }
  /** The stat itself failed (no mount, a timeout, EACCES...): nothing is known. */
  | { state: 'unknown'; message: string };

/** One shared answer: a mirror may cache it for each of 10,000 paths. */
export const SOURCE_PRESENT: SourceDirectoryState = Object.freeze({ state: 'present' });

export interface StatMount {
  stat(path: string): Promise<CephStat>;
}

/** The error code libcephfs (cephfs-js) gave, when it gave one. */
function codeOf(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * One stat of `path` (already normalised) on the source filesystem `fsName`. Never throws: a
 * failed stat is `unknown`, with why. `timeoutMs` bounds the wait (the stat itself may go on in
 * its libuv thread; its late answer is ignored). The operator's one caller
 * (SyncViewer.sourceDirectory) passes a mount whose stat an FsCallGuard already bounds, mount
 * wait included, one second sooner: there this deadline is only a backstop that does not fire;
 * it is what bounds a mount given without a guard.
 */
export async function checkSourceDirectory(
  mount: StatMount | Promise<StatMount>,
  fsName: string,
  path: string,
  timeoutMs = 10_000,
): Promise<SourceDirectoryState> {
  try {
    const st = await raceDeadline(
      Promise.resolve(mount).then((m) => m.stat(path)),
      timeoutMs,
      () => {
        throw Object.assign(new Error(`stat ${path} timed out`), { code: 'ETIMEDOUT' });
      },
    );
    if (st.isDirectory) return SOURCE_PRESENT;
    return {
      state: 'missing',
      message: `${path} on filesystem ${fsName} is not a directory`,
    };
  } catch (e) {
    const code = codeOf(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return {
        state: 'missing',
        message: `${path} does not exist on filesystem ${fsName}`,
      };
    }
    return {
      state: 'unknown',
      message: `could not check ${path} on filesystem ${fsName}: ${messageOf(e)}`,
    };
  }
}
