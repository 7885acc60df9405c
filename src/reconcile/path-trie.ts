import { pathComponents } from './paths.js';

interface TrieNode {
  /** The full path when this node is a tracked directory. */
  tracked: string | undefined;
  children: Map<string, TrieNode> | undefined;
}

export interface PathConflict {
  /** `subtree`: the new path lies under `trackedPath`; `ancestor`: it lies above it. */
  kind: 'subtree' | 'ancestor';
  trackedPath: string;
}

/**
 * The set of tracked directories as a trie of path components, so that "is this path inside or
 * above a tracked one?" costs the depth of the path, not the number of tracked paths (the mgr
 * module compares against every tracked path, which makes adding many directories quadratic).
 *
 * Invariant kept by `delete`: every node is tracked or has children, so any node below the
 * root leads to a tracked path by following children.
 */
export class PathTrie {
  private readonly root: TrieNode = { tracked: undefined, children: undefined };
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(path: string): boolean {
    return this.find(pathComponents(path))?.tracked !== undefined;
  }

  /** Add a normalised path; returns false when it was already present. */
  insert(path: string): boolean {
    let node = this.root;
    for (const part of pathComponents(path)) {
      node.children ??= new Map();
      let child = node.children.get(part);
      if (!child) {
        child = { tracked: undefined, children: undefined };
        node.children.set(part, child);
      }
      node = child;
    }
    if (node.tracked !== undefined) return false;
    node.tracked = path;
    this.count++;
    return true;
  }

  /** Remove a path and prune the branches left without tracked paths. */
  delete(path: string): boolean {
    const parts = pathComponents(path);
    const trail: TrieNode[] = [this.root];
    for (const part of parts) {
      const next = trail[trail.length - 1]?.children?.get(part);
      if (!next) return false;
      trail.push(next);
    }
    const node = trail[trail.length - 1];
    if (!node || node.tracked === undefined) return false;
    node.tracked = undefined;
    this.count--;
    for (let i = parts.length; i > 0; i--) {
      const child = trail[i];
      const parent = trail[i - 1];
      const part = parts[i - 1];
      if (!child || !parent || part === undefined) break;
      if (child.tracked !== undefined || (child.children && child.children.size > 0)) break;
      parent.children?.delete(part);
    }
    return true;
  }

  /**
   * The first tracked path that `path` would overlap, other than `path` itself: a tracked
   * ancestor (checked first, top-down) or else some tracked path below it.
   */
  findConflict(path: string): PathConflict | undefined {
    let node: TrieNode | undefined = this.root;
    const parts = pathComponents(path);
    for (const part of parts) {
      if (node.tracked !== undefined) return { kind: 'subtree', trackedPath: node.tracked };
      node = node.children?.get(part);
      if (!node) return undefined;
    }
    // `node` is the path's own node; anything below it is a tracked descendant.
    let below = node.children?.values().next().value;
    while (below) {
      if (below.tracked !== undefined) return { kind: 'ancestor', trackedPath: below.tracked };
      below = below.children?.values().next().value;
    }
    return undefined;
  }

  private find(parts: string[]): TrieNode | undefined {
    let node: TrieNode | undefined = this.root;
    for (const part of parts) {
      node = node.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }
}
