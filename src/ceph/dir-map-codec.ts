/**
 * Keys and values of the `cephfs_mirror` object's omap, in exactly the format the Ceph mgr
 * `mirroring` module uses (protocol doc section 1), so a filesystem can move between the module
 * and the operator without conversion.
 *
 *   dir_map_<path>   → pickle {'version': 1, 'instance_id': str, 'last_shuffled': float[, 'purging': 1]}
 *   instance_<id>    → pickle {'version': 1, 'addr': str}
 */
import { CephOpError, ERRNO } from './errors.js';
import {
  decodePickle,
  encodePickle,
  PickleError,
  pythonTypeName,
  type PickleDict,
  type PickleValue,
} from './pickle/index.js';
import type { DirMapRecord, InstanceRecord } from '../reconcile/types.js';

export type { DirMapRecord, InstanceRecord };

/** The object holding the directory map and instance list, in the metadata pool. */
export const MIRROR_OBJECT_NAME = 'cephfs_mirror';
export const DIR_MAP_PREFIX = 'dir_map_';
export const INSTANCE_PREFIX = 'instance_';

/** omap key of a directory: `dir_map_/d1`. */
export function dirMapKey(path: string): string {
  return DIR_MAP_PREFIX + path;
}

/** omap key of a daemon instance: `instance_4123`. */
export function instanceKey(instanceId: string): string {
  return INSTANCE_PREFIX + instanceId;
}

/** The directory path in a `dir_map_` key; throws when the key has another prefix. */
export function pathFromDirMapKey(key: string): string {
  if (!key.startsWith(DIR_MAP_PREFIX))
    throw malformed(key, `key does not start with "${DIR_MAP_PREFIX}"`);
  return key.slice(DIR_MAP_PREFIX.length);
}

/** The instance id in an `instance_` key; throws when the key has another prefix. */
export function instanceIdFromKey(key: string): string {
  if (!key.startsWith(INSTANCE_PREFIX))
    throw malformed(key, `key does not start with "${INSTANCE_PREFIX}"`);
  return key.slice(INSTANCE_PREFIX.length);
}

/** The per-instance mailbox object a daemon watches: `cephfs_mirror.<id>`. */
export function instanceObjectName(instanceId: string): string {
  if (instanceId === '')
    throw new CephOpError(ERRNO.EINVAL, 'instance id is empty', { reason: 'InvalidInstanceId' });
  return `${MIRROR_OBJECT_NAME}.${instanceId}`;
}

/** An omap value that cannot be read as the record its key says it holds. */
export class MalformedOmapValueError extends CephOpError {
  override name = 'MalformedOmapValueError';
  constructor(
    readonly key: string,
    problem: string,
    cause?: unknown,
  ) {
    super(ERRNO.EINVAL, `omap value of "${key}" in ${MIRROR_OBJECT_NAME}: ${problem}`, {
      reason: 'MalformedMirrorMap',
      cause,
    });
  }
}

function malformed(key: string, problem: string, cause?: unknown): MalformedOmapValueError {
  return new MalformedOmapValueError(key, problem, cause);
}

// ---- directory records ----------------------------------------------------------------------

/**
 * The pickle bytes the mgr module writes for a directory. Key order and types match it: version
 * (int), instance_id (str), last_shuffled (float), then purging (int 1) only while removing.
 */
export function encodeDirMapRecord(record: DirMapRecord): Buffer {
  checkDirMapRecord(record);
  const dict: PickleDict = new Map<string, PickleValue>([
    ['version', 1n],
    ['instance_id', record.instanceId],
    ['last_shuffled', record.lastShuffled],
  ]);
  if (record.purging === true) dict.set('purging', 1n);
  return encodePickle(dict);
}

/**
 * Read a `dir_map_<path>` value. Accepted like the mgr module reads them:
 * - `instance_id` None (written by the module when a stalled directory is removed) reads as '',
 *   and `last_shuffled` None as 0: both mean "not mapped" to the module and to the policy.
 * - `last_shuffled` may be an int (the module would do arithmetic on it alike).
 * - `purging` is truthy-tested like `dir_map.get('purging', 0)`; it may be an int, bool or None.
 * Refused: a version other than 1, unknown keys (writing the record back would lose them),
 * non-finite times, and anything else of the wrong type.
 */
