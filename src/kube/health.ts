// /healthz: the operator is alive only while its work makes progress. A pod whose reconcilers or
// engines are wedged (every worker stuck in a call into a hung MDS or mon that never returns)
// answers 503, so the kubelet restarts it; a slow but moving operator stays healthy.

export interface ProgressSource {
  /** What it is, for the reason (e.g. `queue mirrors`, `engine ns/site-a`). */
  name: string;
  /** How long its work has waited without anything finishing; 0 when it has nothing to do. */
  stalledForMs(): number;
}

export interface Health {
  ok: boolean;
  /** Why not, one line per stalled source. */
  reasons: string[];
}

export class HealthWatchdog {
  constructor(
    private readonly sources: () => Iterable<ProgressSource>,
    /** Stalled longer than this is unhealthy. */
    private readonly limitMs: number,
  ) {}

  check(): Health {
    const reasons: string[] = [];
    for (const s of this.sources()) {
      const stalled = s.stalledForMs();
      if (stalled > this.limitMs) {
        reasons.push(`${s.name}: no progress for ${Math.round(stalled / 1000)} s`);
      }
    }
    return { ok: reasons.length === 0, reasons };
  }
}
