import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mayAcquire, microTime } from '../../../src/kube/leader-election.js';

test('a free or own lease may be taken at once', () => {
  assert.ok(mayAcquire(undefined, 'me', 0, 0));
  assert.ok(mayAcquire({ holderIdentity: '' }, 'me', 0, 0));
  assert.ok(mayAcquire({ holderIdentity: 'me', leaseDurationSeconds: 15 }, 'me', 0, 1));
});

test("another holder's lease is free only once it went unrenewed for its duration", () => {
  const held = { holderIdentity: 'other', leaseDurationSeconds: 15 };
  assert.equal(mayAcquire(held, 'me', 1000, 1000 + 14_999), false);
  assert.equal(mayAcquire(held, 'me', 1000, 1000 + 15_000), false);
  assert.equal(mayAcquire(held, 'me', 1000, 1000 + 15_001), true);
});

test('lease times go out as MicroTime, six fractional digits', () => {
  assert.equal(microTime(Date.UTC(2026, 10, 26, 4, 5, 6, 789)), '2026-11-26T04:05:06.789000Z');
  assert.equal(microTime(Date.UTC(2026, 0, 1)), '2026-01-01T00:00:00.000000Z');
});
