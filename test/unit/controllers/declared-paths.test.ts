import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeclaredPaths } from '../../../src/controllers/declared-paths.js';

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
  // A mirror whose last path went is forgotten; declaring again under it works as the first time.
  d.set('ns/c', { mirrorKey: 'ns/m', path: '/z' });
  assert.deepEqual(d.declaredBy('ns/m', '/z'), ['ns/c']);
});
