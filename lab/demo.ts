// The main job behind `scripts/demo.sh`: the two-site Ceph lab, one cephfs-mirror daemon, etcd +
// kube-apiserver, the CRDs, the operator as a detached process and the samples, ending with a
// snapshot of /projects that has crossed from site-a to site-b.
//
// Every process is started detached with its pid recorded under the lab root, so `demoDown` can
// stop them from another process (or after a crash), by pid only. Each step leaves running parts
// alone, so `demoUp` on a running demo only checks it and takes a new snapshot.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CephFS } from 'cephfs-js';
import { Rados } from 'rados-js';
import { mirrorDaemonPid, startMirrorDaemon, stopMirrorDaemon } from './ceph-cluster.js';
import { connectionSecretYaml } from './k8s-secrets.js';
import { bundleOperator } from './bundle-operator.js';
import { pickFreePorts } from './ports.js';
import { kubeStatus, startKube, stopKube, type KubeHandle } from './kube/kube.js';
import {
  isOwnedProcess,
  readPidFile,
  startOwnedProcess,
  stopOwnedProcess,
} from './owned-process.js';
import { labDown, labUp, readLabState, type LabState } from './lab.js';

const execFileAsync = promisify(execFile);

export const DEMO_NAMESPACE = 'cephfs-mirror-demo';
export const DEMO_MIRROR_DAEMON = 'm1';
export const DEMO_PATH = '/projects';
const SAMPLES = 'deploy/samples';
const OBJECTS = [
  'cephfsmirror/site-b',
  'cephfsmirror/site-a',
  'mirrorpeer/site-b',
  'mirroreddirectory/projects',
];

export interface DemoPaths {
  labRoot: string;
  kubeRoot: string;
  operatorPid: string;
  operatorLog: string;
  /** The metrics port the operator was given, for `status`. */
  operatorPort: string;
  /** The operator as it ships (launcher + bundle), built from the current sources. */
  operatorBuild: string;
}

export function demoPaths(labRoot: string): DemoPaths {
  const root = resolve(labRoot);
  return {
    labRoot: root,
    kubeRoot: join(root, 'kube'),
    operatorPid: join(root, 'operator.pid'),
    operatorLog: join(root, 'operator.log'),
    operatorPort: join(root, 'operator.port'),
    operatorBuild: join(root, 'operator'),
  };
}

// The operator is ours when its command line names this demo's bundle and kubeconfig.
function operatorMarkers(p: DemoPaths): string[] {
  return [join(p.operatorBuild, 'main.js'), join(p.kubeRoot, 'kubeconfig')];
}

export function operatorPid(p: DemoPaths): number | undefined {
  const pid = readPidFile(p.operatorPid);
  return pid !== undefined && isOwnedProcess(pid, operatorMarkers(p)) ? pid : undefined;
}

type Say = (line: string) => void;

export interface DemoUpResult {
  lab: LabState;
  kube: KubeHandle;
  operatorPid: number;
  snapshot: string;
  /** Seconds each step took, in order. */
  steps: [string, number][];
}

