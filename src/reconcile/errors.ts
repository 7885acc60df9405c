import { ERRNO, type ErrnoCode } from 'ceph-addon-common';

/**
 * errno values (Linux) used in results and errors; results are negative, like librados. The
 * addons' table (ceph-addon-common), the one table of the project: a constant, no I/O.
 */
export { ERRNO as Errno, type ErrnoCode };

/**
 * Why a directory command was refused. Suitable as a Kubernetes condition reason; each matches
 * one row of the mgr module's error table (protocol section 6).
 */
export type DirectoryErrorReason =
  | 'RelativePath'
  | 'InvalidPath'
  | 'AlreadyTracked'
  | 'RemovalInProgress'
  | 'SubtreeOfTracked'
  | 'AncestorOfTracked'
  | 'NotTracked'
  | 'UnderRemoval'
  | 'ShuttingDown';

const CODE_OF: Readonly<Record<DirectoryErrorReason, ErrnoCode>> = Object.freeze({
  RelativePath: 'EINVAL',
  InvalidPath: 'EINVAL',
  AlreadyTracked: 'EEXIST',
  RemovalInProgress: 'EAGAIN',
  SubtreeOfTracked: 'EINVAL',
  AncestorOfTracked: 'EINVAL',
  NotTracked: 'ENOENT',
  UnderRemoval: 'EINVAL',
  ShuttingDown: 'ESHUTDOWN',
});

/**
 * A refused directory command. `errno` is positive (as in `errno.h`); the mgr module returns it
 * negated. `message` is the mgr module's text, so users see the words they know, with one
 * correction: the module says "a ancestor" (16.2.15), we say "an ancestor".
 */
export class DirectoryError extends Error {
  readonly code: ErrnoCode;
  readonly errno: number;

  constructor(
    readonly reason: DirectoryErrorReason,
    readonly path: string,
    message: string,
    /** For overlaps: the tracked path that conflicts. */
    readonly conflictingPath?: string,
  ) {
    super(message);
    this.name = 'DirectoryError';
    this.code = CODE_OF[reason];
    this.errno = ERRNO[this.code];
  }

  static relativePath(path: string): DirectoryError {
    return new DirectoryError('RelativePath', path, `${path} should be an absolute path`);
  }
  /**
   * A path the operator refuses as input (control characters, too long; see paths.ts). The
   * message quotes at most a short, escaped prefix: the path may be 4 KiB of anything.
   */
  static invalidPath(path: string, problem: string): DirectoryError {
    const shown = path.length > 64 ? `${path.slice(0, 64)}…` : path;
    // JSON.stringify escapes C0 controls but leaves DEL and C1 raw.
    const quoted = JSON.stringify(shown).replace(
      /[\u007f-\u009f]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    return new DirectoryError('InvalidPath', path, `path ${quoted} ${problem}`);
  }
  static alreadyTracked(path: string): DirectoryError {
    return new DirectoryError('AlreadyTracked', path, `directory ${path} is already tracked`);
  }
  static removalInProgress(path: string): DirectoryError {
    return new DirectoryError('RemovalInProgress', path, `remove in-progress for ${path}`);
  }
  static subtreeOf(path: string, tracked: string): DirectoryError {
    return new DirectoryError(
      'SubtreeOfTracked',
      path,
      `${path} is a subtree of tracked path ${tracked}`,
      tracked,
    );
  }
  static ancestorOf(path: string, tracked: string): DirectoryError {
    return new DirectoryError(
      'AncestorOfTracked',
      path,
      `${path} is an ancestor of tracked path ${tracked}`,
      tracked,
    );
  }
  static notTracked(path: string): DirectoryError {
    // "id not tracked" is the mgr module's wording (a typo for "is"); kept so messages match.
    return new DirectoryError('NotTracked', path, `directory ${path} id not tracked`);
  }
  static underRemoval(path: string): DirectoryError {
    return new DirectoryError('UnderRemoval', path, `directory ${path} is under removal`);
  }
  static shuttingDown(path: string): DirectoryError {
    return new DirectoryError('ShuttingDown', path, `mirroring of ${path} stopped before done`);
  }
}
