// `npm run bench [name ...]`: runs the benchmarks one after another, each in its own process (so
// one's memory does not colour another's), against one shared lab when any of them needs Ceph.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labUp } from '../lab/lab.js';

/** Files here that are not benchmarks: this runner and the helpers the benchmarks share. */
const NOT_BENCHMARKS = new Set([
  'run.ts',
  'machine.ts',
  'process-cpu.ts',
  'lab-kit.ts',
  'operator-kit.ts',
  // A child process of bench/operator.ts.
  'api-floor-controller.ts',
]);

/** Benchmarks that need no shared lab run first (chaos starts a lab and apiserver of its own). */
const PURE = new Set(['policy', 'chaos']);

async function main(): Promise<number> {
  const all = readdirSync('bench')
    .filter((f) => f.endsWith('.ts') && !NOT_BENCHMARKS.has(f))
    .map((f) => f.slice(0, -3))
    .sort((x, y) => Number(!PURE.has(x)) - Number(!PURE.has(y)) || x.localeCompare(y));
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !all.includes(w));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${all.join(', ')}`);
    return 2;
  }
  const selected = wanted.length > 0 ? wanted : all;
  let root: string | undefined;
  let failed = 0;
  try {
    for (const name of selected) {
      if (!PURE.has(name) && root === undefined && !process.env['CEPH_LAB_ROOT']) {
        root = mkdtempSync(join(tmpdir(), 'cmo-bench-lab-'));
        await labUp(root);
      }
      console.log(`\n## ${name}\n`);
      const env = root ? { ...process.env, CEPH_LAB_ROOT: root } : process.env;
      const r = spawnSync(process.execPath, ['--import', 'tsx', join('bench', `${name}.ts`)], {
        stdio: 'inherit',
        env,
      });
      if (r.status !== 0) failed++;
    }
  } finally {
    if (root) {
      await labDown(root);
      rmSync(root, { recursive: true, force: true });
    }
  }
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
