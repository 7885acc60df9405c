// listAllPages against a fake API server that answers in pages, as the real one does: `limit`
// honoured, a continue token per page, the snapshot's resourceVersion on each page, 410 Gone
// for an expired continue token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  LIST_PAGE_SIZE,
  listAllPages,
  pagePath,
  type PageFetcher,
} from '../../../src/kube/pagination.js';

interface Item {
  name: string;
}

class Gone extends Error {
  readonly code = 410;
}

/** A collection of `count` items served in pages; `expireAfter` pages, one continue fails. */
function fakeServer(count: number, options: { expireOnce?: number; rv?: string } = {}) {
  const all: Item[] = Array.from({ length: count }, (_, i) => ({ name: `item-${i}` }));
  const requests: string[] = [];
  let expireAt = options.expireOnce;
  const fetchPage: PageFetcher = <T>(path: string) => {
    requests.push(path);
    const url = new URL(path, 'https://api.invalid');
    const limit = Number(url.searchParams.get('limit'));
    assert.ok(limit > 0, `every request has a limit: ${path}`);
    const token = url.searchParams.get('continue');
    const start = token === null ? 0 : Number(token);
    if (token !== null && expireAt !== undefined && requests.length === expireAt) {
      expireAt = undefined;
      return Promise.reject(new Gone('continue token expired'));
    }
    const end = Math.min(start + limit, all.length);
    return Promise.resolve({
      items: all.slice(start, end) as unknown as T[],
      metadata: {
        resourceVersion: options.rv ?? '42',
        ...(end < all.length ? { continue: String(end) } : {}),
      },
    });
  };
  return { all, requests, fetchPage };
}

test('every page is fetched, in order, with limit and continue', async () => {
  const s = fakeServer(23);
  const list = await listAllPages<Item>(s.fetchPage, '/api/v1/namespaces/a/things', 5);
  assert.deepEqual(list.items, s.all);
  assert.equal(list.metadata?.resourceVersion, '42');
  assert.deepEqual(s.requests, [
    '/api/v1/namespaces/a/things?limit=5',
    '/api/v1/namespaces/a/things?limit=5&continue=5',
    '/api/v1/namespaces/a/things?limit=5&continue=10',
    '/api/v1/namespaces/a/things?limit=5&continue=15',
    '/api/v1/namespaces/a/things?limit=5&continue=20',
  ]);
});

test('the default page size is 500; an empty collection is one request', async () => {
  const big = fakeServer(1201);
  assert.equal((await listAllPages<Item>(big.fetchPage, '/x')).items.length, 1201);
  assert.equal(big.requests.length, 3);
  assert.ok(big.requests.every((p) => p.includes(`limit=${LIST_PAGE_SIZE}`)));
  const empty = fakeServer(0);
  assert.deepEqual((await listAllPages<Item>(empty.fetchPage, '/x')).items, []);
  assert.equal(empty.requests.length, 1);
});

test('an expired continue token restarts the list from the first page (no duplicates)', async () => {
  const s = fakeServer(12, { expireOnce: 2 });
  const list = await listAllPages<Item>(s.fetchPage, '/x', 5);
  assert.deepEqual(list.items, s.all);
  assert.deepEqual(s.requests, [
    '/x?limit=5',
    '/x?limit=5&continue=5', // 410
    '/x?limit=5',
    '/x?limit=5&continue=5',
    '/x?limit=5&continue=10',
  ]);
});

test('a first page failing, or any other error, is the caller’s', async () => {
  const forbidden = Object.assign(new Error('forbidden'), { code: 403 });
  await assert.rejects(
    listAllPages<Item>(() => Promise.reject(forbidden), '/x'),
    (e) => e === forbidden,
  );
  const gone = new Gone('first page');
  await assert.rejects(
    listAllPages<Item>(() => Promise.reject(gone), '/x'),
    (e) => e === gone,
  );
});

test('pagePath keeps an existing query', () => {
  assert.equal(
    pagePath('/x?labelSelector=a%3Db', 10, 'tok en'),
    '/x?labelSelector=a%3Db&limit=10&continue=tok+en',
  );
});

test('`each` sees every item as its page arrives, before the next page is asked for', async () => {
  const { fetchPage, requests } = fakeServer(5);
  const seen: Array<[string, number]> = [];
  const list = await listAllPages<Item>(fetchPage, '/apis/x', 2, (item) => {
    seen.push([item.name, requests.length]);
    item.name = item.name.toUpperCase();
  });
  // Items 0-1 seen after the first request, 2-3 after the second, 4 after the third.
  assert.deepEqual(seen, [
    ['item-0', 1],
    ['item-1', 1],
    ['item-2', 2],
    ['item-3', 2],
    ['item-4', 3],
  ]);
  assert.deepEqual(
    list.items.map((i) => i.name),
    ['ITEM-0', 'ITEM-1', 'ITEM-2', 'ITEM-3', 'ITEM-4'],
    'what it changed is what the list holds',
  );
});
