// A MirroredDirectory's entry in the dir map: which object owns a path (the oldest declaring it),
// letting go of an entry after a path edit (handed to another object declaring it, or removed),
// and deletion (released by its daemon, then its dir-map key removed) before the finalizer goes.
import { DirectoryError } from '../reconcile/index.js';
import { isBeingDeleted, writeStatus } from '../kube/object-writes.js';
import { KINDS, objectKey, type MirroredDirectory } from '../api/resources.js';
import type { ControllerContext } from './context.js';
import { normalizedOrUndefined } from './directory-claims.js';
import { PHASE_OF, type DirectoryStatusWriter } from './directory-status.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import { FINALIZED, type FinalizeResult } from './reconcile-skeleton.js';

export const MIRROR_NOT_READY_RETRY_MS = 3000;
export const REMOVAL_POLL_MS = 1000;

export class DirectoryEntries {
  constructor(
    private readonly ctx: ControllerContext,
    private readonly status: DirectoryStatusWriter,
  ) {}

  /** The object owning a path among a mirror's declarations: the oldest one not being deleted. */
  ownerOf(dir: MirroredDirectory, path: string, mirrorKey: string): string {
    // Through the manager's path index: scanning every directory here made each reconcile cost
    // O(directories), and a burst of 10,000 new ones quadratic.
    const self = keyOf(dir);
    const same = this.ctx
      .declaredBy(mirrorKey, path)
      .filter((key) => key !== self)
      .map((key) => this.ctx.directories.getByKey(key))
      .filter((d): d is MirroredDirectory => d !== undefined && !isBeingDeleted(d));
    if (!isBeingDeleted(dir)) same.push(dir);
    return same.sort(olderFirst)[0]?.metadata.name ?? dir.metadata.name;
  }

  /**
   * Lets go of the entry this object managed at `previous` after a path edit. When another object
   * declares that path now it keeps the entry (it is told to look); otherwise the directory is
   * removed: this resolves once its purge mark is written, after which Ceph finishes the removal
   * even if the operator restarts.
   */
  async releasePrevious(
    dir: MirroredDirectory,
    mirrorKey: string,
    runtime: MirrorRuntime,
    previous: string,
  ): Promise<void> {
    const self = keyOf(dir);
    const heirs = this.ctx.declaredBy(mirrorKey, previous).filter((key) => {
      const d = key === self ? undefined : this.ctx.directories.getByKey(key);
      return d !== undefined && !isBeingDeleted(d);
    });
    if (heirs.length > 0) {
      for (const key of heirs) this.ctx.enqueue.directory(key);
      return;
    }
    await this.release(runtime, previous);
    runtime.syncViews.forget(previous);
  }

  async release(runtime: MirrorRuntime, path: string): Promise<void> {
    const status = runtime.engine.status(path);
    if (!status || status.purging) return;
    try {
      await runtime.engine.removeDirectory(path);
    } catch (e) {
      if (!(e instanceof DirectoryError && ['NotTracked', 'UnderRemoval'].includes(e.reason)))
        throw e;
    }
  }

  async finalize(
    dir: MirroredDirectory,
    mirrorKey: string,
    runtime: MirrorRuntime | undefined,
  ): Promise<FinalizeResult> {
    this.status.dropLagSeries(dir.metadata.namespace, dir.metadata.name);
    const path = dir.status?.path ?? normalizedOrUndefined(dir.spec.path);
    if (path && runtime && this.ownerOf(dir, path, mirrorKey) === dir.metadata.name) {
      await this.release(runtime, path);
      const status = runtime.engine.status(path);
      if (status) {
        await writeStatus(this.ctx.api, KINDS.directory, dir, {
          ...dir.status,
          state: PHASE_OF[status.state],
        });
        // The engine's change events re-enqueue us as the removal proceeds; the poll is a backstop.
        return { requeueAfterMs: REMOVAL_POLL_MS };
      }
      runtime.syncViews.forget(path);
      this.ctx.events.record(
        dir,
        'Normal',
        'Released',
        `${path} released and removed from the directory map`,
      );
    } else if (path && !runtime && this.ctx.mirrors.getByKey(mirrorKey)) {
      // A mirror refused because another one owns the filesystem never drives it: what is in
      // its map is the owner's to keep or prune, so there is nothing to wait for.
      if (this.ctx.runtimes.whyNotRunning(mirrorKey)?.reason !== 'FilesystemOwnedByOther') {
        return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
      }
    }
    return FINALIZED;
  }
}

function olderFirst(x: MirroredDirectory, y: MirroredDirectory): number {
  const tx = x.metadata.creationTimestamp ?? '';
  const ty = y.metadata.creationTimestamp ?? '';
  return tx === ty ? x.metadata.name.localeCompare(y.metadata.name) : tx < ty ? -1 : 1;
}

function keyOf(dir: MirroredDirectory): string {
  return objectKey(dir.metadata);
}
