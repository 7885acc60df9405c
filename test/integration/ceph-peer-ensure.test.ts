// ensurePeer against the real two-site lab: the operator's level-based peer convergence. A first
// add, a pass that finds everything in place (and changes nothing), a wrong fsid for an existing
// peer (refused, nothing changed), and the peer, its credentials and its claim removed behind its
// back (put back, the peer under its recorded uuid), and a peer re-added by hand (adopted).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CephFS } from 'cephfs-js';
import { Rados } from 'rados-js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import { decodeBootstrapToken } from '../../src/ceph/bootstrap-token.js';
import { listPeerCredentialKeys } from '../../src/ceph/config-key.js';
import { readMirrorInfo, removeMirrorInfo, type MirrorInfo } from '../../src/ceph/mirror-info.js';
import { fetchFsMap, monCommand } from '../../src/ceph/mon.js';
import {
  configKeyGet,
  configKeyRm,
  fsMirrorDisable,
  fsMirrorEnable,
  fsMirrorPeerAdd,
  fsMirrorPeerRemove,
  peerConfigKey,
} from '../../src/ceph/mon-commands.js';
import { ensurePeer, removePeer, type EnsurePeerOptions } from '../../src/ceph/peers.js';
import { useLab, type LabState } from '../../lab/harness/lab.js';

const PEER_USER = 'client.mirror_peer_ensure_test';
const TIMEOUT_MS = 5_000;

let lab: LabState;
let a: Rados;
let b: Rados;
let viewB: CephFS;
let fsA: string;
let fsB: string;
let options: EnsurePeerOptions;
let uuid: string;

before(async () => {
  lab = await useLab();
  fsA = lab.sites.a.fsName;
  fsB = lab.sites.b.fsName;
  a = await Rados.connect({ confPath: lab.sites.a.confPath, timeoutMs: 20_000 });
  b = await Rados.connect({ confPath: lab.sites.b.confPath, timeoutMs: 20_000 });
  viewB = await CephFS.mount({ confPath: lab.sites.b.confPath, fsName: fsB, timeoutMs: 20_000 });
  const t = decodeBootstrapToken(await createBootstrapToken(b, fsB, PEER_USER, 'site-b'));
  options = {
    spec: `${t.user}@${t.siteName}`,
    remoteFsName: t.filesystem,
    conf: { fsid: t.fsid, key: t.key, mon_host: t.monHost },
    verifyRemote: true,
    timeoutMs: TIMEOUT_MS,
  };
  await monCommand(a, fsMirrorEnable(fsA));
});

after(async () => {
  if (a !== undefined) {
    const fs = (await fetchFsMap(a)).filesystems.find((f) => f.name === fsA);
    for (const u of Object.keys(fs?.mirrorInfo.peers ?? {})) {
      await removePeer(a, fsA, u, { force: true, timeoutMs: TIMEOUT_MS });
    }
    for (const k of await listPeerCredentialKeys(a, fsA)) await monCommand(a, configKeyRm(k));
    await monCommand(a, fsMirrorDisable(fsA));
  }
  if (b !== undefined) await monCommand(b, { prefix: 'auth rm', entity: PEER_USER });
  if (viewB !== undefined) await removeMirrorInfo(viewB);
  await viewB?.close();
  await a?.shutdown();
  await b?.shutdown();
});

interface Seen {
  peers: string[];
  credentials: string | undefined;
  claim: MirrorInfo | undefined;
}

async function seen(peerUuid: string): Promise<Seen> {
  const fs = (await fetchFsMap(a)).filesystems.find((f) => f.name === fsA);
  let credentials: string | undefined;
  try {
    credentials = (await monCommand(a, configKeyGet(peerConfigKey(fsA, peerUuid)))).outbuf.toString(
      'utf8',
    );
  } catch {
    credentials = undefined;
  }
  return {
    peers: Object.keys(fs?.mirrorInfo.peers ?? {}),
    credentials,
    claim: await readMirrorInfo(viewB),
  };
}

