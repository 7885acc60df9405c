import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { resourceOfPath } from '../../../src/kube/kube-http.js';

test('resourceOfPath names the resource and subresource a request is about (request counter)', () => {
  const cases: Array<[string, string, string]> = [
    [
      '/apis/mirror.cephfs.io/v1alpha1/namespaces/ns/mirroreddirectories',
      'mirroreddirectories',
      '',
    ],
    [
      '/apis/mirror.cephfs.io/v1alpha1/namespaces/ns/mirroreddirectories/d1',
      'mirroreddirectories',
      '',
    ],
    [
      '/apis/mirror.cephfs.io/v1alpha1/namespaces/ns/mirroreddirectories/d1/status',
      'mirroreddirectories',
      'status',
    ],
    ['/apis/mirror.cephfs.io/v1alpha1/mirroreddirectories?limit=500', 'mirroreddirectories', ''],
    ['/api/v1/namespaces/ns/secrets/s', 'secrets', ''],
    ['/api/v1/namespaces/ns/events', 'events', ''],
    ['/api/v1/namespaces/ns', 'namespaces', ''],
    ['/apis/coordination.k8s.io/v1/namespaces/ns/leases/l', 'leases', ''],
  ];
  for (const [path, resource, subresource] of cases) {
    assert.deepEqual(resourceOfPath(path), { resource, subresource }, path);
  }
});
