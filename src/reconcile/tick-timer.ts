import type { Clock, ClockTimer } from './ports.js';

/**
 * One timer, kept at the earliest time asked for: `armAt` only ever moves it earlier, `cancel`
 * forgets it (the next `armAt` sets it afresh). When it fires it is forgotten before `fire` runs.
 */
export class TickTimer {
  private timer: ClockTimer | null = null;
  private due = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  /** Fire at `at` (clock seconds) unless already due no later; Infinity: nothing to do. */
  armAt(at: number): void {
    if (at === Infinity || at >= this.due) return;
    this.timer?.cancel();
    this.due = at;
    this.timer = this.clock.setTimer(() => {
      this.timer = null;
      this.due = Infinity;
      this.fire();
    }, at - this.clock.now());
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = null;
    this.due = Infinity;
  }
}
