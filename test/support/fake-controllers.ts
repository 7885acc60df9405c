// The three reconcilers wired as the manager wires them (src/controllers/manager.ts), but over
// the in-memory API server (fake-kube.ts) and the in-memory Ceph (fake-ceph.ts): real
// reconcilers, MirrorRuntimes, object writes, events and status helpers; no network, no timers
// of their own (the work queue is the test: it calls reconcile and reads what was enqueued).
import type { V1Secret } from '@kubernetes/client-node';
import { TypedCache, type ControllerContext } from '../../src/controllers/context.js';
import { declaredPathOf } from '../../src/controllers/directory-claims.js';
import { DirectoryReconciler } from '../../src/controllers/directory-reconciler.js';
import { FilesystemIdentities } from '../../src/controllers/filesystem-identities.js';
import { MirrorReconciler } from '../../src/controllers/mirror-reconciler.js';
import { MirrorRuntimes } from '../../src/controllers/mirror-runtimes.js';
import { PeerReconciler } from '../../src/controllers/peer-reconciler.js';
import { EventRecorder } from '../../src/kube/events.js';
import { SecretReader } from '../../src/kube/secret-reader.js';
import { silentLogger } from '../../src/log.js';
import { OperatorMetrics } from '../../src/metrics.js';
import { settle } from '../../src/reconcile/testing.js';
import {
  KINDS,
  objectKey,
  type CephFSMirror,
  type CephFSMirrorSpec,
  type MirroredDirectory,
  type MirrorPeer,
  type MirrorPeerSpec,
} from '../../src/api/resources.js';
import type { Condition } from '../../src/api/conditions.js';
import { FakeCeph, type FakeCluster } from './fake-ceph.js';
import { FakeKube } from './fake-kube.js';

export const NS = 'site-a';
export const API_VERSION = 'mirror.cephfs.io/v1alpha1';

export interface Enqueued {
  mirror: string[];
  peer: string[];
  directory: string[];
}

export class ControllerHarness {
  readonly kube = new FakeKube();
  readonly ceph = new FakeCeph();
  readonly api = this.kube.api();
  readonly runtimes: MirrorRuntimes;
  readonly ctx: ControllerContext;
  readonly mirrors: MirrorReconciler;
  readonly peers: PeerReconciler;
  readonly directories: DirectoryReconciler;
  readonly enqueued: Enqueued = { mirror: [], peer: [], directory: [] };
  readonly cluster: FakeCluster;

  constructor() {
    const log = silentLogger();
    this.cluster = this.ceph.addCluster('a7f64266-0894-4f1e-a635-d0aeca0e993a', '10.0.0.1:3300');
    this.cluster.addFilesystem('cephfs');
    this.runtimes = new MirrorRuntimes(log, this.ceph.runtimeOptions());
    const directories = new TypedCache<MirroredDirectory>(
      this.kube.watch(KINDS.directory.plural).asCachedWatch(),
    );
    this.ctx = {
      api: this.api,
      mirrors: new TypedCache<CephFSMirror>(this.kube.watch(KINDS.mirror.plural).asCachedWatch()),
      peers: new TypedCache<MirrorPeer>(this.kube.watch(KINDS.peer.plural).asCachedWatch()),
      directories,
      // Read by name as the manager does; always re-read (freshMs 0) so an edit is seen at once.
      secrets: new SecretReader((ns, name) => this.api.getSecret(ns, name), log, { freshMs: 0 }),
      runtimes: this.runtimes,
      events: new EventRecorder(this.api, log, 'test'),
      log,
      metrics: new OperatorMetrics(),
      enqueue: {
        mirror: (key) => void this.enqueued.mirror.push(key),
        peer: (key) => void this.enqueued.peer.push(key),
        directory: (key) => void this.enqueued.directory.push(key),
      },
      // The manager keeps an index (of declaredPathOf); a scan gives the same answer here.
      declaredBy: (mirrorKey, path) =>
        directories
          .list()
          .filter((d) => {
            const i = mirrorKey.indexOf('/');
            if (d.metadata.namespace !== mirrorKey.slice(0, i)) return false;
            if (d.spec.mirrorRef?.name !== mirrorKey.slice(i + 1)) return false;
            return declaredPathOf(d) === path;
          })
          .map((d) => objectKey(d.metadata)),
    };
    this.runtimes.onDirectoryChanged((mirrorKey, path) => {
      for (const key of this.ctx.declaredBy(mirrorKey, path)) this.enqueued.directory.push(key);
    });
    this.mirrors = new MirrorReconciler(this.ctx, new FilesystemIdentities(this.ceph.resolver()));
    this.peers = new PeerReconciler(this.ctx);
    this.directories = new DirectoryReconciler(this.ctx);
  }

