import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  currentSlot,
  nextSlot,
  parseSchedule,
  ScheduleError,
  slotOfName,
  snapshotName,
  snapshotsToPrune,
  timeOfName,
  validatePrefix,
  validateRetention,
} from '../../../src/reconcile/snapshot-schedule.js';

const T = Date.UTC(2026, 11, 2, 8, 17, 30);

test('intervals, an optional start, and the minimum interval', () => {
  assert.deepEqual(parseSchedule('15m', 60_000), { intervalMs: 900_000, startMs: 0 });
  assert.deepEqual(parseSchedule('1h', 60_000).intervalMs, 3_600_000);
  assert.deepEqual(parseSchedule('1d@2026-01-01T02:00:00Z', 60_000), {
    intervalMs: 86_400_000,
    startMs: Date.UTC(2026, 0, 1, 2),
  });
  assert.equal(parseSchedule('1w', 60_000).startMs, Date.UTC(1970, 0, 5), 'weeks start Monday');
  assert.equal(parseSchedule('5s', 5000).intervalMs, 5000);
  assert.throws(() => parseSchedule('5s', 60_000), /minimum interval of 60 s/);
  for (const bad of ['', '1y', 'h', '1h@tomorrow', '1h@2026-01-01T00:00:00']) {
    assert.throws(() => parseSchedule(bad, 1000), ScheduleError, bad);
  }
});

test('slots: the current one, the next one, nothing before the start', () => {
  const s = parseSchedule('15m', 60_000);
  assert.equal(currentSlot(s, T), Date.UTC(2026, 11, 2, 8, 15));
  assert.equal(nextSlot(s, T), Date.UTC(2026, 11, 2, 8, 30));
  assert.equal(currentSlot(s, Date.UTC(2026, 11, 2, 8, 15)), Date.UTC(2026, 11, 2, 8, 15));
  const later = parseSchedule('1h@2027-01-01T00:30:00Z', 60_000);
  assert.equal(currentSlot(later, T), undefined);
  assert.equal(nextSlot(later, T), Date.UTC(2027, 0, 1, 0, 30));
  const offset = parseSchedule('1h@2026-01-01T00:30:00Z', 60_000);
  assert.equal(currentSlot(offset, T), Date.UTC(2026, 11, 2, 7, 30));
});

test('names are deterministic per slot, colon-free, and parse back only for our prefix', () => {
  const slot = Date.UTC(2026, 11, 2, 8, 15);
  const name = snapshotName('mirror-', slot);
  assert.equal(name, 'mirror-2026-12-02T08-15-00Z');
  assert.equal(slotOfName('mirror-', name), slot);
  assert.equal(slotOfName('other-', name), undefined);
  assert.equal(slotOfName('mirror-', 'mirror-2026-13-02T08-15-00Z'), undefined);
  assert.equal(slotOfName('mirror-', 'mirror-x2026-12-02T08-15-00Z'), undefined);
  assert.equal(timeOfName('anything-2026-12-02T08-15-00Z'), slot);
  assert.equal(timeOfName('manual'), undefined);
  assert.equal(validatePrefix('mirror-'), undefined);
  assert.match(validatePrefix('_x') ?? '', /namePrefix/);
  assert.match(validatePrefix('a/b') ?? '', /namePrefix/);
});

test('retention: keep-last plus the newest of each of the last N buckets; only ours', () => {
  const hourly = Array.from({ length: 30 }, (_, i) =>
    snapshotName('p-', Date.UTC(2026, 11, 1, 0, 0) + i * 3_600_000),
  );
  const names = ['manual', 'other-2026-12-01T00-00-00Z', ...hourly];
  assert.deepEqual(snapshotsToPrune('p-', names, undefined), [], 'no retention prunes nothing');
  const keepLast = snapshotsToPrune('p-', names, { keepLast: 3 });
  assert.equal(keepLast.length, 27);
  assert.ok(!keepLast.includes('manual') && !keepLast.includes('other-2026-12-01T00-00-00Z'));
  assert.ok(!keepLast.includes(hourly[29] as string));
  // daily: 2 keeps the newest of Dec 2 (05:00) and of Dec 1 (23:00).
  const daily = snapshotsToPrune('p-', names, { daily: 2 });
  const kept = hourly.filter((n) => !daily.includes(n));
  assert.deepEqual(kept, ['p-2026-12-01T23-00-00Z', 'p-2026-12-02T05-00-00Z']);
  const both = snapshotsToPrune('p-', names, { keepLast: 2, daily: 2 });
  assert.deepEqual(
    hourly.filter((n) => !both.includes(n)),
    ['p-2026-12-01T23-00-00Z', 'p-2026-12-02T04-00-00Z', 'p-2026-12-02T05-00-00Z'],
  );
  const months = ['p-2026-10-31T00-00-00Z', 'p-2026-11-01T00-00-00Z', 'p-2026-11-30T00-00-00Z'];
  assert.deepEqual(snapshotsToPrune('p-', months, { monthly: 2 }), ['p-2026-11-01T00-00-00Z']);
  // ISO weeks: Sunday 2026-11-29 and Monday 2026-11-30 are in different weeks.
  const weeks = ['p-2026-11-28T00-00-00Z', 'p-2026-11-29T00-00-00Z', 'p-2026-11-30T00-00-00Z'];
  assert.deepEqual(snapshotsToPrune('p-', weeks, { weekly: 2 }), ['p-2026-11-28T00-00-00Z']);
});

test('retention validation', () => {
  assert.equal(validateRetention({ keepLast: 3 }), undefined);
  assert.match(validateRetention({ keepLast: -1 }) ?? '', /keepLast/);
  assert.match(validateRetention({ daily: 0 }) ?? '', /keeps nothing/);
});
