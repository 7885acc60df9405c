/**
 * The operator's acquire marks in the `cephfs_mirror` omap (src/reconcile/hold-marks.ts; docs/
 * ceph-layer.md, "Restart without churn"):
 *
 *   operator_acquired_<path>  → JSON {"v": 1, "instance_id": "<id>", "last_shuffled": <float>}
 *
 * Beside the mgr module's keys, on the same object, so a mark is written and removed in the same
 * fenced op as the dir-map keys of that tick. The mgr module lists only the `dir_map_` and
 * `instance_` prefixes (mirroring/fs/dir_map/load.py: `load_dir_map`, `load_instances` call
 * `get_omap_vals` with DIRECTORY_MAP_PREFIX / INSTANCE_ID_PREFIX), so it never sees these keys,
 * and a map handed back to it keeps working. JSON rather than a pickle: only the operator reads
 * them; a double survives JSON exactly, so the comparison with `last_shuffled` is exact.
 */
import type { HoldMark } from '../reconcile/index.js';
import { MalformedOmapValueError } from './dir-map-codec.js';

export const HOLD_MARK_PREFIX = 'operator_acquired_';

/** omap key of a directory's acquire mark: `operator_acquired_/d1`. */
export function holdMarkKey(path: string): string {
  return HOLD_MARK_PREFIX + path;
}

/** The directory path in a mark's key; throws when the key has another prefix. */
export function pathFromHoldMarkKey(key: string): string {
  if (!key.startsWith(HOLD_MARK_PREFIX)) {
    throw new MalformedOmapValueError(key, `key does not start with "${HOLD_MARK_PREFIX}"`);
  }
  return key.slice(HOLD_MARK_PREFIX.length);
}

export function encodeHoldMark(mark: HoldMark): Buffer {
  return Buffer.from(
    JSON.stringify({ v: 1, instance_id: mark.instanceId, last_shuffled: mark.lastShuffled }),
  );
}

/** Throws MalformedOmapValueError for anything but the exact form `encodeHoldMark` writes. */
export function decodeHoldMark(key: string, value: Uint8Array): HoldMark {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value).toString('utf8'));
  } catch (e) {
    throw new MalformedOmapValueError(key, 'not JSON', e);
  }
  const v = parsed as { v?: unknown; instance_id?: unknown; last_shuffled?: unknown } | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    v.v !== 1 ||
    typeof v.instance_id !== 'string' ||
    v.instance_id === '' ||
    typeof v.last_shuffled !== 'number' ||
    !Number.isFinite(v.last_shuffled)
  ) {
    throw new MalformedOmapValueError(
      key,
      'not an acquire mark {v: 1, instance_id, last_shuffled}',
    );
  }
  return { instanceId: v.instance_id, lastShuffled: v.last_shuffled };
}
