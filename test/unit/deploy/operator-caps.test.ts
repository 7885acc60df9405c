// The `ceph auth get-or-create` command the samples tell an administrator to run must give the
// operator exactly the caps the lab gives it (lab/ceph-cluster.ts operatorCaps), with which the
// whole e2e suite passes: a cap added in code and not in the sample would fail only in production.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { operatorCaps } from '../../../lab/ceph-cluster.js';

test('the sample command grants exactly operatorCaps (filesystem a, pool a_metadata)', () => {
  const text = readFileSync('deploy/samples/01-cluster-secrets.example.yaml', 'utf8');
  const start = text.indexOf('ceph auth get-or-create client.cephfs-mirror-operator');
  const end = text.indexOf('ceph auth get-key', start);
  assert.ok(start >= 0 && end > start, 'the sample shows the command');
  const command = text
    .slice(start, end)
    .split('\n')
    .map((l) => l.replace(/^#\s*/, '').replace(/\\$/, '').trim())
    .join(' ');
  const granted = [...command.matchAll(/\b(mon|mgr|osd|mds) '([^']*)'/g)].flatMap((m) => [
    m[1],
    m[2],
  ]);
  assert.deepEqual(granted, operatorCaps('a', 'a_metadata'));
});
