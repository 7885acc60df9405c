/**
 * Connections to a peer (remote) site: its cluster with the peer user's credentials, and its
 * filesystem mounted through that connection, as the mgr module opens them to set or clear
 * `ceph.mirror.info` on the remote root.
 *
 * Every connection is bounded in time (an unreachable site must not hang a reconcile), and every
 * failure is a RemoteSiteError naming the site, the user and the errno; never the key.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { CephFS, isCephFSError } from 'cephfs-js';
import type { Rados } from 'rados-js';
import { connectSecure } from './connect.js';
import { InsecureMonHostError, MonHostParseError } from './mon-host.js';
import { CephOpError, ERRNO, errnoCode } from './errors.js';

export interface RemoteSite {
  /** The peer user, `client.<id>`. */
  clientName: string;
  /** The site (cluster) name of the peer spec `client.<id>@<site>`. */
  siteName: string;
  /** The remote filesystem. */
  fsName: string;
  /** Remote monitors; with `key`, the connection reads no file. */
  monHost?: string;
  /** The peer user's cephx secret. */
  key?: string;
  /** The remote cluster's fsid, when known (from a bootstrap token); not checked here. */
  fsid?: string;
}

export interface RemoteConnectOptions {
  /** Bound on connecting and on mounting (whole seconds, rounded up). Default 20 s. */
  timeoutMs?: number;
  /**
   * Where `<site>.conf` and `<site>.client.<id>.keyring` are looked up when monHost and key are
   * not both given (the mgr module reads /etc/ceph/<site>.conf). Default /etc/ceph.
   */
  confDir?: string;
  /** MirrorPeer spec.allowInsecureV1: accept remote monitors reached only over msgr1. */
  allowInsecureV1?: boolean;
  /** Test seam: how withRemoteFs reaches the remote (default connectRemote). */
  connect?: (site: RemoteSite, options: RemoteConnectOptions) => Promise<RemoteFs>;
  /** Test seam: how adding a peer mounts the local filesystem (default CephFS.mount). */
  mountLocal?: (local: Rados, fsName: string) => Promise<CephFS>;
}

export const DEFAULT_REMOTE_TIMEOUT_MS = 20_000;

export type RemoteStage = 'connect' | 'mount';

/** Could not reach, authenticate to, or mount the remote site. */
export class RemoteSiteError extends CephOpError {
  override name = 'RemoteSiteError';
  constructor(
    readonly site: string,
    readonly stage: RemoteStage,
    errno: number,
    message: string,
    reason: string,
  ) {
    super(errno, message, { reason });
  }
}

/** A connected remote cluster with its filesystem mounted. Close it with closeRemote(). */
export interface RemoteFs {
  site: RemoteSite;
  rados: Rados;
  fs: CephFS;
}

