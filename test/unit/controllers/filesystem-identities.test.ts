import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cephOpError } from '../../../src/ceph/errors.js';
import {
  FilesystemIdentities,
  type IdentityInput,
} from '../../../src/controllers/filesystem-identities.js';
import type { ConnectionSettings } from '../../../src/controllers/mirror-runtimes.js';

const settings: ConnectionSettings = { monHost: 'v2:127.0.0.1:1', clientId: 'admin', key: 'k' };
const input: IdentityInput = { settings, fsName: 'a' };

test('a resolution is kept until the input changes, and concurrent asks share one', async () => {
  let calls = 0;
  const ids = new FilesystemIdentities(async (_s, fsName) => {
    calls++;
    await new Promise((r) => setTimeout(r, 10));
    return { fsid: 'f', fscid: 1, fsName };
  });
  assert.deepEqual(ids.peek('ns/m', input), { state: 'unknown' });
  const [x, y] = await Promise.all([ids.resolve('ns/m', input), ids.resolve('ns/m', input)]);
  assert.deepEqual(x, y);
  assert.equal(calls, 1);
  assert.equal(ids.peek('ns/m', input).state, 'resolved');
  await ids.resolve('ns/m', input, true);
  assert.equal(calls, 1, 'a resolved identity is not asked again');
  const other: IdentityInput = { settings, fsName: 'b' };
  assert.deepEqual(ids.peek('ns/m', other), { state: 'unknown' }, 'another fs name: unknown');
  await ids.resolve('ns/m', other);
  assert.equal(calls, 2);
  ids.forget('ns/m');
  assert.deepEqual(ids.peek('ns/m', other), { state: 'unknown' });
});

test('a failure is the answer for others, and retried only by the mirror itself', async () => {
  let calls = 0;
  const ids = new FilesystemIdentities(async () => {
    calls++;
    throw cephOpError('ENOENT', 'filesystem a does not exist', 'FilesystemNotFound');
  });
  const first = await ids.resolve('ns/m', input);
  assert.deepEqual(first, {
    state: 'failed',
    reason: 'FilesystemNotFound',
    message: 'filesystem a does not exist',
  });
  await ids.resolve('ns/m', input);
  assert.equal(calls, 1, 'another mirror asking gets the failure as it is');
  await ids.resolve('ns/m', input, true);
  assert.equal(calls, 2, 'the mirror itself tries again');
});

test('an input without settings fails at once, with its own reason', async () => {
  const ids = new FilesystemIdentities(() => assert.fail('nothing to connect with'));
  const missing: IdentityInput = { reason: 'SecretNotFound', message: 'Secret s does not exist' };
  assert.deepEqual(await ids.resolve('ns/m', missing), { state: 'failed', ...missing });
  assert.equal(ids.peek('ns/m', missing).state, 'failed');
  assert.equal(ids.peek('ns/m', input).state, 'unknown', 'the Secret appearing changes the input');
});
