// The Argo CD health check (deploy/argocd/health.lua) run by Lua 5.1 on statuses built by the
// operator's own status code (status helpers + the kstatus derivation writeStatus applies), and
// the argocd-cm snippet that ships it for each kind. The e2e counterpart feeds it real objects
// from the lab (test/e2e/gitops-health.test.ts).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { setCondition, type Condition } from '../../../src/api/conditions.js';
import { withKstatus } from '../../../src/kube/kstatus.js';
import { notReadyStatus, readyCondition } from '../../../src/controllers/status-helpers.js';
import { ARGOCD_CM, HEALTH_LUA, argocdCm, healthKey } from '../../../scripts/argocd-cm.js';
import { argoHealth } from '../../support/argocd-health.js';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; generation?: number; deletionTimestamp?: string };
  status?: { observedGeneration?: number; conditions?: Condition[]; [k: string]: unknown };
}

function object(kind: string, generation = 1, status?: Obj['status']): Obj {
  return {
    apiVersion: 'mirror.cephfs.io/v1alpha1',
    kind,
    metadata: { name: 'x', namespace: 'ns', generation },
    ...(status ? { status } : {}),
  };
}

/** The status writeStatus would store for Ready=<ready> with this reason and message. */
function written(obj: Obj, ready: boolean, reason: string, message: string): Obj {
  const generation = obj.metadata.generation;
  const status = ready
    ? {
        ...obj.status,
        observedGeneration: generation,
        conditions: readyCondition(obj.status?.conditions, generation, true, reason, message),
      }
    : notReadyStatus(obj, { reason, message });
  return { ...obj, status: withKstatus(status) };
}

test('no status yet, or a generation not yet observed: Progressing', async () => {
  assert.deepEqual(await argoHealth(object('CephFSMirror')), {
    status: 'Progressing',
    message: 'waiting for the operator to report a status',
  });
  const seen = written(object('MirrorPeer', 1), true, 'PeerAdded', 'mirroring to client.m@b');
  assert.equal((await argoHealth(seen)).status, 'Healthy');
  const edited = { ...seen, metadata: { ...seen.metadata, generation: 2 } };
  assert.deepEqual(await argoHealth(edited), {
    status: 'Progressing',
    message: 'waiting for the operator to observe generation 2',
  });
});

test('Ready=True: Healthy with the Ready message', async () => {
  const d = written(
    object('MirroredDirectory', 4),
    true,
    'Mirrored',
    'mirrored by cephfs-mirror instance 4242',
  );
  assert.deepEqual(await argoHealth(d), {
    status: 'Healthy',
    message: 'Mirrored: mirrored by cephfs-mirror instance 4242',
  });
});

test('a CephFSMirror that is Ready but Degraded=True (no live daemon): Degraded', async () => {
  const m = written(
    object('CephFSMirror'),
    true,
    'MirroringEnabled',
    'mirroring a with 0 daemon(s)',
  );
  const conditions = setCondition(m.status?.conditions, {
    type: 'Degraded',
    status: 'True',
    reason: 'NoMirrorDaemons',
    message: '3 directories stalled: no mirror daemons running',
  });
  assert.deepEqual(await argoHealth({ ...m, status: { ...m.status, conditions } }), {
    status: 'Degraded',
    message: 'NoMirrorDaemons: 3 directories stalled: no mirror daemons running',
  });
});

test('a refusal that needs a person (Stalled=True): Degraded with the reason', async () => {
  for (const [kind, reason, message] of [
    ['CephFSMirror', 'SecretNotFound', 'Secret ceph-a does not exist'],
    ['MirrorPeer', 'InvalidBootstrapToken', 'invalid bootstrap token: fsid is not a UUID'],
    ['MirroredDirectory', 'SubtreeOfTracked', '/a/b is a subtree of tracked path /a'],
    ['MirroredDirectory', 'Stalled', 'no mirror daemons running'],
  ] as const) {
    const o = written(object(kind), false, reason, message);
    assert.deepEqual(await argoHealth(o), { status: 'Degraded', message: `${reason}: ${message}` });
  }
});

