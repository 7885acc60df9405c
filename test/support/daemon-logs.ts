// The crash check every e2e file ends with: a cephfs-mirror daemon that aborted (the duplicate
// acquire of the protocol note, section 3, or anything else) writes "Caught signal" to its log.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabState } from '../../lab/harness/lab.js';

const ABORT_MARK = 'Caught signal';

export interface DaemonAbort {
  log: string;
  line: string;
}

/** Every "Caught signal" line in the cephfs-mirror daemon logs (`client.*.log`) of both sites. */
export function daemonAborts(lab: LabState): DaemonAbort[] {
  const found: DaemonAbort[] = [];
  for (const site of [lab.sites.a, lab.sites.b]) {
    const dir = join(site.dir, 'log');
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (!/^client\..+\.log$/.test(name)) continue;
      const log = join(dir, name);
      for (const line of readFileSync(log, 'utf8').split('\n')) {
        if (line.includes(ABORT_MARK)) found.push({ log, line });
      }
    }
  }
  return found;
}

/** Fails with the offending log lines when any cephfs-mirror daemon of the lab aborted. */
export function assertNoDaemonAborted(lab: LabState): void {
  const aborts = daemonAborts(lab);
  assert.deepEqual(
    aborts,
    [],
    `cephfs-mirror daemon(s) aborted:\n${aborts.map((a) => `${a.log}: ${a.line}`).join('\n')}`,
  );
}
