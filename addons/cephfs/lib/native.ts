// The compiled addon (src/*.cc) and the exact shape of what it exports. Only
// lib/cephfs.ts talks to it; everything else uses the CephFS class.
import { createRequire } from 'node:module';

declare const mountHandleBrand: unique symbol;

/** Opaque, type-tagged handle to one native mount; only the addon can make one. */
export interface NativeMountHandle {
  readonly [mountHandleBrand]: true;
}

export interface NativeMountRequest {
  fsName: string;
  /** Own connection only: client id without the `client.` prefix; default `admin`. */
  clientId?: string;
  /** Own connection only: ceph.conf read before `conf` is applied. */
  confPath?: string;
  /** Own connection only: settings applied in order with ceph_conf_set. */
  conf?: [string, string][];
  /** The External from rados-js `acquireNativeHandle()`; selects ceph_create_from_rados. */
  radosHandle?: unknown;
}

export interface NativeStat {
  mode: number;
  size: number;
  ino: bigint;
  uid: number;
  gid: number;
  nlink: number;
  mtimeMs: number;
}

export interface NativeBinding {
  mount(request: NativeMountRequest): Promise<{ handle: NativeMountHandle; fscid: number }>;
  fscid(handle: NativeMountHandle): Promise<number>;
  getxattr(handle: NativeMountHandle, path: string, name: string): Promise<Buffer>;
  setxattr(
    handle: NativeMountHandle,
    path: string,
    name: string,
    value: Buffer,
    flags: number,
  ): Promise<void>;
  removexattr(handle: NativeMountHandle, path: string, name: string): Promise<void>;
  mkdir(handle: NativeMountHandle, path: string, mode: number): Promise<void>;
  mkdirs(handle: NativeMountHandle, path: string, mode: number): Promise<void>;
  stat(handle: NativeMountHandle, path: string): Promise<NativeStat>;
  readdir(handle: NativeMountHandle, path: string): Promise<string[]>;
  writeFile(handle: NativeMountHandle, path: string, data: Buffer, mode: number): Promise<void>;
  readFile(handle: NativeMountHandle, path: string): Promise<Buffer>;
  unlink(handle: NativeMountHandle, path: string): Promise<void>;
  rmdir(handle: NativeMountHandle, path: string): Promise<void>;
  mksnap(handle: NativeMountHandle, path: string, name: string, mode: number): Promise<void>;
  rmsnap(handle: NativeMountHandle, path: string, name: string): Promise<void>;
  /** Waits for in-flight work on the mount, then unmounts and releases it. Idempotent. */
  close(handle: NativeMountHandle): Promise<void>;
}

// Resolved relative to this file, which is the same depth in lib/ and dist/.
export const native = createRequire(import.meta.url)(
  '../build/Release/cephfs.node',
) as NativeBinding;
