// The in-memory API server (fake-kube.ts) over HTTPS on 127.0.0.1, for tests that run the
// manager itself: its KubeHttp client and its client-node informers (LIST, then WATCH from the
// list's resourceVersion, streamed as JSON lines) talk to this as to a kube-apiserver. The
// serving certificate is self-signed, made by openssl in a temporary directory, and trusted
// through the kubeconfig's certificate-authority-data. The port is chosen by the kernel.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, type HttpMethod } from '../../src/kube/kube-http.js';
import { FakeKube } from './fake-kube.js';

function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'fake-kube-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class FakeKubeServer {
  private server: Server | undefined;
  private readonly streams = new Set<ServerResponse>();
  private cert: Buffer | undefined;
  port = 0;

  constructor(readonly kube = new FakeKube()) {}

  async start(): Promise<void> {
    const { key, cert } = selfSigned();
    this.cert = cert;
    const server = createServer({ key, cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req.method as HttpMethod, req.url ?? '/', chunks, res));
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  /** A kubeconfig for this server (no credentials: the fake authorises everything). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'fake',
          server: `https://127.0.0.1:${this.port}`,
          caData: Buffer.from(this.cert ?? '').toString('base64'),
          skipTLSVerify: false,
        },
      ],
      users: [{ name: 'fake', token: 'fake' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async stop(): Promise<void> {
    for (const res of this.streams) res.end();
    this.streams.clear();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(
    method: HttpMethod,
    url: string,
    chunks: Buffer[],
    res: ServerResponse,
  ): Promise<void> {
    const query = new URL(url, 'https://x').searchParams;
    if (method === 'GET' && query.get('watch') === 'true') return this.watch(url, query, res);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      const body: unknown = text === '' ? undefined : JSON.parse(text);
      const answer = await this.kube.request(method, url, body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    } catch (e) {
      const code = e instanceof KubeApiError ? e.code : 500;
      const body = e instanceof KubeApiError ? e.body : { message: String(e) };
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }
  }

  private watch(url: string, query: URLSearchParams, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // The client's watch() resolves on the headers: send them now, not with the first event.
    res.flushHeaders();
    this.streams.add(res);
    const path = url.split('?')[0] ?? url;
    const stop = this.kube.watchPath(path, query.get('resourceVersion') ?? undefined, (e) => {
      res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    });
    res.on('close', () => {
      stop();
      this.streams.delete(res);
    });
  }
}
