// The one test command: `npm test [unit|integration|e2e ...]`.
//
// Runs every selected test file in one `node --test` invocation so the runner's closing summary
// covers all of them. When integration or e2e files are selected it first starts a real two-site
// Ceph lab in a fresh temporary directory (and, for e2e, etcd + kube-apiserver), and stops them by
// pid afterwards, whatever happened.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startKube, stopKube } from '../lab/kube/kube.js';
import { labDown, labUp } from '../lab/lab.js';

const SUITES = ['unit', 'integration', 'e2e'] as const;
type Suite = (typeof SUITES)[number];

function testFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return testFiles(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}

function parseSuites(args: string[]): Suite[] {
  if (args.length === 0) return [...SUITES];
  for (const a of args) {
    if (!(SUITES as readonly string[]).includes(a)) {
      console.error(`unknown suite "${a}"; expected one of: ${SUITES.join(', ')}`);
      process.exit(2);
    }
  }
  return args as Suite[];
}

function runNodeTest(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=1', ...files],
      { stdio: 'inherit', env },
    );
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const suites = parseSuites(process.argv.slice(2));
  const files = suites.flatMap((s) => testFiles(join('test', s))).sort();
  if (files.length === 0) {
    console.error('no test files found');
    return 1;
  }
  const needsLab = files.some((f) => !relative('test', f).startsWith('unit'));
  if (!needsLab) return runNodeTest(files, process.env);

  const needsKube = files.some((f) => relative('test', f).startsWith('e2e'));
  const root = mkdtempSync(join(tmpdir(), 'cmo-lab-'));
  const kubeRoot = join(root, 'kube');
  const stop = async (): Promise<void> => {
    await Promise.all([labDown(root), needsKube ? stopKube(kubeRoot) : undefined]);
    rmSync(root, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const started = Date.now();
    await Promise.all([labUp(root), needsKube ? startKube({ root: kubeRoot }) : undefined]);
    console.log(`# lab started in ${((Date.now() - started) / 1000).toFixed(1)} s at ${root}`);
    return await runNodeTest(files, {
      ...process.env,
      CEPH_LAB_ROOT: root,
      ...(needsKube ? { KUBE_LAB_ROOT: kubeRoot } : {}),
    });
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`test run failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
