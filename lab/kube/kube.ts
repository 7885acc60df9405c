// A real etcd + kube-apiserver pair on loopback, as plain child processes under one root directory.
//
// Used by tests and the lab wherever the operator needs a Kubernetes API: CRDs, validation, the
// status subresource, watches. There is no kubelet, scheduler or controller-manager, so workloads
// are stored but never run.
//
// Everything lives under `root`, and every process is found again through its pid file, so
// `stopKube(root)` works from any process and after a crash (a stale pid is checked against
// /proc/<pid>/cmdline before it is signalled).
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { pickFreePorts } from '../ports.js';
import {
  isOwnedProcess,
  readPidFile,
  startOwnedProcess,
  stopOwnedProcess,
} from '../owned-process.js';
import { apiserverBinaryPath, etcdBinaryPath } from './paths.js';

/**
 * A second identity every lab apiserver accepts: the ServiceAccount that the Helm chart's default
 * release (`cephfs-mirror-operator` in `cephfs-mirror-system`) runs as, authenticated by a static
 * token because there is no controller-manager to issue ServiceAccount tokens. RBAC treats it as
 * that ServiceAccount; it may do nothing until a test binds roles to it (test/e2e/helm-chart).
 * The tokens file is read only at start, so the identity is always there, fixed.
 */
export const CHART_SERVICE_ACCOUNT = {
  namespace: 'cephfs-mirror-system',
  name: 'cephfs-mirror-operator',
} as const;

export interface KubeHandle {
  /** https://127.0.0.1:<port> */
  url: string;
  /** Bearer token of `admin` (group system:masters). */
  token: string;
  kubeconfigPath: string;
  /** A kubeconfig authenticating as CHART_SERVICE_ACCOUNT (its token is only in that file). */
  serviceAccountKubeconfigPath: string;
  /** PEM file that verifies the apiserver's self-signed serving certificate. */
  caPath: string;
  pids: { etcd: number; apiserver: number };
  root: string;
}

export interface StartKubeOptions {
  root: string;
  /** Default: the cached build (lab/kube/build-apiserver.sh) or $KUBE_APISERVER_BIN. */
  apiserverBinary?: string;
  /** Default: /usr/bin/etcd or $ETCD_BIN. */
  etcdBinary?: string;
  /** How long to wait for etcd and then /readyz. Default 120 s (the machine's CPU is shared). */
  readyTimeoutMs?: number;
}

export interface ProcessStatus {
  pid: number | undefined;
  alive: boolean;
}

export interface KubeStatus {
  root: string;
  etcd: ProcessStatus;
  apiserver: ProcessStatus;
  /** Known once started; undefined when no state file exists. */
  url: string | undefined;
  kubeconfigPath: string | undefined;
  /** Whether /readyz answered `ok` just now. */
  ready: boolean;
}

/** What startKube records in root/kube.json for status and for a second `up`. */
interface KubeState {
  url: string;
  token: string;
  kubeconfigPath: string;
  serviceAccountKubeconfigPath: string;
  caPath: string;
  ports: { etcdClient: number; etcdPeer: number; apiserver: number };
}

// Names startKube creates under root; stopKube removes exactly these.
const ENTRIES = [
  'kube.json',
  'etcd-data',
  'pki',
  'sa.key',
  'tokens.csv',
  'kubeconfig',
  'chart-sa.kubeconfig',
  'pids',
  'logs',
];
const MAX_PORT_ATTEMPTS = 4;

interface Layout {
  root: string;
  state: string;
  etcdData: string;
  certDir: string;
  saKey: string;
  tokens: string;
  kubeconfig: string;
  serviceAccountKubeconfig: string;
  etcdPid: string;
  apiserverPid: string;
  etcdLog: string;
  apiserverLog: string;
}

/**
 * etcd fsyncs every write; on a shared disk that caps the API server at a few hundred writes a
 * second, which would make every test and benchmark measure the disk. A lab etcd lives in RAM
 * (/dev/shm) when there is one; its data is thrown away at stop anyway.
 */
function etcdDataDir(root: string): string {
  if (!existsSync('/dev/shm')) return join(root, 'etcd-data');
  const id = createHash('sha256').update(root).digest('hex').slice(0, 16);
  return join('/dev/shm', `cmo-etcd-${id}`);
}

function layout(rootArg: string): Layout {
  const root = resolve(rootArg);
  return {
    root,
    state: join(root, 'kube.json'),
    etcdData: etcdDataDir(root),
    certDir: join(root, 'pki'),
    saKey: join(root, 'sa.key'),
    tokens: join(root, 'tokens.csv'),
    kubeconfig: join(root, 'kubeconfig'),
    serviceAccountKubeconfig: join(root, 'chart-sa.kubeconfig'),
    etcdPid: join(root, 'pids', 'etcd.pid'),
    apiserverPid: join(root, 'pids', 'kube-apiserver.pid'),
    etcdLog: join(root, 'logs', 'etcd.log'),
    apiserverLog: join(root, 'logs', 'kube-apiserver.log'),
  };
}