/** Brings everything up (or checks what already runs) and mirrors one new snapshot. */
export async function demoUp(labRoot: string, say: Say): Promise<DemoUpResult> {
  const p = demoPaths(labRoot);
  const steps: [string, number][] = [];
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    say(`==> ${name}`);
    const result = await fn();
    steps.push([name, (Date.now() - t0) / 1000]);
    return result;
  };

  // Ceph and the apiserver are independent; starting them together saves ~15 s on 2 cores.
  const [lab, kube] = await step('two-site Ceph lab and etcd + kube-apiserver', () =>
    Promise.all([labUp(p.labRoot), startKube({ root: p.kubeRoot })]),
  );
  await step(`cephfs-mirror daemon client.${DEMO_MIRROR_DAEMON} on site-a`, async () => {
    const pid = await startMirrorDaemon(lab.sites.a, DEMO_MIRROR_DAEMON);
    say(`    pid ${pid}`);
  });
  await step('CRDs (deploy/crds)', async () => {
    await kubectl(kube, ['apply', '-f', 'deploy/crds/']);
    await kubectl(kube, [
      'wait',
      '--for=condition=Established',
      'crd/cephfsmirrors.mirror.cephfs.io',
      'crd/mirrorpeers.mirror.cephfs.io',
      'crd/mirroreddirectories.mirror.cephfs.io',
      '--timeout=60s',
    ]);
  });
  const pid = await step('operator (detached)', async () => {
    const running = operatorPid(p);
    // An apiserver started after the operator has a new port and token the operator never read.
    if (
      running !== undefined &&
      statSync(kube.kubeconfigPath).mtimeMs > statSync(p.operatorPid).mtimeMs
    ) {
      say(`    pid ${running} predates this kube-apiserver: restarting it`);
      await stopOwnedProcess(p.operatorPid, operatorMarkers(p), 30_000);
    } else if (running !== undefined) {
      say(`    already running, pid ${running}`);
      return running;
    }
    const [port] = (await pickFreePorts(1)) as [number];
    // As the image runs it: the launcher (node's memory settings) and the one-file bundle.
    const launcher = await bundleOperator(p.operatorBuild);
    const started = startOwnedProcess({
      command: launcher,
      args: [
        'run',
        '--kubeconfig',
        kube.kubeconfigPath,
        '--metrics-port',
        String(port),
        '--log-format',
        'text',
      ],
      pidFile: p.operatorPid,
      logFile: p.operatorLog,
    });
    writeFileSync(p.operatorPort, `${port}\n`);
    say(`    pid ${started}, log ${p.operatorLog}, metrics http://127.0.0.1:${port}/metrics`);
    return started;
  });
  await step(`directory ${DEMO_PATH} with a file on site-a (cephfs-js)`, () =>
    withFs(lab, 'a', async (fs) => {
      await fs.mkdirs(DEMO_PATH);
      await fs.writeFile(`${DEMO_PATH}/plan.txt`, 'mirrored by the operator\n');
    }),
  );
  await step('samples (namespace, lab Secrets, 10-site-b.yaml, 20-site-a.yaml)', async () => {
    await kubectl(kube, ['apply', '-f', join(SAMPLES, '00-namespace.yaml')]);
    const secrets = [lab.sites.a, lab.sites.b]
      .map((s) => connectionSecretYaml(`ceph-${s.name}`, DEMO_NAMESPACE, s))
      .join('---\n');
    await kubectl(kube, ['apply', '-f', '-'], secrets);
    await kubectl(kube, [
      'apply',
      '-f',
      join(SAMPLES, '10-site-b.yaml'),
      '-f',
      join(SAMPLES, '20-site-a.yaml'),
    ]);
  });
  await step('kubectl wait --for=condition=Ready', async () => {
    for (const obj of OBJECTS) {
      const out = await kubectl(
        kube,
        ['-n', DEMO_NAMESPACE, 'wait', '--for=condition=Ready', obj, '--timeout=300s'],
        undefined,
        310_000,
      ).catch((e: unknown) => {
        throw new Error(
          `${(e as Error).message}\n(operator log: ${p.operatorLog}; kubectl describe -n ${DEMO_NAMESPACE} ${obj})`,
        );
      });
      say(`    ${out.trim()}`);
    }
  });
  const snapshot = `demo-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
  await step(`snapshot ${DEMO_PATH}@${snapshot} on site-a, mirrored to site-b`, () =>
    withFs(lab, 'a', (fsA) =>
      withFs(lab, 'b', async (fsB) => {
        const existing = await fsA.listSnaps(DEMO_PATH);
        if (!existing.includes(snapshot)) await fsA.mksnap(DEMO_PATH, snapshot);
        const deadline = Date.now() + 180_000;
        const t0 = Date.now();
        for (;;) {
          const onB = await fsB.listSnaps(DEMO_PATH).catch(() => [] as string[]);
          if (onB.includes(snapshot)) break;
          if (Date.now() > deadline) {
            throw new Error(
              `snapshot ${snapshot} did not reach site-b in 180 s (daemon log: ${join(lab.sites.a.dir, 'log', `client.${DEMO_MIRROR_DAEMON}.log`)})`,
            );
          }
          await sleep(1000);
        }
        const content = (await fsB.readFile(`${DEMO_PATH}/.snap/${snapshot}/plan.txt`)).toString();
        say(
          `    on site-b after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${DEMO_PATH}/.snap/${snapshot}/plan.txt = ${JSON.stringify(content)}`,
        );
      }),
    ),
  );
  return { lab, kube, operatorPid: pid, snapshot, steps };
}

/** Stops the operator, the apiserver, the mirror daemon and both Ceph sites, each by its pid. */
export async function demoDown(labRoot: string, say: Say): Promise<void> {
  const p = demoPaths(labRoot);
  const op = await stopOwnedProcess(p.operatorPid, operatorMarkers(p), 30_000);
  rmSync(p.operatorPort, { force: true });
  say(op === undefined ? 'operator: not running' : `operator: stopped pid ${op}`);
  await stopKube(p.kubeRoot);
  say('etcd + kube-apiserver: stopped');
  const lab = readLabState(p.labRoot);
  if (lab) {
    const stopped = await stopMirrorDaemon(lab.sites.a, DEMO_MIRROR_DAEMON);
    say(`cephfs-mirror client.${DEMO_MIRROR_DAEMON}: ${stopped ? 'stopped' : 'not running'}`);
  }
  await labDown(p.labRoot);
  say(`Ceph lab: stopped, data removed (the operator's log stays in ${p.operatorLog})`);
}

