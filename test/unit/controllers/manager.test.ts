// The manager in-process: its real informers, work queues and KubeHttp client against the
// in-memory API server served over HTTPS (test/support/fake-kube-server.ts). What it checks is
// the manager's dependents mapping: which objects reconcile again when another one changes. The
// objects here never reach Ceph (no mirror gets a usable Secret), so the effects are read from
// each object's Ready reason and from the reconcile counts per kind.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import {
  KINDS,
  type CephFSMirror,
  type MirroredDirectory,
  type MirrorPeer,
} from '../../../src/api/resources.js';
import { Manager } from '../../../src/controllers/manager.js';
import { silentLogger } from '../../../src/log.js';
import { OperatorMetrics } from '../../../src/metrics.js';
import { FakeKubeServer } from '../../support/fake-kube-server.js';

const NS = 'mgr';
const API_VERSION = 'mirror.cephfs.io/v1alpha1';

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Manager dependents mapping (in-process, real informers over HTTPS)', () => {
  const server = new FakeKubeServer();
  const kube = server.kube;
  const metrics = new OperatorMetrics();
  let manager: Manager;

  const readyReason = (
    kind: typeof KINDS.mirror | typeof KINDS.peer | typeof KINDS.directory,
    name: string,
  ) =>
    kube
      .get<CephFSMirror | MirrorPeer | MirroredDirectory>(kind, NS, name)
      ?.status?.conditions?.find((c) => c.type === 'Ready')?.reason;

  /** How many reconciles of `kind` (CephFSMirror, MirrorPeer, MirroredDirectory) ran so far. */
  async function reconciles(kind: string): Promise<number> {
    const m = await metrics.reconcileDuration.get();
    return (
      m.values.find((v) => v.metricName?.endsWith('_count') && v.labels.kind === kind)?.value ?? 0
    );
  }

  /** The reconcile count of `kind` once it has not moved for 300 ms (the queue is idle). */
  async function settled(kind: string): Promise<number> {
    let last = -1;
    for (;;) {
      const now = await reconciles(kind);
      if (now === last) return now;
      last = now;
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async function secret(name: string, data: Record<string, string>): Promise<void> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: NS },
      data: Object.fromEntries(
        Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
    };
    await kube.create('secrets', body);
  }

  before(async () => {
    await server.start();
    manager = new Manager({
      kc: server.kubeConfig(),
      log: silentLogger(),
      metrics,
      secretResyncMs: 100,
    });
    await manager.start(() => undefined);
  });

  after(async () => {
    await manager.stop();
    await server.stop();
  });

  it('a directory and a peer waiting for their mirror reconcile again when it is created', async () => {
    await kube.create(KINDS.directory, {
      apiVersion: API_VERSION,
      kind: 'MirroredDirectory',
      metadata: { name: 'd', namespace: NS },
      spec: { mirrorRef: { name: 'm' }, path: '/a' },
    } satisfies MirroredDirectory);
    await kube.create(KINDS.peer, {
      apiVersion: API_VERSION,
      kind: 'MirrorPeer',
      metadata: { name: 'p', namespace: NS },
      spec: { mirrorRef: { name: 'm' }, bootstrapTokenSecretRef: { name: 'tok' } },
    } satisfies MirrorPeer);
    await until('MirrorNotFound', () => readyReason(KINDS.directory, 'd') === 'MirrorNotFound');
    await until('peer MirrorNotFound', () => readyReason(KINDS.peer, 'p') === 'MirrorNotFound');
    // Neither requeues itself on MirrorNotFound: only the mirror's arrival brings them back.
    await kube.create(KINDS.mirror, {
      apiVersion: API_VERSION,
      kind: 'CephFSMirror',
      metadata: { name: 'm', namespace: NS },
      spec: { cluster: { secretRef: { name: 'ceph' } }, filesystem: 'cephfs' },
    } satisfies CephFSMirror);
    await until('mirror SecretNotFound', () => readyReason(KINDS.mirror, 'm') === 'SecretNotFound');
    await until(
      'directory MirrorNotReady',
      () => readyReason(KINDS.directory, 'd') === 'MirrorNotReady',
    );
    await until('peer SecretNotFound', () => readyReason(KINDS.peer, 'p') === 'SecretNotFound');
  });

  it('a Secret that appears reaches the mirror and the peer naming it, and only them', async () => {
    const mirrorsBefore = await settled('CephFSMirror');
    const peersBefore = await settled('MirrorPeer');
    await secret('unrelated', { x: 'y' });
    // Several resync periods: an unrelated Secret enqueues nobody.
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await reconciles('CephFSMirror'), mirrorsBefore);
    assert.equal(await reconciles('MirrorPeer'), peersBefore);
    await secret('ceph', { mon_host: '10.0.0.1' });
    await until('mirror SecretInvalid', () => readyReason(KINDS.mirror, 'm') === 'SecretInvalid');
    await secret('tok', { token: 'not-a-token' });
    await until(
      'peer InvalidBootstrapToken',
      () => readyReason(KINDS.peer, 'p') === 'InvalidBootstrapToken',
    );
  });

  it('status-only and label updates of a directory do not enqueue it; a spec change does', async () => {
    // MirrorNotFound does not requeue itself: any later reconcile comes from the manager.
    await kube.create(KINDS.directory, {
      apiVersion: API_VERSION,
      kind: 'MirroredDirectory',
      metadata: { name: 'lonely', namespace: NS },
      spec: { mirrorRef: { name: 'none' }, path: '/a' },
    } satisfies MirroredDirectory);
    await until(
      'MirrorNotFound',
      () => readyReason(KINDS.directory, 'lonely') === 'MirrorNotFound',
    );
    const directoryGeneration = (): number | undefined =>
      kube.get<MirroredDirectory>(KINDS.directory, NS, 'lonely')?.status?.observedGeneration;
    const before = await settled('MirroredDirectory');
    const d = kube.get<MirroredDirectory>(KINDS.directory, NS, 'lonely');
    assert.ok(d);
    await kube.setStatus(KINDS.directory, NS, 'lonely', { ...d.status, state: 'Unassociated' });
    await kube.edit<MirroredDirectory>(KINDS.directory, NS, 'lonely', (o) => {
      o.metadata.labels = { only: 'a-label' };
    });
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await reconciles('MirroredDirectory'), before);
    await kube.edit<MirroredDirectory>(KINDS.directory, NS, 'lonely', (o) => {
      o.spec.path = '/b';
    });
    await until('a spec change reconciles', () => directoryGeneration() === 2);
  });
});
