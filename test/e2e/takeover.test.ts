// Taking a filesystem over from the Ceph mgr `mirroring` module. While the module drives site-a's
// filesystem, a CephFSMirror without `takeOverFromMgrModule` is refused and touches nothing (the
// module stays, its dir map is byte for byte the same, and deleting the refused objects does not
// hang). With the flag, the operator disables the module and carries on with the module's dir map:
// every directory stays on the daemon the module mapped it to (released and acquired once there:
// the module's acquire may already have reached it, and a second acquire would be a duplicate),
// an undeclared entry is kept under `Retain` and released under `Prune`. The module's peer is
// adopted by a MirrorPeer, so the daemons run real peer replayers (where a duplicate acquire turns
// into an abort), and after deletions and a Prune no daemon has aborted.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { CephFS } from 'cephfs-js';
import { Rados } from 'rados-js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import { disableMirroring, mgrMirroringModuleEnabled } from '../../src/ceph/filesystem.js';
import { findFilesystem, requireFilesystem } from '../../src/ceph/fsmap.js';
import { fetchFsMap, mgrCommand } from '../../src/ceph/mon.js';
import type { CephFSMirror, MirroredDirectory, MirrorPeer } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  API_VERSION,
  applyObjects,
  waitForEvent,
  type KubeEvent,
  assertCephClean,
  conditionOf,
  deleteAllAndWait,
  directoryObject,
  loadDirMap,
  mirrorObject,
  operatorHttpPort,
  operatorLog,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import {
  disableMgrMirroringModule,
  mgrActiveSince,
  mgrAddDirectory,
  mgrUntilMapped,
  mgrDistribution,
  mgrEnableMirroring,
  mgrMapModules,
  mgrMirroringModuleLoaded,
} from '../../lab/harness/mgr-module.js';
import { clearDirMap, mirrorOmap } from '../../lab/harness/mirroring.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';
import { waitFor } from '../../lab/harness/wait.js';

const execFileAsync = promisify(execFile);

const NS = 'e2e-takeover';
const MIRROR = 'site-a';
const DAEMONS = ['e2e-takeover1', 'e2e-takeover2'];
/** Declared by MirroredDirectory objects once the operator runs. */
const DECLARED = ['/takeover/one', '/takeover/two'];
/** Added through the module and never declared. */
const UNDECLARED = '/takeover/three';
const MODULE_DIRS = [...DECLARED, UNDECLARED].sort();

let env: E2eEnv | undefined;
let operator: OperatorProcess;
/** Instance id per directory, as the module mapped it. */
const moduleInstance = new Map<string, string>();
/** `cephfs_mirror`'s omap once the module had mapped everything. */
let omapBefore: Array<[string, string]>;

function e2e(): E2eEnv {
  assert.ok(env, 'setUpE2e ran');
  return env;
}

const fsName = (): string => e2e().lab.sites.a.fsName;
const poolName = (): string => e2e().lab.sites.a.metadataPool;
const objectName = (path: string): string => path.split('/').at(-1) as string;

async function filesystem(): Promise<ReturnType<typeof requireFilesystem>> {
  return requireFilesystem(await fetchFsMap(e2e().a), fsName());
}

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: DAEMONS });
  // What every e2e file starts from (and must leave): the module off, mirroring off.
  assert.equal(await mgrMirroringModuleEnabled(env.a), false, 'the mgr module starts disabled');
  assert.equal((await filesystem()).mirrorInfo.enabled, false, 'mirroring starts disabled');
  const fs = await CephFS.mount({ rados: env.a, fsName: fsName() });
  try {
    for (const d of MODULE_DIRS) await fs.mkdirs(d);
  } finally {
    await fs.close();
  }
});

after(async () => {
  if (!env) return;
  const errors: unknown[] = [];
  // A failure part-way may leave the module enabled, and a refused mirror backing off: turn the
  // module off as the other files expect, and let tearDownE2e start a fresh operator.
  try {
    if (await mgrMirroringModuleEnabled(env.a)) {
      await disableMgrMirroringModule(env.a);
      for (const op of env.operators) await op.stop();
    }
  } catch (e) {
    errors.push(e);
  }
  try {
    await tearDownE2e(env);
  } catch (e) {
    errors.push(e);
  }
  if (errors.length > 0) {
    // Entries the module added and nobody declared survive the finalizers: scrub them (and the
    // module, and mirroring) so the next file still finds a clean lab, then report the failure.
    await scrubSiteA(env).catch(() => undefined);
    throw errors[0];
  }
});

