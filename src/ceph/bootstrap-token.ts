/**
 * Peer bootstrap tokens, compatible with the Ceph mgr module's
 * `fs snapshot mirror peer_bootstrap create/import`: base64 of the JSON object
 * `{"fsid", "filesystem", "user", "site_name", "key", "mon_host"}`.
 *
 * Decoding validates every field and fails with one BootstrapTokenError saying what is wrong.
 * A token carries a cephx key, so no message, property or cause of these errors ever contains
 * the token text or any field value (JSON.parse messages quote the input, so they are dropped).
 */
import { CephOpError, ERRNO } from './errors.js';
import { MonHostParseError, parseMonHost } from './mon-host.js';

export interface BootstrapToken {
  /** The remote cluster's fsid (lowercase UUID). */
  fsid: string;
  /** The remote filesystem name. */
  filesystem: string;
  /** The remote cephx user, `client.<id>`. */
  user: string;
  /** The remote site (cluster) name used in the peer spec `<user>@<site_name>`. */
  siteName: string;
  /** The remote user's cephx key (secret). */
  key: string;
  /** The remote monitors, as a mon_host value. */
  monHost: string;
}

/** JSON field names, in the order the mgr module writes them. */
export const TOKEN_FIELDS = ['fsid', 'filesystem', 'user', 'site_name', 'key', 'mon_host'] as const;
export type TokenField = (typeof TOKEN_FIELDS)[number];

export type BootstrapTokenProblem =
  | 'TooLarge'
  | 'TooDeep'
  | 'NotBase64'
  | 'NotJson'
  | 'NotObject'
  | 'MissingField'
  | 'FieldNotString'
  | 'FieldEmpty'
  | 'FieldTooLong'
  | 'InvalidFsid'
  | 'InvalidFilesystem'
  | 'InvalidUser'
  | 'InvalidSiteName'
  | 'InvalidKey'
  | 'InvalidMonHost';

