// What a MirroredDirectory holds in Ceph, read from the object alone (pure; no I/O).
//
// Two status fields carry what the spec cannot say once it has been edited:
// - `status.mirrorRef`: the CephFSMirror the object was admitted with (written once the mirror
//   exists). spec.mirrorRef may not change after that: the apiserver of the lab (1.20) has no
//   CEL rule to refuse it, so the operator refuses it (Ready=False MirrorRefImmutable) and keeps
//   managing the entry in the admitted mirror until the ref is restored or the object deleted.
// - `status.path`: the path of the dir-map entry the object manages, while it manages one. After
//   a path edit it still names the old entry until that entry is released (its purge mark
//   written: from then on Ceph itself finishes the removal, even across an operator restart).
import { DirectoryError, normalizeDirectoryPath } from '../reconcile/index.js';
import type { MirroredDirectory } from '../api/resources.js';

/** The name of the CephFSMirror the object belongs to: the admitted one, else the spec's. */
export function admittedMirrorOf(dir: MirroredDirectory): string {
  return dir.status?.mirrorRef ?? dir.spec.mirrorRef.name;
}

/** The refused mirrorRef edit, when spec.mirrorRef differs from the admitted one. */
export function mirrorRefChange(dir: MirroredDirectory): { from: string; to: string } | undefined {
  const from = dir.status?.mirrorRef;
  const to = dir.spec.mirrorRef.name;
  return from !== undefined && from !== to ? { from, to } : undefined;
}

export function normalizedOrUndefined(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return normalizeDirectoryPath(path);
  } catch {
    return undefined;
  }
}

/**
 * The path this object declares, for the per-mirror path index (duplicates): spec.path,
 * normalised, or for a subvolume or claim source the path it was last resolved to (status.path:
 * a resolved path goes through the same claims as a declared one once it is known).
 */
export function declaredPathOf(dir: MirroredDirectory): string | undefined {
  if (dir.spec.path !== undefined) return normalizedOrUndefined(dir.spec.path);
  return dir.status?.path;
}

/**
 * The paths this object claims in the dir map of CephFSMirror `mirror` (same namespace): the
 * entry it manages (status.path) when admitted there, and its declared path when its spec names
 * that mirror and the spec is not a refused mirrorRef edit. A mirror's unmanaged-directory
 * policy (Prune, Adopt) must leave every claimed path alone: an entry being released after a
 * path edit, or kept for a refused mirrorRef edit, is not "undeclared".
 */
export function pathsClaimedBy(dir: MirroredDirectory, mirror: string): string[] {
  const paths = new Set<string>();
  if (admittedMirrorOf(dir) === mirror && dir.status?.path) paths.add(dir.status.path);
  if (dir.spec.mirrorRef.name === mirror && !mirrorRefChange(dir)) {
    const declared = declaredPathOf(dir);
    if (declared) paths.add(declared);
  }
  return [...paths];
}

function isUnder(path: string, root: string): boolean {
  return root === '/' ? path !== '/' : path.startsWith(`${root}/`);
}

/**
 * The overlap refusal the engine would give when adding `path` (normalised) beside `tracked`,
 * without adding it: for a path that is not added yet (its source directory is missing), so
 * that a conflicting spec is reported as such rather than as a missing directory. One pass over
 * the tracked paths; only paths waiting for their source pay it, once per recheck.
 */
export function overlapOf(path: string, tracked: Iterable<string>): DirectoryError | undefined {
  for (const t of tracked) {
    if (isUnder(path, t)) return DirectoryError.subtreeOf(path, t);
    if (isUnder(t, path)) return DirectoryError.ancestorOf(path, t);
  }
  return undefined;
}
