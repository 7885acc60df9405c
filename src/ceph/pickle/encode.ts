import { Op } from './opcodes.js';
import { PickleError, type PickleDict, type PickleValue } from './value.js';

/**
 * Encode a dict exactly as CPython 3.8+ `pickle.dumps(d)` does (default protocol 4), byte for
 * byte, so omap values written by the operator are indistinguishable from the mgr module's.
 *
 * What CPython does, and this mirrors:
 * - `PROTO 4`, then one `FRAME` (8-byte little-endian length) around the rest, omitted when the
 *   framed part is shorter than 4 bytes (only `{}` is that short).
 * - a dict is `EMPTY_DICT MEMOIZE`, then its items: a 1-item dict as `key value SETITEM`; otherwise
 *   batches of up to 1000 items, each `MARK k v ... SETITEMS`, and a batch that came out full is
 *   followed by another one (so exactly 1000 items ends with an empty `MARK SETITEMS`).
 * - str: `SHORT_BINUNICODE` below 256 UTF-8 bytes, else `BINUNICODE`, each followed by `MEMOIZE`.
 *   CPython memoizes by object identity; the only strings that are reliably the same object are
 *   its cached singletons, '' and one-character Latin-1 strings, so a repeat of one of those is
 *   written as `BINGET`, like CPython, and any other repeated text is written again.
 * - int (bigint): `BININT1` (0..255), `BININT2` (256..65535), `BININT` (other 32-bit signed),
 *   else `LONG1`/`LONG4` with minimal two's complement bytes. Not memoized.
 * - float (number): `BINFLOAT`, big-endian IEEE 754. bool: `NEWTRUE`/`NEWFALSE`. None: `NONE`.
 *
 * Values whose framed part exceeds 64 KiB are refused: CPython would split them into several
 * frames (and write large strings outside frames), which is not needed for dir-map records.
 */
export function encodePickle(dict: PickleDict): Buffer {
  const body = new BodyWriter();
  body.dict(dict);
  body.byte(Op.STOP);
  const framed = body.toBuffer();
  if (framed.length > FRAME_SIZE_TARGET) {
    throw new PickleError(
      `value too large to encode: ${framed.length} bytes (more than one pickle frame)`,
    );
  }
  if (framed.length < FRAME_SIZE_MIN) return Buffer.concat([Buffer.from([Op.PROTO, 4]), framed]);
  const header = Buffer.alloc(11);
  header[0] = Op.PROTO;
  header[1] = 4;
  header[2] = Op.FRAME;
  header.writeBigUInt64LE(BigInt(framed.length), 3);
  return Buffer.concat([header, framed]);
}

// CPython's _FRAME_SIZE_MIN and _FRAME_SIZE_TARGET.
const FRAME_SIZE_MIN = 4;
const FRAME_SIZE_TARGET = 64 * 1024;
const BATCH_SIZE = 1000;
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const LONE_SURROGATE = /\p{Cs}/u;

