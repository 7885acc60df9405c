// Inputs of the cls_lock object class's methods, in Ceph's encoding, for use inside write ops
// (IoCtx.guardedOmapWrite's `calls`): taking or renewing a lock and asserting it in the same
// atomic op as a dir-map write. Layouts from src/cls/lock/cls_lock_ops.h (Pacific):
// cls_lock_lock_op::encode and cls_lock_assert_op::encode, both ENCODE_START(1, 1).
import type { ClassCall } from 'rados-js';

/** ClsLockType (src/cls/lock/cls_lock_types.h). */
export const LOCK_EXCLUSIVE = 1;
/** cls_lock flags: renew if held (MAY) / fail unless held (MUST). */
export const LOCK_FLAG_MAY_RENEW = 0x1;
export const LOCK_FLAG_MUST_RENEW = 0x2;

/** A little-endian Ceph encoder for the few types these ops use. */
class Encoder {
  private readonly parts: Buffer[] = [];

  u8(v: number): this {
    this.parts.push(Buffer.from([v & 0xff]));
    return this;
  }

  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }

  string(s: string): this {
    const bytes = Buffer.from(s, 'utf8');
    this.u32(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  /** utime_t: seconds and nanoseconds, both u32. */
  utime(ms: number): this {
    const whole = Math.floor(ms / 1000);
    return this.u32(whole).u32(Math.round((ms - whole * 1000) * 1e6));
  }

  /** ENCODE_START(version, compat) ... ENCODE_FINISH around `body`. */
  versioned(version: number, compat: number, body: (e: Encoder) => void): this {
    const inner = new Encoder();
    body(inner);
    const payload = inner.done();
    return this.u8(version).u8(compat).u32(payload.length).raw(payload);
  }

  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }

  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface LockRequest {
  name: string;
  cookie: string;
  tag?: string;
  description?: string;
  /** 0: never expires. */
  durationMs: number;
  flags?: number;
}

/** `lock.lock`: take (or renew, with the flags) an exclusive lock. */
export function lockCall(r: LockRequest): ClassCall {
  const input = new Encoder()
    .versioned(1, 1, (e) =>
      e
        .string(r.name)
        .u8(LOCK_EXCLUSIVE)
        .string(r.cookie)
        .string(r.tag ?? '')
        .string(r.description ?? '')
        .utime(r.durationMs)
        .u8(r.flags ?? 0),
    )
    .done();
  return { cls: 'lock', method: 'lock', input };
}

/** `lock.assert_locked`: fails the op unless this client holds lock `name` with `cookie`. */
export function assertLockedCall(name: string, cookie: string, tag = ''): ClassCall {
  const input = new Encoder()
    .versioned(1, 1, (e) => e.string(name).u8(LOCK_EXCLUSIVE).string(cookie).string(tag))
    .done();
  return { cls: 'lock', method: 'assert_locked', input };
}

/** `lock.unlock` (cls_lock_unlock_op: name, cookie). */
export function unlockCall(name: string, cookie: string): ClassCall {
  const input = new Encoder().versioned(1, 1, (e) => e.string(name).string(cookie)).done();
  return { cls: 'lock', method: 'unlock', input };
}
