/**
 * Timers of the app runtime in simulated time: every delay is a real duration
 * multiplied by the lab's timeScale. All of them are cancelled together on a
 * lab reset or stop, so nothing from a previous scenario fires into the next.
 */
export interface Timer {
  cancel(): void;
}

export class Scheduler {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(readonly timeScale: number) {}

  /** Runs `fn` after `realMs` of simulated time (at least 1 ms of wall time). */
  after(realMs: number, fn: () => void): Timer {
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        fn();
      },
      Math.max(1, realMs * this.timeScale),
    );
    t.unref();
    this.timers.add(t);
    return {
      cancel: () => {
        clearTimeout(t);
        this.timers.delete(t);
      },
    };
  }

  /** Wall-clock milliseconds that `realMs` of simulated time takes. */
  scaled(realMs: number): number {
    return realMs * this.timeScale;
  }

  cancelAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
