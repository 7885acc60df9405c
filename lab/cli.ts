// `npm run lab -- <command>`: start, inspect and stop the local two-site Ceph lab.
import { Command } from 'commander';
import { mirrorDaemonPid, startMirrorDaemon, stopMirrorDaemon } from './ceph-cluster.js';
import { connectionSecretYaml } from './k8s-secrets.js';
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

program.parseAsync().catch((e: unknown) => {
  console.error(`lab: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
