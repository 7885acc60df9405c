// The one test command: `npm test [unit|integration|e2e ...]`.
//
// Test files run one at a time within a lane (a lane's files share its lab: Ceph state, mirror
// daemons, the apiserver). With e2e and the other suites selected there are several lanes, each
// with a lab of its own, run at the same time: E2E_LANES (default 2) e2e lanes, each with a
// two-site Ceph lab + etcd + kube-apiserver, taking the next e2e file from one queue (longest
// first), and one lane for the integration then unit files on a Ceph lab of its own. The e2e files
// mostly wait on Ceph and the daemons, so on two cores the lanes cost each other little and the
// run takes about as long as its longest lane. Each e2e file's output is printed whole when it
// ends, the other lane's after all of them, and a last line sums every lane
// (`tests: N passed, N failed`). Every lab is stopped by pid afterwards, whatever happened.
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

/**
 * Rough minutes an e2e file takes alone (measured on the 2-core machine); the queue starts with
 * the longest so the lanes finish close together. A file not listed counts as 1.
 */
const E2E_WEIGHTS: Record<string, number> = {
  'daemon-safety': 6,
  snapshots: 4.5,
  'directory-sources': 2.5,
  takeover: 2.5,
  'directory-status': 2.5,
  drift: 2.5,
  fencing: 2.5,
  ownership: 2.5,
  peers: 2.5,
  image: 2,
  'mds-stall': 2,
  'mirror-daemons': 1.5,
  secrets: 1.5,
  'helm-chart': 1.5,
};

function weightOf(file: string): number {
  const name = file.replace(/^.*[/\\]/, '').replace(/\.test\.ts$/, '');
  return E2E_WEIGHTS[name] ?? 1;
}

/** The `# pass N` / `# fail N` totals node's runner prints at the end of a run. */
function totals(text: string): { pass: number; fail: number } {
  const last = (name: string): number => {
    const all = [...text.matchAll(new RegExp(`^# ${name} (\\d+)$`, 'gm'))];
    return Number(all.at(-1)?.[1] ?? 0);
  };
  return { pass: last('pass'), fail: last('fail') };
}

/** A run's totals; one that exited non-zero without a failed test (it crashed) counts as one. */
function counted(text: string, code: number): { pass: number; fail: number; code: number } {
  const t = totals(text);
  return { ...t, fail: code !== 0 && t.fail === 0 ? 1 : t.fail, code };
}

/** The last lines of every operator log in `dir`, each line marked as log, for a failed file. */
function operatorLogTails(dir: string, lines = 80): string {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return '';
  }
  return names
    .map((name) => {
      const tail = readFileSync(join(dir, name), 'utf8').trimEnd().split('\n').slice(-lines);
      return [`# ---- last ${tail.length} lines of ${name} ----`, ...tail.map((l) => `#| ${l}`)]
        .join('\n')
        .concat('\n');
    })
    .join('');
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
    // e2e lanes take the next file from one queue (longest known first, so the lanes end close
    // together); the integration and unit files run in one lane of their own.
    const asked = Number(process.env['E2E_LANES'] ?? 2);
    const lanes = Number.isInteger(asked) && asked >= 1 ? asked : 2;
    const started = Date.now();
    const newLabs = await Promise.all([
      ...Array.from({ length: lanes }, () => startLab(true)),
      startLab(false),
    ]);
    labs.push(...newLabs);
    const e2eLabs = newLabs.slice(0, lanes);
    const otherLab = newLabs[lanes] as Lab;
    const otherLog = join(otherLab.root, 'integration-unit.tap');
    const queue = [...e2e].sort((x, y) => weightOf(y) - weightOf(x) || x.localeCompare(y));
    const results: Array<{ pass: number; fail: number; code: number }> = [];
    const lane = async (lab: Lab): Promise<void> => {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        const base = join(lab.root, file.replace(/[/\\]/g, '_'));
        const operatorLogs = `${base}.operator-logs`;
        const env = { ...labEnv(lab), CMO_TEST_LOG_DIR: operatorLogs };
        const code = await runNodeTest([file], env, `${base}.tap`);
        const text = readFileSync(`${base}.tap`, 'utf8');
        const result = counted(text, code);
        // One file's whole output at once: the lanes never interleave line by line. A failed
        // file brings the ends of its operators' logs: the lab, and so the logs, go afterwards.
        const tails = result.fail > 0 ? operatorLogTails(operatorLogs) : '';
        process.stdout.write(`# ---- ${file} (lab ${lab.root}) ----\n${text}${tails}`);
        results.push(result);
      }
    };
    const [, otherCode] = await Promise.all([
      Promise.all(e2eLabs.map(lane)),
      runNodeTest(others, labEnv(otherLab), otherLog),
    ]);
    const otherText = readFileSync(otherLog, 'utf8');
    console.log(
      '# ---- integration and unit lane (ran alongside the e2e lanes, on its own lab) ----',
    );
    process.stdout.write(otherText);
    results.push(counted(otherText, otherCode));
    const pass = results.reduce((n, r) => n + r.pass, 0);
    const fail = results.reduce((n, r) => n + r.fail, 0);
    console.log(
      `# ${lanes} e2e lanes and 1 other lane in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    console.log(`tests: ${pass} passed, ${fail} failed`);
    return results.find((r) => r.code !== 0)?.code ?? 0;
  } finally {
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`test run failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
