import type { DirectoryListener } from './driver-types.js';
import type { DirPath } from './paths.js';
import type { DirectoryPolicy } from './policy.js';
import type { DriverLogger } from './ports.js';

/** The driver's listeners: told (synchronously) when a directory's status changes or it goes. */
export class DirectoryEvents {
  private readonly listeners = new Set<DirectoryListener>();

  constructor(
    private readonly policy: DirectoryPolicy,
    private readonly log: DriverLogger,
  ) {}

  subscribe(listener: DirectoryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Someone listens: only then is a status compared before and after a step. */
  get watched(): boolean {
    return this.listeners.size > 0;
  }

  /** The directory's status as a string, to tell whether a change is worth an emit. */
  fingerprint(path: DirPath): string {
    const s = this.policy.status(path);
    if (!s) return '';
    return `${s.state}|${s.policyState}|${s.instanceId}|${s.lastShuffled}|${s.purging}`;
  }

  /** A listener that throws is logged; the others still hear of the change. */
  emit(path: DirPath): void {
    for (const listener of this.listeners) {
      try {
        listener(path);
      } catch (error) {
        this.log.warn('directory listener threw', { path, error: String(error) });
      }
    }
  }
}