async function scrubSiteA(e: E2eEnv): Promise<void> {
  const a = await Rados.connect({ confPath: e.lab.sites.a.confPath, timeoutMs: 20_000 });
  try {
    await disableMgrMirroringModule(a);
    await clearDirMap(a, e.lab.sites.a.metadataPool);
    await disableMirroring(a, e.lab.sites.a.fsName);
  } finally {
    await a.shutdown();
  }
}

/**
 * How many directories each instance's daemon says it holds, from the daemons themselves: each
 * one's admin socket (`fs mirror status`) gives its RADOS address and directory count, and the
 * `instance_` records of the dir map give the instance id of that address.
 */
async function daemonHoldings(): Promise<Map<string, number>> {
  const e = e2e();
  const fs = await filesystem();
  const map = await loadDirMap(e.a, fs.metadataPool);
  const idOfAddr = new Map(map.instances.map(([id, r]) => [bareAddr(r.addr), id]));
  const held = new Map<string, number>();
  for (const clientId of DAEMONS) {
    const asok = join(e.lab.sites.a.dir, 'run', `client.${clientId}.asok`);
    const { stdout } = await execFileAsync('ceph', [
      '--admin-daemon',
      asok,
      'fs',
      'mirror',
      'status',
      `${fs.name}@${fs.fscid}`,
    ]);
    const status = JSON.parse(stdout) as {
      rados_inst?: string;
      snap_dirs?: { dir_count?: number };
    };
    const count = status.snap_dirs?.dir_count ?? 0;
    if (count === 0) continue;
    const id = idOfAddr.get(bareAddr(status.rados_inst ?? ''));
    assert.ok(id, `daemon ${clientId} (${status.rados_inst}) has an instance record`);
    held.set(id, count);
  }
  return held;
}

/** `127.0.0.1:0/123` out of `v2:127.0.0.1:0/123`, `[v2:…,v1:…]` or `client.4 127.0.0.1:0/123`. */
function bareAddr(addr: string): string {
  const m = /(\d+\.\d+\.\d+\.\d+:\d+\/\d+)/.exec(addr);
  return m?.[1] ?? addr;
}

/** Directories per instance in the module's mapping. */
function moduleCounts(paths: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of paths) {
    const id = moduleInstance.get(p) as string;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function sortedEntries(m: Map<string, number>): Array<[string, number]> {
  return [...m.entries()].sort(([x], [y]) => x.localeCompare(y));
}

async function dirMapEntries(): Promise<Map<string, { instanceId: string; purging: boolean }>> {
  const map = await loadDirMap(e2e().a, (await filesystem()).metadataPool);
  assert.deepEqual(map.unreadable, []);
  return new Map(
    map.directories.map(([p, r]) => [p, { instanceId: r.instanceId, purging: r.purging === true }]),
  );
}

function waitForTakeoverEvent(kind: string, name: string, reason: string): Promise<KubeEvent> {
  return waitForEvent(e2e().kube, NS, { kind, name, reason }, 30_000);
}

/** Sum of the operator's notify counter per mode (acquire/release), from its /metrics. */
async function notifyCounts(op: OperatorProcess): Promise<Record<string, number>> {
  const port = await operatorHttpPort(op);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^cephfs_mirror_notify_duration_seconds_count\{([^}]*)\} (\d+)/.exec(line);
    const mode = m && /mode="([a-z]+)"/.exec(m[1] as string)?.[1];
    if (m && mode) counts[mode] = (counts[mode] ?? 0) + Number(m[2]);
  }
  return counts;
}

function declaredObjects(): object[] {
  return DECLARED.map((p) => directoryObject(NS, objectName(p), MIRROR, p));
}

/** The mirror without the flag and its directories; waits until the mirror is refused. */
/** A merge patch of the mirror's spec, as a user would `kubectl patch` it. */
async function patchMirrorSpec(spec: Partial<CephFSMirror['spec']>): Promise<void> {
  const patch = JSON.stringify({ spec });
  await kubectl(e2e().kube, [
    '-n',
    NS,
    'patch',
    `cephfsmirror/${MIRROR}`,
    '--type=merge',
    '-p',
    patch,
  ]);
}

