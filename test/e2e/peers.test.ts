// MirrorPeers on a real kube-apiserver against the real lab: one owner per Ceph peer (a second
// MirrorPeer for the same remote is DuplicatePeer, touches nothing, and its deletion leaves the
// peer; the owner deleted first hands the peer over under the same uuid), the remote's fsid checked
// also for an existing peer (FsidMismatch, nothing changed), and a peer, its credentials and its
// claim removed behind the operator's back put back under the same uuid without any edit, with a
// DriftCorrected Event, a metric, and Ready=False PeerMissing while the peer was missing.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CephFS } from 'cephfs-js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import { decodeBootstrapToken, encodeBootstrapToken } from '../../src/ceph/bootstrap-token.js';
import { findFilesystem } from '../../src/ceph/fsmap.js';
import { readMirrorInfo, removeMirrorInfo } from '../../src/ceph/mirror-info.js';
import { fetchFsMap, monCommand } from '../../src/ceph/mon.js';
import {
  configKeyGet,
  configKeyRm,
  fsMirrorPeerRemove,
  peerConfigKey,
} from '../../src/ceph/mon-commands.js';
import type { CephFSMirror, MirrorPeer } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  API_VERSION,
  applyObjects,
  conditionOf,
  mirrorObject,
  operatorHttpPort,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-peers';
const MIRROR = 'site-a';
const PEER_USER = 'client.mirror_remote';
let env: E2eEnv;
let operator: OperatorProcess;
let fsB: CephFS;
let goodToken: string;
let wrongFsidToken: string;
/** The Ceph peer's uuid, from the first MirrorPeer that added it. */
let uuid: string;

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-peers'] });
  fsB = await CephFS.mount({ rados: env.b, fsName: env.lab.sites.b.fsName });
  goodToken = await createBootstrapToken(env.b, env.lab.sites.b.fsName, PEER_USER, 'site-b');
  wrongFsidToken = encodeBootstrapToken({ ...decodeBootstrapToken(goodToken), fsid: randomUUID() });
  await applyObjects(env.kube, [
    tokenSecret(goodToken),
    tokenSecret(wrongFsidToken, 'site-b-token-wrong-fsid'),
    mirrorObject(NS, MIRROR, 'a'),
  ]);
  operator = env.operator();
  await waitForReady<CephFSMirror>(env.kube, NS, `cephfsmirror/${MIRROR}`, { status: 'True' });
});

after(async () => {
  await fsB?.close();
  await tearDownE2e(env);
});

function tokenSecret(token: string, name = 'site-b-token'): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: NS },
    stringData: { token },
  };
}

function peerObject(name: string, secret = 'site-b-token'): object {
  return {
    apiVersion: API_VERSION,
    kind: 'MirrorPeer',
    metadata: { name, namespace: NS },
    spec: { mirrorRef: { name: MIRROR }, bootstrapTokenSecretRef: { name: secret } },
  };
}

async function deletePeer(name: string): Promise<void> {
  await kubectl(env.kube, [
    '-n',
    NS,
    'delete',
    `mirrorpeer/${name}`,
    '--wait=true',
    '--timeout=120s',
  ]);
}

/** The uuids of site-a's peers in the FSMap. */
async function fsmapPeers(): Promise<string[]> {
  const fs = findFilesystem(await fetchFsMap(env.a), env.lab.sites.a.fsName);
  return Object.keys(fs?.mirrorInfo.peers ?? {});
}

/** The raw config-key value of the peer's credentials, or undefined when there is none. */
async function storedCredentials(peerUuid: string): Promise<string | undefined> {
  try {
    const out = await monCommand(
      env.a,
      configKeyGet(peerConfigKey(env.lab.sites.a.fsName, peerUuid)),
    );
    return out.outbuf.toString('utf8');
  } catch {
    return undefined;
  }
}

/** What Ceph shows of the peer: FSMap uuids, its credentials, and the claim on site-b's root. */
async function cephView(): Promise<{ peers: string[]; credentials?: string; claim?: string }> {
  const claim = await readMirrorInfo(fsB);
  const credentials = await storedCredentials(uuid);
  return {
    peers: await fsmapPeers(),
    ...(credentials !== undefined ? { credentials } : {}),
    ...(claim ? { claim: `${claim.clusterId}/${claim.fsId}` } : {}),
  };
}

