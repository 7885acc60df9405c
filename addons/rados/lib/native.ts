// The compiled addon and the exact shape of what it exports. Only this file sees the raw
// handles; the public classes in rados.ts / ioctx.ts wrap them.
import { createRequire } from 'node:module';

export interface NativeCommandResult {
  rc: number;
  outbuf: Buffer;
  outs: string;
}

export interface NativeOmapPage {
  entries: Array<[string, Buffer]>;
  more: boolean;
  version: bigint;
}

export interface NativeLockers {
  exclusive: boolean;
  tag: string;
  lockers: Array<{ client: string; cookie: string; addr: string }>;
}

export interface NativeNotifyResult {
  rc: number;
  acks: Array<{ gid: bigint; cookie: bigint; payload: Buffer }>;
  timeouts: Array<{ gid: bigint; cookie: bigint }>;
}

export type NativeWatchEvent =
  | { type: 'notify'; notifyId: bigint; cookie: bigint; notifierId: bigint; payload: Buffer }
  | { type: 'error'; cookie: bigint; errno: number; code: string };

export type NativeRadosState =
  'new' | 'connecting' | 'connected' | 'shutting-down' | 'shutdown' | 'failed';

export interface NativeRadosHandle {
  connect(
    confPath: string | undefined,
    clientId: string | undefined,
    settings: Array<[string, string]>,
  ): Promise<void>;
  shutdown(): Promise<void>;
  state(): NativeRadosState;
  fsid(): string;
  confGet(name: string): string;
  instanceId(): bigint;
  getAddrs(): string;
  monCommand(cmd: string, input: Buffer | undefined): Promise<NativeCommandResult>;
  mgrCommand(cmd: string, input: Buffer | undefined): Promise<NativeCommandResult>;
  monCommandTarget(
    mon: string | number,
    cmd: string,
    input: Buffer | undefined,
  ): Promise<NativeCommandResult>;
  poolLookup(name: string): Promise<number>;
  poolReverseLookup(poolId: number): Promise<string>;
  openIoCtx(pool: number | string): Promise<NativeIoCtxHandle>;
  blocklistAdd(addr: string, expireSeconds: number): Promise<void>;
  acquireNativeHandle(): unknown;
  releaseNativeHandle(): void;
}

export interface NativeIoCtxHandle {
  createObject(oid: string, exclusive: boolean): Promise<bigint>;
  stat(oid: string): Promise<{ size: number; mtime: Date }>;
  remove(oid: string): Promise<void>;
  omapGetVals(
    oid: string,
    startAfter: string | undefined,
    prefix: string | undefined,
    max: number,
  ): Promise<NativeOmapPage>;
  omapWrite(
    oid: string,
    setKeys: string[],
    setValues: Buffer[],
    removeKeys: string[],
    assertVersion?: bigint,
    exec?: Array<[string, string, Buffer]>,
  ): Promise<bigint>;
  notify(oid: string, payload: Buffer, timeoutMs: number): Promise<NativeNotifyResult>;
  watch(
    oid: string,
    callback: (event: NativeWatchEvent) => void,
    timeoutSeconds: number | undefined,
  ): Promise<bigint>;
  unwatch(cookie: bigint): Promise<void>;
  notifyAck(
    oid: string,
    notifyId: bigint,
    cookie: bigint,
    payload: Buffer | undefined,
  ): Promise<void>;
  close(): Promise<void>;
  poolId(): number;
  lockExclusive(
    oid: string,
    name: string,
    cookie: string,
    description: string,
    durationMs: number,
    flags: number,
  ): Promise<void>;
  unlock(oid: string, name: string, cookie: string): Promise<void>;
  breakLock(oid: string, name: string, client: string, cookie: string): Promise<void>;
  listLockers(oid: string, name: string): Promise<NativeLockers>;
}

interface NativeModule {
  RadosHandle: new () => NativeRadosHandle;
}

// Relative to dist/ (and lib/ when run from source): the node-gyp output.
const load = createRequire(import.meta.url);
export const native = load('../build/Release/rados.node') as NativeModule;