export function decodeDirMapRecord(key: string, value: Uint8Array): DirMapRecord {
  const quick = decodeDirMapRecordQuick(value);
  if (quick) return quick;
  const dict = decodeDict(key, value);
  checkKeys(key, dict, ['version', 'instance_id', 'last_shuffled'], ['purging']);
  checkVersion(key, dict);

  const instanceId = dict.get('instance_id');
  if (instanceId !== null && typeof instanceId !== 'string') {
    throw malformed(
      key,
      `"instance_id" is ${pythonTypeName(instanceId as PickleValue)}, expected str`,
    );
  }

  const lastShuffledRaw = dict.get('last_shuffled') as PickleValue;
  let lastShuffled: number;
  if (lastShuffledRaw === null) lastShuffled = 0;
  else if (typeof lastShuffledRaw === 'number') lastShuffled = lastShuffledRaw;
  else if (typeof lastShuffledRaw === 'bigint') lastShuffled = Number(lastShuffledRaw);
  else
    throw malformed(key, `"last_shuffled" is ${pythonTypeName(lastShuffledRaw)}, expected float`);
  if (!Number.isFinite(lastShuffled))
    throw malformed(key, '"last_shuffled" is not a finite number');

  const record: DirMapRecord = { version: 1, instanceId: instanceId ?? '', lastShuffled };
  if (dict.has('purging')) {
    const purging = dict.get('purging') as PickleValue;
    if (purging !== null && typeof purging !== 'boolean' && typeof purging !== 'bigint') {
      throw malformed(key, `"purging" is ${pythonTypeName(purging)}, expected int`);
    }
    if (purging === true || (typeof purging === 'bigint' && purging !== 0n)) record.purging = true;
  }
  return record;
}

// The bytes Python 3 (protocols 4 and 5) writes for the module's record, and encodeDirMapRecord
// for ours, around the three values: PROTO 4, FRAME <u64>, EMPTY_DICT, MEMOIZE, MARK, then
// 'version' → BININT1 1, 'instance_id' → SHORT_BINUNICODE <id>, 'last_shuffled' → BINFLOAT, each
// key and str value followed by MEMOIZE; optionally 'purging' → BININT1 1; SETITEMS, STOP.
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const shortStr = (s: string): number[] => [0x8c, s.length, ...ascii(s), 0x94];
const QUICK_HEAD = Uint8Array.from([
  0x7d,
  0x94,
  0x28,
  ...shortStr('version'),
  0x4b,
  0x01,
  ...shortStr('instance_id'),
  0x8c,
]);
const QUICK_TIME = Uint8Array.from([0x94, ...shortStr('last_shuffled'), 0x47]);
const QUICK_PURGING = Uint8Array.from([...shortStr('purging'), 0x4b, 0x01]);
const FLOAT = new Float64Array(1);
const FLOAT_BYTES = new Uint8Array(FLOAT.buffer);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** PROTO, its number, FRAME and the frame's u64 length. */
const FRAME_HEADER = 11;

function bytesAt(value: Uint8Array, at: number, want: Uint8Array): boolean {
  if (at + want.length > value.length) return false;
  for (let i = 0; i < want.length; i++) if (value[at + i] !== want[i]) return false;
  return true;
}

/**
 * The common case without the general decoder: a record in exactly the layout the module and
 * this codec write, with an instance id of ASCII digits (a RADOS global id) or empty. Anything
 * else, however slightly different, returns undefined and takes the general path, which reads
 * (or refuses) it in full. Loading 100,000 entries at start-up spent most of its time in the
 * general decoder's per-record stack, memo and UTF-8 decoding; this path allocates only the
 * record and the id.
 */
