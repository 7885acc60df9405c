import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sameConditions, setCondition } from '../../../src/api/conditions.js';

test('lastTransitionTime changes only when the status flips', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const t1 = new Date('2026-01-01T00:05:00Z');
  const a = setCondition(
    [],
    { type: 'Ready', status: 'False', reason: 'Pending', message: 'x' },
    t0,
  );
  const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'Other', message: 'y' }, t1);
  assert.equal(b[0]?.lastTransitionTime, '2026-01-01T00:00:00Z');
  assert.equal(b[0]?.reason, 'Other');
  const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'Ok', message: '' }, t1);
  assert.equal(c[0]?.lastTransitionTime, '2026-01-01T00:05:00Z');
  assert.equal(c.length, 1);
});

test('other condition types are kept and compared without timestamps', () => {
  const a = setCondition([], { type: 'Ready', status: 'True', reason: 'Ok', message: '' });
  const b = setCondition(a, { type: 'Invalid', status: 'False', reason: 'Valid', message: '' });
  assert.deepEqual(
    b.map((c) => c.type),
    ['Ready', 'Invalid'],
  );
  const later = setCondition(
    b,
    { type: 'Ready', status: 'True', reason: 'Ok', message: '' },
    new Date(0),
  );
  assert.ok(sameConditions(b, later));
  assert.ok(!sameConditions(a, b));
});
