import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decideOwnership,
  identityKey,
  olderFirst,
  successors,
  type Claimant,
  type FilesystemIdentity,
  type Resolution,
} from '../../../src/controllers/ownership.js';

const FS_A: FilesystemIdentity = { fsid: 'f1', fscid: 1, fsName: 'a' };
const FS_A_OTHER_NAME: FilesystemIdentity = { fsid: 'f1', fscid: 1, fsName: 'renamed' };
const FS_B: FilesystemIdentity = { fsid: 'f1', fscid: 2, fsName: 'b' };
const OTHER_CLUSTER_A: FilesystemIdentity = { fsid: 'f2', fscid: 1, fsName: 'a' };

const resolved = (identity: FilesystemIdentity): Resolution => ({ state: 'resolved', identity });
const failed: Resolution = { state: 'failed', reason: 'SecretNotFound', message: 'no Secret' };
const unknown: Resolution = { state: 'unknown' };

function claimant(key: string, at: string, resolution: Resolution, uid = key): Claimant {
  return { key, creationTimestamp: at, uid, resolution };
}

test('the identity is (fsid, fscid): the name plays no part', () => {
  assert.equal(identityKey(FS_A), identityKey(FS_A_OTHER_NAME));
  assert.notEqual(identityKey(FS_A), identityKey(FS_B));
  assert.notEqual(identityKey(FS_A), identityKey(OTHER_CLUSTER_A));
});

test('the oldest claimant of a filesystem owns it; a younger one is refused naming it', () => {
  const all = [
    claimant('ns2/young', '2026-01-01T00:00:05Z', resolved(FS_A)),
    claimant('ns1/old', '2026-01-01T00:00:01Z', resolved(FS_A_OTHER_NAME)),
  ];
  assert.deepEqual(decideOwnership('ns1/old', all), { kind: 'owner' });
  assert.deepEqual(decideOwnership('ns2/young', all), { kind: 'refused', owner: 'ns1/old' });
});

test('mirrors of other filesystems or other clusters do not interfere', () => {
  const all = [
    claimant('ns/a', '2026-01-01T00:00:01Z', resolved(FS_A)),
    claimant('ns/b', '2026-01-01T00:00:02Z', resolved(FS_B)),
    claimant('ns/other', '2026-01-01T00:00:03Z', resolved(OTHER_CLUSTER_A)),
  ];
  for (const c of all) assert.deepEqual(decideOwnership(c.key, all), { kind: 'owner' });
});

test('same creation second: the uid decides, the same way in any input order', () => {
  const at = '2026-01-01T00:00:01Z';
  const x = claimant('ns/x', at, resolved(FS_A), 'b-uid');
  const y = claimant('ns/y', at, resolved(FS_A), 'a-uid');
  for (const all of [
    [x, y],
    [y, x],
  ]) {
    assert.deepEqual(decideOwnership('ns/y', all), { kind: 'owner' });
    assert.deepEqual(decideOwnership('ns/x', all), { kind: 'refused', owner: 'ns/y' });
  }
  // Same second and same uid (not possible on one apiserver): the key still orders them.
  const p = claimant('ns/p', at, resolved(FS_A), 'u');
  const q = claimant('ns/q', at, resolved(FS_A), 'u');
  assert.ok(olderFirst(p, q) < 0 && olderFirst(q, p) > 0);
});

test('timestamps compare as times, not as strings', () => {
  const fractional = claimant('ns/f', '2026-01-01T00:00:01.500Z', resolved(FS_A));
  const later = claimant('ns/l', '2026-01-01T00:00:01.900Z', resolved(FS_A));
  const offset = claimant('ns/o', '2026-01-01T01:00:01+02:00', resolved(FS_A));
  const all = [later, fractional, offset];
  assert.deepEqual(decideOwnership('ns/o', all), { kind: 'owner' }, '23:00:01 the day before');
  assert.deepEqual(decideOwnership('ns/f', all), { kind: 'refused', owner: 'ns/o' });
});

test('an older claimant not resolved yet makes a younger one wait', () => {
  const all = [
    claimant('ns/old', '2026-01-01T00:00:01Z', unknown),
    claimant('ns/mid', '2026-01-01T00:00:02Z', unknown),
    claimant('ns/young', '2026-01-01T00:00:03Z', resolved(FS_A)),
  ];
  assert.deepEqual(decideOwnership('ns/young', all), {
    kind: 'wait',
    for: ['ns/old', 'ns/mid'],
  });
});

test('an older claimant that resolved elsewhere or failed does not block', () => {
  const all = [
    claimant('ns/broken', '2026-01-01T00:00:01Z', failed),
    claimant('ns/elsewhere', '2026-01-01T00:00:02Z', resolved(FS_B)),
    claimant('ns/young', '2026-01-01T00:00:03Z', resolved(FS_A)),
  ];
  assert.deepEqual(decideOwnership('ns/young', all), { kind: 'owner' });
});

test('a resolved older owner refuses even while an even older one is unknown', () => {
  const all = [
    claimant('ns/oldest', '2026-01-01T00:00:01Z', unknown),
    claimant('ns/old', '2026-01-01T00:00:02Z', resolved(FS_A)),
    claimant('ns/young', '2026-01-01T00:00:03Z', resolved(FS_A)),
  ];
  assert.deepEqual(decideOwnership('ns/young', all), { kind: 'refused', owner: 'ns/old' });
  assert.deepEqual(decideOwnership('ns/old', all), { kind: 'wait', for: ['ns/oldest'] });
});

test('a younger claimant never affects an older one, resolved or not', () => {
  const all = [
    claimant('ns/old', '2026-01-01T00:00:01Z', resolved(FS_A)),
    claimant('ns/young', '2026-01-01T00:00:02Z', unknown),
  ];
  assert.deepEqual(decideOwnership('ns/old', all), { kind: 'owner' });
});

test('a claimant that is not resolved, or not in the list, owns nothing', () => {
  const all = [claimant('ns/x', '2026-01-01T00:00:01Z', failed)];
  assert.deepEqual(decideOwnership('ns/x', all), { kind: 'unresolved' });
  assert.deepEqual(decideOwnership('ns/missing', all), { kind: 'unresolved' });
});

test('when the owner goes, the next oldest claimant of the same filesystem owns it', () => {
  const all = [
    claimant('ns/owner', '2026-01-01T00:00:01Z', resolved(FS_A)),
    claimant('ns/third', '2026-01-01T00:00:03Z', resolved(FS_A)),
    claimant('ns/second', '2026-01-01T00:00:02Z', resolved(FS_A)),
    claimant('ns/b', '2026-01-01T00:00:00Z', resolved(FS_B)),
  ];
  assert.deepEqual(
    successors('ns/owner', all).map((c) => c.key),
    ['ns/second', 'ns/third'],
  );
  const after = all.filter((c) => c.key !== 'ns/owner');
  assert.deepEqual(decideOwnership('ns/second', after), { kind: 'owner' });
  assert.deepEqual(decideOwnership('ns/third', after), { kind: 'refused', owner: 'ns/second' });
});
