import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MirroredDirectory } from '../../../src/api/resources.js';
import { DeclaredPaths, declarationOf } from '../../../src/controllers/declared-paths.js';

test('an object is found by the mirror and path it declares, and no longer once it moves', () => {
  const d = new DeclaredPaths();
  d.set('ns/a', { mirrorKey: 'ns/m', path: '/x' });
  assert.deepEqual(d.declaredBy('ns/m', '/x'), ['ns/a']);
  assert.deepEqual(d.declaredBy('ns/other', '/x'), [], 'another mirror');
  // A new path, then another mirror.
  d.set('ns/a', { mirrorKey: 'ns/m', path: '/y' });
  assert.deepEqual(d.declaredBy('ns/m', '/x'), []);
  assert.deepEqual(d.declaredBy('ns/m', '/y'), ['ns/a']);
  d.set('ns/a', { mirrorKey: 'ns/n', path: '/y' });
  assert.deepEqual(d.declaredBy('ns/m', '/y'), []);
  assert.deepEqual(d.declaredBy('ns/n', '/y'), ['ns/a']);
  d.set('ns/a', undefined);
  assert.deepEqual(d.declaredBy('ns/n', '/y'), []);
});

test('two objects declaring one path are both found, each until it goes', () => {
  const d = new DeclaredPaths();
  d.set('ns/a', { mirrorKey: 'ns/m', path: '/x' });
  d.set('ns/b', { mirrorKey: 'ns/m', path: '/x' });
  // The same declaration again (a status update) changes nothing.
  d.set('ns/a', { mirrorKey: 'ns/m', path: '/x' });
  assert.deepEqual(d.declaredBy('ns/m', '/x'), ['ns/a', 'ns/b']);
  d.set('ns/a', undefined);
  assert.deepEqual(d.declaredBy('ns/m', '/x'), ['ns/b']);
  d.set('ns/b', undefined);
  assert.deepEqual(d.declaredBy('ns/m', '/x'), []);
  // Declaring again under a mirror whose last path went works as the first time.
  d.set('ns/c', { mirrorKey: 'ns/m', path: '/z' });
  assert.deepEqual(d.declaredBy('ns/m', '/z'), ['ns/c']);
});

test('an object moving off a path another one keeps leaves that one found there', () => {
  const d = new DeclaredPaths();
  d.set('ns/a', { mirrorKey: 'ns/m', path: '/x' });
  d.set('ns/b', { mirrorKey: 'ns/m', path: '/x' });
  d.set('ns/a', { mirrorKey: 'ns/m', path: '/y' });
  assert.deepEqual(d.declaredBy('ns/m', '/x'), ['ns/b']);
  assert.deepEqual(d.declaredBy('ns/m', '/y'), ['ns/a']);
});

function dir(
  spec: { mirror: string; path?: string },
  status?: { mirrorRef?: string; path?: string },
): MirroredDirectory {
  return {
    apiVersion: 'mirror.cephfs.io/v1alpha1',
    kind: 'MirroredDirectory',
    metadata: { namespace: 'ns', name: 'd' },
    spec: { mirrorRef: { name: spec.mirror }, ...(spec.path ? { path: spec.path } : {}) },
    ...(status ? { status } : {}),
  } as MirroredDirectory;
}

test('a directory is indexed under its admitted mirror, with its normalized path', () => {
  assert.deepEqual(declarationOf(dir({ mirror: 'm', path: '/a//b/' })), {
    mirrorKey: 'ns/m',
    path: '/a/b',
  });
  // A refused mirrorRef edit: still under the mirror it was admitted to, as the reconciler looks.
  assert.deepEqual(declarationOf(dir({ mirror: 'other', path: '/a' }, { mirrorRef: 'm' })), {
    mirrorKey: 'ns/m',
    path: '/a',
  });
  // A source not resolved yet: nothing to index; once resolved, its status path.
  assert.equal(declarationOf(dir({ mirror: 'm' })), undefined);
  assert.deepEqual(declarationOf(dir({ mirror: 'm' }, { path: '/vol/x' })), {
    mirrorKey: 'ns/m',
    path: '/vol/x',
  });
});
