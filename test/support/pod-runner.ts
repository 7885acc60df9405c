// What a kubelet would do with the operator's daemon Deployments, done by the test (the lab has
// no kubelet): each Deployment read from the API server becomes one local process running its
// container's command, arguments and environment exactly, with its Secret and emptyDir volumes
// materialised under a temporary directory. Only the mount paths change: every argument or
// environment value under a mountPath points at that mount's directory instead. Processes are
// stopped by pid when their Deployment is gone or its pod template changed (then started again),
// as a kubelet stops the pod of a deleted or updated Deployment.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment, V1KeyToPath, V1Secret } from '@kubernetes/client-node';
import { kubectlJson, type KubeHandle } from '../../lab/harness/kube.js';

export interface RunningPod {
  deployment: string;
  templateHash: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
  root: string;
  logPath: string;
  /** The container's args after the mount paths were rewritten. */
  args: string[];
  env: Record<string, string>;
}

export class PodRunner {
  readonly pods = new Map<string, RunningPod>();
  // Short paths: the daemon's admin socket lives in a mount, and a UNIX socket path has 107 bytes.
  private readonly root = mkdtempSync(join(tmpdir(), 'cmop-'));
  private started = 0;

  constructor(
    private readonly kube: KubeHandle,
    private readonly namespace: string,
    private readonly selector: string,
    /** Where each pod's stdout+stderr goes (the lab's log dir, so the crash check reads it). */
    private readonly logPathFor: (d: V1Deployment) => string,
  ) {}

  async deployments(): Promise<V1Deployment[]> {
    const list = await kubectlJson<{ items: V1Deployment[] }>(this.kube, [
      '-n',
      this.namespace,
      'get',
      'deployments',
      '-l',
      this.selector,
    ]);
    return list.items;
  }

  /** One pass of the kubelet: start what is declared and not running, stop what is not declared. */
  async sync(): Promise<void> {
    const declared = await this.deployments();
    const names = new Set(declared.map((d) => d.metadata?.name ?? ''));
    for (const [name, pod] of this.pods) {
      const d = declared.find((x) => x.metadata?.name === name);
      if (!names.has(name) || (d && templateHash(d) !== pod.templateHash)) await this.stop(name);
    }
    for (const d of declared) {
      const name = d.metadata?.name ?? '';
      if (!this.pods.has(name) && !d.metadata?.deletionTimestamp) await this.start(d);
    }
  }

  async start(d: V1Deployment): Promise<RunningPod> {
    const name = d.metadata?.name ?? '';
    const pod = d.spec?.template.spec;
    const c = pod?.containers[0];
    if (!pod || !c?.command?.[0]) throw new Error(`Deployment ${name} has no container command`);
    const podRoot = join(this.root, `p${++this.started}`);
    const mounts = new Map<string, string>();
    for (const m of c.volumeMounts ?? []) {
      const dir = join(podRoot, 'v', m.name);
      mkdirSync(dir, { recursive: true });
      const volume = pod.volumes?.find((v) => v.name === m.name);
      if (volume?.secret) {
        const secret = await kubectlJson<V1Secret>(this.kube, [
          '-n',
          this.namespace,
          'get',
          'secret',
          volume.secret.secretName ?? '',
        ]);
        const items: V1KeyToPath[] =
          volume.secret.items ?? Object.keys(secret.data ?? {}).map((key) => ({ key, path: key }));
        for (const item of items) {
          const raw = secret.data?.[item.key];
          if (raw === undefined) throw new Error(`Secret has no key ${item.key} for ${name}`);
          writeFileSync(join(dir, item.path), Buffer.from(raw, 'base64'), {
            mode: item.mode ?? volume.secret.defaultMode ?? 0o644,
          });
        }
      } else if (!volume?.emptyDir) {
        throw new Error(
          `volume ${m.name} of ${name}: only Secret and emptyDir volumes are run here`,
        );
      }
      mounts.set(m.mountPath, dir);
    }
    const rewrite = (value: string): string => {
      for (const [mountPath, dir] of mounts) {
        if (value === mountPath) return dir;
        if (value.startsWith(`${mountPath}/`)) return dir + value.slice(mountPath.length);
      }
      return value;
    };
    const args = (c.args ?? []).map(rewrite);
    const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
    for (const e of c.env ?? []) env[e.name] = rewrite(e.value ?? '');
    const logPath = this.logPathFor(d);
    const log = createWriteStream(logPath, { flags: 'a' });
    const child = spawn(c.command[0], [...c.command.slice(1), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    const running: RunningPod = {
      deployment: name,
      templateHash: templateHash(d),
      child,
      pid: child.pid ?? -1,
      exited,
      root: podRoot,
      logPath,
      args,
      env,
    };
    this.pods.set(name, running);
    return running;
  }

  /** SIGTERM by pid (SIGKILL after 15 s), as a kubelet stops a pod. */
  async stop(name: string): Promise<void> {
    const pod = this.pods.get(name);
    if (!pod) return;
    this.pods.delete(name);
    if (pod.child.exitCode === null && pod.child.signalCode === null) {
      process.kill(pod.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(pod.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 15_000);
      await pod.exited;
      clearTimeout(timer);
    }
    rmSync(pod.root, { recursive: true, force: true });
  }

  async stopAll(): Promise<void> {
    for (const name of [...this.pods.keys()]) await this.stop(name);
    rmSync(this.root, { recursive: true, force: true });
  }
}

function templateHash(d: V1Deployment): string {
  return createHash('sha256')
    .update(JSON.stringify(d.spec?.template ?? {}))
    .digest('hex');
}
