// watches.ts: what each reconciler watches and the keys an event maps to, over the in-memory API
// server's caches (test/support/fake-kube.ts).
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { TypedCache } from '../../../src/controllers/context.js';
import {
  WatchState,
  controllerWatches,
  dependentsOfMirror,
  referencedSecrets,
  type Caches,
  type ControllerKind,
  type ControllerWatches,
} from '../../../src/controllers/watches.js';
import {
  KINDS,
  type CephFSMirror,
  type MirroredDirectory,
  type MirrorPeer,
} from '../../../src/api/resources.js';
import { FakeKube } from '../../support/fake-kube.js';

const NS = 'ns';
const API_VERSION = 'mirror.cephfs.io/v1alpha1';

function mirror(name: string, generation = 1, token?: string): CephFSMirror {
  return {
    apiVersion: API_VERSION,
    kind: 'CephFSMirror',
    metadata: { name, namespace: NS, generation },
    spec: {
      cluster: { secretRef: { name: `${name}-conn` } },
      filesystem: 'cephfs',
      ...(token ? { bootstrapTokenSecret: { name: token } } : {}),
    },
  };
}

function peer(name: string, mirrorName: string, secret: string, ns = NS): MirrorPeer {
  return {
    apiVersion: API_VERSION,
    kind: 'MirrorPeer',
    metadata: { name, namespace: ns, generation: 1 },
    spec: { mirrorRef: { name: mirrorName }, bootstrapTokenSecretRef: { name: secret } },
  };
}

function directory(name: string, mirrorName: string, generation = 1): MirroredDirectory {
  return {
    apiVersion: API_VERSION,
    kind: 'MirroredDirectory',
    metadata: { name, namespace: NS, generation },
    spec: { mirrorRef: { name: mirrorName }, path: `/${name}` },
  };
}

function setup(): {
  kube: FakeKube;
  caches: Caches;
  state: WatchState;
  of: (kind: ControllerKind) => ControllerWatches;
} {
  const kube = new FakeKube();
  const caches: Caches = {
    mirrors: new TypedCache<CephFSMirror>(kube.watch(KINDS.mirror.plural).asCachedWatch()),
    peers: new TypedCache<MirrorPeer>(kube.watch(KINDS.peer.plural).asCachedWatch()),
    directories: new TypedCache<MirroredDirectory>(
      kube.watch(KINDS.directory.plural).asCachedWatch(),
    ),
  };
  const state = new WatchState();
  const declared = controllerWatches(caches, state);
  const of = (kind: ControllerKind): ControllerWatches => {
    const w = declared.find((d) => d.kind === kind);
    assert.ok(w, `no watches declared for ${kind}`);
    return w;
  };
  return { kube, caches, state, of };
}

