// CPU time by process name, read from /proc: which process a benchmark's machine time went to
// (the operator, the apiserver, etcd, the Ceph daemons, the benchmark itself). Processes that
// exit between two snapshots are not counted.
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) so far of every live process, by pid, with its name. */
export type CpuSnapshot = Map<number, { name: string; seconds: number }>;

/** One process's name and CPU seconds (user + system) so far; throws when it is gone. */
export function processCpu(pid: number): { name: string; seconds: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The name is in parentheses and may itself hold spaces or parentheses.
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  // Fields after the name start at 3 (state); utime and stime are fields 14 and 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { name: stat.slice(open + 1, close), seconds: ticks / TICKS_PER_SECOND };
}

export function cpuSnapshot(): CpuSnapshot {
  const out: CpuSnapshot = new Map();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      out.set(pid, processCpu(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU seconds spent between two snapshots, summed by process name, largest first. */
export function cpuByName(
  before: CpuSnapshot,
  after: CpuSnapshot,
  names?: Map<number, string>,
): [string, number][] {
  const sums = new Map<string, number>();
  for (const [pid, a] of after) {
    const spent = a.seconds - (before.get(pid)?.seconds ?? 0);
    if (spent <= 0) continue;
    const name = names?.get(pid) ?? a.name;
    sums.set(name, (sums.get(name) ?? 0) + spent);
  }
  return [...sums].sort((x, y) => y[1] - x[1]);
}
