import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareSnapshots } from '../../../src/ceph/sync-view.js';

test('a snapshot list compared with a peer: newest local, newest mirrored, pending count', () => {
  assert.deepEqual(compareSnapshots([], []), { pendingSnapshots: 0, inSync: true });
  assert.deepEqual(compareSnapshots(['s1', 's2', 's3'], ['s1', 's2']), {
    lastLocalSnapshot: 's3',
    lastMirroredSnapshot: 's2',
    pendingSnapshots: 1,
    inSync: false,
  });
  assert.deepEqual(compareSnapshots(['s1', 's2'], ['s2', 's1', 'old-remote-only']), {
    lastLocalSnapshot: 's2',
    lastMirroredSnapshot: 's2',
    pendingSnapshots: 0,
    inSync: true,
  });
  assert.deepEqual(compareSnapshots(['s1'], []), {
    lastLocalSnapshot: 's1',
    pendingSnapshots: 1,
    inSync: false,
  });
});
