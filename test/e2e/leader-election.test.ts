// Two operator replicas with leader election on a real kube-apiserver: only the Lease holder
// starts engines (and so writes to Ceph) while the standby stays ready; SIGKILL of the holder lets
// the standby take over after the lease expires, SIGTERM releases the lease so the standby takes
// over at once; each new leader converges a newly created MirroredDirectory.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MirroredDirectory } from '../../src/api/resources.js';
import {
  applyObjects,
  directoryObject,
  isRunning,
  mirrorObject,
  operatorHttpPort,
  operatorLog,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-leader';
const MIRROR = 'site-a';
const LEASE = 'cmo-e2e';
/** The operator's default lease duration. */
const LEASE_DURATION_MS = 15_000;
let env: E2eEnv;
const ops: Record<string, OperatorProcess> = {};

interface Lease {
  spec?: { holderIdentity?: string; leaseTransitions?: number };
}

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-leader'] });
  await kubectl(env.kube, ['-n', 'default', 'delete', 'lease', LEASE, '--ignore-not-found']);
});

after(() => tearDownE2e(env));

function replica(identity: string): OperatorProcess {
  const op = env.operator(
    ['--leader-elect', '--lease-namespace', 'default', '--lease-name', LEASE],
    { POD_NAME: identity },
  );
  ops[identity] = op;
  return op;
}

async function holder(): Promise<string | undefined> {
  const lease = await kubectlJson<Lease>(env.kube, ['-n', 'default', 'get', 'lease', LEASE]);
  return lease.spec?.holderIdentity || undefined;
}

function logged(op: OperatorProcess, message: string): Array<Record<string, unknown>> {
  return operatorLog(op).filter((l) => l['message'] === message);
}

async function readyz(op: OperatorProcess): Promise<boolean> {
  const port = await operatorHttpPort(op);
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return res.status === 200 && (await res.text()).trim() === 'ok';
}

async function readyDir(name: string, path: string): Promise<MirroredDirectory> {
  await createSourceDirs(env.a, env.lab.sites.a.fsName, [path]);
  await applyObjects(env.kube, [directoryObject(NS, name, MIRROR, path)]);
  return waitForReady<MirroredDirectory>(
    env.kube,
    NS,
    `mirroreddirectory/${name}`,
    { status: 'True', reason: 'Mirrored' },
    90_000,
  );
}

test('only the Lease holder writes to Ceph; the standby is ready and idle', async () => {
  const one = replica('cmo-e2e-one');
  await waitFor('cmo-e2e-one to hold the lease', async () => (await holder()) === 'cmo-e2e-one');
  const two = replica('cmo-e2e-two');
  await waitFor('the standby to report ready', () => readyz(two), 60_000);

  await applyObjects(env.kube, [mirrorObject(NS, MIRROR, 'a')]);
  await waitForReady(env.kube, NS, `cephfsmirror/${MIRROR}`, { status: 'True' }, 90_000);
  const d = await readyDir('first', '/leader/first');
  assert.ok(d.status?.instanceID);

  assert.equal(await holder(), 'cmo-e2e-one');
  assert.equal(logged(one, 'mirror engine started').length, 1, 'the leader runs the engine');
  assert.equal(logged(two, 'became leader').length, 0);
  assert.equal(logged(two, 'mirror engine started').length, 0, 'the standby touches no Ceph');
  assert.ok(logged(two, 'waiting for leadership').length > 0);
  assert.ok(await readyz(two), 'the standby stays ready');
});

test('SIGKILL of the holder: the standby takes over after the lease expires and converges', async () => {
  const one = ops['cmo-e2e-one'] as OperatorProcess;
  const two = ops['cmo-e2e-two'] as OperatorProcess;
  const killedAt = Date.now();
  await one.kill();
  await waitFor(
    'cmo-e2e-two to take the lease',
    async () => (await holder()) === 'cmo-e2e-two',
    LEASE_DURATION_MS + 15_000,
  );
  const tookMs = Date.now() - killedAt;
  console.log(`# takeover ${tookMs} ms after SIGKILL of the holder`);
  // The standby must wait out the lease: a dead holder cannot say it is gone.
  assert.ok(tookMs >= LEASE_DURATION_MS - 3000, `took over after ${tookMs} ms`);
  assert.equal(logged(two, 'became leader').length, 1);

  const d = await readyDir('second', '/leader/second');
  assert.ok(d.status?.instanceID);
  assert.equal(logged(two, 'mirror engine started').length, 1);
  assert.ok(isRunning(two));
});

test('SIGTERM of the holder releases the lease: the standby takes over at once', async () => {
  const two = ops['cmo-e2e-two'] as OperatorProcess;
  const three = replica('cmo-e2e-three');
  await waitFor('the new standby to report ready', () => readyz(three), 60_000);
  assert.equal(await holder(), 'cmo-e2e-two');

  const code = await two.stop();
  const stoppedAt = Date.now();
  assert.equal(code, 0, 'a graceful exit');
  assert.equal(logged(two, 'released the lease').length, 1);
  // Released: empty until the standby's next attempt (every 2 s) takes it.
  const right = await holder();
  assert.ok(right === undefined || right === 'cmo-e2e-three', `holder after release: ${right}`);
  await waitFor(
    'cmo-e2e-three to take the lease',
    async () => (await holder()) === 'cmo-e2e-three',
  );
  const tookMs = Date.now() - stoppedAt;
  console.log(`# takeover ${tookMs} ms after the holder exited on SIGTERM`);
  assert.ok(tookMs < LEASE_DURATION_MS / 2, `took over after ${tookMs} ms, not a lease expiry`);

  const d = await readyDir('third', '/leader/third');
  assert.ok(d.status?.instanceID);
  assert.equal(logged(three, 'mirror engine started').length, 1);
});
