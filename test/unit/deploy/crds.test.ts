// The Helm chart ships the same CRDs as deploy/crds, and each CRD has what the operator relies on.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';

const CRDS = 'deploy/crds';
const CHART_CRDS = 'deploy/helm/cephfs-mirror-operator/crds';

interface Crd {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; shortNames?: string[] };
    versions: Array<{
      name: string;
      subresources?: { status?: object };
      additionalPrinterColumns?: Array<{ name: string }>;
      schema: { openAPIV3Schema: { properties: { spec: { required?: string[] } } } };
    }>;
  };
}

test('the chart carries exactly the CRDs of deploy/crds', () => {
  const files = readdirSync(CRDS).sort();
  assert.deepEqual(readdirSync(CHART_CRDS).sort(), files);
  for (const f of files) {
    assert.equal(readFileSync(join(CHART_CRDS, f), 'utf8'), readFileSync(join(CRDS, f), 'utf8'), f);
  }
});

test('each CRD is namespaced v1alpha1 with a status subresource, Ready column and required spec', () => {
  const kinds = readdirSync(CRDS).map((f) => parse(readFileSync(join(CRDS, f), 'utf8')) as Crd);
  assert.deepEqual(kinds.map((c) => c.spec.names.kind).sort(), [
    'CephFSMirror',
    'MirrorPeer',
    'MirroredDirectory',
  ]);
  for (const crd of kinds) {
    assert.equal(crd.spec.group, 'mirror.cephfs.io');
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.ok((crd.spec.names.shortNames ?? []).length > 0);
    const v = crd.spec.versions[0];
    assert.equal(v?.name, 'v1alpha1');
    assert.ok(v?.subresources?.status, 'status subresource');
    assert.ok(v?.additionalPrinterColumns?.some((c) => c.name === 'Ready'));
    assert.ok((v?.schema.openAPIV3Schema.properties.spec.required ?? []).length > 0);
  }
});
