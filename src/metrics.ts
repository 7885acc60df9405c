// Prometheus metrics and the /metrics, /healthz and /readyz endpoints.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly directoriesByState = new Gauge({
    name: 'cephfs_mirror_directories',
    help: 'Mirrored directories by policy state',
    labelNames: ['namespace', 'mirror', 'state'] as const,
    registers: [this.registry],
  });
  readonly instances = new Gauge({
    name: 'cephfs_mirror_instances',
    help: 'Live cephfs-mirror daemon instances per mirrored filesystem',
    labelNames: ['namespace', 'mirror'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'cephfs_mirror_reconcile_duration_seconds',
    help: 'Time spent in one reconcile',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'cephfs_mirror_reconcile_errors_total',
    help: 'Reconciles that failed and were retried',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly notifyLatency = new Histogram({
    name: 'cephfs_mirror_notify_duration_seconds',
    help: 'Acquire/release notify round trips to mirror daemons',
    labelNames: ['mode', 'result'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
    registers: [this.registry],
  });
  /** Requests to the Kubernetes API server (not watches), by verb, resource and outcome. */
  readonly kubeRequests = new Counter({
    name: 'cephfs_mirror_kube_requests_total',
    help: 'Requests to the Kubernetes API server (watches not included)',
    labelNames: ['verb', 'resource', 'subresource', 'result'] as const,
    registers: [this.registry],
  });
  /** Normal Events not sent because the process-wide Event budget was spent (src/kube/events.ts). */
  readonly eventsDropped = new Counter({
    name: 'cephfs_mirror_events_dropped_total',
    help: 'Normal Events dropped because too many were recorded at once',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** Out-of-band changes in Ceph the operator found and set back (`kind`: the resource kind). */
  readonly driftCorrections = new Counter({
    name: 'cephfs_mirror_drift_corrections_total',
    help: 'Changes made in Ceph behind the operator that it found and corrected',
    labelNames: ['kind', 'what'] as const,
    registers: [this.registry],
  });

  /**
   * Per MirroredDirectory with a peer view: the largest lag of its peers (age of the oldest source
   * snapshot a peer does not have yet). One series per directory: turn it off with
   * --no-directory-lag-metrics where directories number in the thousands.
   */
  readonly directoryLag = new Gauge({
    name: 'cephfs_mirror_directory_lag_seconds',
    help: 'Age of the oldest source snapshot of the directory not yet on a peer (largest over peers)',
    labelNames: ['namespace', 'directory'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

export interface ProbeState {
  /** Live: the process is not wedged. */
  healthy(): boolean;
  /** Ready: informers synced (and, for the leader, engines started). */
  ready(): boolean;
}

export function startHttpServer(
  port: number,
  host: string,
  metrics: OperatorMetrics,
  probes: ProbeState,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        },
        (e: unknown) => {
          res.writeHead(500);
          res.end(String(e));
        },
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' ? probes.healthy() : probes.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'not ready\n');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
