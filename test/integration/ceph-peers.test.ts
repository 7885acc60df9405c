// Peers and bootstrap tokens against the real two-site lab: what addPeer/importBootstrapToken/
// listPeers/removePeer do to the FSMap, the config-key store and the remote root's
// ceph.mirror.info, and that every refused input leaves all three as they were.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { CephFS } from 'cephfs-js';
import { Rados } from 'rados-js';
import { createBootstrapToken, importBootstrapToken } from '../../src/ceph/bootstrap.js';
import { decodeBootstrapToken, encodeBootstrapToken } from '../../src/ceph/bootstrap-token.js';
import {
  getPeerCredentials,
  listPeerCredentialKeys,
  setPeerCredentials,
} from '../../src/ceph/config-key.js';
import { CephOpError } from '../../src/ceph/errors.js';
import {
  MIRROR_INFO_XATTR,
  parseMirrorInfo,
  readMirrorInfo,
  removeMirrorInfo,
  type MirrorInfo,
} from '../../src/ceph/mirror-info.js';
import { fetchFsMap, monCommand, monCommandJson } from '../../src/ceph/mon.js';
import {
  configKeyGet,
  fsMirrorDisable,
  fsMirrorEnable,
  peerConfigKey,
} from '../../src/ceph/mon-commands.js';
import { addPeer, listPeers, removePeer } from '../../src/ceph/peers.js';
import { useLab, type LabState } from '../../lab/harness/lab.js';

const PEER_USER = 'client.mirror_peers_test';
const SELF_USER = 'client.mirror_peers_self_test';
const TIMEOUT_MS = 5_000;

let lab: LabState;
let a: Rados;
let b: Rados;
/** Admin mounts on their own connections: the test's view, independent of the code's mounts. */
let viewA: CephFS;
let viewB: CephFS;
let fsA: string;
let fsB: string;
let tokenB: string;
let fscidA: number;
let fscidB: number;

before(async () => {
  lab = await useLab();
  fsA = lab.sites.a.fsName;
  fsB = lab.sites.b.fsName;
  a = await Rados.connect({ confPath: lab.sites.a.confPath, timeoutMs: 20_000 });
  b = await Rados.connect({ confPath: lab.sites.b.confPath, timeoutMs: 20_000 });
  viewA = await CephFS.mount({ confPath: lab.sites.a.confPath, fsName: fsA, timeoutMs: 20_000 });
  viewB = await CephFS.mount({ confPath: lab.sites.b.confPath, fsName: fsB, timeoutMs: 20_000 });
  fscidA = await viewA.fscid();
  fscidB = await viewB.fscid();
  tokenB = await createBootstrapToken(b, fsB, PEER_USER, 'site-b');
});

beforeEach(async () => {
  await monCommand(a, fsMirrorEnable(fsA));
});

after(async () => {
  // Leave the lab as found: no peers, no claims, mirroring off, no test users.
  if (a !== undefined) {
    const map = await fetchFsMap(a);
    const fs = map.filesystems.find((f) => f.name === fsA);
    for (const uuid of Object.keys(fs?.mirrorInfo.peers ?? {})) {
      await removePeer(a, fsA, uuid, { force: true, timeoutMs: TIMEOUT_MS });
    }
    await monCommand(a, fsMirrorDisable(fsA));
    await monCommand(a, { prefix: 'auth rm', entity: SELF_USER });
  }
  if (b !== undefined) await monCommand(b, { prefix: 'auth rm', entity: PEER_USER });
  if (viewA !== undefined) await removeMirrorInfo(viewA);
  if (viewB !== undefined) await removeMirrorInfo(viewB);
  await viewA?.close();
  await viewB?.close();
  await a?.shutdown();
  await b?.shutdown();
});

interface CephState {
  mirroring: boolean;
  peers: Record<string, unknown>;
  credentialKeys: string[];
  claimOnB: MirrorInfo | undefined;
  claimOnA: MirrorInfo | undefined;
}

async function cephState(): Promise<CephState> {
  const fs = (await fetchFsMap(a)).filesystems.find((f) => f.name === fsA);
  assert.ok(fs);
  return {
    mirroring: fs.mirrorInfo.enabled,
    peers: fs.mirrorInfo.peers,
    credentialKeys: await listPeerCredentialKeys(a),
    claimOnB: await readMirrorInfo(viewB),
    claimOnA: await readMirrorInfo(viewA),
  };
}

