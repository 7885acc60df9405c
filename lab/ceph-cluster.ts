// One small real Ceph cluster on 127.0.0.1: 1 mon, 1 mgr, 1 memstore OSD, 1 MDS, one CephFS.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { recordedPids, startDaemon, stopDaemon, stopPids, isOurProcess } from './processes.js';
import { daemonUserAdminMonCaps } from '../src/ceph/mirror-daemon-users.js';

const execFileAsync = promisify(execFile);

export interface SiteInfo {
  name: string;
  dir: string;
  /** ceph.conf whose default keyring holds client.admin. */
  confPath: string;
  keyringPath: string;
  fsid: string;
  /** e.g. `[v2:127.0.0.1:20000,v1:127.0.0.1:20001]` */
  monHost: string;
  monPort: number;
  fsName: string;
  adminKey: string;
  /**
   * Key of `client.cephfs-mirror-operator`, the operator's least-privilege identity (caps:
   * operatorCaps). Absent in the state of a lab created before it existed.
   */
  operatorKey?: string;
  metadataPool: string;
  dataPool: string;
}

export interface ClusterOptions {
  name: string;
  dir: string;
  fsName: string;
  /** msgr2 port; msgr1 listens on monPort + 1. */
  monPort: number;
}

export function cephConf(o: ClusterOptions, fsid: string): string {
  const d = o.dir;
  return `[global]
fsid = ${fsid}
mon_host = [v2:127.0.0.1:${o.monPort},v1:127.0.0.1:${o.monPort + 1}]
public_addr = 127.0.0.1
ms_bind_ipv6 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_autoscale_mode = off
osd_pool_default_pg_num = 8
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 2
mon_data_avail_crit = 1
osd_objectstore = memstore
memstore_device_bytes = 1073741824
run_dir = ${d}/run
keyring = ${d}/keyring
mon_data = ${d}/mon/$id
mgr_data = ${d}/mgr/$id
mds_data = ${d}/mds/$id
osd_data = ${d}/osd/$id

[mon]
log_file = ${d}/log/$name.log
admin_socket = ${d}/run/$name.asok
[mgr]
keyring = ${d}/mgr/$id/keyring
log_file = ${d}/log/$name.log
admin_socket = ${d}/run/$name.asok
[osd]
keyring = ${d}/osd/$id/keyring
log_file = ${d}/log/$name.log
admin_socket = ${d}/run/$name.asok
[mds]
keyring = ${d}/mds/$id/keyring
log_file = ${d}/log/$name.log
admin_socket = ${d}/run/$name.asok
`;
}