export function decodeDirMapRecordQuick(value: Uint8Array): DirMapRecord | undefined {
  const n = value.length;
  if (n < FRAME_HEADER || value[0] !== 0x80 || (value[1] !== 4 && value[1] !== 5)) return undefined;
  if (value[2] !== 0x95) return undefined;
  // The frame holds the rest of the pickle (a u64, little-endian; small here).
  let frame = 0;
  for (let i = 10; i >= 3; i--) frame = frame * 256 + (value[i] as number);
  if (frame !== n - FRAME_HEADER) return undefined;
  let at = FRAME_HEADER;
  if (!bytesAt(value, at, QUICK_HEAD)) return undefined;
  at += QUICK_HEAD.length;
  const idLength = value[at++];
  if (idLength === undefined || at + idLength > n) return undefined;
  let instanceId = '';
  for (let i = 0; i < idLength; i++) {
    const c = value[at + i] as number;
    if (c < 0x30 || c > 0x39) return undefined;
    instanceId += String.fromCharCode(c);
  }
  at += idLength;
  if (!bytesAt(value, at, QUICK_TIME)) return undefined;
  at += QUICK_TIME.length;
  if (at + 8 > n) return undefined;
  // Big-endian on the wire; through one scratch array rather than a DataView per record.
  for (let i = 0; i < 8; i++) FLOAT_BYTES[LITTLE_ENDIAN ? 7 - i : i] = value[at + i] as number;
  const lastShuffled = FLOAT[0] as number;
  if (!Number.isFinite(lastShuffled)) return undefined;
  at += 8;
  let purging = false;
  if (bytesAt(value, at, QUICK_PURGING)) {
    purging = true;
    at += QUICK_PURGING.length;
  }
  if (at + 2 !== n || value[at] !== 0x75 || value[at + 1] !== 0x2e) return undefined;
  const record: DirMapRecord = { version: 1, instanceId, lastShuffled };
  if (purging) record.purging = true;
  return record;
}

function checkDirMapRecord(record: DirMapRecord): void {
  const problem =
    record.version !== 1
      ? 'version must be 1'
      : typeof record.instanceId !== 'string'
        ? 'instanceId must be a string'
        : typeof record.lastShuffled !== 'number' || !Number.isFinite(record.lastShuffled)
          ? 'lastShuffled must be a finite number'
          : record.purging !== undefined && typeof record.purging !== 'boolean'
            ? 'purging must be a boolean'
            : undefined;
  if (problem !== undefined) {
    throw new CephOpError(ERRNO.EINVAL, `invalid directory map record: ${problem}`, {
      reason: 'InvalidMirrorMapRecord',
    });
  }
}

// ---- instance records -----------------------------------------------------------------------

/** The pickle bytes the mgr module writes for an instance: `{'version': 1, 'addr': addr}`. */
export function encodeInstanceRecord(record: InstanceRecord): Buffer {
  if (record.version !== 1 || typeof record.addr !== 'string') {
    throw new CephOpError(
      ERRNO.EINVAL,
      'invalid instance record: needs version 1 and a string addr',
      {
        reason: 'InvalidMirrorMapRecord',
      },
    );
  }
  return encodePickle(
    new Map<string, PickleValue>([
      ['version', 1n],
      ['addr', record.addr],
    ]),
  );
}

/** Read an `instance_<id>` value. */
export function decodeInstanceRecord(key: string, value: Uint8Array): InstanceRecord {
  const dict = decodeDict(key, value);
  checkKeys(key, dict, ['version', 'addr'], []);
  checkVersion(key, dict);
  const addr = dict.get('addr') as PickleValue;
  if (typeof addr !== 'string')
    throw malformed(key, `"addr" is ${pythonTypeName(addr)}, expected str`);
  return { version: 1, addr };
}

// ---- shared checks --------------------------------------------------------------------------

function decodeDict(key: string, value: Uint8Array): PickleDict {
  try {
    return decodePickle(value);
  } catch (e) {
    if (e instanceof PickleError) throw malformed(key, e.message, e);
    throw e;
  }
}

function checkKeys(key: string, dict: PickleDict, required: string[], optional: string[]): void {
  for (const name of required) {
    if (!dict.has(name)) throw malformed(key, `missing "${name}"`);
  }
  for (const name of dict.keys()) {
    if (!required.includes(name) && !optional.includes(name)) {
      throw malformed(key, `unexpected key ${JSON.stringify(name)}`);
    }
  }
}

function checkVersion(key: string, dict: PickleDict): void {
  const version = dict.get('version') as PickleValue;
  if (typeof version !== 'bigint')
    throw malformed(key, `"version" is ${pythonTypeName(version)}, expected int`);
  if (version !== 1n) throw malformed(key, `unsupported version ${version}`);
}