async function peerKey(): Promise<string> {
  const keyring = await monCommandJson<{ key: string }[]>(b, {
    prefix: 'auth get',
    entity: PEER_USER,
  });
  const key = keyring[0]?.key;
  assert.ok(key);
  return key;
}

async function rawConfigKey(uuid: string): Promise<string> {
  return (await monCommand(a, configKeyGet(peerConfigKey(fsA, uuid)))).outbuf.toString('utf8');
}

/** Checks the three effects of an added peer; returns nothing, asserts everything. */
async function assertPeerPresent(uuid: string): Promise<void> {
  const map = await fetchFsMap(a);
  const fs = map.filesystems.find((f) => f.name === fsA);
  assert.deepEqual(fs?.mirrorInfo.peers, {
    [uuid]: { clientName: PEER_USER, clusterName: 'site-b', fsName: fsB },
  });
  assert.deepEqual(await readMirrorInfo(viewB), {
    clusterId: lab.sites.a.fsid,
    fsId: fscidA,
  });
  assert.equal(
    (await viewB.getxattr('/', MIRROR_INFO_XATTR)).toString(),
    `cluster_id=${lab.sites.a.fsid} fs_id=${fscidA}`,
  );
}

async function assertPeerGone(uuid: string): Promise<void> {
  const state = await cephState();
  assert.deepEqual(state.peers, {});
  assert.deepEqual(state.credentialKeys, []);
  assert.equal(state.claimOnB, undefined);
  assert.equal(await getPeerCredentials(a, fsA, uuid), undefined);
}

test('bootstrap token: create on site-b, import on site-a, re-import, list, remove twice', async () => {
  const uuid = await importBootstrapToken(a, fsA, tokenB, { timeoutMs: TIMEOUT_MS });
  assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  await assertPeerPresent(uuid);

  // Stored as the mgr module stores an imported token: the token minus user/site/filesystem.
  const key = await peerKey();
  assert.equal(
    await rawConfigKey(uuid),
    `{"fsid": "${lab.sites.b.fsid}", "key": "${key}", "mon_host": "${lab.sites.b.monHost}"}`,
  );
  assert.deepEqual(await getPeerCredentials(a, fsA, uuid), {
    fsid: lab.sites.b.fsid,
    key,
    mon_host: lab.sites.b.monHost,
  });

  const before = await cephState();
  assert.equal(await importBootstrapToken(a, fsA, tokenB, { timeoutMs: TIMEOUT_MS }), uuid);
  assert.deepEqual(await cephState(), before);

  assert.deepEqual(await listPeers(a, fsA), {
    [uuid]: {
      client_name: PEER_USER,
      site_name: 'site-b',
      fs_name: fsB,
      mon_host: lab.sites.b.monHost,
    },
  });

  assert.equal(await removePeer(a, fsA, uuid, { timeoutMs: TIMEOUT_MS }), true);
  await assertPeerGone(uuid);
  assert.equal(await removePeer(a, fsA, uuid, { timeoutMs: TIMEOUT_MS }), false);
  await assertPeerGone(uuid);
});

test('explicit settings (no token): add, idempotent re-add, list, remove', async () => {
  const spec = `${PEER_USER}@site-b`;
  const conf = { mon_host: lab.sites.b.monHost, key: await peerKey() };
  const uuid = await addPeer(a, fsA, { spec, remoteFsName: fsB, conf, timeoutMs: TIMEOUT_MS });
  await assertPeerPresent(uuid);
  assert.equal(await rawConfigKey(uuid), `{"mon_host": "${conf.mon_host}", "key": "${conf.key}"}`);
  const before = await cephState();
  assert.equal(
    await addPeer(a, fsA, { spec, remoteFsName: fsB, conf, timeoutMs: TIMEOUT_MS }),
    uuid,
  );
  assert.deepEqual(await cephState(), before);
  assert.deepEqual(await listPeers(a, fsA), {
    [uuid]: { client_name: PEER_USER, site_name: 'site-b', fs_name: fsB, mon_host: conf.mon_host },
  });
  assert.equal(await removePeer(a, fsA, uuid), true);
  await assertPeerGone(uuid);
  assert.equal(await removePeer(a, fsA, uuid), false);
});

