// Access to the real two-site Ceph lab from a test file.
//
// `npm test` starts one lab for the whole run and names it in CEPH_LAB_ROOT. A test file run on
// its own (`node --import tsx --test test/integration/x.test.ts`) starts a private lab instead and
// stops it, by pid, when the process ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labIsRunning, labUp, readLabState, type LabState } from '../lab.js';
import { recordedPids } from '../processes.js';

export type { LabState, SiteInfo } from '../lab.js';

let labPromise: Promise<LabState> | undefined;

export function useLab(): Promise<LabState> {
  labPromise ??= openLab();
  return labPromise;
}

async function openLab(): Promise<LabState> {
  const shared = process.env['CEPH_LAB_ROOT'];
  if (shared) {
    const state = readLabState(shared);
    if (!state || !labIsRunning(state)) {
      throw new Error(`CEPH_LAB_ROOT=${shared} names no running lab`);
    }
    return state;
  }
  const root = mkdtempSync(join(tmpdir(), 'cmo-lab-'));
  let stopped = false;
  process.once('beforeExit', () => {
    if (stopped) return;
    stopped = true;
    void labDown(root).finally(() => rmSync(root, { recursive: true, force: true }));
  });
  // Last resort when the process exits without draining (process.exit, a fatal error): kill the
  // recorded pids synchronously; nothing asynchronous can run at this point.
  process.once('exit', () => {
    if (stopped) return;
    for (const site of ['site-a', 'site-b']) {
      for (const pid of recordedPids(join(root, site)).values()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    rmSync(root, { recursive: true, force: true });
  });
  return labUp(root);
}
