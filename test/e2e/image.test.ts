// The operator image as it ships (lab/image.ts: Debian packages, mmdebstrap + buildah), run the
// way a container runtime would run it, against the real lab: the OCI archive's layers unpacked
// in order, the config's exact entrypoint + cmd, env, working directory and user, in a chroot of
// that root filesystem (container runtimes cannot start on these machines: their setrlimit is
// refused; docs/image.md). The operator finds the apiserver as in a pod, through the service
// account files and KUBERNETES_SERVICE_* variables. The samples then become Ready.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CephFS } from 'cephfs-js';
import { Rados } from 'rados-js';
import { parse } from 'yaml';
import { startMirrorDaemon, stopMirrorDaemon } from '../../lab/ceph-cluster.js';
import {
  buildImage,
  CMD,
  ENTRYPOINT,
  RUN_USER,
  treeBytes,
  unpackImage,
  type ImageBuild,
  type UnpackedImage,
} from '../../lab/image.js';
import { connectionSecretYaml } from '../../lab/k8s-secrets.js';
import {
  kubectl,
  kubectlJson,
  useKube,
  collectOrphanedSecrets,
  type KubeHandle,
} from '../../lab/harness/kube.js';
import { useLab, type LabState } from '../../lab/harness/lab.js';
import { waitFor } from '../../lab/harness/wait.js';
import { findFilesystem } from '../../src/ceph/fsmap.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import type { MirroredDirectory } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import { waitForReady } from '../support/e2e.js';

const NS = 'cephfs-mirror-demo';
const DAEMON = 'image';
const SERVICE_ACCOUNT_DIR = 'run/secrets/kubernetes.io/serviceaccount';

let lab: LabState;
let kube: KubeHandle;
let a: Rados;
let fsA: CephFS;
let build: ImageBuild;
let image: UnpackedImage;
let work: string | undefined;
/** Mount points inside the unpacked root filesystem, in mount order. */
const mounts: string[] = [];
let operator: ChildProcess | undefined;
let operatorExit: Promise<number | null> | undefined;
let logPath = '';

function mountedUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** Unmounts in reverse order; a busy mount is detached (lazy) rather than left behind. */
function unmountAll(): void {
  for (const m of mounts.splice(0).reverse()) {
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
}

function unmountAndRemove(): void {
  unmountAll();
  if (!work) return;
  // Never remove a tree that still has something mounted in it (rm would descend into it).
  const left = mountedUnder(work);
  if (left.length === 0) rmSync(work, { recursive: true, force: true });
  else console.error(`image test: still mounted, ${work} left in place: ${left.join(' ')}`);
  work = undefined;
}

/**
 * What a container runtime provides: /proc, the usual /dev nodes and /etc/hosts; and, as the
 * chart asks (readOnlyRootFilesystem, no volumes), a root filesystem the operator cannot write.
 */
function provideRuntimeMounts(rootfs: string): void {
  const binds: Array<[string, string]> = [
    ['/dev/null', 'dev/null'],
    ['/dev/zero', 'dev/zero'],
    ['/dev/random', 'dev/random'],
    ['/dev/urandom', 'dev/urandom'],
    ['/etc/hosts', 'etc/hosts'],
  ];
  // Mount points first: the root is read-only from the next step on.
  for (const [, to] of binds) {
    mkdirSync(join(rootfs, to, '..'), { recursive: true });
    writeFileSync(join(rootfs, to), '');
  }
  mkdirSync(join(rootfs, 'proc'), { recursive: true });
  execFileSync('mount', ['--bind', rootfs, rootfs]);
  mounts.push(rootfs);
  execFileSync('mount', ['-o', 'remount,bind,ro', rootfs]);
  execFileSync('mount', ['-t', 'proc', 'proc', join(rootfs, 'proc')]);
  mounts.push(join(rootfs, 'proc'));
  for (const [from, to] of binds) {
    execFileSync('mount', ['--bind', from, join(rootfs, to)]);
    mounts.push(join(rootfs, to));
  }
}

/** The pod's service account files, from the test apiserver's admin kubeconfig. */
function provideServiceAccount(rootfs: string): { host: string; port: string } {
  const kc = parse(readFileSync(kube.kubeconfigPath, 'utf8')) as {
    clusters: Array<{ cluster: { server: string; 'certificate-authority': string } }>;
    users: Array<{ user: { token: string } }>;
  };
  const cluster = kc.clusters[0]?.cluster;
  const token = kc.users[0]?.user.token;
  assert.ok(cluster && token, 'the lab kubeconfig names a server, a CA file and a token');
  const dir = join(rootfs, SERVICE_ACCOUNT_DIR);
  mkdirSync(dir, { recursive: true });
  const [uid, gid] = RUN_USER.split(':').map(Number) as [number, number];
  const files: Array<[string, string]> = [
    ['token', token],
    ['ca.crt', readFileSync(cluster['certificate-authority'], 'utf8')],
    ['namespace', NS],
  ];
  for (const [name, content] of files) {
    writeFileSync(join(dir, name), content, { mode: 0o400 });
    chownSync(join(dir, name), uid, gid);
  }
  const url = new URL(cluster.server);
  return { host: url.hostname, port: url.port };
}

/** ENTRYPOINT, CMD and USER of the Dockerfile, as JSON arrays / a string. */
function dockerfileContract(): { entrypoint: unknown; cmd: unknown; user: string | undefined } {
  const lines = readFileSync('Dockerfile', 'utf8').split('\n');
  const last = (k: string) =>
    lines
      .filter((l) => l.startsWith(`${k} `))
      .pop()
      ?.slice(k.length + 1)
      .trim();
  return {
    entrypoint: JSON.parse(last('ENTRYPOINT') ?? 'null') as unknown,
    cmd: JSON.parse(last('CMD') ?? 'null') as unknown,
    user: last('USER'),
  };
}

before(async () => {
  // The build runs while the lab and apiserver start; on an unchanged tree it is the cache.
  [lab, kube, build] = await Promise.all([
    useLab(),
    useKube(),
    buildImage((l) => console.error(l)),
  ]);
  work = mkdtempSync(join(tmpdir(), 'cmo-image-run-'));
  image = await unpackImage(build.archive, work);
  a = await Rados.connect({ confPath: lab.sites.a.confPath, timeoutMs: 20_000 });
  fsA = await CephFS.mount({ rados: a, fsName: 'a' });
  await fsA.mkdirs('/projects');
  await startMirrorDaemon(lab.sites.a, DAEMON);
  await kubectl(kube, ['apply', '-f', 'deploy/samples/00-namespace.yaml']);
  const secrets = [lab.sites.a, lab.sites.b]
    .map((s) => connectionSecretYaml(`ceph-${s.name}`, NS, s))
    .join('---\n');
  await kubectl(kube, ['apply', '-f', '-'], secrets);
  // An earlier file's samples (same namespace, same lane) may have left their token Secret.
  await collectOrphanedSecrets(kube, NS);
});

after(async () => {
  if (operator && operatorExit) {
    operator.kill('SIGTERM');
    const code = await Promise.race([operatorExit, sleep(30_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      operator.kill('SIGKILL');
      await operatorExit;
    }
  }
  unmountAndRemove();
  if (lab) await stopMirrorDaemon(lab.sites.a, DAEMON);
  await fsA?.close();
  await a?.shutdown();
});

// Last resort if the process ends without after(): no mount may outlive it.
process.once('exit', () => {
  try {
    operator?.kill('SIGKILL');
  } catch {
    // gone
  }
  unmountAndRemove();
});

test('the image is the Dockerfile runtime: entrypoint, cmd, user, node', () => {
  const { config } = image.config;
  const docker = dockerfileContract();
  assert.deepEqual(config.Entrypoint, ENTRYPOINT);
  assert.deepEqual(config.Cmd, CMD);
  assert.equal(config.User, RUN_USER);
  assert.deepEqual(config.Entrypoint, docker.entrypoint, 'Dockerfile ENTRYPOINT');
  assert.deepEqual(config.Cmd, docker.cmd, 'Dockerfile CMD');
  assert.equal(config.User, docker.user, 'Dockerfile USER');
  assert.ok(image.layers.length >= 2, 'a base layer of Debian packages and the app layer');
  // The image's node is the nodejs package the tests run with (dpkg-repack of the host's).
  const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  assert.equal(digest(join(image.rootfs, 'usr/bin/node')), digest('/usr/bin/node'));
  console.error(
    `image: OCI archive ${(statSync(build.archive).size / 2 ** 20).toFixed(1)} MiB, ` +
      `unpacked ${(treeBytes(image.rootfs) / 2 ** 20).toFixed(1)} MiB, ` +
      `${build.cached ? 'cached' : 'built'} in ${build.seconds} s`,
  );
});

test('the entrypoint in a chroot of the image reconciles the samples to Ready', async () => {
  const { rootfs, config } = image;
  const { host, port } = provideServiceAccount(rootfs);
  provideRuntimeMounts(rootfs);
  const { Entrypoint = [], Cmd = [], Env = [], WorkingDir = '/', User = '0:0' } = config.config;
  const logDir = process.env['CMO_TEST_LOG_DIR'] ?? join('.lab', 'test-logs');
  mkdirSync(logDir, { recursive: true });
  logPath = join(logDir, `operator-image-${process.pid}.log`);
  const log = createWriteStream(logPath);
  // chroot(1) switches root and user; env(1) of the image sets the working directory and
  // exactly the image's environment plus what the kubelet adds (the service's address, HOME).
  // Only --metrics-port differs from the cmd: the default 8080 could be taken on this machine.
  operator = spawn(
    '/usr/sbin/chroot',
    [
      `--userspec=${User}`,
      rootfs,
      '/usr/bin/env',
      '-i',
      '-C',
      WorkingDir,
      ...Env,
      'HOME=/nonexistent',
      `KUBERNETES_SERVICE_HOST=${host}`,
      `KUBERNETES_SERVICE_PORT=${port}`,
      ...Entrypoint,
      ...Cmd,
      '--metrics-port=0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: {} },
  );
  operator.stdout?.pipe(log);
  operator.stderr?.pipe(log);
  operatorExit = new Promise((resolve) => {
    operator?.on('exit', (code) => resolve(code));
    operator?.on('error', () => resolve(null)); // never started: no 'exit' follows
  });
  const pid = operator.pid as number;

  // chroot, env, the launcher's sh and node each exec the next: the pid ends up as node.
  const status = await waitFor(
    'the operator process to run node as the image user',
    () => {
      const s = readFileSync(`/proc/${pid}/status`, 'utf8');
      return /^Name:\s+node$/m.test(s) ? s : undefined;
    },
    30_000,
  );
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  assert.equal(uid, RUN_USER.split(':')[0], 'runs as the image user, not root');
  assert.equal(readFileSync(`/proc/${pid}/root/etc/debian_version`, 'utf8').slice(0, 2), '12');
  const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === '/');
  assert.match(rootMount?.split(' ')[5] ?? '', /^ro\b/, 'its root filesystem is read-only');

  await kubectl(kube, [
    'apply',
    '-f',
    'deploy/samples/10-site-b.yaml',
    '-f',
    'deploy/samples/20-site-a.yaml',
  ]);
  const exited = operatorExit.then((code) => {
    throw new Error(`the operator exited (${code}); log: ${logPath}`);
  });
  exited.catch(() => undefined);
  for (const obj of [
    'cephfsmirror/site-b',
    'cephfsmirror/site-a',
    'mirrorpeer/site-b',
    'mirroreddirectory/projects',
  ]) {
    await Promise.race([waitForReady(kube, NS, obj, { status: 'True' }, 180_000), exited]);
  }
  const dir = await kubectlJson<MirroredDirectory>(kube, [
    '-n',
    NS,
    'get',
    'mirroreddirectory/projects',
  ]);
  assert.equal(dir.status?.state, 'Associated');
});

test('deleting the samples through the image operator undoes them in Ceph', async () => {
  for (const obj of [
    'mirroreddirectory/projects',
    'mirrorpeer/site-b',
    'cephfsmirror/site-a',
    'cephfsmirror/site-b',
  ]) {
    await kubectl(kube, [
      '-n',
      NS,
      'delete',
      obj,
      '--ignore-not-found',
      '--wait=true',
      '--timeout=120s',
    ]);
  }
  const fs = findFilesystem(await fetchFsMap(a), 'a');
  assert.equal(fs?.mirrorInfo.enabled, false, 'mirroring disabled on filesystem a');
  assert.deepEqual(Object.keys(fs?.mirrorInfo.peers ?? {}), []);
  // The token Secret goes with its owner through the garbage collector, which the lab lacks.
  await collectOrphanedSecrets(kube, NS);
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(lab);
});
