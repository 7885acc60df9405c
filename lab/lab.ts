// The two-site lab: site-a (filesystem `a`) and site-b (filesystem `b`), plus mirror daemons.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ceph,
  createCluster,
  destroyCluster,
  runningDaemons,
  type SiteInfo,
} from './ceph-cluster.js';
import { findFreePortRange } from './ports.js';

export type { SiteInfo } from './ceph-cluster.js';

export interface LabState {
  root: string;
  sites: { a: SiteInfo; b: SiteInfo };
}

const EXPECTED_DAEMONS = ['mon.a', 'mgr.x', 'osd.0', 'mds.a'];

export function defaultLabRoot(): string {
  return resolve(process.env['CEPH_LAB_ROOT'] ?? join(process.cwd(), '.lab'));
}

function statePath(root: string): string {
  return join(root, 'lab.json');
}

export function readLabState(root: string): LabState | undefined {
  const p = statePath(root);
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, 'utf8')) as LabState;
}

/** True when every daemon of both sites recorded in `state` still runs. */
export function labIsRunning(state: LabState): boolean {
  return [state.sites.a, state.sites.b].every((site) => {
    const running = runningDaemons(site.dir);
    return EXPECTED_DAEMONS.every((d) => running.includes(d));
  });
}

/**
 * Starts both sites, or returns the running lab unchanged. A lab left half-dead by a crash is
 * torn down (by its recorded pids) and started afresh.
 */
export async function labUp(root = defaultLabRoot()): Promise<LabState> {
  const existing = readLabState(root);
  if (existing && labIsRunning(existing)) return existing;
  await labDown(root);
  mkdirSync(root, { recursive: true });
  const portA = await findFreePortRange(2);
  let portB = await findFreePortRange(2);
  while (Math.abs(portB - portA) < 2) portB = await findFreePortRange(2);
  const [a, b] = await Promise.all([
    createCluster({ name: 'site-a', dir: join(root, 'site-a'), fsName: 'a', monPort: portA }),
    createCluster({ name: 'site-b', dir: join(root, 'site-b'), fsName: 'b', monPort: portB }),
  ]);
  const state: LabState = { root, sites: { a, b } };
  writeFileSync(statePath(root), JSON.stringify(state, null, 2));
  return state;
}

/** Stops every process the lab recorded and removes its data; safe to run on any leftover. */
export async function labDown(root = defaultLabRoot()): Promise<void> {
  await Promise.all(['site-a', 'site-b'].map((s) => destroyCluster(join(root, s))));
  rmSync(statePath(root), { force: true });
}

export interface SiteStatus {
  name: string;
  fsName: string;
  monHost: string;
  confPath: string;
  daemons: string[];
  health: string;
}

export async function labStatus(root = defaultLabRoot()): Promise<SiteStatus[] | undefined> {
  const state = readLabState(root);
  if (!state) return undefined;
  return Promise.all(
    [state.sites.a, state.sites.b].map(async (site) => {
      let health = 'unreachable';
      try {
        const h = JSON.parse(await ceph(site.confPath, ['health', '--format=json'], 20_000)) as {
          status: string;
        };
        health = h.status;
      } catch {
        // Reported as unreachable.
      }
      return {
        name: site.name,
        fsName: site.fsName,
        monHost: site.monHost,
        confPath: site.confPath,
        daemons: runningDaemons(site.dir),
        health,
      };
    }),
  );
}
