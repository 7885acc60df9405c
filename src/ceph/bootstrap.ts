/**
 * Peer bootstrap tokens end to end, as the mgr module's
 * `fs snapshot mirror peer_bootstrap create / import`:
 * create runs on the site that will receive mirrored snapshots (it makes the peer user and packs
 * how to reach it), import runs on the source site (it adds the peer the token describes).
 */
import type { Rados } from 'rados-js';
import {
  checkBootstrapClientName,
  decodeBootstrapToken,
  encodeBootstrapToken,
  peerSpecOf,
  type BootstrapToken,
} from './bootstrap-token.js';
import { CephOpError, ERRNO, isCephOpError } from './errors.js';
import { monCommand, monCommandJson } from './mon.js';
import { authGet, fsAuthorize } from './mon-commands.js';
import { addPeer } from './peers.js';
import type { RemoteConnectOptions } from './remote.js';

/**
 * Creates (or keeps) the user `clientName` with `rwps` on all of `fsName` and returns a token
 * for it. The token holds the user's key: treat it as a secret.
 */
export async function createBootstrapToken(
  rados: Rados,
  fsName: string,
  clientName: string,
  siteName: string,
): Promise<string> {
  checkBootstrapClientName(clientName);
  try {
    await monCommand(rados, fsAuthorize(fsName, clientName));
  } catch (e) {
    throw bootstrapFailure('cannot create peer user', clientName, e);
  }
  let keyring: unknown;
  try {
    keyring = await monCommandJson<unknown>(rados, authGet(clientName));
  } catch (e) {
    throw bootstrapFailure('cannot fetch keyring of', clientName, e);
  }
  const first: unknown = Array.isArray(keyring) ? keyring[0] : undefined;
  const entry = (typeof first === 'object' && first !== null ? first : {}) as Record<
    string,
    unknown
  >;
  if (typeof entry['entity'] !== 'string' || typeof entry['key'] !== 'string') {
    throw new CephOpError(ERRNO.EBADMSG, `auth get ${clientName}: unexpected output`, {
      reason: 'UnexpectedCommandOutput',
    });
  }
  const token: BootstrapToken = {
    fsid: await rados.fsid(),
    filesystem: fsName,
    user: entry['entity'],
    siteName,
    key: entry['key'],
    monHost: await rados.confGet('mon_host'),
  };
  return encodeBootstrapToken(token);
}

/**
 * Adds the peer a token describes to `fsName` and returns its uuid (the existing peer's when it
 * is already there). The token is decoded and validated first: a malformed token changes nothing.
 */
export async function importBootstrapToken(
  local: Rados,
  fsName: string,
  token: string,
  options: RemoteConnectOptions = {},
): Promise<string> {
  const t = decodeBootstrapToken(token);
  return addPeer(local, fsName, {
    ...options,
    spec: peerSpecOf(t),
    remoteFsName: t.filesystem,
    // In the order the mgr module stores them (the token minus user, site_name, filesystem).
    conf: { fsid: t.fsid, key: t.key, mon_host: t.monHost },
  });
}

function bootstrapFailure(what: string, clientName: string, e: unknown): CephOpError {
  const detail = e instanceof Error ? e.message : String(e);
  return new CephOpError(
    isCephOpError(e) ? e.errno : ERRNO.EIO,
    `failed to bootstrap peer: ${what} ${clientName}: ${detail}`,
    { reason: 'PeerBootstrapFailed', cause: e },
  );
}
