import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DirectoryError, PathTrie, normalizeDirectoryPath } from '../../../src/reconcile/index.js';

describe('normalizeDirectoryPath', () => {
  it('normalises like os.path.normpath', () => {
    const cases: Array<[string, string]> = [
      ['/', '/'],
      ['/a', '/a'],
      ['/a/', '/a'],
      ['/a//b', '/a/b'],
      ['/a/./b/.', '/a/b'],
      ['/a/b/../c', '/a/c'],
      ['/..', '/'],
      ['/../a', '/a'],
      ['///a', '/a'],
      ['/ä/ü b', '/ä/ü b'],
    ];
    for (const [input, expected] of cases) assert.equal(normalizeDirectoryPath(input), expected);
  });

  it('maps a leading // to / (deliberate difference from Python)', () => {
    assert.equal(normalizeDirectoryPath('//a'), '/a');
  });

  it('refuses relative paths with RelativePath/EINVAL', () => {
    for (const input of ['', 'a', './a', '../a', 'a/b']) {
      assert.throws(
        () => normalizeDirectoryPath(input),
        (e: unknown) =>
          e instanceof DirectoryError &&
          e.reason === 'RelativePath' &&
          e.code === 'EINVAL' &&
          e.errno === 22 &&
          e.message === `${input} should be an absolute path`,
      );
    }
  });

  it('agrees with path.posix.normalize on absolute paths (property)', () => {
    const part = fc.constantFrom('a', 'b', 'c', '.', '..', '', 'dé');
    fc.assert(
      fc.property(fc.array(part, { maxLength: 8 }), (parts) => {
        const input = '/' + parts.join('/');
        let expected = posix.normalize(input);
        if (expected.startsWith('//')) expected = expected.replace(/^\/+/, '/');
        if (expected.length > 1 && expected.endsWith('/')) expected = expected.slice(0, -1);
        assert.equal(normalizeDirectoryPath(input), expected);
      }),
      { numRuns: 300 },
    );
  });
});

/** The mgr module's check, kept as the oracle: scan every tracked path. */
function naiveConflict(tracked: Iterable<string>, path: string) {
  for (const t of tracked) {
    if (t === path) continue;
    if (path.startsWith(t === '/' ? '/' : t + '/')) return { kind: 'subtree', trackedPath: t };
    if (t.startsWith(path === '/' ? '/' : path + '/')) return { kind: 'ancestor', trackedPath: t };
  }
  return undefined;
}

describe('PathTrie', () => {
  it('finds tracked ancestors and descendants by component, not by prefix', () => {
    const trie = new PathTrie();
    trie.insert('/a/b');
    assert.deepEqual(trie.findConflict('/a/b/c'), { kind: 'subtree', trackedPath: '/a/b' });
    assert.deepEqual(trie.findConflict('/a'), { kind: 'ancestor', trackedPath: '/a/b' });
    assert.deepEqual(trie.findConflict('/'), { kind: 'ancestor', trackedPath: '/a/b' });
    assert.equal(trie.findConflict('/a/bc'), undefined);
    assert.equal(trie.findConflict('/a/c'), undefined);
    assert.equal(trie.findConflict('/a/b'), undefined, 'the path itself is not a conflict');
    trie.insert('/');
    assert.deepEqual(trie.findConflict('/x'), { kind: 'subtree', trackedPath: '/' });
  });

  it('prunes on delete and keeps size', () => {
    const trie = new PathTrie();
    assert.equal(trie.insert('/a/b/c'), true);
    assert.equal(trie.insert('/a/b/c'), false);
    assert.equal(trie.insert('/a/x'), true);
    assert.equal(trie.size, 2);
    assert.equal(trie.delete('/a/b'), false);
    assert.equal(trie.delete('/a/b/c'), true);
    assert.equal(trie.findConflict('/a/b'), undefined);
    assert.deepEqual(trie.findConflict('/a'), { kind: 'ancestor', trackedPath: '/a/x' });
    assert.equal(trie.delete('/a/x'), true);
    assert.equal(trie.findConflict('/'), undefined);
    assert.equal(trie.size, 0);
  });

  it('agrees with a scan of every tracked path under random inserts and deletes', () => {
    const path = fc
      .array(fc.constantFrom('a', 'b', 'ab', 'c'), { maxLength: 4 })
      .map((p) => '/' + p.join('/'));
    const op = fc.record({ insert: fc.boolean(), path });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), path, (ops, probe) => {
        const trie = new PathTrie();
        const set = new Set<string>();
        for (const { insert, path: p } of ops) {
          // Mirror the policy: only insert what does not conflict.
          if (insert && !set.has(p) && naiveConflict(set, p) === undefined) {
            assert.equal(trie.insert(p), true);
            set.add(p);
          } else if (!insert) {
            assert.equal(trie.delete(p), set.delete(p));
          }
        }
        assert.equal(trie.size, set.size);
        for (const p of set) assert.equal(trie.has(p), true);
        const got = trie.findConflict(probe);
        const want = naiveConflict(set, probe);
        assert.equal(got?.kind, want?.kind);
        // With no overlaps among tracked paths, a subtree conflict is unique; an ancestor
        // conflict may name any tracked descendant.
        if (got?.kind === 'subtree') assert.equal(got.trackedPath, want?.trackedPath);
        if (got) assert.ok(naiveConflict([got.trackedPath], probe), 'names a real conflict');
      }),
      { numRuns: 300 },
    );
  });
});
