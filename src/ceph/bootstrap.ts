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
 * The caps `fs authorize <fs> <client> / rwps` gives a new user in Pacific (AuthMonitor.cc,
 * `AuthMonitor::prepare_command`, "fs authorize": mon `allow r fsname=`, mds `allow <perm>
 * fsname=`, osd `allow rw tag cephfs data=`), i.e. what the mgr module's
 * `peer_bootstrap create` gives the peer user: the only caps a bootstrap user may have.
 */
export function peerCaps(fsName: string): Record<string, string> {
  return {
    mds: `allow rwps fsname=${fsName}`,
    mon: `allow r fsname=${fsName}`,
    osd: `allow rw tag cephfs data=${fsName}`,
  };
}

/** A cap string as a sorted list of its grants, whitespace normalised. */
function grantsOf(cap: string): string[] {
  return cap
    .split(',')
    .map((g) => g.trim().replace(/\s+/g, ' '))
    .filter((g) => g !== '')
    .sort();
}

/** True when `caps` are exactly `wanted`: the same daemons, the same grants for each. */
export function capsEqual(caps: Record<string, string>, wanted: Record<string, string>): boolean {
  const daemons = Object.keys(caps).sort();
  if (daemons.join() !== Object.keys(wanted).sort().join()) return false;
  return daemons.every(
    (d) => grantsOf(caps[d] ?? '').join('\n') === grantsOf(wanted[d] ?? '').join('\n'),
  );
}

interface KeyringEntry {
  entity: string;
  key: string;
  caps: Record<string, string>;
}

/** The user's keyring entry, or undefined when the user does not exist (ENOENT). */
async function readUser(rados: Rados, clientName: string): Promise<KeyringEntry | undefined> {
  let keyring: unknown;
  try {
    keyring = await monCommandJson<unknown>(rados, authGet(clientName));
  } catch (e) {
    if (isCephOpError(e) && e.errno === ERRNO.ENOENT) return undefined;
    throw bootstrapFailure('cannot fetch keyring of', clientName, e);
  }
  const first: unknown = Array.isArray(keyring) ? keyring[0] : undefined;
  const entry = (typeof first === 'object' && first !== null ? first : {}) as Record<
    string,
    unknown
  >;
  const caps = entry['caps'];
  if (
    typeof entry['entity'] !== 'string' ||
    typeof entry['key'] !== 'string' ||
    (caps !== undefined && (typeof caps !== 'object' || caps === null))
  ) {
    throw new CephOpError(ERRNO.EBADMSG, `auth get ${clientName}: unexpected output`, {
      reason: 'UnexpectedCommandOutput',
    });
  }
  const capStrings: Record<string, string> = {};
  for (const [daemon, cap] of Object.entries((caps ?? {}) as Record<string, unknown>)) {
    capStrings[daemon] = typeof cap === 'string' ? cap : JSON.stringify(cap);
  }
  return { entity: entry['entity'], key: entry['key'], caps: capStrings };
}

/**
 * Creates (or keeps) the user `clientName` with `rwps` on all of `fsName` and returns a token
 * for it. The token holds the user's key: treat it as a secret.
 *
 * An existing user is used only when its caps are exactly the peer caps (peerCaps): otherwise
 * (any other grant, another filesystem, an extra daemon such as mgr) it is refused with reason
 * ClientCapsMismatch and nothing is changed, since its key would be published in the token.
 * Pacific's `fs authorize` itself compares only the mon, osd and mds caps it would set
 * (AuthMonitor.cc: "key for <entity> exists but cap <daemon> does not match"), so a user with
 * an extra cap would pass it.
 */
export async function createBootstrapToken(
  rados: Rados,
  fsName: string,
  clientName: string,
  siteName: string,
): Promise<string> {
  checkBootstrapClientName(clientName);
  const wanted = peerCaps(fsName);
  const existing = await readUser(rados, clientName);
  if (existing && !capsEqual(existing.caps, wanted)) throw capsMismatch(clientName, fsName);
  if (!existing) {
    try {
      await monCommand(rados, fsAuthorize(fsName, clientName));
    } catch (e) {
      throw bootstrapFailure('cannot create peer user', clientName, e);
    }
  }
  const entry = existing ?? (await readUser(rados, clientName));
  if (!entry) {
    throw new CephOpError(ERRNO.ENOENT, `auth get ${clientName}: no such user after creating it`, {
      reason: 'PeerBootstrapFailed',
    });
  }
  // Created concurrently by someone else with other caps: refused the same way.
  if (!capsEqual(entry.caps, wanted)) throw capsMismatch(clientName, fsName);
  const token: BootstrapToken = {
    fsid: await rados.fsid(),
    filesystem: fsName,
    user: entry.entity,
    siteName,
    key: entry.key,
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

function capsMismatch(clientName: string, fsName: string): CephOpError {
  const want = Object.entries(peerCaps(fsName))
    .map(([d, c]) => `${d} '${c}'`)
    .join(', ');
  return new CephOpError(
    ERRNO.EEXIST,
    `the Ceph user ${clientName} exists with caps other than the peer caps (${want}); ` +
      'the operator publishes the key of a dedicated peer user only: remove that user, give it ' +
      'exactly these caps, or name another client in spec.bootstrapTokenSecret.clientName',
    { reason: 'ClientCapsMismatch' },
  );
}

function bootstrapFailure(what: string, clientName: string, e: unknown): CephOpError {
  const detail = e instanceof Error ? e.message : String(e);
  return new CephOpError(
    isCephOpError(e) ? e.errno : ERRNO.EIO,
    `failed to bootstrap peer: ${what} ${clientName}: ${detail}`,
    { reason: 'PeerBootstrapFailed', cause: e },
  );
}