/** Connects to the remote cluster as the peer user and mounts its filesystem. */
export async function connectRemote(
  site: RemoteSite,
  options: RemoteConnectOptions = {},
): Promise<RemoteFs> {
  const clientId = clientIdOf(site);
  const timeoutMs = options.timeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS;
  // libcephfs created from this handle shares its configuration: these are the settings the mgr
  // module applies to its remote mounts (act as root; the peer user may not read pool metadata).
  const conf = {
    client_mount_uid: '0',
    client_mount_gid: '0',
    client_check_pool_perm: 'false',
    // The operator only lists `.snap` directories and touches the root's xattrs: a small inode
    // cache keeps a long-lived mount from growing to libcephfs' default of 16384 inodes.
    client_cache_size: '1024',
  };
  let rados: Rados;
  try {
    if (site.monHost && site.key) {
      rados = await connectSecure({
        allowInsecureV1: options.allowInsecureV1 === true,
        monHost: site.monHost,
        clientId,
        key: site.key,
        timeoutMs,
        conf,
      });
    } else {
      const dir = options.confDir ?? '/etc/ceph';
      const confPath = join(dir, `${site.siteName}.conf`);
      try {
        await access(confPath);
      } catch {
        throw new RemoteSiteError(
          site.siteName,
          'connect',
          ERRNO.ENOENT,
          `cluster ${site.siteName} does not exist (no mon_host and key given, and no ${confPath})`,
          'RemoteSiteUnknown',
        );
      }
      // librados would expand $cluster to "ceph"; name the site's keyrings explicitly.
      const keyring = [
        join(dir, `${site.siteName}.${site.clientName}.keyring`),
        join(dir, `${site.siteName}.keyring`),
      ].join(',');
      rados = await connectSecure({
        allowInsecureV1: options.allowInsecureV1 === true,
        confPath,
        clientId,
        timeoutMs,
        conf: { ...conf, keyring },
      });
    }
  } catch (e) {
    // Refused before connecting (InvalidMonHost, InsecureMonHost): keep the precise reason.
    if (e instanceof RemoteSiteError || e instanceof MonHostParseError) throw e;
    if (e instanceof InsecureMonHostError) throw e;
    throw remoteError(site, 'connect', e, timeoutMs);
  }
  try {
    const fs = await CephFS.mount({ rados, fsName: site.fsName });
    return { site, rados, fs };
  } catch (e) {
    await rados.shutdown().catch(() => undefined);
    if (isCephFSError(e) && e.code === 'ENOENT') {
      throw new RemoteSiteError(
        site.siteName,
        'mount',
        ERRNO.ENOENT,
        `filesystem ${site.fsName} does not exist on site ${site.siteName}`,
        'RemoteFilesystemNotFound',
      );
    }
    throw remoteError(site, 'mount', e, timeoutMs);
  }
}

/** Unmounts and disconnects; never throws (there is nothing a caller could do about it). */
export async function closeRemote(remote: RemoteFs): Promise<void> {
  await remote.fs.close().catch(() => undefined);
  await remote.rados.shutdown().catch(() => undefined);
}

/** Runs `fn` with the remote filesystem mounted, and always unmounts and disconnects after. */
export async function withRemoteFs<T>(
  site: RemoteSite,
  fn: (remote: RemoteFs) => Promise<T>,
  options: RemoteConnectOptions = {},
): Promise<T> {
  const remote = await (options.connect ?? connectRemote)(site, options);
  try {
    return await fn(remote);
  } finally {
    await closeRemote(remote);
  }
}

/** `client.<id>` → `<id>`; EINVAL for anything else. */
export function clientIdOf(site: Pick<RemoteSite, 'clientName'>): string {
  const m = /^client\.([^.@\s]+)$/.exec(site.clientName);
  if (m?.[1] === undefined) {
    throw new CephOpError(ERRNO.EINVAL, `invalid client name ${site.clientName}`, {
      reason: 'InvalidArgument',
    });
  }
  return m[1];
}

function remoteError(
  site: RemoteSite,
  stage: RemoteStage,
  e: unknown,
  timeoutMs: number,
): RemoteSiteError {
  const raw = typeof e === 'object' && e !== null ? (e as { errno?: unknown }).errno : undefined;
  const errno = typeof raw === 'number' && raw !== 0 ? Math.abs(raw) : ERRNO.EIO;
  const code = errnoCode(errno);
  const what =
    stage === 'connect'
      ? `cannot connect to site ${site.siteName} as ${site.clientName}`
      : `cannot mount filesystem ${site.fsName} on site ${site.siteName} as ${site.clientName}`;
  const hint = code === 'ETIMEDOUT' ? ` (no answer within ${Math.ceil(timeoutMs / 1000)} s)` : '';
  const reason =
    code === 'ETIMEDOUT'
      ? 'RemoteSiteUnreachable'
      : code === 'EACCES' || code === 'EPERM'
        ? 'RemoteAccessDenied'
        : 'RemoteSiteError';
  // The underlying message is left out: librados/libcephfs errors are safe today, but this text
  // ends up in Kubernetes conditions, and the errno says what matters.
  return new RemoteSiteError(site.siteName, stage, errno, `${what}: ${code}${hint}`, reason);
}
