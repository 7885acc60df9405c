// JSON over HTTPS to the Kubernetes API server, for the operator's request/response calls.
//
// Why not client-node's generated API classes: they send every request through node-fetch 2,
// which on a kept-alive socket reports false "Premature close" errors (node-fetch issue #1767;
// we saw them on status writes under load), and without keep-alive every call pays a TLS
// handshake on both sides, which capped the API server at about a hundred writes a second on
// the 2-core lab. They also load a model class for every Kubernetes type. client-node still does
// what it is good at: the kubeconfig (files, in-cluster, exec and token-file credentials) and
// the watches behind the informers.
//
// One keep-alive agent serves every call. A request that fails on a reused socket before any
// response (the server closed the idle connection as we wrote) is sent once more, as Go's and
// Node's own clients do; any other failure goes to the caller.
import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

/** An error answer of the API server; `body` is its Status object when it sent one. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: unknown,
    method: string,
    path: string,
  ) {
    super(`${method} ${path}: HTTP ${code}${statusMessage(body)}`);
    this.name = 'KubeApiError';
  }
}

function statusMessage(body: unknown): string {
  const message =
    typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? `: ${message}` : '';
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What one request was about, for the request counter (src/metrics.ts kubeRequests). */
export interface RequestOutcome {
  verb: HttpMethod;
  /** The resource's plural name (`mirroreddirectories`, `secrets`, `leases`, ...). */
  resource: string;
  /** `status` for a status write; empty for the object itself. */
  subresource: string;
  /** `ok`, the HTTP code of an error answer (`409`), or `error` when no answer came. */
  result: string;
}

/** Told of every request once it is answered or failed (retries of a stale socket not counted). */
export type RequestObserver = (outcome: RequestOutcome) => void;

/**
 * The resource and subresource a request path names: `/apis/<group>/<version>/namespaces/<ns>/
 * <plural>/<name>/<sub>` or `/api/v1/...` (namespaced or not).
 */
export function resourceOfPath(path: string): { resource: string; subresource: string } {
  const segments = (path.split('?')[0] ?? '').split('/').filter((s) => s !== '');
  let rest = segments.slice(segments[0] === 'api' ? 2 : 3);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  return { resource: rest[0] ?? '', subresource: rest[2] ?? '' };
}

/** Credentials are re-read this often (a rotated token file, an exec plugin's new token). */
const CREDENTIALS_TTL_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/**
 * Connections: as many as reconciles run at once (32 for directories), all kept while in use and
 * closed after a minute unused. Keeping only a few idle ones made every burst of writes (a status
 * per directory, thousands at a time) open new TLS connections, each a handshake on both sides
 * (a CPU profile of 10,000 new directories showed the operator's share of it; docs/benchmarks.md,
 * "The API floor").
 */
const MAX_SOCKETS = 32;
const MAX_FREE_SOCKETS = MAX_SOCKETS;
const IDLE_SOCKET_TIMEOUT_MS = 60_000;

interface Credentials {
  headers: Record<string, string>;
  auth?: string;
  readAtMs: number;
}

export class KubeHttp {
  private readonly server: URL;
  private agent: Agent | undefined;
  private credentials: Credentials | undefined;

  constructor(
    private readonly kc: KubeConfig,
    private readonly observer?: RequestObserver,
  ) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig names no current cluster');
    this.server = new URL(cluster.server);
    if (this.server.protocol !== 'https:') {
      throw new Error(
        `the API server must be reached over https (kubeconfig says ${cluster.server})`,
      );
    }
  }

  /** Sends one request; resolves with the parsed JSON answer, rejects with KubeApiError. */
  async request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const options = await this.options(method, path, payload);
      try {
        const answer = (await send(options, payload)) as T;
        this.observe(method, path, 'ok');
        return answer;
      } catch (e) {
        if (e instanceof KubeApiError) {
          this.observe(method, path, String(e.code));
          // A token may have expired between two reads of the credentials: read them again once.
          if (e.code === 401 && !refreshed) {
            refreshed = true;
            this.credentials = undefined;
            continue;
          }
        } else if (attempt === 0 && isStaleSocket(e)) {
          // Nothing reached the server: sent again, counted once.
          continue;
        } else {
          this.observe(method, path, 'error');
        }
        throw e;
      }
    }
  }

  private observe(verb: HttpMethod, path: string, result: string): void {
    if (this.observer) this.observer({ verb, ...resourceOfPath(path), result });
  }

  /** Closes the idle connections (at shutdown, so the process can exit at once). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  private async options(
    method: HttpMethod,
    path: string,
    payload: Buffer | undefined,
  ): Promise<RequestOptions> {
    const credentials = await this.currentCredentials();
    const headers: Record<string, string | number> = {
      ...credentials.headers,
      accept: 'application/json',
    };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return {
      method,
      protocol: 'https:',
      hostname: this.server.hostname,
      port: this.server.port || 443,
      path: joinPath(this.server.pathname, path),
      headers,
      ...(credentials.auth ? { auth: credentials.auth } : {}),
      agent: this.agent,
      timeout: REQUEST_TIMEOUT_MS,
    };
  }

  private async currentCredentials(): Promise<Credentials> {
    const now = Date.now();
    if (this.credentials && now - this.credentials.readAtMs < CREDENTIALS_TTL_MS) {
      return this.credentials;
    }
    const opts: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    // The TLS material (CA, client certificate) is fixed for the process; the agent keeps it.
    this.agent ??= new Agent({
      keepAlive: true,
      maxSockets: MAX_SOCKETS,
      maxFreeSockets: MAX_FREE_SOCKETS,
      timeout: IDLE_SOCKET_TIMEOUT_MS,
      ...(opts.ca ? { ca: opts.ca } : {}),
      ...(opts.cert ? { cert: opts.cert } : {}),
      ...(opts.key ? { key: opts.key } : {}),
      ...(opts.servername ? { servername: opts.servername } : {}),
      ...(opts.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    });
    this.credentials = {
      headers: stringHeaders(opts.headers),
      ...(typeof opts.auth === 'string' ? { auth: opts.auth } : {}),
      readAtMs: now,
    };
    return this.credentials;
  }
}

function joinPath(base: string, path: string): string {
  return base === '/' || base === '' ? path : `${base.replace(/\/$/, '')}${path}`;
}

function stringHeaders(headers: RequestOptions['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers || Array.isArray(headers)) return out;
  for (const [k, v] of Object.entries(headers as IncomingHttpHeaders)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number') out[k] = String(v);
  }
  return out;
}

/** The server closed a kept-alive socket just as we reused it; nothing reached it. */
class StaleSocketError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

function isStaleSocket(e: unknown): boolean {
  return e instanceof StaleSocketError;
}

function send(options: RequestOptions, payload: Buffer | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(options, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        if (text !== '') {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = text;
          }
        }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(parsed);
        else reject(new KubeApiError(status, parsed, options.method ?? 'GET', options.path ?? ''));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      const stale =
        !answered && req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE');
      reject(stale ? new StaleSocketError(e) : e);
    });
    req.end(payload);
  });
}
