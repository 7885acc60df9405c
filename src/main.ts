#!/usr/bin/env node
// Process entry: the command line.
import { Command, InvalidArgumentError, Option } from 'commander';
import { run, type RunOptions } from './cli/run.js';

// libuv sizes its thread pool on first use, which comes after this line when the operator is run
// from source (the launcher of the built operator sets it before node starts): more threads than
// the default 4 keep a few calls into a hung MDS or mon from stalling every mirror's work.
process.env['UV_THREADPOOL_SIZE'] ??= '16';

function port(value: string): number {
  const n = Number.parseInt(value, 10);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('not a port number');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 86_400) {
    throw new InvalidArgumentError('not a whole number of seconds (0 to 86400)');
  }
  return n;
}

const collect = (value: string, previous: string[]): string[] => [
  ...previous,
  ...value.split(',').filter(Boolean),
];

const program = new Command('cephfs-mirror-operator')
  .description('Declarative CephFS snapshot mirroring for Kubernetes')
  .version('0.1.0');

program
  .command('run')
  .description('run the operator')
  .option(
    '--kubeconfig <path>',
    'kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)',
  )
  .option(
    '--namespace <ns>',
    'namespace to watch (repeatable, comma-separated); default all',
    collect,
    [],
  )
  .option('--leader-elect', 'take a Lease before reconciling (for more than one replica)', false)
  .option('--lease-name <name>', 'Lease name', 'cephfs-mirror-operator')
  .option('--lease-namespace <ns>', 'Lease namespace', process.env['POD_NAMESPACE'] ?? 'default')
  .option('--metrics-port <port>', '/metrics, /healthz, /readyz port', port, 8080)
  .option('--metrics-host <host>', 'address to bind the metrics port to', '127.0.0.1')
  .option(
    '--ceph-mon-timeout-seconds <s>',
    'deadline of connecting and of each mon/mgr command',
    seconds,
    20,
  )
  .option('--ceph-osd-timeout-seconds <s>', 'deadline of each RADOS object operation', seconds, 60)
  .option(
    '--cephfs-timeout-seconds <s>',
    'deadline of each libcephfs call (stat, snapshot lists); a hung MDS holds at most 4 threads',
    seconds,
    15,
  )
  .option(
    '--reconcile-deadline-seconds <s>',
    'a reconcile running longer fails and is retried (0: none)',
    seconds,
    120,
  )
  .option(
    '--stall-timeout-seconds <s>',
    '/healthz fails once a work queue or an engine made no progress for this long',
    seconds,
    300,
  )
  .option(
    '--secret-resync-seconds <s>',
    'how often the Secrets the resources name are read again (a change reconciles their users)',
    seconds,
    10,
  )
  .option(
    '--min-snapshot-interval-seconds <s>',
    'shortest spec.snapshots interval accepted (lower only for tests)',
    seconds,
    60,
  )
  .option(
    '--no-directory-lag-metrics',
    'no cephfs_mirror_directory_lag_seconds series per MirroredDirectory (large installations)',
  )
  .addOption(
    new Option('--log-level <level>', 'log level')
      .choices(['error', 'warn', 'info', 'debug'])
      .default('info'),
  )
  .addOption(
    new Option('--log-format <format>', 'json (production) or text (readable)')
      .choices(['json', 'text'])
      .default(process.env['NODE_ENV'] === 'production' ? 'json' : 'text'),
  )
  .action(async (opts: RunOptions) => {
    await run(opts);
  });

program.parseAsync().catch((e: unknown) => {
  console.error(`cephfs-mirror-operator: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
