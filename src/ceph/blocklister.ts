// Fencing a dead cephfs-mirror daemon: its address goes on the OSD blocklist before its
// directories are handed to another daemon, so a daemon that was only slow cannot keep writing.
import type { Rados } from 'rados-js';
import type { Blocklister } from '../reconcile/index.js';
import { osdBlocklistAdd } from './mon-commands.js';
import { errnoOf } from './return-code.js';

export class MonBlocklister implements Blocklister {
  constructor(private readonly rados: Rados) {}

  async blocklist(addr: string): Promise<number> {
    try {
      const { rc } = await this.rados.monCommand(osdBlocklistAdd(addr));
      return rc;
    } catch (e) {
      return -errnoOf(e);
    }
  }
}
