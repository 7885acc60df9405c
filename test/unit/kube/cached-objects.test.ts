import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StringPool, slimCachedObject } from '../../../src/kube/cached-objects.js';

function directory(i: number): Record<string, unknown> & { metadata: Record<string, unknown> } {
  return {
    apiVersion: 'mirror.cephfs.io/v1alpha1',
    kind: 'MirroredDirectory',
    metadata: {
      name: `d${i}`,
      namespace: 'ns',
      uid: `uid-${i}`,
      resourceVersion: String(1000 + i),
      generation: 1,
      creationTimestamp: '2026-12-02T10:00:00Z',
      finalizers: ['mirror.cephfs.io/finalizer'],
      managedFields: [{ manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': {} } }],
    },
    spec: { mirrorRef: { name: 'm' }, path: `/dir${i}` },
    status: {
      path: `/dir${i}`,
      source: `path /dir${i}`,
      state: 'Associated',
      instanceID: '4100',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Mirrored',
          message: 'mirrored by cephfs-mirror instance 4100',
          lastTransitionTime: '2026-12-02T10:00:01Z',
        },
      ],
    },
  };
}

describe('slimCachedObject', () => {
  it('drops managedFields and keeps every value as it was', () => {
    const pool = new StringPool();
    const obj = directory(1);
    const { managedFields: _m, ...metadata } = obj.metadata;
    const expected = { ...structuredClone(obj), metadata: structuredClone(metadata) };
    slimCachedObject(obj, pool);
    assert.deepEqual(obj, expected);
    assert.equal('managedFields' in obj.metadata, false);
  });

  it('pools the values objects share, not the ones unique to each', () => {
    const pool = new StringPool();
    for (let i = 0; i < 100; i++) slimCachedObject(directory(i), pool);
    // apiVersion, kind, namespace, creationTimestamp, the finalizer, mirrorRef.name, state,
    // instanceID, and the condition's type, status, reason, message and time: 13 values for 100
    // objects; names, uids, resourceVersions, paths and sources are left out.
    assert.equal(pool.size, 13);
  });

  it('the pool never holds more than its limit', () => {
    const pool = new StringPool(10);
    for (let i = 0; i < 25; i++) pool.intern(`value-${i}`);
    assert.ok(pool.size <= 10);
    assert.equal(pool.intern('value-24'), 'value-24');
  });
});