async function applyRefused(): Promise<CephFSMirror> {
  const e = e2e();
  await applyObjects(e.kube, [mirrorObject(NS, MIRROR, 'a'), ...declaredObjects()]);
  return waitForReady<CephFSMirror>(
    e.kube,
    NS,
    `cephfsmirror/${MIRROR}`,
    { status: 'False', reason: 'MgrModuleEnabled' },
    60_000,
  );
}

/** The site-b token the module's peer was imported from; the MirrorPeer names the same. */
let peerToken = '';

test('the mgr module mirrors site-a and maps its directories on the two daemons', async () => {
  const { a, b } = e2e();
  await mgrEnableMirroring(a, fsName());
  assert.equal((await filesystem()).mirrorInfo.enabled, true, 'the module enabled mirroring');
  peerToken = await createBootstrapToken(
    b,
    e2e().lab.sites.b.fsName,
    'client.mirror_remote',
    'site-b',
  );
  await mgrCommand(a, {
    prefix: 'fs snapshot mirror peer_bootstrap import',
    fs_name: fsName(),
    token: peerToken,
  });
  assert.equal(Object.keys((await filesystem()).mirrorInfo.peers).length, 1, 'the module peer');
  // Both daemons known first, so the module spreads the directories over the two (it maps each to
  // the least loaded instance); were one still unknown, all three would go to the other.
  await waitFor(
    'the module to know both daemons',
    async () => Object.keys((await mgrDistribution(a, fsName())).mapping).length === DAEMONS.length,
    60_000,
    500,
  );
  for (const d of MODULE_DIRS) await mgrAddDirectory(a, fsName(), d);
  for (const d of MODULE_DIRS) {
    const st = await mgrUntilMapped(a, fsName(), d);
    assert.ok(st.instance_id, `the module names an instance for ${d}`);
    moduleInstance.set(d, st.instance_id);
  }
  await waitFor(
    "the daemons to hold the module's directories",
    async () =>
      JSON.stringify(sortedEntries(await daemonHoldings())) ===
      JSON.stringify(sortedEntries(moduleCounts(MODULE_DIRS))),
    60_000,
    1000,
  );
  omapBefore = await mirrorOmap(a, poolName());
  assert.deepEqual([...(await dirMapEntries()).keys()].sort(), MODULE_DIRS);
});

test('without takeOverFromMgrModule the mirror is refused and the module and its dir map are left alone', async () => {
  const e = e2e();
  assert.ok(omapBefore, 'the module mapped its directories');
  operator = e.operator();
  const refused = await applyRefused();
  const ready = conditionOf(refused);
  assert.equal(refused.status?.state, 'Error');
  const message = ready?.message ?? '';
  assert.match(message, /mgr "mirroring" module is enabled/);
  assert.match(message, /ceph mgr module disable mirroring/);
  assert.match(message, /takeOverFromMgrModule: true/);
  const warning = await waitForTakeoverEvent('CephFSMirror', MIRROR, 'MgrModuleEnabled');
  assert.equal(warning.type, 'Warning');
  assert.equal(warning.message, message);
  for (const p of DECLARED) {
    await waitForReady(e.kube, NS, `mirroreddirectory/${objectName(p)}`, {
      status: 'False',
      reason: 'MirrorNotReady',
    });
  }
  // It keeps refusing (it looks again every status refresh, 10 s), and none of its looks
  // changed anything in Ceph.
  await new Promise((r) => setTimeout(r, 25_000));
  const still = await kubectlJson<CephFSMirror>(e.kube, [
    '-n',
    NS,
    'get',
    `cephfsmirror/${MIRROR}`,
  ]);
  assert.equal(conditionOf(still)?.reason, 'MgrModuleEnabled');
  assert.equal(conditionOf(still)?.status, 'False');
  assert.equal(await mgrMirroringModuleEnabled(e.a), true, 'the module is still enabled');
  assert.equal(await mgrMirroringModuleLoaded(e.a), true, 'the module still runs');
  const dist = await mgrDistribution(e.a, fsName());
  const counts = moduleCounts(MODULE_DIRS);
  for (const [id, text] of Object.entries(dist.mapping)) {
    assert.equal(text, `${counts.get(id) ?? 0} directories`, `the module's load of ${id}`);
  }
  for (const id of counts.keys()) assert.ok(id in dist.mapping, `the module still knows ${id}`);
  assert.deepEqual(await mirrorOmap(e.a, poolName()), omapBefore, 'the dir map is untouched');
});