test('without mon_host and key: the site is found through <confDir>/<site>.conf, nothing is stored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'peers-conf-'));
  try {
    writeFileSync(join(dir, 'site-b.conf'), `[global]\nmon_host = ${lab.sites.b.monHost}\n`);
    writeFileSync(
      join(dir, `site-b.${PEER_USER}.keyring`),
      `[${PEER_USER}]\n\tkey = ${await peerKey()}\n`,
    );
    const spec = `${PEER_USER}@site-b`;
    const opts = { confDir: dir, timeoutMs: TIMEOUT_MS };
    const uuid = await addPeer(a, fsA, { spec, remoteFsName: fsB, ...opts });
    await assertPeerPresent(uuid);
    assert.deepEqual(await listPeerCredentialKeys(a), []);
    assert.deepEqual(await listPeers(a, fsA), {
      [uuid]: { client_name: PEER_USER, site_name: 'site-b', fs_name: fsB },
    });
    assert.equal(await removePeer(a, fsA, uuid, opts), true);
    await assertPeerGone(uuid);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two concurrent adds of the same peer: one peer, one uuid, one config-key', async () => {
  const [first, second] = await Promise.all([
    importBootstrapToken(a, fsA, tokenB, { timeoutMs: TIMEOUT_MS }),
    importBootstrapToken(a, fsA, tokenB, { timeoutMs: TIMEOUT_MS }),
  ]);
  assert.equal(first, second);
  await assertPeerPresent(first);
  assert.deepEqual(await listPeerCredentialKeys(a), [peerConfigKey(fsA, first)]);
  assert.equal(await removePeer(a, fsA, first), true);
  await assertPeerGone(first);
});

test('remove with an unreachable remote: refused and nothing changes; with force the peer goes', async () => {
  const uuid = await importBootstrapToken(a, fsA, tokenB, { timeoutMs: TIMEOUT_MS });
  const port = await unusedPort();
  const credentials = await getPeerCredentials(a, fsA, uuid);
  assert.ok(credentials);
  await setPeerCredentials(a, fsA, uuid, { ...credentials, mon_host: `v2:127.0.0.1:${port}` });
  await assertRefused(() => removePeer(a, fsA, uuid, { timeoutMs: 2_000 }), {
    errno: 110,
    code: 'ETIMEDOUT',
    reason: 'RemoteSiteUnreachable',
    message:
      'cannot connect to site site-b as client.mirror_peers_test: ETIMEDOUT (no answer within 2 s)',
  });
  assert.equal(await removePeer(a, fsA, uuid, { timeoutMs: 2_000, force: true }), true);
  const state = await cephState();
  assert.deepEqual(state.peers, {});
  assert.deepEqual(state.credentialKeys, []);
  // The claim stays on the unreachable remote: force says so.
  assert.deepEqual(state.claimOnB, { clusterId: lab.sites.a.fsid, fsId: fscidA });
  await removeMirrorInfo(viewB);
});

test('remove leaves a claim that is not ours on the remote', async () => {
  const uuid = await importBootstrapToken(a, fsA, tokenB, { timeoutMs: TIMEOUT_MS });
  const foreign = { clusterId: randomUUID(), fsId: 9 };
  await removeMirrorInfo(viewB);
  await viewB.setxattr('/', MIRROR_INFO_XATTR, `cluster_id=${foreign.clusterId} fs_id=9`);
  assert.equal(await removePeer(a, fsA, uuid), true);
  const state = await cephState();
  assert.deepEqual(state.peers, {});
  assert.deepEqual(state.credentialKeys, []);
  assert.deepEqual(state.claimOnB, foreign);
  await removeMirrorInfo(viewB);
});

// ---- refused inputs: the documented error, and Ceph unchanged -----------------------------------

interface Expected {
  errno: number;
  code: string;
  reason: string;
  message: string | RegExp;
}

