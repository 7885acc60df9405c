import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MalformedOmapValueError } from '../../../src/ceph/dir-map-codec.js';
import {
  HOLD_MARK_PREFIX,
  decodeHoldMark,
  encodeHoldMark,
  holdMarkKey,
  pathFromHoldMarkKey,
} from '../../../src/ceph/hold-mark-codec.js';

it('acquire marks: keys outside the mgr module prefixes, values round-trip exactly', () => {
  const key = holdMarkKey('/vol/é d');
  assert.equal(key, 'operator_acquired_/vol/é d');
  assert.equal(key.startsWith('dir_map_') || key.startsWith('instance_'), false);
  assert.equal(pathFromHoldMarkKey(key), '/vol/é d');
  for (const lastShuffled of [0, 1700000000.5, 1764672000.123456, Number.MIN_VALUE]) {
    const mark = { instanceId: '4123', lastShuffled };
    assert.deepEqual(decodeHoldMark(key, encodeHoldMark(mark)), mark);
  }
  assert.equal(
    encodeHoldMark({ instanceId: '7', lastShuffled: 2.25 }).toString(),
    '{"v":1,"instance_id":"7","last_shuffled":2.25}',
  );
});

it('acquire marks: anything but the exact form is refused', () => {
  const key = `${HOLD_MARK_PREFIX}/d`;
  for (const text of [
    'not json',
    'null',
    '{"v":2,"instance_id":"7","last_shuffled":1}',
    '{"v":1,"instance_id":"","last_shuffled":1}',
    '{"v":1,"instance_id":7,"last_shuffled":1}',
    '{"v":1,"instance_id":"7"}',
  ]) {
    assert.throws(() => decodeHoldMark(key, Buffer.from(text)), MalformedOmapValueError, text);
  }
  assert.throws(() => pathFromHoldMarkKey('dir_map_/d'), MalformedOmapValueError);
});