test('a first pass adds the peer; a second finds it in place and changes nothing', async () => {
  const first = await ensurePeer(a, fsA, options);
  uuid = first.uuid;
  assert.equal(first.found, 'absent');
  assert.deepEqual(first.restored, []);
  assert.deepEqual(first.remote, { fsid: lab.sites.b.fsid, fscid: first.remote?.fscid });
  const state = await seen(uuid);
  assert.deepEqual(state.peers, [uuid]);
  assert.ok(state.credentials);
  assert.equal(state.claim?.clusterId, lab.sites.a.fsid);

  const again = await ensurePeer(a, fsA, { ...options, uuid, verifyRemote: false });
  assert.deepEqual(
    { ...again, fsmapEpoch: 0 },
    { uuid, found: 'present', fsmapEpoch: 0, restored: [], credentialsUpdated: false },
    'no remote contact, nothing restored',
  );
  const checked = await ensurePeer(a, fsA, { ...options, uuid });
  assert.equal(checked.remote?.fsid, lab.sites.b.fsid);
  assert.deepEqual(checked.restored, []);
  assert.deepEqual(await seen(uuid), state);
});

test('a wrong fsid for the existing peer is FsidMismatch and changes nothing, even unasked to verify', async () => {
  const state = await seen(uuid);
  await assert.rejects(
    ensurePeer(a, fsA, {
      ...options,
      uuid,
      verifyRemote: false,
      conf: { ...options.conf, fsid: randomUUID() },
    }),
    { reason: 'FsidMismatch' },
  );
  assert.deepEqual(await seen(uuid), state);
});

test('peer, credentials and claim removed behind its back: put back, the peer under its uuid', async () => {
  const state = await seen(uuid);
  await monCommand(a, fsMirrorPeerRemove(fsA, uuid));
  await monCommand(a, configKeyRm(peerConfigKey(fsA, uuid)));
  await removeMirrorInfo(viewB);
  const missing: string[] = [];
  const result = await ensurePeer(a, fsA, {
    ...options,
    uuid,
    verifyRemote: false,
    onMissing: async (u) => {
      // Called before anything is put back.
      assert.deepEqual((await seen(u)).peers, []);
      missing.push(u);
    },
  });
  assert.deepEqual(missing, [uuid]);
  assert.equal(result.uuid, uuid);
  assert.equal(result.found, 'missing');
  assert.deepEqual(result.restored, ['peer', 'credentials', 'claim']);
  assert.deepEqual(await seen(uuid), state);
});

test('credentials alone, then the claim alone, are restored', async () => {
  const state = await seen(uuid);
  await monCommand(a, configKeyRm(peerConfigKey(fsA, uuid)));
  const creds = await ensurePeer(a, fsA, { ...options, uuid, verifyRemote: false });
  assert.deepEqual([creds.found, creds.restored], ['present', ['credentials']]);
  assert.deepEqual(await seen(uuid), state);

  await removeMirrorInfo(viewB);
  const unverified = await ensurePeer(a, fsA, { ...options, uuid, verifyRemote: false });
  assert.deepEqual(unverified.restored, [], 'the claim is only seen when the remote is checked');
  const claim = await ensurePeer(a, fsA, { ...options, uuid });
  assert.deepEqual([claim.found, claim.restored], ['present', ['claim']]);
  assert.deepEqual(await seen(uuid), state);
});

test('a peer re-added by hand under a new uuid is adopted (moved)', async () => {
  await monCommand(a, fsMirrorPeerRemove(fsA, uuid));
  const other = randomUUID();
  await monCommand(
    a,
    fsMirrorPeerAdd({
      fsName: fsA,
      uuid: other,
      remoteClusterSpec: options.spec,
      remoteFsName: fsB,
    }),
  );
  const result = await ensurePeer(a, fsA, { ...options, uuid, verifyRemote: false });
  assert.deepEqual([result.found, result.uuid, result.restored], ['moved', other, ['credentials']]);
  assert.deepEqual((await seen(other)).peers, [other]);
  await monCommand(a, configKeyRm(peerConfigKey(fsA, uuid)));
  uuid = other;
});