async function assertRefused(op: () => Promise<unknown>, expected: Expected): Promise<void> {
  const before = await cephState();
  await assert.rejects(op, (e: unknown) => {
    assert.ok(e instanceof CephOpError, `expected a CephOpError, got ${String(e)}`);
    assert.equal(e.errno, expected.errno);
    assert.equal(e.code, expected.code);
    assert.equal(e.reason, expected.reason);
    if (typeof expected.message === 'string') assert.equal(e.message, expected.message);
    else assert.match(e.message, expected.message);
    return true;
  });
  assert.deepEqual(await cephState(), before);
}

function tokenWith(change: Record<string, string | undefined>): string {
  const json = JSON.parse(Buffer.from(tokenB, 'base64').toString('utf8')) as Record<string, string>;
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) Reflect.deleteProperty(json, k);
    else json[k] = v;
  }
  return Buffer.from(JSON.stringify(json)).toString('base64');
}

const EINVAL = { errno: 22, code: 'EINVAL' };

test('refused: token not base64', async () => {
  await assertRefused(() => importBootstrapToken(a, fsA, 'this is not a token!'), {
    ...EINVAL,
    reason: 'InvalidBootstrapToken',
    message: 'invalid bootstrap token: not base64',
  });
});

test('refused: token not JSON', async () => {
  const token = Buffer.from('{"fsid": oops').toString('base64');
  await assertRefused(() => importBootstrapToken(a, fsA, token), {
    ...EINVAL,
    reason: 'InvalidBootstrapToken',
    message: 'invalid bootstrap token: the decoded token is not JSON',
  });
});

test('refused: token missing a field', async () => {
  await assertRefused(() => importBootstrapToken(a, fsA, tokenWith({ key: undefined })), {
    ...EINVAL,
    reason: 'InvalidBootstrapToken',
    message: 'invalid bootstrap token: missing field "key"',
  });
});

test('refused: token fsid is not the remote cluster', async () => {
  const token = tokenWith({ fsid: randomUUID() });
  await assertRefused(() => importBootstrapToken(a, fsA, token, { timeoutMs: TIMEOUT_MS }), {
    ...EINVAL,
    reason: 'FsidMismatch',
    message: 'FSID mismatch between bootstrap token and remote cluster',
  });
});

test('refused: a peer that is this very filesystem', async () => {
  const selfToken = await createBootstrapToken(a, fsA, SELF_USER, 'site-a');
  assert.equal(decodeBootstrapToken(selfToken).fsid, lab.sites.a.fsid);
  await assertRefused(() => importBootstrapToken(a, fsA, selfToken, { timeoutMs: TIMEOUT_MS }), {
    ...EINVAL,
    reason: 'PeerIsSelf',
    message: "Source and destination cluster fsid and file-system name can't be the same",
  });
});

test('refused: the remote already mirrors into this filesystem', async () => {
  await viewA.setxattr('/', MIRROR_INFO_XATTR, `cluster_id=${lab.sites.b.fsid} fs_id=${fscidB}`);
  try {
    await assertRefused(() => importBootstrapToken(a, fsA, tokenB, { timeoutMs: TIMEOUT_MS }), {
      ...EINVAL,
      reason: 'PeerIsSource',
      message: `file system is an active peer for file system: ${fsB}`,
    });
  } finally {
    await removeMirrorInfo(viewA);
  }
});

test('refused: remote already claimed by another cluster', async () => {
  const foreign = randomUUID();
  await viewB.setxattr('/', MIRROR_INFO_XATTR, `cluster_id=${foreign} fs_id=7`);
  try {
    await assertRefused(() => importBootstrapToken(a, fsA, tokenB, { timeoutMs: TIMEOUT_MS }), {
      errno: 17,
      code: 'EEXIST',
      reason: 'PeerClaimedByOther',
      message: `peer mirrorred by: (cluster_id: ${foreign}, fs_id: 7)`,
    });
    assert.deepEqual(await readMirrorInfo(viewB), { clusterId: foreign, fsId: 7 });
  } finally {
    await removeMirrorInfo(viewB);
  }
});

test('refused: mirroring not enabled on the local filesystem', async () => {
  await monCommand(a, fsMirrorDisable(fsA));
  await assertRefused(() => importBootstrapToken(a, fsA, tokenB, { timeoutMs: TIMEOUT_MS }), {
    ...EINVAL,
    reason: 'MirroringNotEnabled',
    message: `filesystem ${fsA} is not mirrored`,
  });
  await assert.rejects(() => listPeers(a, fsA), { code: 'EINVAL', reason: 'MirroringNotEnabled' });
  await assert.rejects(() => removePeer(a, fsA, randomUUID()), {
    code: 'EINVAL',
    reason: 'MirroringNotEnabled',
  });
});

