import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { olderFirst, ownerOf, sameObject } from '../../../src/controllers/peer-ownership.js';

const B = { spec: 'client.mirror_remote@site-b', remoteFsName: 'b' };
const C = { spec: 'client.mirror_remote@site-c', remoteFsName: 'c' };

function obj(
  name: string,
  creationTimestamp: string | undefined,
  uid: string,
  deleting = false,
): {
  metadata: { name: string; uid: string; creationTimestamp?: string; deletionTimestamp?: string };
} {
  return {
    metadata: {
      name,
      uid,
      ...(creationTimestamp ? { creationTimestamp } : {}),
      ...(deleting ? { deletionTimestamp: '2026-12-02T05:00:00Z' } : {}),
    },
  };
}

describe('olderFirst', () => {
  it('orders by creationTimestamp, then uid, then name', () => {
    const a = obj('z', '2026-12-02T04:00:00Z', 'b');
    const b = obj('y', '2026-12-02T04:00:01Z', 'a');
    const c = obj('x', '2026-12-02T04:00:01Z', 'b');
    const d = obj('w', undefined, '0');
    assert.deepEqual(
      [d, c, b, a].sort(olderFirst).map((o) => o.metadata.name),
      ['z', 'y', 'x', 'w'],
    );
  });
});

describe('ownerOf', () => {
  const first = obj('first', '2026-12-02T04:00:00Z', 'u1');
  const second = obj('second', '2026-12-02T04:00:05Z', 'u2');
  const third = obj('third', '2026-12-02T04:00:05Z', 'u0');

  it('the oldest declaring the same peer owns it, whatever the order given', () => {
    const candidates = [
      { object: second, identity: B },
      { object: first, identity: B },
    ];
    assert.equal(ownerOf(candidates, B), first);
    assert.equal(ownerOf([...candidates].reverse(), B), first);
  });

  it('same second: the smaller uid wins', () => {
    const candidates = [
      { object: second, identity: B },
      { object: third, identity: B },
    ];
    assert.equal(ownerOf(candidates, B), third);
  });

  it('only objects declaring that peer count', () => {
    const candidates = [
      { object: first, identity: C },
      { object: second, identity: B },
      { object: third, identity: undefined },
    ];
    assert.equal(ownerOf(candidates, B), second);
    assert.equal(ownerOf(candidates, C), first);
    assert.equal(ownerOf(candidates, { spec: 'client.x@y', remoteFsName: 'b' }), undefined);
  });

  it('an owner being deleted hands over to the next oldest', () => {
    const deleting = obj('first', '2026-12-02T04:00:00Z', 'u1', true);
    const candidates = [
      { object: deleting, identity: B },
      { object: second, identity: B },
    ];
    assert.equal(ownerOf(candidates, B), second);
    assert.equal(ownerOf([{ object: deleting, identity: B }], B), undefined);
  });
});

describe('sameObject', () => {
  it('compares uids, or names when a uid is missing', () => {
    assert.ok(sameObject(obj('a', undefined, 'u'), obj('b', undefined, 'u')));
    assert.ok(!sameObject(obj('a', undefined, 'u'), obj('a', undefined, 'v')));
    assert.ok(sameObject({ metadata: { name: 'a' } }, obj('a', undefined, 'v')));
  });
});
