// The import rules of docs (README "Layout"): every relative import is read from the sources and
// checked against the allowed directions, so a new import that makes a loop between folders or
// reaches up a layer fails here rather than in review.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { test } from 'node:test';

const root = resolve(import.meta.dirname, '../..');

/** Which folders each folder may import (besides itself). A folder is matched by longest prefix. */
const ALLOWED: Record<string, readonly string[]> = {
  'src/reconcile': [],
  'src/ceph': ['src/reconcile', 'src/deadline.ts'],
  'src/api': [],
  'src/kube': ['src/api', 'src/log.ts', 'src/deadline.ts'],
  'src/controllers': [
    'src/api',
    'src/kube',
    'src/ceph',
    'src/reconcile',
    'src/log.ts',
    'src/metrics.ts',
    'src/deadline.ts',
  ],
  'src/cli': [
    'src/api',
    'src/kube',
    'src/ceph',
    'src/reconcile',
    'src/controllers',
    'src/log.ts',
    'src/metrics.ts',
  ],
  'src/main.ts': ['src/cli', 'src/log.ts'],
  'src/log.ts': [],
  'src/metrics.ts': [],
  // A promise raced against a timer (no imports): Ceph calls, the work queue and the engines'
  // shutdown all bound their waits with it, so it sits beside log.ts rather than in any layer.
  'src/deadline.ts': [],
  lab: ['src', 'addons'],
  scripts: ['lab', 'src'],
  bench: ['lab', 'src', 'addons'],
  test: ['lab', 'src', 'addons', 'scripts', 'deploy'],
  addons: [],
};

function folderOf(file: string): string {
  const keys = Object.keys(ALLOWED).sort((a, b) => b.length - a.length);
  const key = keys.find((k) => file === k || file.startsWith(`${k}/`));
  if (!key) throw new Error(`no layer rule for ${file}`);
  return key;
}

function relativeImports(file: string): string[] {
  const text = readFileSync(resolve(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)].map(
    (m) => m[1] ?? '',
  );
  return specs.map((spec) =>
    relative(root, resolve(root, dirname(file), spec)).replace(/\.js$/, '.ts'),
  );
}

const sources = execFileSync('git', ['ls-files', '*.ts'], { cwd: root, encoding: 'utf8' })
  .trim()
  .split('\n')
  .filter((f) => !f.includes('node_modules/') && !f.endsWith('.d.ts'));

test('every relative import goes in an allowed direction', () => {
  const violations: string[] = [];
  for (const file of sources) {
    const from = folderOf(file);
    for (const target of relativeImports(file)) {
      const allowed = [from, ...(ALLOWED[from] ?? [])];
      if (!allowed.some((a) => target === a || target.startsWith(`${a}/`))) {
        violations.push(`${file} → ${target}`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('the rule table itself has no loop between folders', () => {
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (node: string, path: string[]): void => {
    if (done.has(node)) return;
    assert.ok(!visiting.has(node), `loop: ${[...path, node].join(' → ')}`);
    visiting.add(node);
    for (const next of ALLOWED[node] ?? []) {
      for (const k of Object.keys(ALLOWED).filter((k) => k === next || k.startsWith(`${next}/`))) {
        if (k !== node) visit(k, [...path, node]);
      }
    }
    visiting.delete(node);
    done.add(node);
  };
  for (const node of Object.keys(ALLOWED)) visit(node, []);
});

test('the checker sees a forbidden import (a probe, so the first test cannot pass vacuously)', () => {
  assert.ok(sources.length > 100);
  const probe = relativeImports('src/kube/events.ts');
  assert.ok(probe.includes('src/api/resources.ts'), `events.ts imports ${probe.join(', ')}`);
  assert.throws(() => folderOf('elsewhere/x.ts'));
});