/** One line per part; returns whether everything runs. */
export async function demoStatus(labRoot: string, say: Say): Promise<boolean> {
  const p = demoPaths(labRoot);
  const lab = readLabState(p.labRoot);
  const mirror = lab ? mirrorDaemonPid(lab.sites.a, DEMO_MIRROR_DAEMON) : undefined;
  const kube = await kubeStatus(p.kubeRoot);
  const op = operatorPid(p);
  const port = existsSync(p.operatorPort) ? readFileSync(p.operatorPort, 'utf8').trim() : '?';
  say(`Ceph lab:        ${lab ? p.labRoot : 'not running'} (details: npm run lab -- status)`);
  say(`cephfs-mirror:   ${mirror === undefined ? 'not running' : `pid ${mirror}`}`);
  say(
    `kube-apiserver:  ${kube.ready ? `${kube.url}, pids etcd ${kube.etcd.pid} apiserver ${kube.apiserver.pid}` : 'not running'}`,
  );
  say(
    `operator:        ${op === undefined ? 'not running' : `pid ${op}, metrics http://127.0.0.1:${port}/metrics, log ${p.operatorLog}`}`,
  );
  if (kube.ready && kube.kubeconfigPath) {
    const out = await kubectlAt(kube.kubeconfigPath, [
      'get',
      'cephfsmirrors,mirrorpeers,mirroreddirectories',
      '-n',
      DEMO_NAMESPACE,
    ]).catch((e: unknown) => (e as Error).message);
    say('');
    say(out.trimEnd());
  }
  return lab !== undefined && mirror !== undefined && kube.ready && op !== undefined;
}

export function kubectl(
  kube: KubeHandle,
  args: string[],
  input?: string,
  timeoutMs = 120_000,
): Promise<string> {
  return kubectlAt(kube.kubeconfigPath, args, input, timeoutMs);
}

async function kubectlAt(
  kubeconfig: string,
  args: string[],
  input?: string,
  timeoutMs = 120_000,
): Promise<string> {
  const child = execFileAsync('kubectl', ['--kubeconfig', kubeconfig, ...args], {
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  if (input !== undefined) child.child.stdin?.end(input);
  try {
    return (await child).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')}: ${(err.stderr || err.message).trim()}`);
  }
}

/** Runs `fn` with a cephfs-js mount of the site's filesystem as client.admin, then unmounts. */
async function withFs<T>(lab: LabState, site: 'a' | 'b', fn: (fs: CephFS) => Promise<T>) {
  const info = lab.sites[site];
  const rados = await Rados.connect({ confPath: info.confPath, timeoutMs: 20_000 });
  try {
    const fs = await CephFS.mount({ rados, fsName: info.fsName });
    try {
      return await fn(fs);
    } finally {
      await fs.close();
    }
  } finally {
    await rados.shutdown();
  }
}
