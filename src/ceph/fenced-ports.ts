// The driver's notifier and blocklister, allowed to act only while the fence says we own the
// filesystem: an acquire or a blocklist sent by an operator that has lost the filesystem is what
// crashes daemons or fences the wrong party, and no OSD guard can refuse a notify.
import type { Blocklister, DirectoryMessage, DirectoryNotifier } from '../reconcile/index.js';
import { ERRNO } from './errors.js';
import type { MirrorObjectFence } from './mirror-fence.js';

/** What an operation not sent because we no longer own the filesystem returns. */
const NOT_OWNED = -ERRNO.ESHUTDOWN;

export class FencedNotifier implements DirectoryNotifier {
  constructor(
    private readonly inner: DirectoryNotifier,
    private readonly fence: MirrorObjectFence,
  ) {}

  notify(instanceId: string, message: DirectoryMessage): Promise<number> {
    if (!this.fence.owned()) return Promise.resolve(NOT_OWNED);
    return this.inner.notify(instanceId, message);
  }
}

export class FencedBlocklister implements Blocklister {
  constructor(
    private readonly inner: Blocklister,
    private readonly fence: MirrorObjectFence,
  ) {}

  blocklist(addr: string): Promise<number> {
    if (!this.fence.owned()) return Promise.resolve(NOT_OWNED);
    return this.inner.blocklist(addr);
  }
}
