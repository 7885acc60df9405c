// An MDS that stops answering (SIGSTOP: the process keeps its sockets, so nothing fails fast and
// the FSMap still shows it up:active) on a real lab and kube-apiserver: the operator's libcephfs
// calls hit their deadline (--cephfs-timeout-seconds) instead of waiting, the mirror of that
// filesystem says so (Ready=False FilesystemNotResponding), the mirror of the other cluster keeps
// taking new directories, /healthz stays 200 because the operator still makes progress, and all
// of it recovers once the MDS runs again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CephFSMirror } from '../../src/api/resources.js';
import { startMirrorDaemon, stopMirrorDaemon } from '../../lab/ceph-cluster.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';
import { recordedPids } from '../../lab/processes.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  applyObjects,
  conditionOf,
  directoryObject,
  mirrorObject,
  operatorHttpPort,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';

const NS = 'e2e-mds-stall';
const DAEMON_B = 'e2e-mds-stall-b';
const ROOT = '/mds-stall';
let env: E2eEnv;
let op: OperatorProcess;
let mdsPid: number;
let stopped = false;

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-mds-stall-a'] });
  await startMirrorDaemon(env.lab.sites.b, DAEMON_B);
  await createSourceDirs(env.a, env.lab.sites.a.fsName, [`${ROOT}/a1`, `${ROOT}/a2`]);
  await createSourceDirs(env.b, env.lab.sites.b.fsName, [`${ROOT}/b1`, `${ROOT}/b2`]);
  const pid = recordedPids(env.lab.sites.a.dir).get('mds.a');
  assert.ok(pid, "site-a's MDS pid is recorded");
  mdsPid = pid;
  op = env.operator(['--cephfs-timeout-seconds', '3']);
  await applyObjects(env.kube, [
    mirrorObject(NS, 'site-a', 'a'),
    mirrorObject(NS, 'site-b', 'b'),
    directoryObject(NS, 'a1', 'site-a', `${ROOT}/a1`),
    directoryObject(NS, 'b1', 'site-b', `${ROOT}/b1`),
  ]);
  for (const ref of [
    'cephfsmirror/site-a',
    'cephfsmirror/site-b',
    'mirroreddirectory/a1',
    'mirroreddirectory/b1',
  ]) {
    await waitForReady(env.kube, NS, ref, { status: 'True' }, 90_000);
  }
});

after(async () => {
  // Never leave the lab's MDS stopped, whatever failed.
  if (stopped) process.kill(mdsPid, 'SIGCONT');
  try {
    await tearDownE2e(env);
  } finally {
    await stopMirrorDaemon(env.lab.sites.b, DAEMON_B).catch(() => undefined);
  }
});

async function healthz(): Promise<number> {
  const port = await operatorHttpPort(op);
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  await res.arrayBuffer();
  return res.status;
}

test('an MDS stopped with SIGSTOP: its mirror says so, the other mirror keeps working, /healthz stays 200', async () => {
  process.kill(mdsPid, 'SIGSTOP');
  stopped = true;
  try {
    const a = await waitForReady<CephFSMirror>(
      env.kube,
      NS,
      'cephfsmirror/site-a',
      { status: 'False', reason: 'FilesystemNotResponding' },
      90_000,
    );
    const responding = conditionOf(a, 'FilesystemResponding');
    assert.equal(responding?.status, 'False');
    assert.match(
      responding?.message ?? '',
      /timed out after 3 s|calls still waiting/,
      'the deadline (3 s here) is what ended the call',
    );

    // The other cluster's mirror is not held up by the hung MDS: a new directory there is taken.
    await applyObjects(env.kube, [directoryObject(NS, 'b2', 'site-b', `${ROOT}/b2`)]);
    await waitForReady(env.kube, NS, 'mirroreddirectory/b2', { status: 'True' }, 90_000);
    const b = await waitForReady<CephFSMirror>(env.kube, NS, 'cephfsmirror/site-b', {
      status: 'True',
    });
    assert.equal(conditionOf(b, 'FilesystemResponding')?.status, 'True');

    // The operator is not wedged (its queues move), so its liveness probe does not ask for a restart.
    assert.equal(await healthz(), 200);
  } finally {
    process.kill(mdsPid, 'SIGCONT');
    stopped = false;
  }
});

test('the MDS running again: the mirror is Ready again and takes a new directory of its filesystem', async () => {
  const a = await waitForReady<CephFSMirror>(
    env.kube,
    NS,
    'cephfsmirror/site-a',
    { status: 'True' },
    90_000,
  );
  assert.equal(conditionOf(a, 'FilesystemResponding')?.status, 'True');
  await applyObjects(env.kube, [directoryObject(NS, 'a2', 'site-a', `${ROOT}/a2`)]);
  await waitForReady(env.kube, NS, 'mirroreddirectory/a2', { status: 'True' }, 90_000);
  assert.equal(await healthz(), 200);
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
