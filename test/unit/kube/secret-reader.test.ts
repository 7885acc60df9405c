// SecretReader: Secrets read by name only, what a reconcile re-reads, and the resync that finds
// a changed, created or deleted Secret without any list or watch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import { createLogger } from '../../../src/log.js';
import { SecretReader, type SecretRef } from '../../../src/kube/secret-reader.js';

const log = createLogger({ level: 'error', format: 'json' });

function fakeApi() {
  const store = new Map<string, V1Secret>();
  const gets: string[] = [];
  let rv = 0;
  const put = (namespace: string, name: string, value: string): void => {
    store.set(`${namespace}/${name}`, {
      metadata: { namespace, name, resourceVersion: String(++rv) },
      data: { key: Buffer.from(value).toString('base64') },
    });
  };
  const getSecret = (namespace: string, name: string): Promise<V1Secret | undefined> => {
    gets.push(`${namespace}/${name}`);
    if (namespace === 'forbidden') {
      return Promise.reject(Object.assign(new Error('forbidden'), { code: 403 }));
    }
    return Promise.resolve(store.get(`${namespace}/${name}`));
  };
  return { store, gets, put, getSecret };
}

const A: SecretRef = { namespace: 'ns', name: 'a' };
const B: SecretRef = { namespace: 'ns', name: 'b' };

test('own Secrets are re-read unless fresh; others only when never read', async () => {
  let now = 1000;
  const api = fakeApi();
  api.put('ns', 'a', 'one');
  const r = new SecretReader(api.getSecret, log, { freshMs: 1000, now: () => now });
  assert.equal(r.get('ns', 'a'), undefined);
  await r.read([A], [B]);
  assert.deepEqual(api.gets.sort(), ['ns/a', 'ns/b']);
  assert.ok(r.get('ns', 'a'));
  assert.equal(r.get('ns', 'b'), undefined);
  assert.equal(r.has('ns', 'b'), true);
  api.gets.length = 0;
  await r.read([A], [B]);
  assert.deepEqual(api.gets, [], 'read within freshMs: from the cache');
  now += 1000;
  await r.read([A], [B]);
  assert.deepEqual(api.gets, ['ns/a'], 'own re-read, the other not');
});

test('concurrent reads of one Secret make one GET', async () => {
  const api = fakeApi();
  const r = new SecretReader(api.getSecret, log);
  await Promise.all([r.read([A]), r.read([A]), r.read([], [A])]);
  assert.deepEqual(api.gets, ['ns/a']);
});

test('resync reports Secrets that changed, appeared or went, and forgets unreferenced ones', async () => {
  const api = fakeApi();
  api.put('ns', 'a', 'one');
  const r = new SecretReader(api.getSecret, log, { freshMs: 0 });
  const changed: string[] = [];
  r.onChange((ref) => changed.push(`${ref.namespace}/${ref.name}`));
  await r.read([A, B]);
  assert.deepEqual(changed, [], 'a first read is no change');
  await r.resync([A, B]);
  assert.deepEqual(changed, [], 'nothing changed');
  api.put('ns', 'a', 'rotated');
  api.put('ns', 'b', 'created later');
  await r.resync([A, B]);
  assert.deepEqual(changed.sort(), ['ns/a', 'ns/b']);
  assert.equal(Buffer.from(r.get('ns', 'a')?.data?.['key'] ?? '', 'base64').toString(), 'rotated');
  changed.length = 0;
  api.store.delete('ns/b');
  await r.resync([A, B]);
  assert.deepEqual(changed, ['ns/b']);
  assert.equal(r.get('ns', 'b'), undefined);
  await r.resync([B]);
  assert.equal(r.has('ns', 'a'), false, 'no longer referenced: dropped');
});

test('a change seen by a reconcile read is reported too', async () => {
  const api = fakeApi();
  api.put('ns', 'a', 'one');
  const r = new SecretReader(api.getSecret, log, { freshMs: 0 });
  const changed: string[] = [];
  r.onChange((ref) => changed.push(ref.name));
  await r.read([A]);
  api.put('ns', 'a', 'two');
  await r.read([A]);
  assert.deepEqual(changed, ['a']);
});

test('a read that fails rejects; a resync that fails keeps the last value', async () => {
  const api = fakeApi();
  const r = new SecretReader(api.getSecret, log);
  const denied = { namespace: 'forbidden', name: 'x' };
  await assert.rejects(r.read([denied]), /forbidden/);
  assert.equal(r.has('forbidden', 'x'), false);
  api.put('ns', 'a', 'one');
  await r.read([A]);
  await r.resync([A, denied]);
  assert.ok(r.get('ns', 'a'));
});

test('invalidate drops the copy and tells the dependents at once', async () => {
  const api = fakeApi();
  api.put('ns', 'a', 'one');
  const r = new SecretReader(api.getSecret, log);
  const changed: string[] = [];
  r.onChange((ref) => changed.push(ref.name));
  await r.read([A]);
  r.invalidate(A);
  assert.deepEqual(changed, ['a']);
  assert.equal(r.has('ns', 'a'), false);
});
