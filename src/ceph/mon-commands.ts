/**
 * Builders for the JSON commands the operator sends to Ceph, exactly as the mgr `mirroring`
 * module sends them (protocol doc section 5), plus the few the operator needs on its own
 * (`fs dump`, `mgr module *`, `service dump`/`service status`). Pure: they build and check arguments; sending is
 * the caller's job (`Rados.monCommand(cmd)` / `Rados.mgrCommand(cmd)`).
 *
 * Key order follows the mgr module's dict literals, so a logged command reads the same.
 */
import { CephOpError, ERRNO } from './errors.js';

export type CommandArg = string | number | boolean | readonly string[];

/** A command for the monitors (`rados_mon_command`). */
export interface MonCommand {
  readonly prefix: string;
  readonly [arg: string]: CommandArg;
}

/**
 * A command for the active manager (`rados_mgr_command`). Same shape; a separate name because
 * the monitors reject it (`service dump` is implemented by the mgr daemon itself).
 */
export type MgrCommand = MonCommand;

export const PEER_CONFIG_KEY_PREFIX = 'cephfs/mirror/peer';

/** Where the mgr module keeps a peer's remote credentials: `cephfs/mirror/peer/<fs>/<uuid>`. */
export function peerConfigKey(fsName: string, peerUuid: string): string {
  return `${PEER_CONFIG_KEY_PREFIX}/${name(fsName, 'fs_name')}/${uuid(peerUuid)}`;
}

// ---- filesystem mirroring ---------------------------------------------------------------------

export function fsMirrorEnable(fsName: string): MonCommand {
  return { prefix: 'fs mirror enable', fs_name: name(fsName, 'fs_name') };
}

export function fsMirrorDisable(fsName: string): MonCommand {
  return { prefix: 'fs mirror disable', fs_name: name(fsName, 'fs_name') };
}

export interface PeerAddArgs {
  fsName: string;
  /** A new uuid4 naming the peer. */
  uuid: string;
  /** `client.<id>@<site>`. */
  remoteClusterSpec: string;
  remoteFsName: string;
}

export function fsMirrorPeerAdd(args: PeerAddArgs): MonCommand {
  return {
    prefix: 'fs mirror peer_add',
    fs_name: name(args.fsName, 'fs_name'),
    uuid: uuid(args.uuid),
    remote_cluster_spec: clusterSpec(args.remoteClusterSpec),
    remote_fs_name: name(args.remoteFsName, 'remote_fs_name'),
  };
}

export function fsMirrorPeerRemove(fsName: string, peerUuid: string): MonCommand {
  return {
    prefix: 'fs mirror peer_remove',
    fs_name: name(fsName, 'fs_name'),
    uuid: uuid(peerUuid),
  };
}

/** The FSMap as JSON; parse it with `parseFsDump`. */
export function fsDump(): MonCommand {
  return { prefix: 'fs dump', format: 'json' };
}

// ---- config-key ---------------------------------------------------------------------------------

export function configKeySet(key: string, val: string): MonCommand {
  return { prefix: 'config-key set', key: name(key, 'key'), val };
}

/** Output is the raw value; ENOENT when the key does not exist. */
export function configKeyGet(key: string): MonCommand {
  return { prefix: 'config-key get', key: name(key, 'key') };
}

export function configKeyRm(key: string): MonCommand {
  return { prefix: 'config-key rm', key: name(key, 'key') };
}

// ---- fencing and users --------------------------------------------------------------------------

/** Blocklist a dead mirror daemon's entity address (from its `instance_<id>` record). */
export function osdBlocklistAdd(addr: string): MonCommand {
  return { prefix: 'osd blocklist', blocklistop: 'add', addr: name(addr, 'addr') };
}

/** Create (or update) a user with `rwps` on the whole filesystem, as peer bootstrap does. */
export function fsAuthorize(fsName: string, entity: string): MonCommand {
  return {
    prefix: 'fs authorize',
    filesystem: name(fsName, 'filesystem'),
    entity: clientEntity(entity),
    caps: ['/', 'rwps'],
  };
}

/** A user's keyring as JSON: `[{"entity", "key", "caps"}]`. */
export function authGet(entity: string): MonCommand {
  return { prefix: 'auth get', entity: clientEntity(entity), format: 'json' };
}

// ---- manager modules ------------------------------------------------------------------------------

/** JSON with `enabled_modules`, `always_on_modules`, ...: used to detect the mirroring module. */
export function mgrModuleLs(): MonCommand {
  return { prefix: 'mgr module ls', format: 'json' };
}

export function mgrModuleEnable(module: string): MonCommand {
  return { prefix: 'mgr module enable', module: name(module, 'module') };
}

export function mgrModuleDisable(module: string): MonCommand {
  return { prefix: 'mgr module disable', module: name(module, 'module') };
}

/**
 * The service map (a **mgr** command): `services["cephfs-mirror"].daemons[<gid>]` with each
 * daemon's `gid`, `addr` and `metadata` (including `instance_id`); no status. Checked on 16.2.15.
 */
export function serviceDump(): MgrCommand {
  return { prefix: 'service dump', format: 'json' };
}

/**
 * Daemon status (a **mgr** command): `{"cephfs-mirror": {"<gid>": {"status_stamp", "last_beacon",
 * "status": {"status_json": "<JSON text>"}}}}`, where status_json is what the mgr module's
 * `fs snapshot mirror daemon status` reads (`{fscid: {"name", "directory_count", "peers", ...}}`).
 */
export function serviceStatus(): MgrCommand {
  return { prefix: 'service status', format: 'json' };
}
// ---- argument checks ------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// As the mgr module's split_spec: exactly one '@', and `client.<id>` with exactly one '.'.
const CLUSTER_SPEC = /^client\.[^.@\s]+@[^@\s]+$/;
const CLIENT_ENTITY = /^client\.[^\s]+$/;

function invalid(message: string): CephOpError {
  return new CephOpError(ERRNO.EINVAL, message, { reason: 'InvalidArgument' });
}

function name(value: string, what: string): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw invalid(`${what} must be a non-empty string`);
  return value;
}

function uuid(value: string): string {
  if (!UUID.test(value)) throw invalid('peer uuid must be a lowercase UUID');
  return value;
}

function clusterSpec(value: string): string {
  if (!CLUSTER_SPEC.test(value))
    throw invalid(`invalid cluster spec ${value}: expected client.<id>@<site>`);
  return value;
}

function clientEntity(value: string): string {
  if (!CLIENT_ENTITY.test(value)) throw invalid(`invalid entity ${value}: expected client.<id>`);
  return value;
}