async function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** Runs the `ceph` CLI against a lab cluster (lab tooling only; product code uses librados). */
export function ceph(confPath: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return run('ceph', ['-c', confPath, '--connect-timeout', '15', ...args], timeoutMs);
}

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (e) {
      lastError = (e as Error).message;
    }
    await sleep(250);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}`,
  );
}

function keyOf(keyringText: string): string {
  const m = /key\s*=\s*(\S+)/.exec(keyringText);
  if (!m?.[1]) throw new Error('no key in keyring');
  return m[1];
}

/** The operator's own Ceph user on each lab site. */
export const OPERATOR_CLIENT_ID = 'cephfs-mirror-operator';

/**
 * The least-privilege caps of the operator on a cluster whose mirrored filesystem is `fsName`
 * with metadata pool `metadataPool` (docs/security.md explains each one):
 * - mon: read the maps; write only what the mds service owns (Pacific checks `fs mirror
 *   enable/disable/peer_add/peer_remove` against a write grant for the filesystem, and a grant
 *   limited to the mds service is the narrowest that passes); config-key only under the peer
 *   credentials' prefix; blocklist dead daemons and fenced operators; list each monitor's
 *   sessions (`sessions`, the fast signal of a dead daemon); create the bootstrap peer
 *   user of this filesystem and read only `client.mirror_*` users; switch the mgr `mirroring`
 *   module and no other; create the users of the cephfs-mirror daemons it runs
 *   (`client.cephfs-mirror.*`, only with the daemon caps Ceph documents) and remove them.
 * - mgr: read (service map, the module probe).
 * - osd: the metadata pool only, with class calls (the directory map's omap, notifies, watches,
 *   the fencing lock).
 * - mds: read (snapshot lists, the source directory check, `ceph.mirror.info` on the root).
 */
export function operatorCaps(fsName: string, metadataPool: string): string[] {
  const mon = [
    'allow r',
    'allow service mds w',
    'allow command "fs mirror enable"',
    'allow command "fs mirror disable"',
    'allow command "fs mirror peer_add"',
    'allow command "fs mirror peer_remove"',
    'allow command "config-key set" with key prefix cephfs/mirror/peer/',
    'allow command "config-key get" with key prefix cephfs/mirror/peer/',
    'allow command "config-key rm" with key prefix cephfs/mirror/peer/',
    'allow command "config-key ls"',
    'allow command "osd blocklist"',
    // `tell mon.<id> sessions` (the fast signal of death, src/ceph/mon-sessions.ts): a tell
    // command needs r, w and x for its prefix (Monitor::handle_tell_command); this grants it alone.
    'allow command "sessions"',
    `allow command "fs authorize" with filesystem=${fsName}`,
    'allow command "auth get" with entity prefix client.mirror_',
    'allow command "mgr module disable" with module=mirroring',
    'allow command "mgr module enable" with module=mirroring',
    ...daemonUserAdminMonCaps(),
  ].join(', ');
  return [
    'mon',
    mon,
    'mgr',
    // getpath is a `perm: rw` command of the volumes module: granted alone (subvolume sources).
    'allow r, allow command "fs subvolume getpath"',
    'osd',
    `allow rwx pool=${metadataPool}`,
    'mds',
    // rws: mkdir/rmdir in .snap (scheduled snapshots; Server::handle_client_mksnap checks
    // MAY_WRITE|MAY_SNAPSHOT). No osd caps on the data pools: no file data can be written.
    `allow rws fsname=${fsName}`,
  ];
}

/** Creates and starts a cluster in `o.dir` (which must not hold a running cluster). */
export async function createCluster(o: ClusterOptions): Promise<SiteInfo> {
  const d = o.dir;
  rmSync(d, { recursive: true, force: true });
  for (const sub of ['mon/a', 'mgr/x', 'osd/0', 'mds/a', 'run', 'log', 'pids']) {
    mkdirSync(join(d, sub), { recursive: true });
  }
  const fsid = randomUUID();
  const confPath = join(d, 'ceph.conf');
  const keyringPath = join(d, 'keyring');
  writeFileSync(confPath, cephConf(o, fsid));
  const monHost = `[v2:127.0.0.1:${o.monPort},v1:127.0.0.1:${o.monPort + 1}]`;

  await run('ceph-authtool', [
    '--create-keyring',
    keyringPath,
    '--gen-key',
    '-n',
    'mon.',
    '--cap',
    'mon',
    'allow *',
  ]);
  await run('ceph-authtool', [
    keyringPath,
    '--gen-key',
    '-n',
    'client.admin',
    '--cap',
    'mon',
    'allow *',
    '--cap',
    'osd',
    'allow *',
    '--cap',
    'mds',
    'allow *',
    '--cap',
    'mgr',
    'allow *',
  ]);
  const monmap = join(d, 'monmap');
  await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', monHost, monmap]);
  await run('ceph-mon', [
    '-c',
    confPath,
    '--mkfs',
    '-i',
    'a',
    '--monmap',
    monmap,
    '--keyring',
    keyringPath,
  ]);
  startDaemon(d, { name: 'mon.a', command: 'ceph-mon', args: ['-f', '-c', confPath, '-i', 'a'] });
  await waitFor(
    'the monitor',
    30_000,
    async () => (await ceph(confPath, ['mon', 'stat'], 10_000)).length > 0,
  );

  await ceph(confPath, [
    'auth',
    'get-or-create',
    'mgr.x',
    'mon',
    'allow profile mgr',
    'osd',
    'allow *',
    'mds',
    'allow *',
    '-o',
    join(d, 'mgr/x/keyring'),
  ]);
  startDaemon(d, { name: 'mgr.x', command: 'ceph-mgr', args: ['-f', '-c', confPath, '-i', 'x'] });

  const osdUuid = randomUUID();
  const osdKey = (await run('ceph-authtool', ['--gen-print-key'])).trim();
  writeFileSync(join(d, 'osd/0/keyring'), `[osd.0]\n\tkey = ${osdKey}\n`);
  const osdSecret = join(d, 'osd/0/new.json');
  writeFileSync(osdSecret, JSON.stringify({ cephx_secret: osdKey }));
  await ceph(confPath, ['osd', 'new', osdUuid, '-i', osdSecret]);
  rmSync(osdSecret);
  await run('ceph-osd', ['-c', confPath, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
  startDaemon(d, { name: 'osd.0', command: 'ceph-osd', args: ['-f', '-c', confPath, '-i', '0'] });

  await ceph(confPath, [
    'auth',
    'get-or-create',
    'mds.a',
    'mon',
    'allow profile mds',
    'osd',
    'allow rw tag cephfs *=*',
    'mds',
    'allow',
    'mgr',
    'allow profile mds',
    '-o',
    join(d, 'mds/a/keyring'),
  ]);
  startDaemon(d, { name: 'mds.a', command: 'ceph-mds', args: ['-f', '-c', confPath, '-i', 'a'] });

  const metadataPool = `${o.fsName}_metadata`;
  const dataPool = `${o.fsName}_data`;
  await ceph(confPath, ['osd', 'pool', 'create', metadataPool, '8']);
  await ceph(confPath, ['osd', 'pool', 'create', dataPool, '8']);
  await ceph(confPath, ['fs', 'new', o.fsName, metadataPool, dataPool]);
  await ceph(confPath, [
    'auth',
    'get-or-create',
    `client.${OPERATOR_CLIENT_ID}`,
    ...operatorCaps(o.fsName, metadataPool),
  ]);
  const operatorKey = (
    await ceph(confPath, ['auth', 'get-key', `client.${OPERATOR_CLIENT_ID}`])
  ).trim();

  const info: SiteInfo = {
    name: o.name,
    dir: d,
    confPath,
    keyringPath,
    fsid,
    monHost,
    monPort: o.monPort,
    fsName: o.fsName,
    adminKey: keyOf(readFileSync(keyringPath, 'utf8').split('[client.admin]')[1] ?? ''),
    operatorKey,
    metadataPool,
    dataPool,
  };
  await waitUntilReady(info);
  // The operator replaces the mgr `mirroring` module: the lab keeps it off unless a test enables it.
  await ceph(confPath, ['mgr', 'module', 'disable', 'mirroring']);
  return info;
}

/** Waits until the filesystem has an active MDS and every PG is active. */
export async function waitUntilReady(site: SiteInfo, timeoutMs = 90_000): Promise<void> {
  await waitFor(`an active MDS for filesystem ${site.fsName}`, timeoutMs, async () => {
    const dump = JSON.parse(await ceph(site.confPath, ['fs', 'dump', '--format=json'], 15_000)) as {
      filesystems: Array<{ mdsmap: { fs_name: string; info: Record<string, { state: string }> } }>;
    };
    const fs = dump.filesystems.find((f) => f.mdsmap.fs_name === site.fsName);
    return fs !== undefined && Object.values(fs.mdsmap.info).some((i) => i.state === 'up:active');
  });
  await waitFor('all PGs active', timeoutMs, async () => {
    const st = JSON.parse(await ceph(site.confPath, ['pg', 'stat', '--format=json'], 15_000)) as {
      pg_summary?: { num_pg_by_state?: Array<{ name: string; num: number }>; num_pgs?: number };
      num_pg_by_state?: Array<{ name: string; num: number }>;
      num_pgs?: number;
    };
    const summary = st.pg_summary ?? st;
    const states = summary.num_pg_by_state ?? [];
    const total = summary.num_pgs ?? 0;
    const active = states
      .filter((s) => s.name.split('+').includes('active'))
      .reduce((n, s) => n + s.num, 0);
    return total > 0 && active === total;
  });
  await waitFor('an active mgr', timeoutMs, async () => {
    const mgr = JSON.parse(await ceph(site.confPath, ['mgr', 'stat', '--format=json'], 15_000)) as {
      available?: boolean;
    };
    return mgr.available === true;
  });
}

/** Names of the recorded daemons of this cluster that are still running. */
export function runningDaemons(dir: string): string[] {
  return [...recordedPids(dir)].filter(([, pid]) => isOurProcess(pid, dir)).map(([name]) => name);
}

/** Stops every process this cluster's directory recorded (by pid) and removes its data. */
export async function destroyCluster(dir: string): Promise<void> {
  await stopPids([...recordedPids(dir).values()], dir);
  rmSync(dir, { recursive: true, force: true });
}

/** Starts a cephfs-mirror daemon as `client.<clientId>` against this cluster. */
export async function startMirrorDaemon(site: SiteInfo, clientId: string): Promise<number> {
  if (!/^[A-Za-z0-9_.-]+$/.test(clientId)) throw new Error(`invalid mirror client id: ${clientId}`);
  const entity = `client.${clientId}`;
  const name = `mirror.${clientId}`;
  const current = recordedPids(site.dir).get(name);
  if (current !== undefined && isOurProcess(current, site.dir)) return current;
  const tmpKeyring = join(site.dir, `${entity}.keyring.tmp`);
  await ceph(site.confPath, [
    'auth',
    'get-or-create',
    entity,
    'mon',
    'profile cephfs-mirror',
    'mds',
    'allow r',
    'osd',
    'allow rw tag cephfs metadata=*, allow r tag cephfs data=*',
    'mgr',
    'allow r',
    '-o',
    tmpKeyring,
  ]);
  // The daemon's per-filesystem connections read the default keyring from the conf, so its key
  // joins the cluster keyring rather than a file of its own.
  await run('ceph-authtool', [site.keyringPath, '--import-keyring', tmpKeyring]);
  rmSync(tmpKeyring);
  return startDaemon(site.dir, {
    name,
    command: 'cephfs-mirror',
    args: [
      '-f',
      '-c',
      site.confPath,
      '--id',
      clientId,
      '--log-file',
      join(site.dir, 'log', `${entity}.log`),
      '--admin-socket',
      join(site.dir, 'run', `${entity}.asok`),
    ],
    // Without CEPH_CONF its per-filesystem connections look for /etc/ceph/ceph.conf.
    env: { CEPH_CONF: site.confPath },
  });
}

export function stopMirrorDaemon(site: SiteInfo, clientId: string): Promise<boolean> {
  return stopDaemon(site.dir, `mirror.${clientId}`, site.dir);
}

export function mirrorDaemonPid(site: SiteInfo, clientId: string): number | undefined {
  const pid = recordedPids(site.dir).get(`mirror.${clientId}`);
  return pid !== undefined && isOurProcess(pid, site.dir) ? pid : undefined;
}
