// Reading test/fixtures/pickle/vectors.json (written by scripts/gen-pickle-fixtures.py).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type { PickleValue } from '../../../src/ceph/pickle/index.js';

/** Tagged JSON as written by the generator: dicts keep their order, floats are marked. */
export type Tagged =
  | null
  | boolean
  | string
  | number
  | { $int: string }
  | { $float: string }
  | { $dict: [Tagged, Tagged][] };

export interface AcceptedVector {
  name: string;
  repr: string;
  protocol: number | null;
  hex: string;
  value: Tagged;
  encode: boolean;
}

export interface RejectedVector {
  name: string;
  repr: string;
  hex: string;
  reason: string;
}

export interface VectorFile {
  python: string;
  default_protocol: number;
  accepted: AcceptedVector[];
  rejected: RejectedVector[];
}

const path = fileURLToPath(new URL('../../fixtures/pickle/vectors.json', import.meta.url));

export function loadVectors(): VectorFile {
  return JSON.parse(readFileSync(path, 'utf8')) as VectorFile;
}

/** Python's float repr → JS number (repr is a valid JS numeric literal, or inf/nan). */
function parseFloatRepr(repr: string): number {
  if (repr === 'inf') return Infinity;
  if (repr === '-inf') return -Infinity;
  if (repr === 'nan') return NaN;
  return Number(repr);
}

export function untag(tagged: Tagged): PickleValue {
  if (tagged === null || typeof tagged === 'boolean' || typeof tagged === 'string') return tagged;
  // Untagged JSON numbers are Python ints (the generator tags every float).
  if (typeof tagged === 'number') return BigInt(tagged);
  if ('$int' in tagged) return BigInt(tagged.$int);
  if ('$float' in tagged) return parseFloatRepr(tagged.$float);
  return new Map(
    tagged.$dict.map(([k, v]) => {
      if (typeof k !== 'string') throw new Error(`fixture has a non-string key: ${String(k)}`);
      return [k, untag(v)] as [string, PickleValue];
    }),
  );
}