// A process is ours when its command line names the binary and a path under this root.
function etcdMarkers(l: Layout): string[] {
  return ['etcd', l.etcdData];
}
function apiserverMarkers(l: Layout): string[] {
  return ['kube-apiserver', l.certDir];
}

/**
 * Starts etcd and kube-apiserver under `root` and waits until /readyz answers. If both are already
 * running and ready there, returns the existing handle; leftovers of a crashed run are stopped (by
 * verified pid) and wiped first.
 */
export async function startKube(options: StartKubeOptions): Promise<KubeHandle> {
  const l = layout(options.root);
  const apiserverBinary = options.apiserverBinary ?? apiserverBinaryPath();
  const etcdBinary = options.etcdBinary ?? etcdBinaryPath();
  const timeoutMs = options.readyTimeoutMs ?? 120_000;
  for (const bin of [apiserverBinary, etcdBinary]) {
    if (!existsSync(bin)) {
      throw new Error(`${bin} not found (kube-apiserver: run lab/kube/build-apiserver.sh)`);
    }
  }

  const existing = await runningHandle(l);
  if (existing) return existing;
  await stopKube(l.root);

  for (let attempt = 1; ; attempt++) {
    const [etcdClient, etcdPeer, apiserver] = (await pickFreePorts(3)) as [number, number, number];
    const ports = { etcdClient, etcdPeer, apiserver };
    try {
      return await startOnce(l, ports, { apiserverBinary, etcdBinary, timeoutMs });
    } catch (err) {
      await stopKube(l.root);
      // A probed port can be taken before our process binds it; only that case is retried.
      if (!(err instanceof PortInUseError) || attempt >= MAX_PORT_ATTEMPTS) throw err;
    }
  }
}

class PortInUseError extends Error {}

