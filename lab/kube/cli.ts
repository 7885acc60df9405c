// `tsx lab/kube/cli.ts up|down|status --root DIR`: a real etcd + kube-apiserver for manual use.
import { Command } from 'commander';
import { kubeStatus, startKube, stopKube } from './kube.js';

const program = new Command('kube')
  .description('etcd + kube-apiserver on loopback (lab/kube)')
  .showHelpAfterError();

program
  .command('up')
  .description('start etcd and kube-apiserver under --root (no-op if already running there)')
  .requiredOption('--root <dir>', 'directory for data, pids, logs and the kubeconfig')
  .action(async (opts: { root: string }) => {
    const handle = await startKube({ root: opts.root });
    console.log(JSON.stringify({ ...handle, token: '<in kubeconfig>' }, null, 2));
    console.log(`export KUBECONFIG=${handle.kubeconfigPath}`);
  });

program
  .command('down')
  .description('stop the processes recorded under --root and remove their data')
  .requiredOption('--root <dir>', 'directory given to `up`')
  .action(async (opts: { root: string }) => {
    await stopKube(opts.root);
  });

program
  .command('status')
  .description('show pids, liveness and readiness; exit 1 unless ready')
  .requiredOption('--root <dir>', 'directory given to `up`')
  .action(async (opts: { root: string }) => {
    const status = await kubeStatus(opts.root);
    console.log(JSON.stringify(status, null, 2));
    if (!status.ready) process.exitCode = 1;
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
