import { describeOpcode, Op } from './opcodes.js';
import { PickleError, pythonTypeName, type PickleDict, type PickleValue } from './value.js';

/**
 * A strict decoder for pickles of dicts whose keys are str and whose values are str, int, float,
 * bool, None or (nested) dicts, as written by Python 3 with protocols 2 to 5. Anything else (lists,
 * tuples, bytes, class instances, protocol 0/1 text opcodes, trailing bytes) is refused with a
 * PickleError naming the opcode and offset. Nothing here executes or imports anything: unlike
 * Python's `pickle.loads`, there is no GLOBAL/REDUCE support at all, by design.
 */
export function decodePickle(data: Uint8Array): PickleDict {
  return new Decoder(data).run();
}

const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Decoder {
  private readonly view: DataView;
  private pos = 0;
  private readonly stack: StackItem[] = [];
  private readonly memo = new Map<number, PickleValue>();

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  run(): PickleDict {
    if (this.data.length === 0) throw new PickleError('truncated pickle: no data');
    if (this.data[0] !== Op.PROTO) {
      // Protocols 0 and 1 have no PROTO header; Python 3 has not written them by default since 3.0.
      throw new PickleError('unsupported pickle protocol 0 or 1 (no PROTO header)', 0);
    }
    for (;;) {
      const at = this.pos;
      const op = this.u8();
      switch (op) {
        case Op.PROTO: {
          const proto = this.u8();
          if (at !== 0) throw new PickleError('PROTO opcode after the start', at);
          if (proto < 2 || proto > 5)
            throw new PickleError(`unsupported pickle protocol ${proto}`, at);
          break;
        }
        case Op.FRAME: {
          // Frames only group bytes for buffered reading; the content is ordinary opcodes.
          const len = this.u64();
          if (len > this.data.length - this.pos)
            throw new PickleError('truncated pickle: frame longer than data', at);
          break;
        }
        case Op.STOP: {
          if (this.pos !== this.data.length) {
            throw new PickleError(
              `trailing data: ${this.data.length - this.pos} bytes after STOP`,
              at,
            );
          }
          if (this.stack.length !== 1)
            throw new PickleError('malformed pickle: stack not balanced at STOP', at);
          const result = this.stack[0];
          if (!(result instanceof Map)) {
            const what = result === MARK ? 'a MARK' : pythonTypeName(result as PickleValue);
            throw new PickleError(`top-level value is ${what}, expected a dict`, at);
          }
          return result;
        }
        case Op.MARK:
          this.stack.push(MARK);
          break;
        case Op.EMPTY_DICT:
          this.stack.push(new Map());
          break;
        case Op.SETITEM: {
          const value = this.popValue(at);
          const key = this.popValue(at);
          this.setItem(this.topDict(at), key, value, at);
          break;
        }
        case Op.SETITEMS: {
          const items = this.popToMark(at);
          if (items.length % 2 !== 0)
            throw new PickleError('SETITEMS with an odd number of items', at);
          const dict = this.topDict(at);
          for (let i = 0; i < items.length; i += 2) {
            this.setItem(dict, items[i] as PickleValue, items[i + 1] as PickleValue, at);
          }
          break;
        }
        case Op.SHORT_BINUNICODE:
          this.stack.push(this.str(this.u8(), at));
          break;
        case Op.BINUNICODE:
          this.stack.push(this.str(this.u32(), at));
          break;
        case Op.BINUNICODE8:
          this.stack.push(this.str(this.u64(), at));
          break;
        case Op.BININT1:
          this.stack.push(BigInt(this.u8()));
          break;
        case Op.BININT2:
          this.stack.push(BigInt(this.u16()));
          break;
        case Op.BININT:
          this.need(4);
          this.stack.push(BigInt(this.view.getInt32(this.pos, true)));
          this.pos += 4;
          break;
        case Op.LONG1:
          this.stack.push(this.long(this.u8()));
          break;
        case Op.LONG4: {
          this.need(4);
          const n = this.view.getInt32(this.pos, true);
          this.pos += 4;
          if (n < 0) throw new PickleError('LONG4 with a negative byte count', at);
          this.stack.push(this.long(n));
          break;
        }
        case Op.BINFLOAT:
          this.need(8);
          this.stack.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        case Op.NEWTRUE:
          this.stack.push(true);
          break;
        case Op.NEWFALSE:
          this.stack.push(false);
          break;
        case Op.NONE:
          this.stack.push(null);
          break;
        case Op.MEMOIZE:
          this.memo.set(this.memo.size, this.peekValue(at));
          break;
        case Op.BINPUT:
          this.memo.set(this.u8(), this.peekValue(at));
          break;
        case Op.LONG_BINPUT:
          this.memo.set(this.u32(), this.peekValue(at));
          break;
        case Op.BINGET:
          this.stack.push(this.memoGet(this.u8(), at));
          break;
        case Op.LONG_BINGET:
          this.stack.push(this.memoGet(this.u32(), at));
          break;
        default:
          throw new PickleError(
            `unsupported pickle opcode ${describeOpcode(op)}: only dicts of str, int, float, bool and None are accepted`,
            at,
          );
      }
    }
  }

  private setItem(dict: PickleDict, key: PickleValue, value: PickleValue, at: number): void {
    if (typeof key !== 'string')
      throw new PickleError(`dict key is ${pythonTypeName(key)}, expected str`, at);
    dict.set(key, value);
  }

  private memoGet(index: number, at: number): PickleValue {
    const value = this.memo.get(index);
    if (value === undefined) throw new PickleError(`memo index ${index} not defined`, at);
    // A dict fetched from the memo is the same object twice in the tree (or a cycle): not a shape
    // the mgr module writes, and a plain-data consumer would not expect it.
    if (value instanceof Map)
      throw new PickleError('shared or recursive dict references are not supported', at);
    return value;
  }

  private topDict(at: number): PickleDict {
    const top = this.stack[this.stack.length - 1];
    if (!(top instanceof Map))
      throw new PickleError('SETITEM(S) without a dict below its items', at);
    return top;
  }

  private popValue(at: number): PickleValue {
    const item = this.stack.pop();
    if (item === undefined || item === MARK)
      throw new PickleError('malformed pickle: stack underflow', at);
    return item;
  }

  private peekValue(at: number): PickleValue {
    const item = this.stack[this.stack.length - 1];
    if (item === undefined || item === MARK)
      throw new PickleError('malformed pickle: nothing to memoize', at);
    return item;
  }

  private popToMark(at: number): PickleValue[] {
    const markAt = this.stack.lastIndexOf(MARK);
    if (markAt < 0) throw new PickleError('malformed pickle: no MARK', at);
    const items = this.stack.splice(markAt);
    items.shift();
    return items as PickleValue[];
  }

  private str(length: number, at: number): string {
    this.need(length);
    const bytes = this.data.subarray(this.pos, this.pos + length);
    this.pos += length;
    try {
      return utf8.decode(bytes);
    } catch {
      // Python writes lone surrogates with 'surrogatepass'; a JS string could hold them, but a
      // path or an instance id never does, so they are refused rather than carried around.
      throw new PickleError('string is not valid UTF-8', at);
    }
  }

  /** Python's encode_long: little-endian two's complement, zero bytes meaning 0. */
  private long(length: number): bigint {
    this.need(length);
    let value = 0n;
    for (let i = length - 1; i >= 0; i--)
      value = (value << 8n) | BigInt(this.data[this.pos + i] as number);
    if (length > 0 && ((this.data[this.pos + length - 1] as number) & 0x80) !== 0) {
      value -= 1n << BigInt(8 * length);
    }
    this.pos += length;
    return value;
  }

  private need(n: number): void {
    if (n > this.data.length - this.pos) throw new PickleError('truncated pickle', this.pos);
  }

  private u8(): number {
    this.need(1);
    return this.data[this.pos++] as number;
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    // Lengths beyond the data are caught by the callers; clamp so the comparison stays exact.
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }
}
