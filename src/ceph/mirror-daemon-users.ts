/**
 * The cephx users the operator creates for the cephfs-mirror daemons it runs (spec.daemons).
 *
 * Each daemon gets a user of its own, `client.cephfs-mirror.<mirror>.<n>`, with exactly the caps
 * Ceph documents for a cephfs-mirror daemon (doc/cephfs/cephfs-mirroring.rst, "Creating Users"):
 * mon `profile cephfs-mirror`, mds `allow r`, osd `allow rw tag cephfs metadata=*, allow r tag
 * cephfs data=*`, mgr `allow r`. The operator's own mon caps allow `auth get-or-create` only for
 * this entity prefix and only with these four caps verbatim (the mon matches `caps_<type>`
 * arguments, Monitor::_allowed_command), and `auth get` and `auth rm` only for this prefix: it
 * cannot create, read or remove any other user, nor give these more.
 *
 * `auth get-or-create` returns the existing key when the user exists with the same caps, and
 * fails with EINVAL ("key for ... exists but cap ... does not match",
 * AuthMonitor::prepare_command) when it exists with other caps: such a user is someone else's and
 * is never overwritten (DaemonUserConflict), nor removed: a user is removed only after `auth get`
 * showed it with exactly the daemon caps.
 */
import type { Rados } from 'rados-js';
import { CephOpError, ERRNO } from './errors.js';
import { CommandError, monCommand, monCommandJson } from './mon.js';
import type { MonCommand } from './mon-commands.js';

/** Every daemon user's entity starts with this (the operator's mon caps are limited to it). */
export const DAEMON_ENTITY_PREFIX = 'client.cephfs-mirror.';

/** The caps of a cephfs-mirror daemon, as doc/cephfs/cephfs-mirroring.rst gives them. */
export const DAEMON_CAPS: Readonly<Record<'mon' | 'mds' | 'osd' | 'mgr', string>> = Object.freeze({
  mon: 'profile cephfs-mirror',
  mds: 'allow r',
  osd: 'allow rw tag cephfs metadata=*, allow r tag cephfs data=*',
  mgr: 'allow r',
});

/**
 * The mon cap clauses that let the operator manage these users and nothing else (added to the
 * operator's own user: lab/ceph-cluster.ts operatorCaps, docs/security.md).
 */
export function daemonUserAdminMonCaps(): string[] {
  const caps = Object.entries(DAEMON_CAPS)
    .map(([type, cap]) => `caps_${type}="${cap}"`)
    .join(' ');
  return [
    `allow command "auth get-or-create" with entity prefix ${DAEMON_ENTITY_PREFIX} ${caps}`,
    `allow command "auth get" with entity prefix ${DAEMON_ENTITY_PREFIX}`,
    `allow command "auth rm" with entity prefix ${DAEMON_ENTITY_PREFIX}`,
  ];
}

const ENTITY = /^client\.cephfs-mirror\.[A-Za-z0-9_-]+\.[0-9]+$/;

function checkedEntity(entity: string): string {
  if (!ENTITY.test(entity)) {
    throw new CephOpError(ERRNO.EINVAL, `invalid mirror daemon user ${entity}`, {
      reason: 'InvalidArgument',
    });
  }
  return entity;
}

export function authGetOrCreate(entity: string): MonCommand {
  return {
    prefix: 'auth get-or-create',
    entity: checkedEntity(entity),
    caps: Object.entries(DAEMON_CAPS).flat(),
    format: 'json',
  };
}

export function authGetDaemon(entity: string): MonCommand {
  return { prefix: 'auth get', entity: checkedEntity(entity), format: 'json' };
}

export function authRm(entity: string): MonCommand {
  return { prefix: 'auth rm', entity: checkedEntity(entity) };
}

/** The user exists with caps other than a mirror daemon's: it is not the operator's to change. */
export class DaemonUserConflictError extends CephOpError {
  override name = 'DaemonUserConflictError';
  constructor(
    readonly entity: string,
    cause: unknown,
  ) {
    super(
      ERRNO.EEXIST,
      `Ceph user ${entity} already exists with other caps than a cephfs-mirror daemon's: ` +
        'remove it, or it stays untouched and this daemon is not started',
      { reason: 'DaemonUserConflict', cause },
    );
  }
}

/** Creates the daemon's user (or finds it with the right caps) and returns its key. */
export async function ensureDaemonUser(rados: Rados, entity: string): Promise<string> {
  let out: unknown;
  try {
    out = await monCommandJson<unknown>(rados, authGetOrCreate(entity));
  } catch (e) {
    if (e instanceof CommandError && e.errno === ERRNO.EINVAL && /exists but cap/.test(e.message))
      throw new DaemonUserConflictError(entity, e);
    throw e;
  }
  const key = keyOf(out, entity);
  if (!key) {
    throw new CephOpError(ERRNO.EBADMSG, `auth get-or-create ${entity}: unexpected output`, {
      reason: 'UnexpectedCommandOutput',
    });
  }
  return key;
}

export type RemoveOutcome = 'removed' | 'absent' | 'foreign';

/**
 * Removes the daemon's user when it has exactly the daemon caps; one with other caps is someone
 * else's and stays ('foreign'); one that does not exist is fine ('absent').
 */
export async function removeDaemonUser(rados: Rados, entity: string): Promise<RemoveOutcome> {
  let out: unknown;
  try {
    out = await monCommandJson<unknown>(rados, authGetDaemon(entity));
  } catch (e) {
    if (e instanceof CommandError && e.errno === ERRNO.ENOENT) return 'absent';
    throw e;
  }
  if (!hasDaemonCaps(out, entity)) return 'foreign';
  await monCommand(rados, authRm(entity));
  return 'removed';
}

function hasDaemonCaps(out: unknown, entity: string): boolean {
  const list = Array.isArray(out) ? (out as unknown[]) : [out];
  const item = list.find(
    (i): i is { caps?: unknown } =>
      typeof i === 'object' && i !== null && (i as { entity?: unknown }).entity === entity,
  );
  const caps = item?.caps;
  if (typeof caps !== 'object' || caps === null) return false;
  const have = caps as Record<string, unknown>;
  const want = DAEMON_CAPS as Record<string, string>;
  return (
    Object.keys(have).length === Object.keys(want).length &&
    Object.entries(want).every(([type, cap]) => have[type] === cap)
  );
}

function keyOf(out: unknown, entity: string): string | undefined {
  const list = Array.isArray(out) ? (out as unknown[]) : [out];
  for (const item of list) {
    if (typeof item !== 'object' || item === null) continue;
    const { entity: name, key } = item as { entity?: unknown; key?: unknown };
    if (name === entity && typeof key === 'string' && key !== '') return key;
  }
  return undefined;
}