test('refused: a spec without client.', async () => {
  const conf = { mon_host: lab.sites.b.monHost, key: await peerKey() };
  await assertRefused(() => addPeer(a, fsA, { spec: 'mirror@site-b', remoteFsName: fsB, conf }), {
    ...EINVAL,
    reason: 'InvalidPeerSpec',
    message: 'invalid cluster spec mirror@site-b',
  });
});

test('refused: a remote filesystem that does not exist', async () => {
  const token = encodeBootstrapToken({ ...decodeBootstrapToken(tokenB), filesystem: 'nosuchfs' });
  await assertRefused(() => importBootstrapToken(a, fsA, token, { timeoutMs: TIMEOUT_MS }), {
    errno: 2,
    code: 'ENOENT',
    reason: 'RemoteFilesystemNotFound',
    message: 'filesystem nosuchfs does not exist on site site-b',
  });
});

test('refused: unreachable remote, within the bound', async () => {
  const port = await unusedPort();
  const token = tokenWith({ mon_host: `[v2:127.0.0.1:${port},v1:127.0.0.1:${port + 1}]` });
  const started = Date.now();
  await assertRefused(() => importBootstrapToken(a, fsA, token, { timeoutMs: 3_000 }), {
    errno: 110,
    code: 'ETIMEDOUT',
    reason: 'RemoteSiteUnreachable',
    message:
      'cannot connect to site site-b as client.mirror_peers_test: ETIMEDOUT (no answer within 3 s)',
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 3_000 + 4_000, `took ${elapsed} ms`);
});

test('no error message carries the key', async () => {
  const key = decodeBootstrapToken(tokenB).key;
  const port = await unusedPort();
  const attempts = [
    () => importBootstrapToken(a, fsA, tokenWith({ fsid: randomUUID() }), { timeoutMs: 3_000 }),
    () =>
      importBootstrapToken(a, fsA, tokenWith({ mon_host: `v2:127.0.0.1:${port}` }), {
        timeoutMs: 3_000,
      }),
    () => addPeer(a, fsA, { spec: 'bad', conf: { mon_host: lab.sites.b.monHost, key } }),
  ];
  for (const attempt of attempts) {
    await assert.rejects(attempt, (e: unknown) => {
      assert.ok(e instanceof CephOpError);
      // The whole chain: messages, stacks and own properties of every cause.
      for (let c: unknown = e; c instanceof Error; c = c.cause) {
        assert.ok(!String(c.stack).includes(key), `key in ${c.name}`);
        assert.ok(!JSON.stringify(c).includes(key), `key in ${c.name} properties`);
      }
      return true;
    });
  }
});

test('ceph.mirror.info values: parsed as strictly as the mgr module', () => {
  const id = '0f4c1c0e-5a38-4d5e-9a52-7d3c1b0e2f11';
  assert.deepEqual(parseMirrorInfo(`cluster_id=${id} fs_id=12`), { clusterId: id, fsId: 12 });
  // Python's `$` matches before one final newline.
  assert.deepEqual(parseMirrorInfo(`cluster_id=${id} fs_id=3\n`), { clusterId: id, fsId: 3 });
  for (const bad of [
    `cluster_id=${id.toUpperCase()} fs_id=1`,
    `cluster_id=${id}  fs_id=1`,
    `cluster_id=${id} fs_id=-1`,
    `cluster_id=${id} fs_id=`,
    `cluster_id=${id} fs_id=1 `,
    `fs_id=1 cluster_id=${id}`,
    ` cluster_id=${id} fs_id=1`,
    `cluster_id=${id} fs_id=1\n\n`,
    '',
  ]) {
    assert.throws(() => parseMirrorInfo(bad), {
      code: 'EINVAL',
      reason: 'InvalidMirrorInfo',
      message: 'invalid ceph.mirror.info value format',
    });
  }
});

async function unusedPort(): Promise<number> {
  // A port that was free a moment ago, and the next one: nothing listens on either.
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port > 0 && port < 65535) return port;
  }
}