interface KubeEvent {
  type?: string;
  reason?: string;
  message?: string;
  involvedObject?: { name?: string; kind?: string };
}

async function eventsOf(name: string, reason: string): Promise<KubeEvent[]> {
  const list = await kubectlJson<{ items: KubeEvent[] }>(env.kube, ['-n', NS, 'get', 'events']);
  return list.items.filter(
    (e) =>
      e.involvedObject?.kind === 'MirrorPeer' &&
      e.involvedObject.name === name &&
      e.reason === reason,
  );
}

/**
 * Every Ready status/reason the object goes through, from a watch (a poll could miss a state the
 * operator leaves within a second). kubectl prints each watched object as indented JSON closed by
 * a `}` line of its own (its jsonpath output prints the first state only).
 */
function watchReady(name: string): { lines: string[]; stop: () => void } {
  const child: ChildProcess = spawn('kubectl', [
    '--kubeconfig',
    env.kube.kubeconfigPath,
    '-n',
    NS,
    'get',
    `mirrorpeer/${name}`,
    '--watch',
    '-o',
    'json',
  ]);
  const lines: string[] = [];
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
    let end: number;
    while ((end = text.indexOf('\n}\n')) >= 0) {
      const obj = JSON.parse(text.slice(0, end + 2)) as MirrorPeer;
      text = text.slice(end + 3);
      const ready = conditionOf(obj);
      if (ready) lines.push(`${ready.status} ${ready.reason}`);
    }
  });
  return {
    lines,
    stop: () => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    },
  };
}

test('a second MirrorPeer for the same remote (its token with a wrong fsid) is DuplicatePeer, changes nothing, and its deletion leaves the peer', async () => {
  await applyObjects(env.kube, [peerObject('first')]);
  const first = await waitForReady<MirrorPeer>(
    env.kube,
    NS,
    'mirrorpeer/first',
    { status: 'True', reason: 'PeerAdded' },
    90_000,
  );
  uuid = first.status?.peerUUID as string;
  assert.ok(uuid, 'the owner records the peer uuid');
  const before = await cephView();
  assert.deepEqual(before.peers, [uuid]);
  assert.ok(before.credentials, 'credentials stored');
  assert.ok(before.claim, 'site-b claimed');

  // creationTimestamp has whole seconds: make the second one unambiguously younger.
  await new Promise((r) => setTimeout(r, 1100));
  // The case: the same remote, named by a token whose fsid is wrong. It is a duplicate
  // before anything else, and neither adds nor removes anything.
  await applyObjects(env.kube, [peerObject('second', 'site-b-token-wrong-fsid')]);
  const second = await waitForReady<MirrorPeer>(env.kube, NS, 'mirrorpeer/second', {
    status: 'False',
    reason: 'DuplicatePeer',
  });
  assert.match(conditionOf(second)?.message ?? '', new RegExp(`owned by MirrorPeer ${NS}/first`));
  assert.equal(second.status?.peerUUID, undefined, 'a duplicate records no uuid');
  const [bornFirst, bornSecond] = [
    first.metadata.creationTimestamp,
    second.metadata.creationTimestamp,
  ];
  assert.ok(bornFirst && bornSecond && bornSecond > bornFirst, 'the second one is younger');
  assert.equal((await eventsOf('second', 'DuplicatePeer'))[0]?.type, 'Warning');

  await deletePeer('second');
  assert.deepEqual(await cephView(), before, 'FSMap, credentials and claim untouched');
  const owner = await waitForReady<MirrorPeer>(env.kube, NS, 'mirrorpeer/first', {
    status: 'True',
    reason: 'PeerAdded',
  });
  assert.equal(owner.status?.peerUUID, uuid);
});

test('the owner deleted first: the duplicate takes the peer over under the same uuid', async () => {
  const before = await cephView();
  await applyObjects(env.kube, [peerObject('second')]);
  await waitForReady(env.kube, NS, 'mirrorpeer/second', {
    status: 'False',
    reason: 'DuplicatePeer',
  });

  await deletePeer('first');
  const second = await waitForReady<MirrorPeer>(
    env.kube,
    NS,
    'mirrorpeer/second',
    { status: 'True', reason: 'PeerAdded' },
    60_000,
  );
  assert.equal(second.status?.peerUUID, uuid, 'the same Ceph peer, adopted');
  assert.deepEqual(await cephView(), before, 'the peer never left Ceph');
  assert.equal((await eventsOf('first', 'PeerHandedOver')).length, 1);
  assert.equal((await eventsOf('second', 'PeerAdopted')).length, 1);
  assert.equal((await eventsOf('first', 'PeerRemoved')).length, 0);
});