async function startOnce(
  l: Layout,
  ports: KubeState['ports'],
  opts: { apiserverBinary: string; etcdBinary: string; timeoutMs: number },
): Promise<KubeHandle> {
  mkdirSync(l.root, { recursive: true });
  mkdirSync(l.etcdData, { recursive: true, mode: 0o700 });
  mkdirSync(l.certDir, { recursive: true });
  const deadline = Date.now() + opts.timeoutMs;

  const token = randomBytes(24).toString('hex');
  const saToken = randomBytes(24).toString('hex');
  const sa = CHART_SERVICE_ACCOUNT;
  writeFileSync(
    l.tokens,
    `${token},admin,admin,"system:masters"\n` +
      `${saToken},system:serviceaccount:${sa.namespace}:${sa.name},chart-sa,` +
      `"system:serviceaccounts,system:serviceaccounts:${sa.namespace}"\n`,
    { mode: 0o600 },
  );
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(l.saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });

  const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
  const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
  const etcd = startOwnedProcess({
    command: opts.etcdBinary,
    args: [
      '--name=lab',
      `--data-dir=${l.etcdData}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=lab=${peerUrl}`,
      '--log-level=warn',
      '--logger=zap',
    ],
    pidFile: l.etcdPid,
    logFile: l.etcdLog,
  });
  await waitFor(
    'etcd /health',
    async () => (await loopbackGet(`${etcdUrl}/health`)).includes('"health":"true"'),
    deadline,
    () => exitedWithLog(etcd, etcdMarkers(l), l.etcdLog, 'etcd'),
  );

  const url = `https://127.0.0.1:${ports.apiserver}`;
  const apiserver = startOwnedProcess({
    command: opts.apiserverBinary,
    args: [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${ports.apiserver}`,
      // 1.20 still opens an unauthenticated port on 127.0.0.1:8080 by default; two runs would clash.
      '--insecure-port=0',
      `--cert-dir=${l.certDir}`,
      `--service-account-key-file=${l.saKey}`,
      `--service-account-signing-key-file=${l.saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--token-auth-file=${l.tokens}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/24',
      '--profiling=false',
    ],
    pidFile: l.apiserverPid,
    logFile: l.apiserverLog,
  });
  await waitFor(
    'kube-apiserver /readyz',
    async () => (await loopbackGet(`${url}/readyz`, token)) === 'ok',
    deadline,
    () =>
      exitedWithLog(etcd, etcdMarkers(l), l.etcdLog, 'etcd') ??
      exitedWithLog(apiserver, apiserverMarkers(l), l.apiserverLog, 'kube-apiserver'),
  );

  // With --cert-dir the apiserver writes a self-signed serving cert followed by its CA.
  const caPath = join(l.certDir, 'apiserver.crt');
  writeKubeconfig(l.kubeconfig, url, token, caPath, 'admin');
  writeKubeconfig(l.serviceAccountKubeconfig, url, saToken, caPath, sa.name);
  const state: KubeState = {
    url,
    token,
    kubeconfigPath: l.kubeconfig,
    serviceAccountKubeconfigPath: l.serviceAccountKubeconfig,
    caPath,
    ports,
  };
  writeFileSync(l.state, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return { ...stateToHandle(l, state), pids: { etcd, apiserver } };
}

/** Stops both processes (if still ours) and removes everything startKube created under root. */
export async function stopKube(rootArg: string): Promise<void> {
  const l = layout(rootArg);
  // The apiserver first: it would otherwise spend its shutdown retrying a vanished etcd.
  await stopOwnedProcess(l.apiserverPid, apiserverMarkers(l));
  await stopOwnedProcess(l.etcdPid, etcdMarkers(l));
  for (const name of ENTRIES) rmSync(join(l.root, name), { recursive: true, force: true });
  rmSync(l.etcdData, { recursive: true, force: true });
  try {
    if (readdirSync(l.root).length === 0) rmSync(l.root, { recursive: true, force: true });
  } catch {
    // Root never existed.
  }
}

export async function kubeStatus(rootArg: string): Promise<KubeStatus> {
  const l = layout(rootArg);
  const state = readState(l);
  const etcd = processStatus(l.etcdPid, etcdMarkers(l));
  const apiserver = processStatus(l.apiserverPid, apiserverMarkers(l));
  let ready = false;
  if (state && apiserver.alive) {
    ready = (await loopbackGet(`${state.url}/readyz`, state.token).catch(() => '')) === 'ok';
  }
  return {
    root: l.root,
    etcd,
    apiserver,
    url: state?.url,
    kubeconfigPath: state?.kubeconfigPath,
    ready,
  };
}

async function runningHandle(l: Layout): Promise<KubeHandle | undefined> {
  const state = readState(l);
  const status = await kubeStatus(l.root);
  if (!state || !status.ready || !status.etcd.alive || status.etcd.pid === undefined) return;
  // Started by a version without the ServiceAccount identity: restart it.
  if (!state.serviceAccountKubeconfigPath) return;
  if (status.apiserver.pid === undefined) return;
  return {
    ...stateToHandle(l, state),
    pids: { etcd: status.etcd.pid, apiserver: status.apiserver.pid },
  };
}

function stateToHandle(l: Layout, s: KubeState): Omit<KubeHandle, 'pids'> {
  return {
    url: s.url,
    token: s.token,
    kubeconfigPath: s.kubeconfigPath,
    serviceAccountKubeconfigPath: s.serviceAccountKubeconfigPath,
    caPath: s.caPath,
    root: l.root,
  };
}

function readState(l: Layout): KubeState | undefined {
  try {
    return JSON.parse(readFileSync(l.state, 'utf8')) as KubeState;
  } catch {
    return undefined;
  }
}

function processStatus(pidFile: string, markers: string[]): ProcessStatus {
  const pid = readPidFile(pidFile);
  return { pid, alive: pid !== undefined && isOwnedProcess(pid, markers) };
}

function writeKubeconfig(
  path: string,
  url: string,
  token: string,
  caPath: string,
  user: string,
): void {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server: url, 'certificate-authority': caPath } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user, namespace: 'default' } }],
    'current-context': 'lab',
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
}

/** An Error describing a process that died during startup, or undefined while it lives. */
function exitedWithLog(
  pid: number,
  markers: string[],
  logFile: string,
  name: string,
): Error | undefined {
  if (isOwnedProcess(pid, markers)) return undefined;
  let tail = '';
  try {
    tail = readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    // No log written.
  }
  const message = `${name} (pid ${pid}) exited during startup; log ${logFile}:\n${tail}`;
  return /address already in use/i.test(tail) ? new PortInUseError(message) : new Error(message);
}

async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  deadline: number,
  failed: () => Error | undefined,
): Promise<void> {
  for (;;) {
    const failure = failed();
    if (failure) throw failure;
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/**
 * A GET with a 2 s bound, reading the body as text. For https the serving cert does not exist
 * before the apiserver writes it, so readiness is probed without verification; this only talks to
 * our own processes on loopback. Clients use caPath.
 */
function loopbackGet(url: string, token?: string): Promise<string> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolveBody, reject) => {
    const req = send(
      url,
      {
        timeout: 2_000,
        rejectUnauthorized: false,
        ...(token ? { headers: { Authorization: `Bearer ${token}` } } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolveBody(body));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
