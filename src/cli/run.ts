// `cephfs-mirror-operator run`: the operator process.
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import { loadKubeConfig } from '../kube/kube-config.js';
import { createLogger, type LogFormat } from '../log.js';
import { OperatorMetrics, startHttpServer } from '../metrics.js';
import { Manager } from '../controllers/manager.js';

export interface RunOptions {
  kubeconfig?: string;
  namespace: string[];
  leaderElect: boolean;
  leaseName: string;
  leaseNamespace: string;
  metricsPort: number;
  metricsHost: string;
  cephMonTimeoutSeconds: number;
  cephOsdTimeoutSeconds: number;
  cephfsTimeoutSeconds: number;
  reconcileDeadlineSeconds: number;
  stallTimeoutSeconds: number;
  secretResyncSeconds: number;
  /** The shortest spec.snapshots interval accepted (tests lower it to a few seconds). */
  minSnapshotIntervalSeconds?: number;
  /** false: no cephfs_mirror_directory_lag_seconds series per directory. */
  directoryLagMetrics?: boolean;
  logLevel: string;
  logFormat: LogFormat;
}

export async function run(opts: RunOptions): Promise<void> {
  const log = createLogger({ level: opts.logLevel, format: opts.logFormat });
  const kc = loadKubeConfig(opts.kubeconfig);
  const metrics = new OperatorMetrics();
  const identity = process.env['POD_NAME'] ?? `${hostname()}-${process.pid}`;
  const manager = new Manager({
    kc,
    log,
    metrics,
    namespaces: opts.namespace,
    identity,
    cephTimeouts: {
      // 0 would mean "wait for ever" to librados: every call keeps a deadline.
      monMs: Math.max(1, opts.cephMonTimeoutSeconds) * 1000,
      osdMs: Math.max(1, opts.cephOsdTimeoutSeconds) * 1000,
      fsMs: Math.max(1, opts.cephfsTimeoutSeconds) * 1000,
    },
    reconcileDeadlineMs: opts.reconcileDeadlineSeconds * 1000,
    stallLimitMs: opts.stallTimeoutSeconds * 1000,
    secretResyncMs: Math.max(1, opts.secretResyncSeconds) * 1000,
    directories: {
      minSnapshotIntervalMs: Math.max(1, opts.minSnapshotIntervalSeconds ?? 60) * 1000,
      lagMetrics: opts.directoryLagMetrics ?? true,
    },
    ...(opts.leaderElect
      ? { leaderElection: { namespace: opts.leaseNamespace, name: opts.leaseName, identity } }
      : {}),
  });
  let server: Server | undefined;
  server = await startHttpServer(opts.metricsPort, opts.metricsHost, metrics, {
    healthy: () => {
      const health = manager.health();
      if (!health.ok) log.warn('unhealthy: no progress', { reasons: health.reasons });
      return health.ok;
    },
    ready: () => manager.ready(),
  });
  const address = server.address();
  log.info('operator starting', {
    identity,
    namespaces: opts.namespace.length > 0 ? opts.namespace : 'all',
    leaderElection: opts.leaderElect,
    metrics:
      typeof address === 'object' && address ? `${address.address}:${address.port}` : address,
  });

  let shuttingDown = false;
  const shutdown = async (signal: string, code: number): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info('shutting down', { signal });
    const force = setTimeout(() => {
      log.error('graceful shutdown took too long; exiting');
      process.exit(code || 1);
    }, 25_000);
    force.unref();
    try {
      await manager.stop();
    } catch (e) {
      log.error('error during shutdown', { error: (e as Error).message });
    }
    server?.close();
    server = undefined;
    log.info('stopped');
    // Let the logger flush before leaving.
    setTimeout(() => process.exit(code), 50).unref();
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));

  await manager.start(() => {
    // Another replica may already be writing to Ceph. The manager has stopped every engine by
    // now; drain the rest and exit, and let the Deployment restart us as a standby.
    log.error('lost leadership; exiting');
    void shutdown('lost-leadership', 1);
  });
  if (!shuttingDown) log.info('reconciling', { leader: manager.isLeader });
}