test('a wrong-fsid token for the existing peer: FsidMismatch, nothing changes in Ceph', async () => {
  const before = await cephView();
  await applyObjects(env.kube, [tokenSecret(wrongFsidToken)]);
  const refused = await waitForReady<MirrorPeer>(
    env.kube,
    NS,
    'mirrorpeer/second',
    { status: 'False', reason: 'FsidMismatch' },
    60_000,
  );
  assert.equal(refused.status?.peerUUID, uuid, 'still the owner of the peer');
  assert.deepEqual(
    await cephView(),
    before,
    'FSMap, credentials (fsid inside) and claim unchanged',
  );

  await applyObjects(env.kube, [tokenSecret(goodToken)]);
  const ready = await waitForReady<MirrorPeer>(env.kube, NS, 'mirrorpeer/second', {
    status: 'True',
    reason: 'PeerAdded',
  });
  assert.equal(ready.status?.peerUUID, uuid);
  assert.deepEqual(await cephView(), before);
});

test('a peer removed by hand (with its credentials and claim) is put back under the same uuid, without any edit', async () => {
  const before = await cephView();
  const watch = watchReady('second');
  try {
    // What `ceph fs snapshot mirror peer_remove` would leave, done piecemeal behind the operator.
    await monCommand(env.a, fsMirrorPeerRemove(env.lab.sites.a.fsName, uuid));
    await monCommand(env.a, configKeyRm(peerConfigKey(env.lab.sites.a.fsName, uuid)));
    await removeMirrorInfo(fsB);
    assert.deepEqual(await fsmapPeers(), []);

    await waitFor(
      'the peer back in the FSMap',
      async () => ((await fsmapPeers()).includes(uuid) ? true : undefined),
      60_000,
    );
    const ready = await waitForReady<MirrorPeer>(env.kube, NS, 'mirrorpeer/second', {
      status: 'True',
      reason: 'PeerAdded',
    });
    assert.equal(ready.status?.peerUUID, uuid);
    // The watch delivers every state the object went through, in order.
    const seenStates = await waitFor(
      'the watch to see Ready=False PeerMissing, then Ready=True again',
      () => {
        const missingAt = watch.lines.indexOf('False PeerMissing');
        return missingAt >= 0 && watch.lines.slice(missingAt).includes('True PeerAdded')
          ? watch.lines
          : undefined;
      },
      15_000,
    ).catch((e: Error) => new Error(`${e.message} (saw ${watch.lines.join(', ')})`));
    assert.ok(Array.isArray(seenStates), String(seenStates));
  } finally {
    watch.stop();
  }
  assert.deepEqual(await cephView(), before, 'peer, credentials and claim as they were');

  const [drift] = await eventsOf('second', 'DriftCorrected');
  assert.equal(drift?.type, 'Warning');
  assert.match(drift?.message ?? '', new RegExp(`\\(${uuid}\\) was missing from the FSMap`));
  assert.match(drift?.message ?? '', /credentials .* were missing: restored/);
  assert.match(drift?.message ?? '', /ceph\.mirror\.info claim .* was missing: restored/);

  const port = await operatorHttpPort(operator);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const what of ['peer', 'credentials', 'claim']) {
    const line = metrics
      .split('\n')
      .find((l) =>
        l.startsWith(`cephfs_mirror_drift_corrections_total{kind="MirrorPeer",what="${what}"}`),
      );
    assert.ok(line && Number(line.split(' ').at(-1)) >= 1, `a correction of ${what} counted`);
  }
});

test('credentials removed by hand alone are restored, the peer left as it is', async () => {
  const before = await cephView();
  await monCommand(env.a, configKeyRm(peerConfigKey(env.lab.sites.a.fsName, uuid)));
  await waitFor(
    'the credentials back',
    async () => ((await storedCredentials(uuid)) !== undefined ? true : undefined),
    60_000,
  );
  assert.deepEqual(await cephView(), before);
  const drifts = await eventsOf('second', 'DriftCorrected');
  assert.ok(
    drifts.some((e) =>
      /^peer .* \(.*\): its credentials .* were missing: restored/.test(e.message ?? ''),
    ),
    'a DriftCorrected Event for the credentials alone',
  );
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
