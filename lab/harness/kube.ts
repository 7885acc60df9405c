// A real kube-apiserver (+ etcd) for end-to-end tests, with the project's CRDs installed.
//
// `npm test` starts one for the run and names it in KUBE_LAB_ROOT; a file run on its own starts
// a private one and stops it, by pid, when the process ends.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startKube, stopKube, type KubeHandle } from '../kube/kube.js';

export type { KubeHandle } from '../kube/kube.js';

const execFileAsync = promisify(execFile);
let kubePromise: Promise<KubeHandle> | undefined;

export function useKube(): Promise<KubeHandle> {
  kubePromise ??= openKube();
  return kubePromise;
}

async function openKube(): Promise<KubeHandle> {
  const shared = process.env['KUBE_LAB_ROOT'];
  const root = shared ?? mkdtempSync(join(tmpdir(), 'cmo-kube-'));
  const handle = await startKube({ root });
  if (!shared) {
    let stopped = false;
    process.once('beforeExit', () => {
      if (stopped) return;
      stopped = true;
      void stopKube(root).finally(() => rmSync(root, { recursive: true, force: true }));
    });
    process.once('exit', () => {
      if (stopped) return;
      for (const pid of [handle.pids.apiserver, handle.pids.etcd]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
  }
  await kubectl(handle, ['apply', '-f', 'deploy/crds/']);
  for (const crd of ['cephfsmirrors', 'mirrorpeers', 'mirroreddirectories']) {
    await kubectl(handle, [
      'wait',
      '--for=condition=Established',
      `crd/${crd}.mirror.cephfs.io`,
      '--timeout=60s',
    ]);
  }
  return handle;
}

/** Runs kubectl against the test apiserver; rejects with its stderr on failure. */
export async function kubectl(
  kube: KubeHandle,
  args: string[],
  input?: string,
  timeoutMs = 120_000,
): Promise<string> {
  const child = execFileAsync('kubectl', ['--kubeconfig', kube.kubeconfigPath, ...args], {
    timeout: timeoutMs,
    maxBuffer: 256 << 20,
  });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  try {
    return (await child).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

export async function kubectlJson<T>(kube: KubeHandle, args: string[]): Promise<T> {
  return JSON.parse(await kubectl(kube, [...args, '-o', 'json'])) as T;
}

const GROUP = 'mirror.cephfs.io';

interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/**
 * Deletes Secrets whose owners are gone, as Kubernetes' garbage collector would: the lab runs no
 * kube-controller-manager, so a bootstrap token Secret owned by a deleted CephFSMirror stays,
 * and a CephFSMirror of the same name created later (another uid) finds a Secret that is not
 * its own (SecretNotOwned). Files that apply the samples call this first and after deleting them.
 */
export async function collectOrphanedSecrets(kube: KubeHandle, namespace: string): Promise<void> {
  const secrets = await kubectlJson<{
    items: Array<{ metadata: { name: string; ownerReferences?: OwnerRef[] } }>;
  }>(kube, ['-n', namespace, 'get', 'secrets']);
  for (const s of secrets.items) {
    const refs = s.metadata.ownerReferences ?? [];
    // Only Secrets owned by this project's kinds alone: others are not ours to judge.
    if (refs.length === 0 || !refs.every((r) => r.apiVersion.startsWith(`${GROUP}/`))) continue;
    const alive = await Promise.all(
      refs.map(async (r) => {
        const out = await kubectl(kube, [
          '-n',
          namespace,
          'get',
          `${r.kind.toLowerCase()}.${GROUP}/${r.name}`,
          '--ignore-not-found',
          '-o',
          'jsonpath={.metadata.uid}',
        ]).catch(() => '');
        return out.trim() === r.uid;
      }),
    );
    if (!alive.some(Boolean)) {
      await kubectl(kube, [
        '-n',
        namespace,
        'delete',
        'secret',
        s.metadata.name,
        '--ignore-not-found',
      ]);
    }
  }
}
