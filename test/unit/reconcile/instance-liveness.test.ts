import assert from 'node:assert/strict';
import { it } from 'node:test';
import { InstanceLiveness } from '../../../src/reconcile/index.js';

const a = { id: '1', addr: 'a:1' };
const b = { id: '2', addr: 'b:2' };

it('reports joins at once and removals after the timeout, counting loaded ones as seen', () => {
  const l = new InstanceLiveness([a], 1000, 30);
  assert.deepEqual(l.observe([b], 1001), { added: [b], removed: [] });
  assert.deepEqual(l.observe([b], 1030), { added: [], removed: [] }, '29 s: not yet');
  assert.deepEqual(l.observe([b], 1031), { added: [], removed: [a] });
  assert.deepEqual(l.observe([], 1061), { added: [], removed: [] }, 'b seen at 1031');
  assert.deepEqual(l.observe([{ id: '2', addr: 'b:3' }], 1062).added, [], 'known id, new addr');
  assert.deepEqual(l.known(), [{ id: '2', addr: 'b:3' }]);
  assert.deepEqual(l.observe([], 1093).removed, [{ id: '2', addr: 'b:3' }]);
});

it('when stopping, drops every instance that did not ack this round', () => {
  const l = new InstanceLiveness([a, b], 1000);
  assert.deepEqual(l.observe([a], 1001, true), { added: [], removed: [b] });
  assert.deepEqual(l.observe([], 1002, true), { added: [], removed: [a] });
});

it('ages instances only across rounds the operator completed: a failed notify blames no daemon', () => {
  const l = new InstanceLiveness([a], 1000, 30);
  l.observe([a], 1001);
  // The operator loses the cluster for a minute: its own notifies fail.
  for (let t = 1002; t <= 1062; t++) l.roundFailed(t);
  assert.deepEqual(l.observe([a], 1063), { added: [], removed: [] }, 'a still acks: kept');
  // After another outage, a daemon that stays silent ages from the first completed round on.
  for (let t = 1064; t <= 1120; t++) l.roundFailed(t);
  assert.deepEqual(l.observe([], 1121).removed, [], 'silent, but not for 30 s of completed rounds');
  assert.deepEqual(l.observe([], 1150).removed, [], '29 s of completed rounds');
  assert.deepEqual(l.observe([], 1152).removed, [a], '31 s of completed rounds');
});

it('drops an instance known to be gone at once, and only once', () => {
  const l = new InstanceLiveness([a, b], 1000, 30);
  assert.deepEqual(l.drop('1'), a);
  assert.equal(l.drop('1'), undefined);
  assert.deepEqual(l.known(), [b]);
  assert.deepEqual(l.observe([b], 1001), { added: [], removed: [] });
});