test('a refused mirror and its directories can be deleted, leaving the module in charge', async () => {
  const e = e2e();
  await kubectl(
    e.kube,
    [
      '-n',
      NS,
      'delete',
      'cephfsmirrors,mirroreddirectories',
      '--all',
      '--wait=true',
      '--timeout=60s',
    ],
    undefined,
    90_000,
  );
  assert.equal(await mgrMirroringModuleEnabled(e.a), true, 'the module is still enabled');
  assert.equal((await filesystem()).mirrorInfo.enabled, true, 'mirroring is still on');
  assert.deepEqual(await mirrorOmap(e.a, poolName()), omapBefore, 'the dir map is untouched');
});

test('takeOverFromMgrModule: true disables the module and keeps every directory on its daemon', async () => {
  const e = e2e();
  await applyRefused();
  const activeBefore = await mgrActiveSince(e.a);
  await patchMirrorSpec({ takeOverFromMgrModule: true, unmanagedDirectories: 'Retain' });
  const mirror = await waitForReady<CephFSMirror>(
    e.kube,
    NS,
    `cephfsmirror/${MIRROR}`,
    { status: 'True', reason: 'MirroringEnabled' },
    90_000,
  );
  assert.equal(mirror.status?.state, 'Mirroring');

  // The module is off in the MgrMap, and the running mgr no longer has it loaded.
  assert.equal(await mgrMirroringModuleEnabled(e.a), false, '`mgr module ls`: not enabled');
  assert.ok(!(await mgrMapModules(e.a)).includes('mirroring'), 'mgr map: not enabled');
  assert.equal(await mgrMirroringModuleLoaded(e.a), false, 'the active mgr does not run it');
  // The mgr respawned without it, and the engine started only after that: until then the module
  // could still have written the dir map the engine loads.
  const activeSince = await mgrActiveSince(e.a);
  assert.ok(activeSince > activeBefore, 'the mgr respawned to drop the module');
  const started = operatorLog(operator).find(
    (l) => l['message'] === 'mirror engine started' && l['mirror'] === `${NS}/${MIRROR}`,
  );
  const startedAt = Date.parse(String(started?.['timestamp']));
  assert.ok(
    startedAt >= activeSince,
    `the engine started (${String(started?.['timestamp'])}) after the mgr without the module ` +
      `became active (${new Date(activeSince).toISOString()})`,
  );
  const took = await waitForTakeoverEvent('CephFSMirror', MIRROR, 'MgrModuleDisabled');
  assert.equal(took.type, 'Normal');
  assert.match(took.message ?? '', /disabled the Ceph mgr "mirroring" module/);

  // The declared directories are mirrored where the module had put them.
  for (const p of DECLARED) {
    const dir = await waitForReady<MirroredDirectory>(
      e.kube,
      NS,
      `mirroreddirectory/${objectName(p)}`,
      { status: 'True' },
      90_000,
    );
    assert.equal(dir.status?.state, 'Associated');
    assert.equal(dir.status?.instanceID, moduleInstance.get(p), `${p}: the module's instance`);
    assert.equal(
      conditionOf(dir)?.message,
      `mirrored by cephfs-mirror instance ${dir.status?.instanceID}`,
    );
  }
  // The dir map: the same three paths (Retain keeps the undeclared one) on the same instances.
  const entries = await dirMapEntries();
  assert.deepEqual([...entries.keys()].sort(), MODULE_DIRS);
  for (const p of MODULE_DIRS) {
    assert.equal(entries.get(p)?.instanceId, moduleInstance.get(p), `${p}: same instance`);
    assert.equal(entries.get(p)?.purging, false, `${p}: not being removed`);
  }
  const settled = await waitFor(
    'the mirror status to count three mapped directories on two daemons',
    async () => {
      const m = await kubectlJson<CephFSMirror>(e.kube, [
        '-n',
        NS,
        'get',
        `cephfsmirror/${MIRROR}`,
      ]);
      return m.status?.directories?.['mapped'] === 3 && m.status.instanceCount === 2
        ? m
        : undefined;
    },
    30_000,
    1000,
  );
  assert.equal(settled.status?.directories?.['total'], 3);
  assert.deepEqual(
    settled.status?.instances
      ?.filter((i) => i.directories > 0)
      .map((i) => [i.id, i.directories])
      .sort(),
    sortedEntries(moduleCounts(MODULE_DIRS)),
  );
  // Daemon-safe start: the module may already have acquired each directory, so each was
  // released and acquired once, on its own instance, and never acquired twice.
  const notifies = await notifyCounts(operator);
  assert.equal(notifies['release'] ?? 0, MODULE_DIRS.length, 'one release per directory');
  assert.equal(notifies['acquire'] ?? 0, MODULE_DIRS.length, 'one acquire per directory');
  // The daemons hold exactly what the module gave them: nothing twice, nothing moved.
  assert.deepEqual(sortedEntries(await daemonHoldings()), sortedEntries(moduleCounts(MODULE_DIRS)));
});