test('an ordinary step (Reconciling, Progressing): Progressing; a retried error: Degraded', async () => {
  const step = written(object('MirroredDirectory'), false, 'Associating', 'mapping (instance 7)');
  assert.deepEqual(await argoHealth(step), {
    status: 'Progressing',
    message: 'Associating: mapping (instance 7)',
  });
  const waiting = written(
    object('MirrorPeer'),
    false,
    'MirrorNotReady',
    'CephFSMirror a is not ready yet',
  );
  assert.equal((await argoHealth(waiting)).status, 'Progressing');
  const failing = written(object('CephFSMirror'), false, 'CephUnreachable', 'timed out');
  assert.deepEqual(await argoHealth(failing), {
    status: 'Degraded',
    message: 'CephUnreachable: timed out',
  });
});

test('recovering: from Stalled to Healthy once Ready=True (stale Stalled removed)', async () => {
  const stalled = written(
    object('CephFSMirror'),
    false,
    'SecretNotFound',
    'Secret a does not exist',
  );
  const healed = written(stalled, true, 'MirroringEnabled', 'mirroring a with 1 daemon(s)');
  assert.equal(
    healed.status?.conditions?.some((c) => c.type === 'Stalled'),
    false,
  );
  assert.equal((await argoHealth(healed)).status, 'Healthy');
});

test('being deleted: Progressing, with why it waits', async () => {
  const m = written(
    object('CephFSMirror'),
    false,
    'WaitingForDependents',
    'deleting: waiting for 2 MirrorPeer/MirroredDirectory object(s) of this mirror to go',
  );
  const deleting = { ...m, metadata: { ...m.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } };
  assert.deepEqual(await argoHealth(deleting), {
    status: 'Progressing',
    message:
      'being deleted: WaitingForDependents: deleting: waiting for 2 MirrorPeer/MirroredDirectory object(s) of this mirror to go',
  });
});

test('Ready=False without kstatus conditions (an older operator): Degraded; Unknown: Progressing', async () => {
  const base = object('MirrorPeer');
  const conditions = (status: 'False' | 'Unknown'): Condition[] =>
    setCondition([], {
      type: 'Ready',
      status,
      reason: 'Pending',
      message: 'x',
      observedGeneration: 1,
    });
  assert.equal(
    (
      await argoHealth({
        ...base,
        status: { observedGeneration: 1, conditions: conditions('False') },
      })
    ).status,
    'Degraded',
  );
  assert.equal(
    (
      await argoHealth({
        ...base,
        status: { observedGeneration: 1, conditions: conditions('Unknown') },
      })
    ).status,
    'Progressing',
  );
});

test('argocd-cm carries health.lua, as is, under the key of each kind of deploy/crds', () => {
  const script = readFileSync(HEALTH_LUA, 'utf8');
  const text = readFileSync(ARGOCD_CM, 'utf8');
  assert.equal(text, argocdCm(script), 'regenerate with: npx tsx scripts/argocd-cm.ts');
  const cm = parse(text) as {
    kind: string;
    metadata: { name: string };
    data: Record<string, string>;
  };
  assert.equal(cm.kind, 'ConfigMap');
  assert.equal(cm.metadata.name, 'argocd-cm');
  const kinds = readdirSync('deploy/crds').map(
    (f) =>
      (
        parse(readFileSync(`deploy/crds/${f}`, 'utf8')) as {
          spec: { group: string; names: { kind: string } };
        }
      ).spec,
  );
  assert.deepEqual(
    Object.keys(cm.data).sort(),
    kinds.map((k) => `resource.customizations.health.${k.group}_${k.names.kind}`).sort(),
  );
  for (const k of kinds) assert.equal(cm.data[healthKey(k.names.kind)], script);
});