  // ---- objects ----------------------------------------------------------------------------------

  async secret(name: string, data: Record<string, string>, namespace = NS): Promise<void> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace },
      data: Object.fromEntries(
        Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
    };
    await this.kube.create('secrets', body);
  }

  /** The Secret the default cluster accepts. */
  clusterSecret(name = 'ceph-a'): Promise<void> {
    return this.secret(name, {
      mon_host: this.cluster.monHost,
      key: this.cluster.key,
      client_id: this.cluster.clientId,
    });
  }

  async mirror(name: string, spec: Partial<CephFSMirrorSpec> = {}): Promise<string> {
    const body: CephFSMirror = {
      apiVersion: API_VERSION,
      kind: 'CephFSMirror',
      metadata: { name, namespace: NS },
      spec: { cluster: { secretRef: { name: 'ceph-a' } }, filesystem: 'cephfs', ...spec },
    };
    await this.kube.create(KINDS.mirror, body);
    return `${NS}/${name}`;
  }

  async directory(name: string, path: string, mirror = 'm'): Promise<string> {
    const body: MirroredDirectory = {
      apiVersion: API_VERSION,
      kind: 'MirroredDirectory',
      metadata: { name, namespace: NS },
      spec: { mirrorRef: { name: mirror }, path },
    };
    await this.kube.create(KINDS.directory, body);
    return `${NS}/${name}`;
  }

  async peer(
    name: string,
    spec: Partial<MirrorPeerSpec> & { mirrorRef?: { name: string } },
  ): Promise<string> {
    const body: MirrorPeer = {
      apiVersion: API_VERSION,
      kind: 'MirrorPeer',
      metadata: { name, namespace: NS },
      spec: { mirrorRef: { name: 'm' }, ...spec },
    };
    await this.kube.create(KINDS.peer, body);
    return `${NS}/${name}`;
  }

  getMirror(key: string): CephFSMirror | undefined {
    return this.kube.get<CephFSMirror>(KINDS.mirror, NS, key.slice(key.indexOf('/') + 1));
  }

  getDirectory(key: string): MirroredDirectory | undefined {
    return this.kube.get<MirroredDirectory>(KINDS.directory, NS, key.slice(key.indexOf('/') + 1));
  }

  getPeer(key: string): MirrorPeer | undefined {
    return this.kube.get<MirrorPeer>(KINDS.peer, NS, key.slice(key.indexOf('/') + 1));
  }

  /** Recorded Events of one object, after letting the fire-and-forget writes land. */
  async eventsOf(name: string): Promise<Array<{ reason: string; type: string; message: string }>> {
    await settle();
    return this.kube.events(NS).filter((e) => e.object === name);
  }

  /** Clears what was enqueued so far and returns it. */
  takeEnqueued(): Enqueued {
    const out = {
      mirror: [...this.enqueued.mirror],
      peer: [...this.enqueued.peer],
      directory: [...this.enqueued.directory],
    };
    this.enqueued.mirror.length = 0;
    this.enqueued.peer.length = 0;
    this.enqueued.directory.length = 0;
    return out;
  }

  /**
   * Runs one reconcile while the fake clock ticks, a second at a time, until it returns (a
   * reconcile may wait for the engine's next tick, e.g. for a purge mark to be written).
   */
  async withClock<T>(p: Promise<T>, maxSeconds = 30): Promise<T> {
    let done = false;
    const tracked = p.finally(() => {
      done = true;
    });
    for (let i = 0; i < maxSeconds && !done; i++) await this.ceph.run(1);
    return tracked;
  }

  /**
   * Reconciles each directory, with the fake clock running, until each is Ready at its current
   * generation or `rounds` passed: what a work queue does for the keys the engine's changes
   * enqueue.
   */
  async settleDirectories(keys: string[], rounds = 10): Promise<void> {
    const settled = (k: string): boolean => {
      const d = this.getDirectory(k);
      const r = ready(d?.status?.conditions);
      return r?.status === 'True' && r.observedGeneration === d?.metadata.generation;
    };
    for (let i = 0; i < rounds; i++) {
      await this.ceph.run(1);
      for (const key of keys) await this.withClock(this.directories.reconcile(key));
      if (keys.every(settled)) return;
    }
  }

  /** Reconciles a deleted directory until it is gone (or `rounds` passed). */
  async finalizeDirectory(key: string, rounds = 10): Promise<void> {
    for (let i = 0; i < rounds && this.getDirectory(key); i++) {
      await this.withClock(this.directories.reconcile(key));
      await this.ceph.run(1);
    }
  }

  async close(): Promise<void> {
    await this.runtimes.close();
  }
}

export function ready(conditions: readonly Condition[] | undefined): Condition | undefined {
  return conditions?.find((c) => c.type === 'Ready');
}

export function condition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