test('Prune releases the undeclared entry and keeps the declared ones where they are', async () => {
  await patchMirrorSpec({ unmanagedDirectories: 'Prune' });
  await waitFor(
    `${UNDECLARED} gone from the dir map`,
    async () => !(await dirMapEntries()).has(UNDECLARED),
    60_000,
    1000,
  );
  const pruned = await waitForTakeoverEvent('CephFSMirror', MIRROR, 'Pruned');
  assert.equal(pruned.message, `stopped mirroring undeclared directory ${UNDECLARED}`);
  await waitFor(
    'the daemons to hold only the declared directories',
    async () =>
      JSON.stringify(sortedEntries(await daemonHoldings())) ===
      JSON.stringify(sortedEntries(moduleCounts(DECLARED))),
    60_000,
    1000,
  );
  const entries = await dirMapEntries();
  for (const p of DECLARED) assert.equal(entries.get(p)?.instanceId, moduleInstance.get(p));
});

test("a MirrorPeer adopts the module's peer", async () => {
  const e = e2e();
  const uuid = Object.keys((await filesystem()).mirrorInfo.peers)[0];
  await applyObjects(e.kube, [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'site-b-token', namespace: NS },
      stringData: { token: peerToken },
    },
    {
      apiVersion: API_VERSION,
      kind: 'MirrorPeer',
      metadata: { name: 'site-b', namespace: NS },
      spec: { mirrorRef: { name: MIRROR }, bootstrapTokenSecretRef: { name: 'site-b-token' } },
    },
  ]);
  const peer = await waitForReady<MirrorPeer>(
    e.kube,
    NS,
    'mirrorpeer/site-b',
    { status: 'True' },
    90_000,
  );
  assert.equal(peer.status?.peerUUID, uuid, 'the same Ceph peer, not a second one');
  assert.deepEqual(Object.keys((await filesystem()).mirrorInfo.peers), [uuid]);
});

test('a declared directory deleted is released by its daemon; no daemon aborted', async () => {
  const e = e2e();
  const [gone, kept] = DECLARED as [string, string];
  await kubectl(e.kube, [
    '-n',
    NS,
    'delete',
    `mirroreddirectory/${objectName(gone)}`,
    '--wait=true',
    '--timeout=90s',
  ]);
  assert.deepEqual([...(await dirMapEntries()).keys()], [kept]);
  await waitFor(
    'the daemons to hold only the remaining directory',
    async () =>
      JSON.stringify(sortedEntries(await daemonHoldings())) ===
      JSON.stringify(sortedEntries(moduleCounts([kept]))),
    60_000,
    1000,
  );
  // A daemon given a directory twice aborts at its replayer's next pick after a release.
  await new Promise((r) => setTimeout(r, 10_000));
  assertNoDaemonAborted(e.lab);
});

test('deleting the objects disables mirroring and leaves the module off', async () => {
  const e = e2e();
  await deleteAllAndWait(e.kube, NS);
  await assertCephClean(e);
  assert.equal(await mgrMirroringModuleEnabled(e.a), false, 'the module stays disabled');
  const fs = findFilesystem(await fetchFsMap(e.a), fsName());
  assert.equal(fs?.mirrorInfo.enabled, false);
});
