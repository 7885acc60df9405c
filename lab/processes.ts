// The daemons of one lab cluster directory: pid files in <dir>/pids, output in <dir>/log, each
// started detached in the foreground (Ceph daemons fork by default and would leave us holding a
// dead parent's pid) and stopped only while the pid is still ours.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isOwnedProcess, startOwnedProcess, stopOwnedProcess, stopPid } from './owned-process.js';

export interface DaemonSpec {
  /** Name used for the pid and log file, e.g. `mon.a`. */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

function pidFile(dir: string, name: string): string {
  return join(dir, 'pids', `${name}.pid`);
}

export function startDaemon(dir: string, spec: DaemonSpec): number {
  return startOwnedProcess({
    command: spec.command,
    args: spec.args,
    pidFile: pidFile(dir, spec.name),
    logFile: join(dir, 'log', `${spec.name}.stdout.log`),
    ...(spec.env ? { env: spec.env } : {}),
  });
}

/** True when `pid` is alive and its command line mentions `marker` (so a recycled pid is not ours). */
export function isOurProcess(pid: number, marker: string): boolean {
  return isOwnedProcess(pid, [marker]);
}

export function recordedPids(dir: string): Map<string, number> {
  const result = new Map<string, number>();
  const d = join(dir, 'pids');
  if (!existsSync(d)) return result;
  for (const file of readdirSync(d)) {
    if (!file.endsWith('.pid')) continue;
    const pid = Number.parseInt(readFileSync(join(d, file), 'utf8').trim(), 10);
    if (Number.isInteger(pid) && pid > 0) result.set(file.slice(0, -'.pid'.length), pid);
  }
  return result;
}

/** Stops all of them at once; a daemon whose cluster is gone may ignore SIGTERM (then SIGKILL). */
export async function stopPids(pids: number[], marker: string, graceMs = 8000): Promise<void> {
  await Promise.all(pids.map((pid) => stopPid(pid, [marker], graceMs)));
}

/** Stops one recorded daemon; false when it had no pid file. */
export async function stopDaemon(dir: string, name: string, marker: string): Promise<boolean> {
  const file = pidFile(dir, name);
  if (!existsSync(file)) return false;
  await stopOwnedProcess(file, [marker]);
  return true;
}
