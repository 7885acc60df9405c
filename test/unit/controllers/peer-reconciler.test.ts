// In-process tests of the MirrorPeer reconciler against the in-memory API server and Ceph
// (test/support/fake-*.ts): a second fake cluster is the remote site (reached through the
// MirrorRuntimes `remoteConnect` seam instead of librados + libcephfs). Spec and Secret refusals,
// duplicates, a mirror without an engine, adding a peer (FSMap entry, credentials, the claim on
// the remote root), drift repair, remote refusals, and the finalizer's paths.
import { strict as assert } from 'node:assert';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FINALIZER, KINDS, type MirrorPeerStatus } from '../../../src/api/resources.js';
import { encodeBootstrapToken } from '../../../src/ceph/bootstrap-token.js';
import { peerConfigKey } from '../../../src/ceph/mon-commands.js';
import { KubeApiError } from '../../../src/kube/kube-http.js';
import { cephxKey } from '../../support/fake-ceph.js';
import { ControllerHarness, NS, condition, ready } from '../../support/fake-controllers.js';

const REMOTE_FSID = 'c0ffee00-1111-4222-8333-444455556666';
const PEER_UUID = '0f6b6d4e-3a43-4f5c-9b43-5a4ad2f1c001';

function token(site = 'site-b'): string {
  return encodeBootstrapToken({
    fsid: REMOTE_FSID,
    filesystem: 'cephfs',
    user: 'client.mirror_remote',
    siteName: site,
    key: cephxKey('client.mirror_remote'),
    monHost: '[v2:10.0.0.2:3300/0]',
  });
}

/** The status a MirrorPeer has once it added its peer (as an earlier reconcile wrote it). */
function addedStatus(uuid = PEER_UUID): MirrorPeerStatus {
  return {
    peerUUID: uuid,
    remote: {
      fsid: REMOTE_FSID,
      clientName: 'client.mirror_remote',
      siteName: 'site-b',
      fsName: 'cephfs',
    },
  };
}

