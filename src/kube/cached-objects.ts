// Slimming the objects the watches cache. With tens of thousands of MirroredDirectory objects the
// cache is most of the operator's heap (docs/benchmarks.md, "Operator memory"), and most of its
// strings are the same few values again and again: every object's apiVersion, kind, namespace,
// finalizer, and every status's condition types, reasons, messages and timestamps (objects created
// together share their timestamps to the second). JSON.parse gives each its own copy; here the
// copies are replaced by one shared string each. A heap snapshot of 10,000 directories held 5.7
// MiB of such duplicates out of 13.4 MiB of strings.

/** Strings longer than this are rarely shared (paths, names, uids): not worth a pool slot. */
const MAX_INTERNED_LENGTH = 96;
/** The pool is emptied when it reaches this size, so a stream of unique values cannot grow it. */
const MAX_POOL_SIZE = 20_000;

export class StringPool {
  private readonly pool = new Map<string, string>();

  constructor(private readonly maxSize = MAX_POOL_SIZE) {}

  /** The pooled copy of `s` (s itself the first time it is seen). */
  intern(s: string): string {
    if (s.length > MAX_INTERNED_LENGTH) return s;
    const pooled = this.pool.get(s);
    if (pooled !== undefined) return pooled;
    if (this.pool.size >= this.maxSize) this.pool.clear();
    this.pool.set(s, s);
    return s;
  }

  get size(): number {
    return this.pool.size;
  }
}

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Each string property of `o` (not nested ones) replaced by its pooled copy. */
function internFields(o: Json, pool: StringPool, skip: ReadonlySet<string> = NONE): void {
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string' && !skip.has(k)) o[k] = pool.intern(v);
  }
}

const NONE: ReadonlySet<string> = new Set();
/** Unique per object: pooling them would only churn the pool. */
const UNIQUE_METADATA: ReadonlySet<string> = new Set(['name', 'uid', 'resourceVersion']);
const UNIQUE_STATUS: ReadonlySet<string> = new Set(['path', 'source']);

/**
 * Slims a cached object in place: managedFields dropped (large, never read here; an update sent
 * without them leaves the server's copy as it is), and the repeated strings of its metadata,
 * finalizers, spec references, status and conditions pooled. The metadata is rebuilt rather than
 * `delete`d from: deleting a property turns an object into a hash table, some 400 bytes more for
 * each cached object.
 */
export function slimCachedObject(obj: { metadata?: object }, pool: StringPool): void {
  const o = obj as Json;
  if (typeof o['apiVersion'] === 'string') o['apiVersion'] = pool.intern(o['apiVersion']);
  if (typeof o['kind'] === 'string') o['kind'] = pool.intern(o['kind']);
  const meta = o['metadata'] as (Json & { managedFields?: unknown }) | undefined;
  if (isRecord(meta)) {
    let slim: Json = meta;
    if (meta.managedFields !== undefined) {
      const { managedFields: _dropped, ...rest } = meta;
      slim = rest;
      o['metadata'] = slim;
    }
    internFields(slim, pool, UNIQUE_METADATA);
    const finalizers = slim['finalizers'];
    if (Array.isArray(finalizers)) {
      finalizers.forEach((f: unknown, i) => {
        if (typeof f === 'string') finalizers[i] = pool.intern(f);
      });
    }
  }
  const spec = o['spec'];
  if (isRecord(spec)) {
    for (const v of Object.values(spec)) if (isRecord(v)) internFields(v, pool);
  }
  const status = o['status'];
  if (isRecord(status)) {
    internFields(status, pool, UNIQUE_STATUS);
    const conditions = status['conditions'];
    if (Array.isArray(conditions)) {
      for (const c of conditions) if (isRecord(c)) internFields(c, pool);
    }
  }
}
