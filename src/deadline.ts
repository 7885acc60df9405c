// A promise raced against a timer, in one place. Ceph calls (a stat on a hung MDS, a mon command
// to a monitor that does not answer) cannot be cancelled, and neither can some of our own work (a
// reconcile, engines finishing their writes): the caller stops waiting for them after a deadline
// and the call goes on by itself. Each caller decides what "stopped waiting" means — a fallback
// value, a tag, or an error of its own — so that choice is a callback, run only on expiry (an
// error built there has the expiry's stack, and nothing is allocated on the fast path).
//
// A top-level module with no imports, like src/log.ts: src/ceph, src/kube and src/controllers all
// use it, and it must not pull any of them into the others (test/unit/layers.test.ts).

/**
 * Settles like `work` when `work` settles within `ms` milliseconds; otherwise like `onExpiry()`
 * at the deadline: resolved with what it returns, or rejected with what it throws (write
 * `() => { throw new X() }` for an error; the result is then typed as `work`'s alone).
 *
 * - The timer is cleared as soon as `work` settles, so a finished call keeps no process alive
 *   (and costs nothing more) until its deadline would have come.
 * - `work` is always listened to: when it rejects after the deadline, that rejection is dropped
 *   here (nobody is left to hear it) and never becomes an unhandledRejection.
 * - `ms` is a positive, finite delay; a caller with an optional deadline ("0: none") checks that
 *   itself and awaits `work` directly.
 */
export function raceDeadline<T, U>(
  work: PromiseLike<T>,
  ms: number,
  onExpiry: () => U,
): Promise<T | U> {
  return new Promise<T | U>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      try {
        resolve(onExpiry());
      } catch (e) {
        reject(e as Error);
      }
    }, ms);
    void work.then(
      (value) => {
        if (expired) return;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (expired) return;
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}
