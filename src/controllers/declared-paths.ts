// Which MirroredDirectory objects declare which path of which mirror: how an engine change of a
// path finds its objects, and how a reconcile finds the other declarations of its path.
//
// Kept as mirror key → path → object keys, plus object key → where it is indexed. With tens of
// thousands of directories the obvious single map keyed by `${mirrorKey}\0${path}` cost two
// strings per directory (the concatenation and its flattened copy) and a new one on every watch
// event; here an object is indexed once and its entry is the path it declared and the per-mirror
// map it is in, nothing else.
import { objectKey, type MirroredDirectory } from '../api/resources.js';
import { KeyMultimap } from '../kube/key-multimap.js';
import { admittedMirrorOf, declaredPathOf } from './directory-claims.js';

export interface Declaration {
  mirrorKey: string;
  path: string;
}

/**
 * What a directory declares, as the reconciler looks it up: under its admitted mirror (a refused
 * mirrorRef edit keeps its entry in the mirror it was admitted to, directory-claims.ts), its
 * spec.path or the path its subvolume or claim source was resolved to; undefined while that
 * path is not known.
 */
export function declarationOf(dir: MirroredDirectory): Declaration | undefined {
  const path = declaredPathOf(dir);
  if (path === undefined) return undefined;
  const mirrorKey = objectKey({ namespace: dir.metadata.namespace, name: admittedMirrorOf(dir) });
  return { mirrorKey, path };
}

/** One mirror's paths → the object keys declaring each (almost always one). */
class MirrorPaths extends KeyMultimap {
  constructor(readonly mirrorKey: string) {
    super();
  }
}

interface Indexed {
  paths: MirrorPaths;
  path: string;
}

export class DeclaredPaths {
  private readonly byMirror = new Map<string, MirrorPaths>();
  private readonly indexed = new Map<string, Indexed>();

  /** The object keys declaring `path` in `mirrorKey` (a new array). */
  declaredBy(mirrorKey: string, path: string): string[] {
    return this.byMirror.get(mirrorKey)?.get(path) ?? [];
  }

  /**
   * The object `key` now declares `path` of `mirrorKey`, or nothing (undefined: deleted, or its
   * path not known yet).
   */
  set(key: string, declared: Declaration | undefined): void {
    const old = this.indexed.get(key);
    if (
      old &&
      declared &&
      old.path === declared.path &&
      old.paths.mirrorKey === declared.mirrorKey
    ) {
      return;
    }
    if (old) {
      old.paths.delete(old.path, key);
      if (old.paths.size === 0) this.byMirror.delete(old.paths.mirrorKey);
      this.indexed.delete(key);
    }
    if (!declared) return;
    let paths = this.byMirror.get(declared.mirrorKey);
    if (!paths)
      this.byMirror.set(declared.mirrorKey, (paths = new MirrorPaths(declared.mirrorKey)));
    paths.add(declared.path, key);
    this.indexed.set(key, { paths, path: declared.path });
  }
}
