// Where the locally built kube-apiserver lives (see lab/kube/build-apiserver.sh).
import { homedir } from 'node:os';
import { join } from 'node:path';

export const KUBE_VERSION = '1.20.2';

/** Same path as build-apiserver.sh computes: ${XDG_CACHE_HOME:-$HOME/.cache}/cephfs-mirror-operator. */
export function projectCacheDir(): string {
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'cephfs-mirror-operator');
}

/** The cached kube-apiserver binary; KUBE_APISERVER_BIN overrides it. */
export function apiserverBinaryPath(): string {
  return (
    process.env['KUBE_APISERVER_BIN'] || join(projectCacheDir(), `kube-apiserver-${KUBE_VERSION}`)
  );
}

/** etcd from Debian's etcd-server; ETCD_BIN overrides it. */
export function etcdBinaryPath(): string {
  return process.env['ETCD_BIN'] || '/usr/bin/etcd';
}