class BodyWriter {
  private readonly chunks: Buffer[] = [];
  private memoCount = 0;
  /** Memo index of each cached-singleton string already written. */
  private readonly singletons = new Map<string, number>();
  private readonly open = new Set<PickleDict>();

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }

  byte(...bytes: number[]): void {
    this.chunks.push(Buffer.from(bytes));
  }

  private memoize(): number {
    this.byte(Op.MEMOIZE);
    return this.memoCount++;
  }

  dict(dict: PickleDict): void {
    if (this.open.has(dict)) throw new PickleError('cannot encode a dict that contains itself');
    this.open.add(dict);
    this.byte(Op.EMPTY_DICT);
    this.memoize();
    const items = [...dict.entries()];
    if (items.length === 1) {
      const [key, value] = items[0] as [string, PickleValue];
      this.key(key);
      this.value(value);
      this.byte(Op.SETITEM);
    } else if (items.length > 1) {
      let start = 0;
      let batch: number;
      do {
        batch = Math.min(BATCH_SIZE, items.length - start);
        this.byte(Op.MARK);
        for (const [key, value] of items.slice(start, start + batch)) {
          this.key(key);
          this.value(value);
        }
        this.byte(Op.SETITEMS);
        start += batch;
      } while (batch === BATCH_SIZE);
    }
    this.open.delete(dict);
  }

  private key(key: unknown): void {
    if (typeof key !== 'string')
      throw new PickleError(`dict key is ${typeof key}, expected string`);
    this.str(key);
  }

  value(value: PickleValue): void {
    if (value === null) this.byte(Op.NONE);
    else if (value === true) this.byte(Op.NEWTRUE);
    else if (value === false) this.byte(Op.NEWFALSE);
    else if (typeof value === 'string') this.str(value);
    else if (typeof value === 'bigint') this.int(value);
    else if (typeof value === 'number') this.float(value);
    else if (value instanceof Map) this.dict(value);
    else throw new PickleError(`cannot encode a value of type ${typeof value}`);
  }

  private str(text: string): void {
    const singleton = text.length === 0 || (text.length === 1 && text.charCodeAt(0) < 256);
    if (singleton) {
      const index = this.singletons.get(text);
      if (index !== undefined) {
        this.get(index);
        return;
      }
    }
    if (LONE_SURROGATE.test(text)) throw new PickleError('string contains a lone UTF-16 surrogate');
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length < 256) {
      this.byte(Op.SHORT_BINUNICODE, bytes.length);
    } else {
      const header = Buffer.alloc(5);
      header[0] = Op.BINUNICODE;
      header.writeUInt32LE(bytes.length, 1);
      this.chunks.push(header);
    }
    this.chunks.push(bytes);
    const index = this.memoize();
    if (singleton) this.singletons.set(text, index);
  }

  private get(index: number): void {
    if (index < 256) {
      this.byte(Op.BINGET, index);
    } else {
      const op = Buffer.alloc(5);
      op[0] = Op.LONG_BINGET;
      op.writeUInt32LE(index, 1);
      this.chunks.push(op);
    }
  }

  private int(value: bigint): void {
    if (value >= 0n && value <= 0xffn) {
      this.byte(Op.BININT1, Number(value));
    } else if (value >= 0n && value <= 0xffffn) {
      this.byte(Op.BININT2, Number(value & 0xffn), Number(value >> 8n));
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      const op = Buffer.alloc(5);
      op[0] = Op.BININT;
      op.writeInt32LE(Number(value), 1);
      this.chunks.push(op);
    } else {
      const bytes = encodeLong(value);
      if (bytes.length < 256) {
        this.byte(Op.LONG1, bytes.length);
      } else {
        const header = Buffer.alloc(5);
        header[0] = Op.LONG4;
        header.writeInt32LE(bytes.length, 1);
        this.chunks.push(header);
      }
      this.chunks.push(bytes);
    }
  }

  private float(value: number): void {
    const op = Buffer.alloc(9);
    op[0] = Op.BINFLOAT;
    op.writeDoubleBE(value, 1);
    this.chunks.push(op);
  }
}

/**
 * Minimal little-endian two's complement, as Python's `encode_long`: (bit length of |x|) / 8 + 1
 * bytes, dropping a redundant trailing 0xff for negative numbers.
 */
function encodeLong(value: bigint): Buffer {
  const magnitude = value < 0n ? -value : value;
  let nbytes = Math.floor(magnitude.toString(2).length / 8) + 1;
  let twos = value < 0n ? (1n << BigInt(8 * nbytes)) + value : value;
  const out = Buffer.alloc(nbytes);
  for (let i = 0; i < nbytes; i++) {
    out[i] = Number(twos & 0xffn);
    twos >>= 8n;
  }
  if (
    value < 0n &&
    nbytes > 1 &&
    out[nbytes - 1] === 0xff &&
    ((out[nbytes - 2] as number) & 0x80) !== 0
  ) {
    nbytes -= 1;
  }
  return out.subarray(0, nbytes);
}
