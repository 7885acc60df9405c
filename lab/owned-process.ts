// Child processes we start detached and later find again by the pid file alone, possibly from
// another process (the CLI's `down` after `up`), or after a crash left the pid files behind.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface OwnedProcessSpec {
  command: string;
  args: string[];
  pidFile: string;
  logFile: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
}

/** Starts `spec.command` in its own process group, output appended to the log, pid recorded. */
export function startOwnedProcess(spec: OwnedProcessSpec): number {
  mkdirSync(dirname(spec.pidFile), { recursive: true });
  mkdirSync(dirname(spec.logFile), { recursive: true });
  const out = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, ...spec.env },
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    // Reap it if it dies while we still run; otherwise a zombie would look alive in /proc.
    child.on('error', () => undefined);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

export function readPidFile(pidFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is alive, not a zombie, and its command line contains every marker. Markers are
 * the binary name and a path under our root, so a pid recycled by an unrelated process (after a
 * crash or reboot) is never mistaken for ours.
 */
export function isOwnedProcess(pid: number, markers: string[]): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    if (!markers.every((m) => cmdline.includes(m))) return false;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return false;
  }
}

/** SIGTERM, a bounded wait, then SIGKILL, only while `pid` is still ours. True if it was running. */
export async function stopPid(pid: number, markers: string[], graceMs = 10_000): Promise<boolean> {
  if (!isOwnedProcess(pid, markers)) return false;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && isOwnedProcess(pid, markers)) await sleep(100);
  if (isOwnedProcess(pid, markers)) {
    signal(pid, 'SIGKILL');
    const killDeadline = Date.now() + 5_000;
    while (Date.now() < killDeadline && isOwnedProcess(pid, markers)) await sleep(50);
  }
  if (isOwnedProcess(pid, markers)) throw new Error(`pid ${pid} survived SIGKILL`);
  return true;
}

/**
 * Stops the process named by `pidFile` if it is still ours (see stopPid) and removes the pid
 * file. Returns the pid it stopped, if any.
 */
export async function stopOwnedProcess(
  pidFile: string,
  markers: string[],
  graceMs = 10_000,
): Promise<number | undefined> {
  const pid = readPidFile(pidFile);
  const stopped = pid !== undefined && (await stopPid(pid, markers, graceMs)) ? pid : undefined;
  rmSync(pidFile, { force: true });
  return stopped;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}
