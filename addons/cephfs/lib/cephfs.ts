// A mounted CephFS filesystem: the typed, Promise-based API over the native addon.
import { closedMountError } from './errors.js';
import { native, type NativeMountHandle, type NativeMountRequest } from './native.js';
import type { RadosHandleProvider } from './rados-handle.js';

/** Settings shared by every way of mounting. */
interface MountCommon {
  /** Name of the filesystem to mount (ceph_select_filesystem); required, never "the default". */
  fsName: string;
}

/** Own connection from a ceph.conf (its keyring is used unless `conf` overrides it). */
export interface ConfPathMountOptions extends MountCommon {
  confPath: string;
  /** Client id without `client.`; default `admin`. */
  clientId?: string;
  /** Bounds the whole mount (monitor authentication and MDS session) via client_mount_timeout. */
  timeoutMs?: number;
  /** Extra Ceph settings applied after the file, e.g. `{ debug_client: '0/0' }`. */
  conf?: Record<string, string>;
}

/** Own connection without any file: monitors, client id and its cephx key. */
export interface KeyMountOptions extends MountCommon {
  monHost: string;
  clientId: string;
  key: string;
  timeoutMs?: number;
  conf?: Record<string, string>;
}

/**
 * Mount through a connected rados-js `Rados` (ceph_create_from_rados), sharing its configuration
 * and credentials. The Rados is pinned (cannot shut down) until this mount is closed.
 */
export interface RadosMountOptions extends MountCommon {
  rados: RadosHandleProvider;
}

export type MountOptions = ConfPathMountOptions | KeyMountOptions | RadosMountOptions;

export interface SetXattrOptions {
  /** Fail with EEXIST if the attribute already exists (XATTR_CREATE). */
  create?: boolean;
  /** Fail with ENODATA if the attribute does not exist yet (XATTR_REPLACE). */
  replace?: boolean;
}

export interface ListSnapsOptions {
  /**
   * Also return the entries that snapshots of ancestor directories add to this directory's
   * `.snap`, named `_<snapshot>_<ancestor inode>`. Default false.
   */
  includeInherited?: boolean;
}

export interface CephStat {
  /** Full st_mode: file type bits and permissions. */
  mode: number;
  size: number;
  isDirectory: boolean;
  isFile: boolean;
  isSymbolicLink: boolean;
  mtime: Date;
  /** Inode number; a bigint because CephFS inode numbers are 64-bit. */
  ino: bigint;
  uid: number;
  gid: number;
  nlink: number;
}

const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function toConfPairs(
  options: ConfPathMountOptions | KeyMountOptions,
  extra: [string, string][],
): [string, string][] {
  const pairs: [string, string][] = [...extra, ...Object.entries(options.conf ?? {})];
  if (options.timeoutMs !== undefined) {
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
      throw new TypeError('timeoutMs must be a positive number');
    }
    // client_mount_timeout is in whole seconds.
    pairs.push(['client_mount_timeout', String(Math.max(1, Math.ceil(options.timeoutMs / 1000)))]);
  }
  return pairs;
}

function toNativeRequest(options: MountOptions): NativeMountRequest {
  if ('rados' in options) {
    const extra = options as Partial<KeyMountOptions>;
    if (extra.timeoutMs !== undefined || extra.conf !== undefined) {
      throw new TypeError('timeoutMs and conf apply only to mounts on their own connection');
    }
    return { fsName: options.fsName };
  }
  if ('confPath' in options) {
    const request: NativeMountRequest = {
      fsName: options.fsName,
      confPath: options.confPath,
      conf: toConfPairs(options, []),
    };
    if (options.clientId !== undefined) request.clientId = options.clientId;
    return request;
  }
  return {
    fsName: options.fsName,
    clientId: options.clientId,
    conf: toConfPairs(options, [
      ['mon_host', options.monHost],
      ['key', options.key],
    ]),
  };
}

function snapDir(dirPath: string): string {
  const trimmed = dirPath.replace(/\/+$/, '');
  return `${trimmed}/.snap`;
}

