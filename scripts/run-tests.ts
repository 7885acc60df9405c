// The one test command: `npm test [unit|integration|e2e ...]`.
//
// Test files run one at a time within a lane (they share a lab: Ceph state, mirror daemons, the
// apiserver). With e2e and the other suites selected there are two lanes, each with a lab of its
// own, run at the same time: the e2e files (real two-site Ceph lab + etcd + kube-apiserver), and
// the integration then unit files (a second Ceph lab). The e2e lane is most of the wall time and
// mostly waits on Ceph and the daemons, so the second lane costs it little and the whole run is
// shorter by the second lane's length. The e2e lane prints as it goes; the other lane's output is
// kept and printed after it, and a last line sums both (`N passed, N failed`). Every lab is
// stopped by pid afterwards, whatever happened.
import { spawn } from 'node:child_process';
import {
  createWriteStream,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
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

/** Runs the files in one `node --test`; output to the terminal, or to `logPath` when given. */
function runNodeTest(files: string[], env: NodeJS.ProcessEnv, logPath?: string): Promise<number> {
  return new Promise((resolve) => {
    const args = ['--import', 'tsx', '--test', '--test-concurrency=1', ...files];
    if (!logPath) {
      const child = spawn(process.execPath, args, { stdio: 'inherit', env });
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      return;
    }
    const log = createWriteStream(logPath);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    // 'close', not 'exit': every byte of its output has been read by then.
    child.on('close', (code, signal) => {
      log.end(() => resolve(code ?? (signal ? 1 : 0)));
    });
  });
}

/** A lab for one lane: Ceph always, the apiserver when the lane has e2e files. */
interface Lab {
  root: string;
  kube: boolean;
}

async function startLab(kube: boolean): Promise<Lab> {
  const root = mkdtempSync(join(tmpdir(), 'cmo-lab-'));
  const started = Date.now();
  await Promise.all([labUp(root), kube ? startKube({ root: join(root, 'kube') }) : undefined]);
  console.log(`# lab started in ${((Date.now() - started) / 1000).toFixed(1)} s at ${root}`);
  return { root, kube };
}

async function stopLab(lab: Lab): Promise<void> {
  await Promise.all([labDown(lab.root), lab.kube ? stopKube(join(lab.root, 'kube')) : undefined]);
  rmSync(lab.root, { recursive: true, force: true });
}

function labEnv(lab: Lab): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CEPH_LAB_ROOT: lab.root,
    ...(lab.kube ? { KUBE_LAB_ROOT: join(lab.root, 'kube') } : {}),
  };
}

/** The `# pass N` / `# fail N` totals node's runner prints at the end of a run. */
function totals(text: string): { pass: number; fail: number } {
  const last = (name: string): number => {
    const all = [...text.matchAll(new RegExp(`^# ${name} (\\d+)$`, 'gm'))];
    return Number(all.at(-1)?.[1] ?? 0);
  };
  return { pass: last('pass'), fail: last('fail') };
}

async function main(): Promise<number> {
  const suites = parseSuites(process.argv.slice(2));
  // TEST_MATCH=<regex>: only the files whose path matches (e.g. to try one file in its lane).
  const match = process.env['TEST_MATCH'] ? new RegExp(process.env['TEST_MATCH']) : undefined;
  const files = suites
    .flatMap((s) => testFiles(join('test', s)))
    .filter((f) => !match || match.test(f))
    .sort();
  if (files.length === 0) {
    console.error('no test files found');
    return 1;
  }
  const suiteOf = (f: string): string => relative('test', f).split(/[/\\]/)[0] ?? '';
  const e2e = files.filter((f) => suiteOf(f) === 'e2e');
  const others = files.filter((f) => suiteOf(f) !== 'e2e');
  const needsLab = files.some((f) => suiteOf(f) !== 'unit');
  if (!needsLab) return runNodeTest(files, process.env);

  const labs: Lab[] = [];
  const stopAll = (): Promise<void> => Promise.all(labs.map(stopLab)).then(() => undefined);
  const onSignal = (): void => {
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // One lane: the old way, one lab and one runner for everything selected.
    if (e2e.length === 0 || others.length === 0) {
      const lab = await startLab(e2e.length > 0);
      labs.push(lab);
      return await runNodeTest(files, labEnv(lab));
    }
    const [e2eLab, otherLab] = await Promise.all([startLab(true), startLab(false)]);
    labs.push(e2eLab, otherLab);
    const otherLog = join(otherLab.root, 'integration-unit.tap');
    const started = Date.now();
    const [e2eCode, otherCode] = await Promise.all([
      // The e2e lane's output goes to the terminal as it runs, and to a file for its totals.
      runTee(e2e, labEnv(e2eLab), join(e2eLab.root, 'e2e.tap')),
      runNodeTest(others, labEnv(otherLab), otherLog),
    ]);
    const otherText = readFileSync(otherLog, 'utf8');
    console.log(
      '# ---- integration and unit lane (ran alongside the e2e lane, on its own lab) ----',
    );
    process.stdout.write(otherText);
    const a = totals(readFileSync(join(e2eLab.root, 'e2e.tap'), 'utf8'));
    const b = totals(otherText);
    console.log(`# both lanes in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    console.log(`tests: ${a.pass + b.pass} passed, ${a.fail + b.fail} failed`);
    return e2eCode !== 0 ? e2eCode : otherCode;
  } finally {
    await stopAll();
  }
}

/** Runs the files with their output on the terminal and in `logPath` too. */
function runTee(files: string[], env: NodeJS.ProcessEnv, logPath: string): Promise<number> {
  return new Promise((resolve) => {
    const args = ['--import', 'tsx', '--test', '--test-concurrency=1', ...files];
    const log = createWriteStream(logPath);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      log.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    // 'close', not 'exit': every byte of its output has been read by then.
    child.on('close', (code, signal) => {
      log.end(() => resolve(code ?? (signal ? 1 : 0)));
    });
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`test run failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
