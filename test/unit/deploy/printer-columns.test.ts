// The printer columns people scan: every kind shows Ready, and with `-o wide` the Ready reason and
// message; CephFSMirror shows its live daemons. Each column's status field exists in the schema
// (a column over a field the schema prunes would stay empty forever).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';

const CRDS = 'deploy/crds';

interface Column {
  name: string;
  type: string;
  jsonPath: string;
  priority?: number;
}
interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}
interface Crd {
  spec: {
    names: { kind: string };
    versions: Array<{
      additionalPrinterColumns?: Column[];
      schema: { openAPIV3Schema: SchemaNode };
    }>;
  };
}

function crds(): Crd[] {
  return readdirSync(CRDS).map((f) => parse(readFileSync(join(CRDS, f), 'utf8')) as Crd);
}

function columnsOf(crd: Crd): Column[] {
  return crd.spec.versions[0]?.additionalPrinterColumns ?? [];
}

/** The schema node a simple column path (`.a.b`, `.a[?(...)].c`) leads to, if any. */
function schemaAt(root: SchemaNode, jsonPath: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  // Filters may hold dots (`[?(@.type=="Ready")]`): reduce them to `[]` before splitting.
  for (const part of jsonPath
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/^\./, '')
    .split('.')) {
    const name = part.replace(/\[\]$/, '');
    node = node?.properties?.[name];
    if (part.endsWith(']')) node = node?.items;
  }
  return node;
}

test('every kind: Ready, and Reason and Message of Ready at priority 1 (-o wide)', () => {
  for (const crd of crds()) {
    const kind = crd.spec.names.kind;
    const cols = columnsOf(crd);
    const byName = new Map(cols.map((c) => [c.name, c]));
    assert.equal(byName.get('Ready')?.priority ?? 0, 0, `${kind}: Ready in the default view`);
    for (const [name, field] of [
      ['Reason', 'reason'],
      ['Message', 'message'],
    ] as const) {
      const col = byName.get(name);
      assert.equal(col?.priority, 1, `${kind}: ${name} only with -o wide`);
      assert.equal(col?.jsonPath, `.status.conditions[?(@.type=="Ready")].${field}`, kind);
    }
    assert.equal(cols.at(-1)?.name, 'Age', `${kind}: Age last`);
  }
});

test('CephFSMirror shows its live daemons (status.instanceCount, which the reconciler writes)', () => {
  const mirror = crds().find((c) => c.spec.names.kind === 'CephFSMirror') as Crd;
  const col = columnsOf(mirror).find((c) => c.name === 'Daemons');
  assert.equal(col?.jsonPath, '.status.instanceCount');
  assert.equal(col?.type, 'integer');
  assert.equal(col?.priority ?? 0, 0);
  // The mirror's status is built in mirror-status.ts (split out of mirror-reconciler.ts).
  const src = readFileSync('src/controllers/mirror-status.ts', 'utf8');
  assert.match(src, /instanceCount:/, 'the mirror reconciler writes status.instanceCount');
});

test('every status column points at a field of the schema', () => {
  for (const crd of crds()) {
    const schema = crd.spec.versions[0]?.schema.openAPIV3Schema as SchemaNode;
    for (const col of columnsOf(crd)) {
      if (!col.jsonPath.startsWith('.status.') && !col.jsonPath.startsWith('.spec.')) continue;
      const node = schemaAt(schema, col.jsonPath);
      assert.ok(node, `${crd.spec.names.kind} column ${col.name}: ${col.jsonPath} in the schema`);
      if (col.type === 'integer') assert.equal(node.type, 'integer', col.name);
    }
  }
});