export class BootstrapTokenError extends CephOpError {
  override name = 'BootstrapTokenError';
  constructor(
    readonly problem: BootstrapTokenProblem,
    message: string,
    readonly field?: TokenField,
  ) {
    super(ERRNO.EINVAL, `invalid bootstrap token: ${message}`, { reason: 'InvalidBootstrapToken' });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// The mgr module splits the spec with `spec.split('@')` and the user with `split('.')`, each
// expecting exactly two parts: so neither part may contain '@', and the id may not contain '.'.
const USER = /^client\.[^.@\s/]+$/;
const SITE_NAME = /^[^@\s/]+$/;
const FS_NAME = /^[^@\s/]+$/;
/** A cephx secret: base64 of type (2) + created (8) + length (2) + 16-byte AES key. */
const CEPHX_KEY_BYTES = 28;

/**
 * Longest token accepted, in characters. A real one is about 400; 64 KiB leaves room for long
 * mon_host lists and stops a Secret of megabytes from being decoded, parsed and scanned.
 */
export const MAX_TOKEN_LENGTH = 64 * 1024;
/**
 * Deepest JSON nesting accepted: a token is one flat object of strings (depth 1); a little
 * slack keeps the precise "not a string" message for a field holding an object or array.
 */
export const MAX_TOKEN_JSON_DEPTH = 4;
/** Longest name field (filesystem, user, site_name): Ceph's own names are far shorter. */
export const MAX_TOKEN_NAME_LENGTH = 255;

/**
 * Decode and validate a token. Whitespace anywhere is ignored (a trailing newline from a Secret,
 * or base64 wrapped over lines), as Python's b64decode does.
 */
export function decodeBootstrapToken(token: string): BootstrapToken {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new BootstrapTokenError(
      'TooLarge',
      `the token is ${token.length} characters long (at most ${MAX_TOKEN_LENGTH})`,
    );
  }
  const compact = token.replace(/\s+/g, '');
  if (compact === '' || !BASE64.test(compact)) {
    throw new BootstrapTokenError('NotBase64', 'not base64');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
  } catch {
    throw new BootstrapTokenError('NotJson', 'the decoded token is not JSON (not UTF-8 text)');
  }
  const depth = jsonDepth(text, MAX_TOKEN_JSON_DEPTH);
  if (depth > MAX_TOKEN_JSON_DEPTH) {
    throw new BootstrapTokenError(
      'TooDeep',
      `the decoded token nests JSON more than ${MAX_TOKEN_JSON_DEPTH} levels deep ` +
        '(a token is one flat object of strings)',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BootstrapTokenError('NotJson', 'the decoded token is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BootstrapTokenError('NotObject', 'the decoded token is not a JSON object');
  }
  const fields = parsed as Record<string, unknown>;
  const value = (name: TokenField): string => {
    if (!(name in fields))
      throw new BootstrapTokenError('MissingField', `missing field "${name}"`, name);
    const v = fields[name];
    if (typeof v !== 'string')
      throw new BootstrapTokenError('FieldNotString', `field "${name}" is not a string`, name);
    if (v.trim() === '')
      throw new BootstrapTokenError('FieldEmpty', `field "${name}" is empty`, name);
    return v;
  };
  return validate({
    fsid: value('fsid'),
    filesystem: value('filesystem'),
    user: value('user'),
    siteName: value('site_name'),
    key: value('key'),
    monHost: value('mon_host'),
  });
}

/**
 * Encode a token exactly as the mgr module does: base64 of Python's `json.dumps` (", " and ": "
 * separators, non-ASCII escaped), fields in the module's order.
 */
export function encodeBootstrapToken(token: BootstrapToken): string {
  const t = validate(token);
  const json = pythonJsonObject([
    ['fsid', t.fsid],
    ['filesystem', t.filesystem],
    ['user', t.user],
    ['site_name', t.siteName],
    ['key', t.key],
    ['mon_host', t.monHost],
  ]);
  return Buffer.from(json, 'utf8').toString('base64');
}

/**
 * Users the operator may create for a bootstrap token (CRD pattern of
 * `spec.bootstrapTokenSecret.clientName`): only `client.mirror_<id>`. The token and the Secret
 * it lands in hold the user's key, so a name like `client.admin` would publish an admin key.
 */
export const BOOTSTRAP_CLIENT_NAME = /^client\.mirror_[A-Za-z0-9_-]{1,200}$/;

/** Throws EINVAL (reason InvalidClientName) for a name BOOTSTRAP_CLIENT_NAME refuses. */
export function checkBootstrapClientName(clientName: string): void {
  if (!BOOTSTRAP_CLIENT_NAME.test(clientName)) {
    const shown = JSON.stringify(
      clientName.length > 64 ? `${clientName.slice(0, 64)}…` : clientName,
    );
    throw new CephOpError(
      ERRNO.EINVAL,
      `bootstrap client name ${shown} is not of the form client.mirror_<id> ` +
        '(letters, digits, "_" and "-"); the operator only creates dedicated peer users',
      { reason: 'InvalidClientName' },
    );
  }
}

/** The remote cluster spec of a token's peer: `<user>@<site_name>`. */
export function peerSpecOf(token: BootstrapToken): string {
  return `${token.user}@${token.siteName}`;
}

/**
 * The config-key value the mgr module stores for a peer imported from this token
 * (`cephfs/mirror/peer/<fs>/<uuid>`): the token minus user, site_name and filesystem, as
 * Python's json.dumps writes it. Contains the key: store it, never log it.
 */
export function peerCredentialsJson(token: BootstrapToken): string {
  return pythonJsonObject([
    ['fsid', token.fsid],
    ['key', token.key],
    ['mon_host', token.monHost],
  ]);
}

function validate(t: BootstrapToken): BootstrapToken {
  for (const [name, v] of [
    ['fsid', t.fsid],
    ['filesystem', t.filesystem],
    ['user', t.user],
    ['site_name', t.siteName],
    ['key', t.key],
    ['mon_host', t.monHost],
  ] as [TokenField, unknown][]) {
    if (typeof v !== 'string')
      throw new BootstrapTokenError('FieldNotString', `field "${name}" is not a string`, name);
    if (v.trim() === '')
      throw new BootstrapTokenError('FieldEmpty', `field "${name}" is empty`, name);
  }
  for (const [name, v] of [
    ['filesystem', t.filesystem],
    ['user', t.user],
    ['site_name', t.siteName],
  ] as [TokenField, string][]) {
    if (v.length > MAX_TOKEN_NAME_LENGTH) {
      throw new BootstrapTokenError(
        'FieldTooLong',
        `field "${name}" is ${v.length} characters long (at most ${MAX_TOKEN_NAME_LENGTH})`,
        name,
      );
    }
  }
  if (!UUID.test(t.fsid))
    throw new BootstrapTokenError('InvalidFsid', 'fsid is not a UUID', 'fsid');
  if (!FS_NAME.test(t.filesystem)) {
    throw new BootstrapTokenError(
      'InvalidFilesystem',
      'filesystem contains whitespace, "/" or "@"',
      'filesystem',
    );
  }
  if (!USER.test(t.user)) {
    throw new BootstrapTokenError(
      'InvalidUser',
      'user is not of the form client.<id> (one ".", no "@")',
      'user',
    );
  }
  if (!SITE_NAME.test(t.siteName)) {
    throw new BootstrapTokenError(
      'InvalidSiteName',
      'site_name contains whitespace, "/" or "@"',
      'site_name',
    );
  }
  if (!BASE64.test(t.key) || Buffer.from(t.key, 'base64').length !== CEPHX_KEY_BYTES) {
    throw new BootstrapTokenError('InvalidKey', 'key is not a cephx key', 'key');
  }
  try {
    parseMonHost(t.monHost);
  } catch (e) {
    if (e instanceof MonHostParseError) {
      throw new BootstrapTokenError(
        'InvalidMonHost',
        `mon_host is not a monitor address list (${e.problem})`,
        'mon_host',
      );
    }
    throw e;
  }
  return { ...t, fsid: t.fsid.toLowerCase() };
}

/**
 * The deepest nesting of arrays/objects in JSON text, counting stops once past `limit` (so a
 * megabyte of `[` costs one pass and no recursion). Brackets inside strings do not count.
 */
function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

// ---- Python json.dumps, for flat objects of strings --------------------------------------------

function pythonJsonObject(entries: [string, string][]): string {
  return `{${entries.map(([k, v]) => `${pythonJsonString(k)}: ${pythonJsonString(v)}`).join(', ')}}`;
}

/**
 * A string as Python's json.dumps writes it with ensure_ascii: like JSON.stringify, except that
 * every character outside printable ASCII (DEL and all non-ASCII, as UTF-16 units) is \uXXXX.
 */
function pythonJsonString(s: string): string {
  return JSON.stringify(s).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
