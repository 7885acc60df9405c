/**
 * The subset of Python values the pickle codec handles: what the Ceph mgr `mirroring` module
 * stores in the `cephfs_mirror` omap (dicts of str/int/float/bool/None).
 *
 * Python distinguishes `1` from `1.0` and the dir map relies on it (`version` is an int,
 * `last_shuffled` a float), so the two are kept apart here: a Python int is a `bigint` (also
 * lossless for ints beyond 2^53), a Python float is a `number`. A dict is a `Map` so insertion
 * order survives (a plain object would move integer-like keys to the front), and order decides
 * the bytes `pickle.dumps` produces.
 */
export type PickleScalar = null | boolean | string | bigint | number;
export type PickleValue = PickleScalar | PickleDict;
export type PickleDict = Map<string, PickleValue>;

/** A pickle that is malformed, or that uses something outside the supported subset. */
export class PickleError extends Error {
  override readonly name = 'PickleError';
  /** Byte offset of the offending opcode, when decoding. */
  readonly offset: number | undefined;

  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.offset = offset;
  }
}

/** A short Python-ish type name, for error messages. */
export function pythonTypeName(value: PickleValue): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return 'float';
  return 'dict';
}
