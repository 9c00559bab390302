import type { LogLevel, Platform, TimerHandle } from "../../../modules/platform/platform.js";

interface PendingTimer {
  id: number;
  due: number;
  callback: () => void;
}

/**
 * A Platform whose clock moves only when a test says so: timeouts become deterministic and
 * instant. `advance(ms)` fires due timers in order and lets promise jobs run between them.
 */
export class ManualPlatform implements Platform {
  #now = 0;
  #nextId = 1;
  #timers: PendingTimer[] = [];
  #randomCounter = 0;
  readonly logs: { level: LogLevel; tag: string; message: string }[] = [];

  now(): number {
    return this.#now;
  }
  wallClock(): number {
    return 1_767_225_600_000 + this.#now; // 2026-01-01T00:00:00Z plus elapsed time
  }
  setTimer(callback: () => void, ms: number): TimerHandle {
    const timer = { id: this.#nextId++, due: this.#now + Math.max(0, ms), callback };
    this.#timers.push(timer);
    return timer.id as unknown as TimerHandle;
  }
  clearTimer(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.id !== (handle as unknown as number));
  }
  log(level: LogLevel, tag: string, message: string): void {
    this.logs.push({ level, tag, message });
  }
  /** Deterministic, not random: tests must be repeatable. */
  randomBytes(count: number): Uint8Array {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = (this.#randomCounter++ * 167 + 13) & 0xff;
    return out;
  }
  get pendingTimers(): number {
    return this.#timers.length;
  }
  /** Lets queued promise jobs run (several rounds, as chained awaits need). */
  async settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  }
  /** Moves the clock forward by `ms`, firing every timer that falls due, earliest first. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await this.settle();
    for (;;) {
      this.#timers.sort((a, b) => a.due - b.due || a.id - b.id);
      const next = this.#timers[0];
      if (!next || next.due > end) break;
      this.#timers.shift();
      this.#now = next.due;
      next.callback();
      await this.settle();
    }
    this.#now = end;
    await this.settle();
  }
}
