/**
 * Exponential backoff with jitter between reconnection attempts: a fleet of devices that lost the
 * same cell or broker must not all come back at the same instant. The pause after the n-th
 * consecutive failure is min(maxMs, initialMs · multiplier^(n-1)), of which a `jitter` fraction
 * is drawn at random; a success resets the count.
 */
import type { Platform } from "../platform/platform.js";
import { sleep } from "../platform/time.js";
import type { BackoffConfig } from "./config.js";

export class Backoff {
  readonly #config: BackoffConfig;
  readonly #random: () => number;
  #failures = 0;

  /** `random` returns a number in [0, 1); default from the platform's random bytes. */
  constructor(config: BackoffConfig, platform: Platform, random?: () => number) {
    this.#config = config;
    this.#random =
      random ??
      (() => {
        const b = platform.randomBytes(4);
        return (((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!) / 0x100000000;
      });
  }

  /** Consecutive failures since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** The ceiling of the next pause (before jitter), for logs. */
  get nextCeilingMs(): number {
    const { initialMs, maxMs, multiplier } = this.#config;
    return Math.min(maxMs, initialMs * Math.pow(multiplier, Math.min(this.#failures, 64)));
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  fail(): number {
    const ceiling = this.nextCeilingMs;
    this.#failures++;
    const jitter = this.#config.jitter;
    return Math.round(ceiling * (1 - jitter) + ceiling * jitter * this.#random());
  }

  /** Records a success: the next failure waits initialMs again. */
  succeed(): void {
    this.#failures = 0;
  }

  /** fail() and sleep for the pause; resolves with the pause taken. */
  async wait(platform: Platform): Promise<number> {
    const ms = this.fail();
    await sleep(platform, ms);
    return ms;
  }
}
