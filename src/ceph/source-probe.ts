// Whether the source filesystem's MDS answers, as the operator itself sees it.
//
// A stopped or partitioned MDS does not show in the FSMap for a long time: with no standby the
// monitors keep the rank up:active (on the lab's Pacific 16.2.15, 30 s after SIGSTOP `fs dump`
// still shows it active with no laggy_since), while every libcephfs call waits. So each mirror
// refresh pokes one stat of the filesystem root through the same guarded mount the sync views
// use (src/ceph/fs-call-guard.ts: deadline and thread budget) and reports the last answer: a stat
// that timed out, or could not start because earlier calls still wait, means the MDS does not
// answer. At most one probe is in flight per mirror.
import type { SourceDirectoryState } from './source-directory.js';

export type SourceResponse =
  { responding: true } | { responding: false; since: number; message: string };

export class SourceProbe {
  private inFlight = false;
  private failure: { since: number; message: string } | undefined;

  constructor(
    /** One stat of the filesystem root; never throws (`unknown` carries why it failed). */
    private readonly statRoot: () => Promise<SourceDirectoryState>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts a probe unless one is running; its answer shows in `last()` once it settles. */
  poke(): void {
    if (this.inFlight) return;
    this.inFlight = true;
    void this.statRoot()
      .then(
        (state) => {
          if (state.state === 'unknown') {
            this.failure ??= { since: this.now(), message: state.message };
            this.failure.message = state.message;
          } else {
            this.failure = undefined;
          }
        },
        (e: unknown) => {
          this.failure ??= { since: this.now(), message: String(e) };
        },
      )
      .finally(() => {
        this.inFlight = false;
      });
  }

  /** The last probe's answer (responding until a probe says otherwise). */
  last(): SourceResponse {
    return this.failure ? { responding: false, ...this.failure } : { responding: true };
  }
}
