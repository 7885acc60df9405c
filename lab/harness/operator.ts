// The operator as a child process (`tsx src/main.ts run`), as it runs in a cluster, so tests can
// kill it at any point and start another.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LAUNCHER } from '../bundle-operator.js';
import type { KubeHandle } from './kube.js';

export interface OperatorProcess {
  pid: number;
  logPath: string;
  /** SIGTERM and wait for a graceful exit (SIGKILL after the bound). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL: no chance to clean up. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

let counter = 0;
let bundlePath: string | undefined;

/**
 * `source` runs src/main.ts through tsx; `built` runs the operator as it ships (the launcher and
 * one-file bundle of lab/bundle-operator.ts, no TypeScript loader in the process), bundled
 * from the current sources once per test process, into a directory of its own so that parallel
 * runs and a stale dist/ do not matter.
 */
export type OperatorEntry = 'source' | 'built';

/** The launcher of a bundle of the current sources, made once per test process. */
function currentBundle(): string {
  bundlePath ??= bundleNow(join('.lab', 'operator-bundles', String(process.pid)));
  return bundlePath;
}

function bundleNow(outDir: string): string {
  execFileSync(process.execPath, ['--import', 'tsx', 'lab/bundle-operator.ts', outDir], {
    stdio: 'inherit',
  });
  process.once('exit', () => rmSync(outDir, { recursive: true, force: true }));
  return join(outDir, LAUNCHER);
}

export function startOperator(
  kube: KubeHandle,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
  entry: OperatorEntry = 'source',
): OperatorProcess {
  const logDir = join(process.env['CMO_TEST_LOG_DIR'] ?? join('.lab', 'test-logs'));
  mkdirSync(logDir, { recursive: true });
  const logPath = join(logDir, `operator-${process.pid}-${++counter}.log`);
  const log = createWriteStream(logPath);
  const [command, ...entryArgs] =
    entry === 'built' ? [currentBundle()] : [process.execPath, '--import', 'tsx', 'src/main.ts'];
  const child: ChildProcess = spawn(
    command as string,
    [
      ...entryArgs,
      'run',
      '--kubeconfig',
      kube.kubeconfigPath,
      '--metrics-port',
      '0',
      '--log-format',
      'json',
      '--log-level',
      'debug',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const pid = child.pid ?? -1;
  const stopOnExit = (): void => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  };
  process.once('exit', stopOnExit);
  return {
    pid,
    logPath,
    exited,
    async stop(timeoutMs = 30_000) {
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        return exited;
      }
      return code;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
