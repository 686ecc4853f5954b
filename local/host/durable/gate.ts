// A test-only switch that holds durable dispatch: while held, the engine invokes no orchestrator episode, activity or
// entity batch (they wait at the gate, in order); client operations — start, signal, raise, status — are still
// accepted and journaled. Tests use it to open a window in which only non-durable functions (an Event Grid trigger)
// run, so anything the emulators count in that window is theirs. The real host has no such switch.

export interface DispatchState {
  held: boolean;
  /** Durable invocations under way now (0 once a hold has answered). */
  running: number;
  /** Durable invocations waiting at the gate. */
  waiting: number;
}

export class DispatchGate {
  #held = false;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  #drained: (() => void)[] = [];

  get state(): DispatchState {
    return { held: this.#held, running: this.#running, waiting: this.#waiting.length };
  }

  /** Runs one durable invocation, after the gate opens if it is held. */
  async run<T>(invoke: () => Promise<T>): Promise<T> {
    // A loop, not an if: a hold set again before a released waiter resumed keeps it waiting.
    while (this.#held) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running++;
    try {
      return await invoke();
    } finally {
      this.#running--;
      if (this.#running === 0) for (const done of this.#drained.splice(0)) done();
    }
  }

  /** Holds dispatch; resolves once the invocations already under way have ended. */
  async hold(): Promise<void> {
    this.#held = true;
    if (this.#running > 0) await new Promise<void>((resolve) => this.#drained.push(resolve));
  }

  /** Lets everything that waited at the gate run, in arrival order. */
  release(): void {
    this.#held = false;
    for (const go of this.#waiting.splice(0)) go();
  }
}
