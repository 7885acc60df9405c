import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyMultimap } from '../../../src/kube/key-multimap.js';

test('one value, then a second, then back to one and to none', () => {
  const m = new KeyMultimap();
  assert.deepEqual(m.get('/a'), []);
  m.add('/a', 'ns/x');
  m.add('/a', 'ns/x');
  assert.deepEqual(m.get('/a'), ['ns/x']);
  m.add('/a', 'ns/y');
  assert.deepEqual(m.get('/a'), ['ns/x', 'ns/y']);
  m.delete('/a', 'ns/x');
  assert.deepEqual(m.get('/a'), ['ns/y']);
  m.delete('/a', 'ns/other');
  assert.deepEqual(m.get('/a'), ['ns/y']);
  m.delete('/a', 'ns/y');
  assert.deepEqual(m.get('/a'), []);
});

test('keys are independent, and removing an absent value changes nothing', () => {
  const m = new KeyMultimap();
  m.add('/a', 'ns/x');
  m.add('/b', 'ns/x');
  m.delete('/c', 'ns/x');
  m.delete('/a', 'ns/y');
  assert.deepEqual(m.get('/a'), ['ns/x']);
  assert.deepEqual(m.get('/b'), ['ns/x']);
  m.add('/a', 'ns/y');
  m.add('/a', 'ns/z');
  m.delete('/a', 'ns/y');
  assert.deepEqual(m.get('/a'), ['ns/x', 'ns/z']);
});
