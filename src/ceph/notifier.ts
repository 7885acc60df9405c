// Acquire/release messages to one cephfs-mirror daemon: a notify on its mailbox object
// `cephfs_mirror.<instance_id>`, whose return code is the action's result.
import type { IoCtx } from 'rados-js';
import type { DirectoryMessage, DirectoryNotifier } from '../reconcile/index.js';
import { instanceObjectName } from './dir-map-codec.js';
import { errnoOf } from './return-code.js';

/** The Python binding's default notify timeout, which the mgr module relies on. */
export const NOTIFY_TIMEOUT_MS = 5000;

export type NotifyObserver = (mode: DirectoryMessage['mode'], r: number, seconds: number) => void;

export class RadosDirectoryNotifier implements DirectoryNotifier {
  constructor(
    private readonly ioctx: IoCtx,
    private readonly timeoutMs = NOTIFY_TIMEOUT_MS,
    private readonly observe?: NotifyObserver,
  ) {}

  async notify(instanceId: string, message: DirectoryMessage): Promise<number> {
    const started = performance.now();
    let r: number;
    try {
      // Key order as the mgr module's json.dumps: dir_path, then mode.
      const payload = Buffer.from(
        JSON.stringify({ dir_path: message.dir_path, mode: message.mode }),
      );
      const result = await this.ioctx.notify(
        instanceObjectName(instanceId),
        payload,
        this.timeoutMs,
      );
      r = result.rc;
    } catch (e) {
      r = -errnoOf(e);
    }
    this.observe?.(message.mode, r, (performance.now() - started) / 1000);
    return r;
  }
}
