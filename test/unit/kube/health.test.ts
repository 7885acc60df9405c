import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HealthWatchdog, type ProgressSource } from '../../../src/kube/health.js';

test('healthy while every source progresses; a source stalled past the limit names itself', () => {
  const stalls = new Map<string, number>([
    ['queue mirrors', 0],
    ['engine ns/a', 5_000],
  ]);
  const sources = (): ProgressSource[] =>
    [...stalls.keys()].map((name) => ({ name, stalledForMs: () => stalls.get(name) ?? 0 }));
  const w = new HealthWatchdog(sources, 60_000);
  assert.deepEqual(w.check(), { ok: true, reasons: [] });
  stalls.set('engine ns/a', 61_000);
  assert.deepEqual(w.check(), { ok: false, reasons: ['engine ns/a: no progress for 61 s'] });
  stalls.set('engine ns/a', 0);
  assert.equal(w.check().ok, true);
});
