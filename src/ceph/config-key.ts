/**
 * A peer's remote credentials in the mon config-key store, where the mgr module keeps them and
 * the cephfs-mirror daemons read them: key `cephfs/mirror/peer/<fs>/<uuid>`, value a flat JSON
 * object with whatever of `mon_host`, `key` and `fsid` the peer was added with.
 *
 * The value holds a cephx secret: it never appears in a message, log line or error. Failures
 * name the config-key (fs and uuid are not secret) and the errno, nothing else.
 */
import type { Rados } from 'rados-js';
import { CephOpError, ERRNO, isCephOpError } from './errors.js';
import { monCommand, monCommandJson } from './mon.js';
import {
  configKeyGet,
  configKeyRm,
  configKeySet,
  PEER_CONFIG_KEY_PREFIX,
  peerConfigKey,
} from './mon-commands.js';

/** What a peer's config-key holds; field names are the stored JSON's. */
export interface PeerCredentials {
  mon_host?: string;
  /** cephx secret of the remote user. */
  key?: string;
  /** The remote cluster's fsid (present when the peer came from a bootstrap token). */
  fsid?: string;
}

const FIELDS = ['mon_host', 'key', 'fsid'] as const;

/** The stored credentials, or undefined when the peer has none (added without mon_host+key). */
export async function getPeerCredentials(
  rados: Rados,
  fsName: string,
  peerUuid: string,
): Promise<PeerCredentials | undefined> {
  const key = peerConfigKey(fsName, peerUuid);
  let text: string;
  try {
    text = (await monCommand(rados, configKeyGet(key))).outbuf.toString('utf8');
  } catch (e) {
    if (isCephOpError(e, 'ENOENT')) return undefined;
    throw failure('get', key, e);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse messages quote the input: the secret. Say only what is wrong.
    throw invalidValue(key, 'is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidValue(key, 'is not a JSON object');
  }
  const record = parsed as Record<string, unknown>;
  const credentials: PeerCredentials = {};
  for (const field of FIELDS) {
    const value = record[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw invalidValue(key, `has a non-string "${field}"`);
    credentials[field] = value;
  }
  return credentials;
}

/**
 * Stores the credentials, fields in the order given, written as Python's json.dumps would (so
 * the value reads the same as one the mgr module stored).
 */
export async function setPeerCredentials(
  rados: Rados,
  fsName: string,
  peerUuid: string,
  credentials: PeerCredentials,
): Promise<void> {
  const key = peerConfigKey(fsName, peerUuid);
  const entries = Object.entries(credentials).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  try {
    await monCommand(rados, configKeySet(key, pythonJsonObject(entries)));
  } catch (e) {
    throw failure('set', key, e);
  }
}

/**
 * Removes the credentials; a missing key is not an error (16.2 answers "key deleted" either
 * way, so there is no telling whether one existed).
 */
export async function removePeerCredentials(
  rados: Rados,
  fsName: string,
  peerUuid: string,
): Promise<void> {
  const key = peerConfigKey(fsName, peerUuid);
  try {
    await monCommand(rados, configKeyRm(key));
  } catch (e) {
    if (isCephOpError(e, 'ENOENT')) return;
    throw failure('rm', key, e);
  }
}

/** The config-keys holding peer credentials (names only), optionally for one filesystem. */
export async function listPeerCredentialKeys(rados: Rados, fsName?: string): Promise<string[]> {
  const prefix =
    fsName === undefined ? `${PEER_CONFIG_KEY_PREFIX}/` : `${PEER_CONFIG_KEY_PREFIX}/${fsName}/`;
  const keys = await monCommandJson<unknown>(rados, { prefix: 'config-key ls' });
  if (!Array.isArray(keys)) {
    throw new CephOpError(ERRNO.EBADMSG, 'config-key ls: output is not a JSON array', {
      reason: 'UnexpectedCommandOutput',
    });
  }
  return keys.filter((k): k is string => typeof k === 'string' && k.startsWith(prefix)).sort();
}

// ---- internals ----------------------------------------------------------------------------------

function failure(op: 'get' | 'set' | 'rm', key: string, e: unknown): CephOpError {
  // The mon's status text is dropped on purpose: for `set` nothing from the command may leak.
  const errno = isCephOpError(e) ? e.errno : ERRNO.EIO;
  return new CephOpError(errno, `config-key ${op} ${key} failed (${errnoText(e)})`, {
    reason: 'PeerCredentialsFailed',
  });
}

function errnoText(e: unknown): string {
  return isCephOpError(e) ? e.code : 'EIO';
}

function invalidValue(key: string, problem: string): CephOpError {
  return new CephOpError(ERRNO.EINVAL, `config-key ${key} ${problem}`, {
    reason: 'InvalidPeerCredentials',
  });
}

/** A flat object of strings as Python's json.dumps writes it (", "/": ", non-ASCII escaped). */
function pythonJsonObject(entries: [string, string][]): string {
  const str = (s: string): string =>
    JSON.stringify(s).replace(
      /[^\x20-\x7e]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  return `{${entries.map(([k, v]) => `${str(k)}: ${str(v)}`).join(', ')}}`;
}