describe('watches: declarations and map functions', () => {
  it('declares one entry per reconciler, each watching its own kind', () => {
    const { of } = setup();
    assert.ok(of('mirror').mirrors);
    assert.ok(of('peer').peers);
    assert.ok(of('directory').directories);
    // Secrets are named by mirrors and peers only.
    assert.ok(of('mirror').secrets);
    assert.ok(of('peer').secrets);
    assert.equal(of('directory').secrets, undefined);
  });

  it('a mirror event: itself; its dependents on add and delete only; other mirrors on a claim change', async () => {
    const { kube, of } = setup();
    await kube.create(KINDS.mirror, mirror('m'));
    await kube.create(KINDS.mirror, mirror('other'));
    await kube.create(KINDS.peer, peer('p', 'm', 'tok'));
    await kube.create(KINDS.peer, peer('q', 'other', 'tok'));
    await kube.create(KINDS.directory, directory('a', 'm'));
    const m = mirror('m');
    assert.deepEqual(of('mirror').mirrors?.(m, 'add'), ['ns/m', 'ns/other']);
    // Same generation: a status write of our own; the other mirrors need not decide again.
    assert.deepEqual(of('mirror').mirrors?.(m, 'update'), ['ns/m']);
    assert.deepEqual(of('mirror').mirrors?.(mirror('m', 2), 'update'), ['ns/m', 'ns/other']);
    assert.deepEqual(of('peer').mirrors?.(m, 'add'), ['ns/p']);
    assert.deepEqual(of('peer').mirrors?.(m, 'update'), []);
    assert.deepEqual(of('directory').mirrors?.(m, 'delete'), ['ns/a']);
    assert.deepEqual(of('directory').mirrors?.(m, 'update'), []);
  });

  it('a directory event: itself on a spec change only, with the siblings refused because of another', () => {
    const { state, of } = setup();
    const map = of('directory').directories;
    assert.ok(map);
    const refused: MirroredDirectory = {
      ...directory('dup', 'm'),
      status: {
        conditions: [
          {
            type: 'Invalid',
            status: 'True',
            reason: 'DuplicatePath',
            message: 'x',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    };
    state.observeDirectory(refused, 'add');
    assert.deepEqual(map(directory('a', 'm'), 'add'), ['ns/a', 'ns/dup']);
    // The same generation again: our own status or finalizer write.
    assert.deepEqual(map(directory('a', 'm'), 'update'), []);
    assert.deepEqual(map(directory('a', 'm', 2), 'update'), ['ns/a', 'ns/dup']);
    // The refused one itself changing does not enqueue itself twice.
    assert.deepEqual(map(refused, 'add'), ['ns/dup']);
    // Once no longer refused, it is not retried for the others.
    state.observeDirectory(directory('dup', 'm', 2), 'update');
    assert.deepEqual(map(directory('a', 'm', 3), 'update'), ['ns/a']);
    assert.deepEqual(map(directory('a', 'm', 3), 'delete'), ['ns/a']);
  });

  it('a directory whose deletion starts is reconciled once for it, not again for its writes', () => {
    const { of } = setup();
    const map = of('directory').directories;
    assert.ok(map);
    assert.deepEqual(map(directory('a', 'm', 4), 'add'), ['ns/a']);
    const deleting = (d: MirroredDirectory): MirroredDirectory => ({
      ...d,
      metadata: { ...d.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' },
    });
    // Same generation, now marked for deletion: a change.
    assert.deepEqual(map(deleting(directory('a', 'm', 4)), 'update'), ['ns/a']);
    assert.deepEqual(
      map(deleting(directory('a', 'm', 4)), 'update'),
      [],
      'a status write after it',
    );
    // Deleted, then made again with the same name and generation: new.
    assert.deepEqual(map(deleting(directory('a', 'm', 4)), 'delete'), ['ns/a']);
    assert.deepEqual(map(directory('a', 'm', 4), 'add'), ['ns/a']);
  });

  it('a Secret: the mirrors and peers that name it, in its namespace', async () => {
    const { kube, caches, of } = setup();
    await kube.create(KINDS.mirror, mirror('m', 1, 'tok'));
    await kube.create(KINDS.peer, peer('p', 'm', 'tok'));
    await kube.create(KINDS.peer, peer('x', 'm', 'tok', 'elsewhere'));
    const tok = { namespace: NS, name: 'tok' };
    assert.deepEqual(of('mirror').secrets?.(tok, 'update'), ['ns/m']);
    assert.deepEqual(of('mirror').secrets?.({ namespace: NS, name: 'm-conn' }, 'update'), ['ns/m']);
    assert.deepEqual(of('peer').secrets?.(tok, 'update'), ['ns/p']);
    assert.deepEqual(of('peer').secrets?.({ namespace: NS, name: 'm-conn' }, 'update'), []);
    const refs = referencedSecrets(caches)
      .map((r) => `${r.namespace}/${r.name}`)
      .sort();
    assert.deepEqual(refs, ['elsewhere/tok', 'ns/m-conn', 'ns/tok']);
  });

  it('dependentsOfMirror: the peers and directories naming it, in its namespace', async () => {
    const { kube, caches } = setup();
    await kube.create(KINDS.peer, peer('p', 'm', 'tok'));
    await kube.create(KINDS.peer, peer('x', 'm', 'tok', 'elsewhere'));
    await kube.create(KINDS.directory, directory('a', 'm'));
    await kube.create(KINDS.directory, directory('b', 'other'));
    assert.deepEqual(dependentsOfMirror(caches, 'ns/m'), { peer: ['ns/p'], directory: ['ns/a'] });
    assert.deepEqual(dependentsOfMirror(caches, 'ns/none'), { peer: [], directory: [] });
  });
});
