import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareLists } from '../../../src/ceph/sync-view.js';

const missingSource = { reason: 'SourceDirectoryMissing', message: '/d does not exist on a' };
const peerMissing = { reason: 'PeerDirectoryMissing', message: '/d does not exist on b yet' };

test('in sync only when both lists were read and nothing is pending', () => {
  assert.deepEqual(compareLists({ snaps: [] }, { snaps: [] }), {
    pendingSnapshots: 0,
    inSync: true,
  });
  assert.deepEqual(compareLists({ snaps: ['s1'] }, { snaps: ['s1'] }), {
    lastLocalSnapshot: 's1',
    lastMirroredSnapshot: 's1',
    pendingSnapshots: 0,
    inSync: true,
  });
});

test('a source that could not be read: unknown, not in sync, nothing counted', () => {
  assert.deepEqual(compareLists({ problem: missingSource }, { snaps: [] }), {
    inSync: false,
    problem: missingSource,
  });
  assert.deepEqual(compareLists({ problem: missingSource }, { problem: peerMissing }), {
    inSync: false,
    problem: missingSource,
  });
});

test('a peer that could not be read: not in sync, every local snapshot pending, with why', () => {
  assert.deepEqual(compareLists({ snaps: [] }, { problem: peerMissing }), {
    pendingSnapshots: 0,
    inSync: false,
    problem: peerMissing,
  });
  const unreadable = { reason: 'PeerUnreadable', message: 'peer b: ETIMEDOUT' };
  assert.deepEqual(compareLists({ snaps: ['s1', 's2'] }, { problem: unreadable }), {
    lastLocalSnapshot: 's2',
    pendingSnapshots: 2,
    inSync: false,
    problem: unreadable,
  });
});
