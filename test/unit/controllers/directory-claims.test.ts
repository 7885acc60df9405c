import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  admittedMirrorOf,
  mirrorRefChange,
  overlapOf,
  pathsClaimedBy,
} from '../../../src/controllers/directory-claims.js';
import type { MirroredDirectory, MirroredDirectoryStatus } from '../../../src/api/resources.js';

function dir(mirror: string, path: string, status?: MirroredDirectoryStatus): MirroredDirectory {
  return {
    apiVersion: 'mirror.cephfs.io/v1alpha1',
    kind: 'MirroredDirectory',
    metadata: { name: 'd', namespace: 'ns' },
    spec: { mirrorRef: { name: mirror }, path },
    ...(status ? { status } : {}),
  };
}

test('before admission the spec names the mirror, and any mirrorRef edit is free', () => {
  const d = dir('m1', '/a');
  assert.equal(admittedMirrorOf(d), 'm1');
  assert.equal(mirrorRefChange(d), undefined);
  assert.deepEqual(pathsClaimedBy(d, 'm1'), ['/a']);
  assert.deepEqual(pathsClaimedBy(d, 'm2'), []);
});

test('after admission a mirrorRef edit is a refused change; the old entry stays claimed', () => {
  const d = dir('m2', '/b', { mirrorRef: 'm1', path: '/a' });
  assert.equal(admittedMirrorOf(d), 'm1');
  assert.deepEqual(mirrorRefChange(d), { from: 'm1', to: 'm2' });
  assert.deepEqual(pathsClaimedBy(d, 'm1'), ['/a']);
  assert.deepEqual(pathsClaimedBy(d, 'm2'), [], 'a refused edit declares nothing in m2');
  assert.equal(mirrorRefChange(dir('m1', '/a', { mirrorRef: 'm1' })), undefined);
});

test('during a path edit both the entry being released and the new path are claimed', () => {
  const d = dir('m1', '/a//sub/', { mirrorRef: 'm1', path: '/a' });
  assert.deepEqual(pathsClaimedBy(d, 'm1').sort(), ['/a', '/a/sub']);
  assert.deepEqual(pathsClaimedBy(dir('m1', 'relative', { mirrorRef: 'm1', path: '/a' }), 'm1'), [
    '/a',
  ]);
});

test('the overlap the engine would refuse, found without adding the path', () => {
  const tracked = ['/a', '/b/c', '/ab'];
  assert.equal(overlapOf('/x', tracked), undefined);
  assert.equal(overlapOf('/a', tracked), undefined, 'the same path is not an overlap');
  assert.equal(overlapOf('/abc', tracked), undefined, 'a shared prefix is not a parent');
  const sub = overlapOf('/a/d', tracked);
  assert.equal(sub?.reason, 'SubtreeOfTracked');
  assert.equal(sub?.message, '/a/d is a subtree of tracked path /a');
  assert.equal(sub?.conflictingPath, '/a');
  const anc = overlapOf('/b', tracked);
  assert.equal(anc?.reason, 'AncestorOfTracked');
  assert.equal(anc?.message, '/b is an ancestor of tracked path /b/c');
  assert.equal(overlapOf('/', ['/a'])?.reason, 'AncestorOfTracked');
  assert.equal(overlapOf('/q', ['/'])?.reason, 'SubtreeOfTracked');
});
