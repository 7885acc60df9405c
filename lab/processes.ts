// Starting and stopping lab daemons as plain processes, always by the pid we recorded.
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DaemonSpec {
  /** Name used for the pid and log file, e.g. `mon.a`. */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

function pidDir(dir: string): string {
  return join(dir, 'pids');
}

/**
 * Starts a daemon in the foreground of its own detached process so that the pid we record is the
 * daemon's (Ceph daemons fork by default and would leave us holding a dead parent's pid).
 */
export function startDaemon(dir: string, spec: DaemonSpec): number {
  mkdirSync(pidDir(dir), { recursive: true });
  mkdirSync(join(dir, 'log'), { recursive: true });
  const out = openSync(join(dir, 'log', `${spec.name}.stdout.log`), 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, ...spec.env },
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    child.unref();
    writeFileSync(join(pidDir(dir), `${spec.name}.pid`), `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** True when `pid` is alive and its command line mentions `marker` (so a recycled pid is not ours). */
export function isOurProcess(pid: number, marker: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(marker)) return false;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie (state Z) has exited; it only waits for its parent to reap it.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return false;
  }
}

export function recordedPids(dir: string): Map<string, number> {
  const result = new Map<string, number>();
  const d = pidDir(dir);
  if (!existsSync(d)) return result;
  for (const file of readdirSync(d)) {
    if (!file.endsWith('.pid')) continue;
    const pid = Number.parseInt(readFileSync(join(d, file), 'utf8').trim(), 10);
    if (Number.isInteger(pid) && pid > 0) result.set(file.slice(0, -'.pid'.length), pid);
  }
  return result;
}

/** SIGTERM, a bounded wait, then SIGKILL: a daemon whose cluster is gone may ignore SIGTERM. */
export async function stopPids(pids: number[], marker: string, graceMs = 8000): Promise<void> {
  const ours = pids.filter((pid) => isOurProcess(pid, marker));
  for (const pid of ours) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && ours.some((pid) => isOurProcess(pid, marker))) await sleep(100);
  for (const pid of ours) if (isOurProcess(pid, marker)) signal(pid, 'SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (Date.now() < killDeadline && ours.some((pid) => isOurProcess(pid, marker)))
    await sleep(50);
}

export async function stopDaemon(dir: string, name: string, marker: string): Promise<boolean> {
  const pidFile = join(pidDir(dir), `${name}.pid`);
  if (!existsSync(pidFile)) return false;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  await stopPids([pid], marker);
  rmSync(pidFile, { force: true });
  return true;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}