export class CephFS {
  #handle: NativeMountHandle | undefined;
  /** Kept referenced (and pinned) while mounted, released after the native close. */
  #rados: RadosHandleProvider | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    handle: NativeMountHandle,
    rados: RadosHandleProvider | undefined,
    readonly fsName: string,
  ) {
    this.#handle = handle;
    this.#rados = rados;
  }

  /** Mounts `options.fsName` at its root. Rejects with a CephFSError (e.g. ETIMEDOUT, EACCES, ENOENT). */
  static async mount(options: MountOptions): Promise<CephFS> {
    const request = toNativeRequest(options);
    if (!('rados' in options)) {
      const { handle } = await native.mount(request);
      return new CephFS(handle, undefined, options.fsName);
    }
    const rados = options.rados;
    request.radosHandle = rados.acquireNativeHandle();
    try {
      const { handle } = await native.mount(request);
      return new CephFS(handle, rados, options.fsName);
    } catch (error) {
      rados.releaseNativeHandle();
      throw error;
    }
  }

  /** True once close() has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Unmounts and releases the client after in-flight calls on it have finished, then unpins the
   * rados-js handle if mounted through one. Idempotent; calls made after it reject with ENOTCONN.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      const handle = this.#handle;
      const rados = this.#rados;
      this.#handle = undefined;
      this.#rados = undefined;
      this.#closing = (async () => {
        if (handle !== undefined) await native.close(handle);
        rados?.releaseNativeHandle();
      })();
    }
    return this.#closing;
  }

  /** The filesystem's id (fscid) in the FSMap. */
  async fscid(): Promise<number> {
    return native.fscid(this.#use('ceph_get_fs_cid', '/'));
  }

  async getxattr(path: string, name: string): Promise<Buffer> {
    return native.getxattr(this.#use('ceph_getxattr', `${path}, ${name}`), path, name);
  }

  async setxattr(
    path: string,
    name: string,
    value: Buffer | string,
    options: SetXattrOptions = {},
  ): Promise<void> {
    if (options.create && options.replace) {
      throw new TypeError('setxattr: create and replace are mutually exclusive');
    }
    const flags = (options.create ? XATTR_CREATE : 0) | (options.replace ? XATTR_REPLACE : 0);
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return native.setxattr(
      this.#use('ceph_setxattr', `${path}, ${name}`),
      path,
      name,
      bytes,
      flags,
    );
  }

  async removexattr(path: string, name: string): Promise<void> {
    return native.removexattr(this.#use('ceph_removexattr', `${path}, ${name}`), path, name);
  }

  /** Creates one directory; EEXIST if it exists, ENOENT if its parent does not. */
  async mkdir(path: string, mode = 0o755): Promise<void> {
    return native.mkdir(this.#use('ceph_mkdir', path), path, mode);
  }

  /** mkdir -p: creates missing parents; an existing directory is not an error. */
  async mkdirs(path: string, mode = 0o755): Promise<void> {
    return native.mkdirs(this.#use('ceph_mkdirs', path), path, mode);
  }

  /** statx, following symbolic links. */
  async stat(path: string): Promise<CephStat> {
    const raw = await native.stat(this.#use('ceph_statx', path), path);
    const type = raw.mode & S_IFMT;
    return {
      mode: raw.mode,
      size: raw.size,
      isDirectory: type === S_IFDIR,
      isFile: type === S_IFREG,
      isSymbolicLink: type === S_IFLNK,
      mtime: new Date(raw.mtimeMs),
      ino: raw.ino,
      uid: raw.uid,
      gid: raw.gid,
      nlink: raw.nlink,
    };
  }

  /** Entry names of a directory, without `.` and `..`, in the order the MDS returns them. */
  async readdir(path: string): Promise<string[]> {
    return native.readdir(this.#use('ceph_opendir', path), path);
  }

  /** Creates or truncates `path` and writes `data` (strings as UTF-8). Meant for small files. */
  async writeFile(path: string, data: Buffer | string, mode = 0o644): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return native.writeFile(this.#use('ceph_open', path), path, bytes, mode);
  }

  /** Whole content of a file. Meant for small files. */
  async readFile(path: string): Promise<Buffer> {
    return native.readFile(this.#use('ceph_open', path), path);
  }

  async unlink(path: string): Promise<void> {
    return native.unlink(this.#use('ceph_unlink', path), path);
  }

  async rmdir(path: string): Promise<void> {
    return native.rmdir(this.#use('ceph_rmdir', path), path);
  }

  /** Snapshots directory `dirPath` as `<dirPath>/.snap/<name>`. */
  async mksnap(dirPath: string, name: string, mode = 0o755): Promise<void> {
    return native.mksnap(this.#use('ceph_mksnap', `${dirPath}, ${name}`), dirPath, name, mode);
  }

  async rmsnap(dirPath: string, name: string): Promise<void> {
    return native.rmsnap(this.#use('ceph_rmsnap', `${dirPath}, ${name}`), dirPath, name);
  }

  /**
   * Names of the snapshots taken of `dirPath` itself (the entries of `<dirPath>/.snap`). Entries
   * that ancestors' snapshots add, `_<snapshot>_<ancestor inode>`, are left out unless
   * `includeInherited` is set; the MDS rejects snapshot names starting with `_`, so a leading `_`
   * identifies them exactly.
   */
  async listSnaps(dirPath: string, options: ListSnapsOptions = {}): Promise<string[]> {
    const names = await this.readdir(snapDir(dirPath));
    return options.includeInherited ? names : names.filter((name) => !name.startsWith('_'));
  }

  #use(syscall: string, subject: string): NativeMountHandle {
    if (this.#handle === undefined) throw closedMountError(syscall, subject);
    return this.#handle;
  }
}
