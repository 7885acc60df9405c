// Run a short python3 program for cross-checking codecs against CPython itself.
import { spawnSync } from 'node:child_process';

/** True when python3 can be run (it is on the dev machines and in CI). */
export const havePython = spawnSync('python3', ['-c', 'pass'], { stdio: 'ignore' }).status === 0;

/** Run `program` with `input` (JSON) on stdin and parse its stdout as JSON. */
export function runPython<T>(program: string, input: unknown): T {
  const r = spawnSync('python3', ['-c', program], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Python source defining tag(value): the tagged JSON of scripts/gen-pickle-fixtures.py. */
export const PY_TAG = `
def tag(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 - 1 else {'$int': str(value)}
    if isinstance(value, float):
        return {'$float': repr(value)}
    if isinstance(value, dict):
        return {'$dict': [[tag(k), tag(v)] for k, v in value.items()]}
    raise TypeError(type(value).__name__)
`;
