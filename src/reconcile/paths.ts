import { DirectoryError } from './errors.js';

/** Longest path the operator accepts, in UTF-8 bytes (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Longest path component, in UTF-8 bytes (NAME_MAX; CephFS refuses longer names). */
export const MAX_COMPONENT_BYTES = 255;

declare const dirPathBrand: unique symbol;

/**
 * A directory path as the engine keys it: the dir-map key `dir_map_<path>` without its prefix.
 * Made in exactly two places, at the edge: `normalizeDirectoryPath` for a path a user gives
 * (strict rules, normalised) and `storedDirectoryPath` for a key read from the omap (exactly as
 * stored). Everything inside takes it as it is: nothing re-normalises or re-validates it.
 */
export type DirPath = string & { readonly [dirPathBrand]: true };

/**
 * A dir-map key exactly as stored, with no validation: the mgr module (or an older operator)
 * may have written keys the current input rules refuse (control characters, components longer
 * than 255 bytes, more than 4096 bytes). They must still be loaded, released and removed by
 * their exact key, or they could never be pruned.
 */
export function storedDirectoryPath(key: string): DirPath {
  return key as DirPath;
}

/**
 * Normalise a directory path the way `os.path.normpath` does for absolute paths: repeated
 * slashes, `.` and a trailing slash go, `..` removes the previous component (and stays at `/`).
 * One deliberate difference: Python keeps a leading `//` (POSIX leaves its meaning to the
 * implementation); CephFS gives it none, so `//a` becomes `/a` and cannot alias `/a`.
 *
 * Throws a DirectoryError: RelativePath for a path that does not start with `/`, InvalidPath
 * for one that CephFS and the mirror daemon would not see as the same string (see
 * checkDirectoryPath). The mgr module accepts those; we refuse them because a dir-map key
 * `dir_map_/a\0x` is another key than `dir_map_/a` while the daemon, reading a C string, mirrors
 * `/a`: the overlap check would be bypassed.
 */
export function normalizeDirectoryPath(path: string): DirPath {
  // Content first: a refused relative path's message quotes it whole.
  checkDirectoryPath(path);
  if (!path.startsWith('/')) throw DirectoryError.relativePath(path);
  return ('/' + splitPath(path).join('/')) as DirPath;
}

/**
 * The input rules for a directory path, the same as the CRD schema's (which the apiserver may
 * not enforce: an older or misconfigured one, or objects written before the schema changed):
 * well-formed Unicode, no NUL or other control character (C0, DEL, C1), at most
 * MAX_PATH_BYTES in total and MAX_COMPONENT_BYTES per component, in UTF-8 bytes (the schema can
 * only count characters). Throws DirectoryError InvalidPath with a message that says what is
 * wrong and where, quoting at most a short escaped prefix of the path.
 */
export function checkDirectoryPath(path: string): void {
  if (LONE_SURROGATE.test(path)) {
    throw DirectoryError.invalidPath(path, 'is not valid Unicode (a lone surrogate)');
  }
  const total = Buffer.byteLength(path, 'utf8');
  if (total > MAX_PATH_BYTES) {
    throw DirectoryError.invalidPath(path, `is ${total} bytes long (at most ${MAX_PATH_BYTES})`);
  }
  const control = CONTROL.exec(path);
  if (control) {
    const c = control[0].charCodeAt(0);
    const what = c === 0 ? 'a NUL byte' : `a control character (U+${hex4(c)})`;
    throw DirectoryError.invalidPath(path, `contains ${what} at offset ${control.index}`);
  }
  let index = 0;
  for (const part of path.split('/')) {
    if (part === '') continue;
    index++;
    const bytes = Buffer.byteLength(part, 'utf8');
    if (bytes > MAX_COMPONENT_BYTES) {
      throw DirectoryError.invalidPath(
        path,
        `component ${index} is ${bytes} bytes long (at most ${MAX_COMPONENT_BYTES})`,
      );
    }
  }
}

/**
 * The components of a DirPath, as they are (no `.` or `..` handling: the path is already
 * normalised, or is a stored key taken as it is); `/` has none.
 */
export function pathComponents(path: string): string[] {
  return path.split('/').filter((part) => part !== '');
}

/** The components of an absolute path after normalisation; `/` has none. */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

// C0 controls (NUL included), DEL and the C1 controls: none has a place in a directory name, and
// each can make a log line, an event or a terminal show something else than the path.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

// A JSON string cannot carry one from the apiserver, but a caller in this process could.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function hex4(c: number): string {
  return c.toString(16).toUpperCase().padStart(4, '0');
}
