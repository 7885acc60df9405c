// `npm run lab -- <command>`: start, inspect and stop the local two-site Ceph lab.
import { resolve } from 'node:path';
import { Command } from 'commander';
import { mirrorDaemonPid, startMirrorDaemon, stopMirrorDaemon } from './ceph-cluster.js';
import { DEMO_NAMESPACE, demoDown, demoPaths, demoStatus, demoUp, kubectl } from './demo.js';
import { connectionSecretYaml } from './k8s-secrets.js';
import { kubeStatus, startKube, stopKube } from './kube/kube.js';
import { defaultLabRoot, labDown, labStatus, labUp, readLabState, type LabState } from './lab.js';

function requireLab(root: string): LabState {
  const state = readLabState(root);
  if (!state) {
    console.error(`no lab at ${root}: run \`npm run lab -- up\` first`);
    process.exit(2);
  }
  return state;
}

async function printStatus(root: string): Promise<boolean> {
  const status = await labStatus(root);
  if (!status) {
    console.log(`no lab at ${root}`);
    return false;
  }
  for (const s of status) {
    console.log(`${s.name}: filesystem ${s.fsName}, health ${s.health}, mon ${s.monHost}`);
    console.log(`  conf: ${s.confPath}`);
    console.log(`  daemons: ${s.daemons.join(' ') || '(none)'}`);
  }
  return status.every((s) => s.health !== 'unreachable');
}

const program = new Command('lab')
  .description('Two real Ceph clusters on 127.0.0.1 for tests and demos')
  .option('--root <dir>', 'lab directory (default: $CEPH_LAB_ROOT or ./.lab)');
const root = (): string => program.opts<{ root?: string }>().root ?? defaultLabRoot();

program
  .command('up')
  .description('start site-a and site-b (idempotent)')
  .action(async () => {
    const started = Date.now();
    await labUp(root());
    console.log(`lab up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await printStatus(root());
  });
program
  .command('down')
  .description('stop every lab process (by pid) and remove the data')
  .action(async () => {
    await labDown(root());
    console.log('lab down');
  });
program
  .command('status')
  .description('show both sites')
  .action(async () => {
    if (!(await printStatus(root()))) process.exitCode = 1;
  });

program
  .command('k8s-secrets')
  .description("print Secrets (YAML) with both sites' connection settings, for kubectl apply")
  .option('--namespace <ns>', 'namespace of the Secrets', 'cephfs-mirror-demo')
  .action((o: { namespace: string }) => {
    const { sites } = requireLab(root());
    console.log(
      [sites.a, sites.b]
        .map((s) => connectionSecretYaml(`ceph-${s.name}`, o.namespace, s))
        .join('---\n'),
    );
  });

const mirror = program.command('mirror').description('cephfs-mirror daemons against site-a');
mirror
  .command('start <clientId>')
  .description('start a cephfs-mirror daemon as client.<clientId>')
  .action(async (clientId: string) => {
    const pid = await startMirrorDaemon(requireLab(root()).sites.a, clientId);
    console.log(`cephfs-mirror client.${clientId} running, pid ${pid}`);
  });
mirror
  .command('stop <clientId>')
  .description('stop that daemon (by pid)')
  .action(async (clientId: string) => {
    const stopped = await stopMirrorDaemon(requireLab(root()).sites.a, clientId);
    console.log(stopped ? `stopped client.${clientId}` : `client.${clientId} was not running`);
  });
mirror.command('status <clientId>').action((clientId: string) => {
  const pid = mirrorDaemonPid(requireLab(root()).sites.a, clientId);
  console.log(pid === undefined ? 'not running' : `running, pid ${pid}`);
});

// etcd + kube-apiserver next to the Ceph lab, in <root>/kube (lab/kube/kube.ts).
const kube = program
  .command('kube')
  .description('etcd + kube-apiserver on 127.0.0.1, in <lab root>/kube');
const kubeRoot = (): string => demoPaths(root()).kubeRoot;
kube
  .command('up')
  .description('start etcd and kube-apiserver (idempotent)')
  .action(async () => {
    const handle = await startKube({ root: kubeRoot() });
    console.log(
      `kube-apiserver ${handle.url}, pids etcd ${handle.pids.etcd} apiserver ${handle.pids.apiserver}`,
    );
    console.log(`export KUBECONFIG=${handle.kubeconfigPath}`);
  });
kube
  .command('down')
  .description('stop both (by pid) and remove their data')
  .action(async () => {
    await stopKube(kubeRoot());
    console.log('kube down');
  });
kube
  .command('status')
  .description('pids and readiness; exit 1 unless ready')
  .action(async () => {
    const status = await kubeStatus(kubeRoot());
    console.log(JSON.stringify(status, null, 2));
    if (!status.ready) process.exitCode = 1;
  });

// The main job (scripts/demo.sh): lab + mirror daemon + apiserver + operator + samples.
const demo = program
  .command('demo')
  .description('the whole demo: Ceph lab, mirror daemon, kube-apiserver, operator, samples');
demo
  .command('up')
  .description('bring everything up (idempotent) and mirror a new snapshot of /projects')
  .action(async () => {
    const started = Date.now();
    const result = await demoUp(root(), (line) => console.log(line));
    const total = (Date.now() - started) / 1000;
    console.log('');
    console.log(`demo up in ${total.toFixed(1)} s`);
    for (const [name, seconds] of result.steps) {
      console.log(`  ${seconds.toFixed(1).padStart(6)} s  ${name}`);
    }
    console.log('');
    console.log(`$ kubectl get cephfsmirrors,mirrorpeers,mirroreddirectories -n ${DEMO_NAMESPACE}`);
    const table = await kubectl(result.kube, [
      'get',
      'cephfsmirrors,mirrorpeers,mirroreddirectories',
      '-n',
      DEMO_NAMESPACE,
    ]);
    console.log(table.trimEnd());
    const kubeconfig = result.kube.kubeconfigPath;
    // The commands below must find this lab again: name it when it is not the default one.
    const lab = root() === resolve('.lab') ? 'npm run lab --' : `npm run lab -- --root ${root()}`;
    console.log(`
Snapshot ${result.snapshot} of /projects on site-a is now on site-b (fs b, /projects/.snap).

Watch it:
  export KUBECONFIG=${kubeconfig}
  kubectl get mirroreddirectories -n ${DEMO_NAMESPACE} -w
  kubectl describe mirroreddirectory/projects -n ${DEMO_NAMESPACE}
  tail -f ${demoPaths(root()).operatorLog}
More:
  ${lab} demo status    what runs, with pids
  ${lab} demo down      stop operator, kube-apiserver, etcd, mirror daemon and Ceph (by pid)`);
  });
demo
  .command('down')
  .description('stop the operator, etcd + kube-apiserver, the mirror daemon and Ceph, by pid')
  .action(async () => {
    await demoDown(root(), (line) => console.log(line));
  });
demo
  .command('status')
  .description('what runs, with pids, and the kubectl get table; exit 1 unless all runs')
  .action(async () => {
    if (!(await demoStatus(root(), (line) => console.log(line)))) process.exitCode = 1;
  });

program.parseAsync().catch((e: unknown) => {
  console.error(`lab: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