describe('PeerReconciler (in-process)', () => {
  let h: ControllerHarness;
  let mirrorKey: string;
  beforeEach(async () => {
    h = new ControllerHarness();
    await h.clusterSecret();
    await h.secret('token-b', { token: token() });
    mirrorKey = await h.mirror('m');
    await h.mirrors.reconcile(mirrorKey);
  });
  afterEach(async () => {
    await h.close();
  });

  const readyOf = (key: string) => ready(h.getPeer(key)?.status?.conditions);

  /** What an earlier reconcile left: our finalizer and the status of an added peer. */
  async function added(name: string): Promise<void> {
    await h.kube.edit<{ metadata: { finalizers?: string[] } }>(KINDS.peer, NS, name, (o) => {
      o.metadata.finalizers = [FINALIZER];
    });
    await h.kube.setStatus(KINDS.peer, NS, name, addedStatus());
  }

  it('MirrorNotFound: Ready=False, Stalled, finalizer in place', async () => {
    const p = await h.peer('p', { mirrorRef: { name: 'nope' } });
    await h.peers.reconcile(p);
    assert.equal(readyOf(p)?.reason, 'MirrorNotFound');
    assert.equal(condition(h.getPeer(p)?.status?.conditions, 'Stalled')?.status, 'True');
    assert.ok(h.getPeer(p)?.metadata.finalizers?.includes(FINALIZER));
  });

  for (const [title, setup, reason] of [
    ['no token Secret', async () => undefined, 'SecretNotFound'],
    [
      'a token Secret without the key',
      async () => h.secret('tok', { other: 'x' }),
      'SecretInvalid',
    ],
    [
      'a token that does not decode',
      async () => h.secret('tok', { token: 'not-a-token' }),
      'InvalidBootstrapToken',
    ],
  ] as const) {
    it(`${reason}: ${title}, nothing sent to Ceph`, async () => {
      await setup();
      const p = await h.peer('p', { bootstrapTokenSecretRef: { name: 'tok' } });
      const commands = h.cluster.commands.length;
      await h.peers.reconcile(p);
      assert.equal(readyOf(p)?.reason, reason);
      assert.equal(h.cluster.commands.length, commands);
      assert.ok((await h.eventsOf('p')).some((e) => e.reason === reason));
    });
  }

  it('SecretUnreadable: a token Secret the API refuses (403) is said in Ready and retried', async () => {
    h.kube.hooks.push((req) => {
      if (req.method === 'GET' && req.path.endsWith('/secrets/token-b')) {
        throw new KubeApiError(
          403,
          { kind: 'Status', message: 'forbidden', code: 403 },
          'GET',
          req.path,
        );
      }
    });
    const p = await h.peer('p', { bootstrapTokenSecretRef: { name: 'token-b' } });
    await assert.rejects(h.peers.reconcile(p), (e) => (e as KubeApiError).code === 403);
    assert.equal(readyOf(p)?.reason, 'SecretUnreadable');
  });

  it('InvalidSpec: neither a token nor a remote', async () => {
    const p = await h.peer('p', {});
    await h.peers.reconcile(p);
    assert.equal(readyOf(p)?.reason, 'InvalidSpec');
  });

  it('explicit remote: its key Secret missing or without the key', async () => {
    const remote = {
      clientName: 'client.mirror_remote',
      siteName: 'site-b',
      monHost: '10.0.0.2:3300',
      keySecretRef: { name: 'remote-key' },
    };
    const p = await h.peer('p', { remote });
    await h.peers.reconcile(p);
    assert.equal(readyOf(p)?.reason, 'SecretNotFound');
    await h.secret('remote-key', { other: 'x' });
    await h.peers.reconcile(p);
    assert.equal(readyOf(p)?.reason, 'SecretInvalid');
    assert.match(readyOf(p)?.message ?? '', /has no key/);
  });

  it('MirrorNotReady says why the mirror has no engine', async () => {
    await h.runtimes.stop(mirrorKey);
    h.cluster.mgrModules.add('mirroring');
    await h.mirrors.reconcile(mirrorKey);
    const p = await h.peer('p', { bootstrapTokenSecretRef: { name: 'token-b' } });
    assert.deepEqual(await h.peers.reconcile(p), { requeueAfterMs: 3000 });
    assert.equal(readyOf(p)?.reason, 'MirrorNotReady');
    assert.match(readyOf(p)?.message ?? '', /MgrModuleEnabled/);
  });

  it('DuplicatePeer: the younger of two MirrorPeers for one remote changes nothing', async () => {
    const first = await h.peer('first', { bootstrapTokenSecretRef: { name: 'token-b' } });
    await added('first');
    const second = await h.peer('second', { bootstrapTokenSecretRef: { name: 'token-b' } });
    const commands = h.cluster.commands.length;
    assert.deepEqual(await h.peers.reconcile(second), { requeueAfterMs: 15_000 });
    const dup = h.getPeer(second);
    assert.equal(ready(dup?.status?.conditions)?.reason, 'DuplicatePeer');
    assert.match(ready(dup?.status?.conditions)?.message ?? '', new RegExp(first));
    assert.equal(dup?.status?.peerUUID, undefined, 'the uuid is the owner’s, not recorded here');
    assert.equal(h.cluster.commands.length, commands);
  });

  describe('with a remote site', () => {
    let remoteFs: ReturnType<typeof h.cluster.fs>;
    beforeEach(() => {
      const remote = h.ceph.addCluster(REMOTE_FSID, '[v2:10.0.0.2:3300/0]');
      remoteFs = remote.addFilesystem('cephfs');
      remote.users.set('client.mirror_remote', { key: cephxKey('client.mirror_remote'), caps: {} });
    });
    const localFs = () => h.cluster.fs('cephfs');

    async function addedPeer(): Promise<{ key: string; uuid: string }> {
      const key = await h.peer('p', { bootstrapTokenSecretRef: { name: 'token-b' } });
      assert.deepEqual(await h.peers.reconcile(key), { requeueAfterMs: 10_000 });
      const uuid = h.getPeer(key)?.status?.peerUUID;
      assert.ok(uuid);
      return { key, uuid };
    }

    it('PeerAdded: FSMap entry, credentials, claim on the remote root, Ready=True', async () => {
      const d = await h.directory('d', '/a');
      h.takeEnqueued();
      const { key, uuid } = await addedPeer();
      const p = h.getPeer(key);
      assert.equal(ready(p?.status?.conditions)?.reason, 'PeerAdded');
      assert.equal(condition(p?.status?.conditions, 'MirrorInfoSet')?.reason, 'Claimed');
      assert.equal(p?.status?.remote?.fsid, REMOTE_FSID);
      assert.equal(p?.status?.remote?.fscid, remoteFs.fscid);
      assert.deepEqual(localFs().peers.get(uuid), {
        client_name: 'client.mirror_remote',
        cluster_name: 'site-b',
        fs_name: 'cephfs',
      });
      const stored = JSON.parse(
        h.cluster.configKeys.get(peerConfigKey('cephfs', uuid)) ?? '{}',
      ) as {
        mon_host?: string;
      };
      assert.equal(stored.mon_host, '[v2:10.0.0.2:3300/0]');
      assert.match(remoteFs.rootXattrs.get('ceph.mirror.info') ?? '', new RegExp(h.cluster.fsid));
      assert.ok((await h.eventsOf('p')).some((e) => e.reason === 'PeerAdded'));
      assert.deepEqual(h.takeEnqueued().directory, [d], 'directories follow the new peer');
    });

    it('a peer removed behind the operator is re-added under its uuid (PeerMissing, DriftCorrected)', async () => {
      const { key, uuid } = await addedPeer();
      localFs().peers.delete(uuid);
      h.cluster.configKeys.delete(peerConfigKey('cephfs', uuid));
      const statusWrites: string[] = [];
      h.kube.hooks.push((req) => {
        if (req.method === 'PUT' && req.path.endsWith('/mirrorpeers/p/status')) {
          const body = req.body as {
            status?: { conditions?: Array<{ type: string; reason: string }> };
          };
          statusWrites.push(body.status?.conditions?.find((c) => c.type === 'Ready')?.reason ?? '');
        }
      });
      await h.peers.reconcile(key);
      // Said before the re-add. (The PeerMissing write's new resourceVersion is not kept, so
      // the final write meets a 409 once and is retried on a fresh read: PeerAdded twice.)
      assert.equal(statusWrites[0], 'PeerMissing');
      assert.equal(statusWrites.at(-1), 'PeerAdded');
      assert.ok(localFs().peers.has(uuid));
      assert.ok(h.cluster.configKeys.has(peerConfigKey('cephfs', uuid)));
      assert.equal(h.getPeer(key)?.status?.peerUUID, uuid);
      const drift = (await h.eventsOf('p')).filter((e) => e.reason === 'DriftCorrected');
      assert.equal(drift.length, 1);
      assert.match(drift[0]?.message ?? '', /re-added with the same UUID/);
    });

    it('FsidMismatch: a token naming another cluster than the one reached changes nothing', async () => {
      await h.kube.edit<{ data?: Record<string, string> }>('secrets', NS, 'token-b', (s) => {
        const other = encodeBootstrapToken({
          fsid: 'dddddddd-1111-4222-8333-444455556666',
          filesystem: 'cephfs',
          user: 'client.mirror_remote',
          siteName: 'site-b',
          key: cephxKey('client.mirror_remote'),
          monHost: '[v2:10.0.0.2:3300/0]',
        });
        s.data = { token: Buffer.from(other).toString('base64') };
      });
      const key = await h.peer('p', { bootstrapTokenSecretRef: { name: 'token-b' } });
      assert.deepEqual(await h.peers.reconcile(key), { requeueAfterMs: 15_000 });
      assert.equal(readyOf(key)?.reason, 'FsidMismatch');
      assert.equal(localFs().peers.size, 0);
      assert.equal(remoteFs.rootXattrs.size, 0);
    });

    it('PeerClaimedByOther: a remote root claimed by another source is refused', async () => {
      remoteFs.rootXattrs.set(
        'ceph.mirror.info',
        'cluster_id=eeeeeeee-1111-4222-8333-444455556666 fs_id=7',
      );
      const key = await h.peer('p', { bootstrapTokenSecretRef: { name: 'token-b' } });
      assert.deepEqual(await h.peers.reconcile(key), { requeueAfterMs: 15_000 });
      assert.equal(readyOf(key)?.reason, 'PeerClaimedByOther');
      assert.match(readyOf(key)?.message ?? '', /eeeeeeee/);
      assert.equal(localFs().peers.size, 0);
    });

    it('RemoteSiteUnreachable: said in Ready, retried', async () => {
      const remote = h.ceph.clusters.get('[v2:10.0.0.2:3300/0]');
      assert.ok(remote);
      remote.reachable = false;
      const key = await h.peer('p', { bootstrapTokenSecretRef: { name: 'token-b' } });
      await assert.rejects(h.peers.reconcile(key));
      assert.equal(readyOf(key)?.reason, 'RemoteSiteUnreachable');
      assert.equal(localFs().peers.size, 0);
    });

    it('deletion removes the FSMap entry and credentials and lifts the claim before the finalizer goes', async () => {
      const { key, uuid } = await addedPeer();
      await h.kube.delete(KINDS.peer, NS, 'p');
      await h.peers.reconcile(key);
      assert.equal(h.getPeer(key), undefined);
      assert.equal(localFs().peers.has(uuid), false);
      assert.equal(h.cluster.configKeys.has(peerConfigKey('cephfs', uuid)), false);
      assert.equal(remoteFs.rootXattrs.has('ceph.mirror.info'), false);
      assert.ok((await h.eventsOf('p')).some((e) => e.reason === 'PeerRemoved'));
    });
  });

  describe('deletion', () => {
    it('a peer never added goes at once, without a Ceph command', async () => {
      const p = await h.peer('p', { bootstrapTokenSecretRef: { name: 'nope' } });
      await h.peers.reconcile(p);
      await h.kube.delete(KINDS.peer, NS, 'p');
      const commands = h.cluster.commands.length;
      await h.peers.reconcile(p);
      assert.equal(h.getPeer(p), undefined);
      assert.equal(h.cluster.commands.length, commands);
    });

    it('waits for the engine of its mirror when the mirror exists but runs none yet', async () => {
      const p = await h.peer('p', { bootstrapTokenSecretRef: { name: 'token-b' } });
      await added('p');
      await h.runtimes.stop(mirrorKey);
      await h.kube.delete(KINDS.peer, NS, 'p');
      assert.deepEqual(await h.peers.reconcile(p), { requeueAfterMs: 3000 });
      assert.ok(h.getPeer(p));
    });

    it('a peer of a refused mirror goes without touching the owner’s peers', async () => {
      const younger = await h.mirror('m2');
      await h.mirrors.reconcile(younger);
      const fs = h.cluster.fs('cephfs');
      fs.peers.set(PEER_UUID, {
        client_name: 'client.mirror_remote',
        cluster_name: 'site-b',
        fs_name: 'cephfs',
      });
      const p = await h.peer('p', {
        mirrorRef: { name: 'm2' },
        bootstrapTokenSecretRef: { name: 'token-b' },
      });
      await added('p');
      await h.kube.delete(KINDS.peer, NS, 'p');
      await h.peers.reconcile(p);
      assert.equal(h.getPeer(p), undefined);
      assert.ok(fs.peers.has(PEER_UUID));
    });

    it('hands the peer over to another MirrorPeer declaring it, leaving Ceph as it is', async () => {
      const first = await h.peer('first', { bootstrapTokenSecretRef: { name: 'token-b' } });
      await added('first');
      const second = await h.peer('second', { bootstrapTokenSecretRef: { name: 'token-b' } });
      h.takeEnqueued();
      const commands = h.cluster.commands.length;
      await h.kube.delete(KINDS.peer, NS, 'first');
      await h.peers.reconcile(first);
      assert.equal(h.getPeer(first), undefined);
      assert.deepEqual(h.takeEnqueued().peer, [second]);
      assert.equal(h.cluster.commands.length, commands);
      assert.ok((await h.eventsOf('first')).some((e) => e.reason === 'PeerHandedOver'));
    });

    it('a peer already gone from the FSMap: its leftover credentials go, directories re-enqueued', async () => {
      const d = await h.directory('d', '/a');
      const key = peerConfigKey('cephfs', PEER_UUID);
      h.cluster.configKeys.set(key, JSON.stringify({ mon_host: '10.0.0.2', key: 'k' }));
      const p = await h.peer('p', { bootstrapTokenSecretRef: { name: 'token-b' } });
      await added('p');
      h.takeEnqueued();
      await h.kube.delete(KINDS.peer, NS, 'p');
      await h.peers.reconcile(p);
      assert.equal(h.getPeer(p), undefined);
      assert.equal(h.cluster.configKeys.has(key), false);
      assert.ok(h.cluster.commands.includes('mon:config-key rm'));
      assert.ok((await h.eventsOf('p')).some((e) => e.reason === 'PeerRemoved'));
      assert.deepEqual(h.takeEnqueued().directory, [d]);
    });
  });
});
