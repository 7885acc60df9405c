// The resource types the operator is written against (src/api/resources.ts) and the schema the API
// server enforces (deploy/crds) must describe the same objects: every field of one is a field of
// the other, and a field the CRD requires is not optional in the type (and the other way round).
// The types are read with the TypeScript compiler itself, so the check follows the code as written.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '../../..');
const RESOURCES = resolve(root, 'src/api/resources.ts');

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: unknown;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

function crdSchema(file: string): Schema {
  const crd = parse(readFileSync(resolve(root, 'deploy/crds', file), 'utf8')) as {
    spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: Schema } }> };
  };
  const version = crd.spec.versions.find((v) => v.name === 'v1alpha1');
  assert.ok(version, `${file} serves v1alpha1`);
  return version.schema.openAPIV3Schema;
}

const program = ts.createProgram([RESOURCES], {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
});
const checker = program.getTypeChecker();
const source = program.getSourceFile(RESOURCES);
assert.ok(source);
const moduleSymbol = checker.getSymbolAtLocation(source);
assert.ok(moduleSymbol);
const exported = new Map(checker.getExportsOfModule(moduleSymbol).map((s) => [s.name, s]));

function exportedType(name: string): ts.Type {
  const symbol = exported.get(name);
  assert.ok(symbol, `src/api/resources.ts exports ${name}`);
  return checker.getDeclaredTypeOfSymbol(symbol);
}

/** The type without `undefined` (an optional property's type includes it). */
function defined(type: ts.Type): ts.Type {
  return checker.getNonNullableType(type);
}

function isPlainObject(type: ts.Type): boolean {
  if (type.isUnion() || checker.isArrayType(type)) return false;
  if (!(type.flags & ts.TypeFlags.Object)) return false;
  // Record<string, T> and other index-signature maps are free-form, like additionalProperties.
  return checker.getIndexInfosOfType(type).length === 0;
}

/** Differences between a TS type and a schema, as `path: what` lines. */
function compare(type: ts.Type, schema: Schema, path: string, out: string[]): void {
  const t = defined(type);
  if (checker.isArrayType(t)) {
    const element = checker.getTypeArguments(t as ts.TypeReference)[0];
    if (!schema.items) out.push(`${path}: an array in the type, not in the CRD`);
    else if (element) compare(element, schema.items, `${path}[]`, out);
    return;
  }
  if (!isPlainObject(t)) return;
  if (!schema.properties) {
    const freeForm =
      schema['x-kubernetes-preserve-unknown-fields'] === true ||
      schema.additionalProperties !== undefined;
    if (!freeForm) out.push(`${path}: an object with fields in the type, none in the CRD`);
    return;
  }
  const props = checker.getPropertiesOfType(t);
  const typeNames = new Set(props.map((p) => p.name));
  for (const name of Object.keys(schema.properties)) {
    if (!typeNames.has(name)) out.push(`${path}.${name}: in the CRD, not in the type`);
  }
  const required = new Set(schema.required ?? []);
  for (const p of props) {
    const child = schema.properties[p.name];
    if (!child) {
      out.push(`${path}.${p.name}: in the type, not in the CRD`);
      continue;
    }
    const optional = (p.flags & ts.SymbolFlags.Optional) !== 0;
    if (required.has(p.name) && optional)
      out.push(`${path}.${p.name}: required by the CRD, optional in the type`);
    // The spec's own required fields must be required in the type; status fields are written by
    // the operator, so a status field the CRD does not require may still be always present.
    if (!required.has(p.name) && !optional && !path.includes('status')) {
      out.push(`${path}.${p.name}: optional in the CRD, required in the type`);
    }
    compare(checker.getTypeOfSymbol(p), child, `${path}.${p.name}`, out);
  }
}

const KINDS = [
  { file: 'cephfsmirrors.yaml', spec: 'CephFSMirrorSpec', status: 'CephFSMirrorStatus' },
  { file: 'mirrorpeers.yaml', spec: 'MirrorPeerSpec', status: 'MirrorPeerStatus' },
  {
    file: 'mirroreddirectories.yaml',
    spec: 'MirroredDirectorySpec',
    status: 'MirroredDirectoryStatus',
  },
] as const;

for (const kind of KINDS) {
  test(`${kind.file}: spec and status agree with ${kind.spec} and ${kind.status}`, () => {
    const schema = crdSchema(kind.file);
    const spec = schema.properties?.['spec'];
    const status = schema.properties?.['status'];
    assert.ok(spec && status, `${kind.file} declares spec and status`);
    const out: string[] = [];
    compare(exportedType(kind.spec), spec, 'spec', out);
    compare(exportedType(kind.status), status, 'status', out);
    assert.deepEqual(out, []);
  });
}

test('the comparison finds a field missing on either side (so the checks above can fail)', () => {
  const out: string[] = [];
  const schema: Schema = {
    type: 'object',
    required: ['name'],
    properties: { key: { type: 'string' }, other: { type: 'string' } },
  };
  compare(exportedType('NamedRef'), schema, 'ref', out);
  assert.deepEqual(out.sort(), [
    'ref.key: in the CRD, not in the type',
    'ref.name: in the type, not in the CRD',
    'ref.other: in the CRD, not in the type',
  ]);
});
