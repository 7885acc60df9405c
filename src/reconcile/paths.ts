import { DirectoryError } from './errors.js';

/**
 * Normalise a directory path the way `os.path.normpath` does for absolute paths: repeated
 * slashes, `.` and a trailing slash go, `..` removes the previous component (and stays at `/`).
 * One deliberate difference: Python keeps a leading `//` (POSIX leaves its meaning to the
 * implementation); CephFS gives it none, so `//a` becomes `/a` and cannot alias `/a`.
 * Throws a DirectoryError (RelativePath) for a path that does not start with `/`.
 */
export function normalizeDirectoryPath(path: string): string {
  if (!path.startsWith('/')) throw DirectoryError.relativePath(path);
  return '/' + splitPath(path).join('/');
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
