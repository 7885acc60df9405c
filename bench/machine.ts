// The machine line every benchmark prints beside its results, so numbers can be compared.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';

/** CPUs, memory, Node.js and Ceph versions, what the lab ran (`setup`), and the load average. */
export function describeMachine(setup: string): string {
  const cpu = cpus();
  let ceph = 'ceph version unknown';
  try {
    ceph = execFileSync('ceph', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // keep the placeholder
  }
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return (
    `${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; Node.js ${process.version}, ${ceph}; ` +
    `${setup}; load average at the end ${load}`
  );
}

/** Seconds with one decimal, as every result table writes them. */
export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The lines above a result table: the machine, then the date and the whole run's length. */
export function printRunHeader(setup: string, begunMs: number, extra?: string): void {
  console.log(`Machine: ${describeMachine(setup)}\n`);
  const date = new Date().toISOString().slice(0, 10);
  const tail = extra ? `; ${extra}` : '';
  console.log(`Date: ${date}; whole run ${secs(performance.now() - begunMs)}${tail}\n`);
}
