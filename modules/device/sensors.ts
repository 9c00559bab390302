/**
 * Sensors for OEMs: a sensor is a name, an async read() and an interval. The hub reads each one on
 * its own timer and hands every value to the outbox, which stores it before anything is sent.
 *
 * ```ts
 * const humidity: SensorDefinition = {
 *   name: "humidity",                 // 1..32 letters, digits, '_' or '-'; also {sensor} in the topic
 *   intervalMs: 30000,                // optional: default the configuration's publishIntervalMs
 *   async read() {                    // a number, flag, text, or a flat object such as {value, unit}
 *     return { value: await sht31.relativeHumidity(), unit: "%RH" };
 *   },
 * };
 * ```
 * A read that throws or takes longer than its timeout is counted and logged, and the sensor is
 * read again at its next interval: one faulty sensor neither stops the others nor the device. Reads
 * of one sensor never overlap; a read that overruns its interval skips the slots it missed.
 */
import type { Platform, TimerHandle } from "../platform/platform.js";
import { TimeoutError, withTimeout } from "../platform/time.js";
import type { SensorValue } from "./outbox.js";

export type { SensorValue } from "./outbox.js";

export interface SensorDefinition {
  /** 1..32 letters, digits, '_' or '-'; unique on the device. */
  name: string;
  /** Reads the sensor now. */
  read(): Promise<SensorValue>;
  /** Time between reads; default the hub's (the configuration's publishIntervalMs). At least 10 ms. */
  intervalMs?: number;
  /** Longest a read may take; default the interval, at most 10000 ms. */
  timeoutMs?: number;
}

export class SensorError extends Error {
  override name = "SensorError";
}

/** A sensor that this board or host does not have. */
export class SensorUnavailableError extends SensorError {
  override name = "SensorUnavailableError";
}

export interface SensorStats {
  reads: number;
  failures: number;
  lastError: string | undefined;
}

export interface SensorHubOptions {
  /** Interval of sensors registered without one. */
  defaultIntervalMs: number;
  /** Wall clock stamped on readings; default the platform's. */
  clock?: () => number;
  /** Receives every successful reading (the device stores it in the outbox). */
  onReading(sensor: string, value: SensorValue, time: number): void;
}

const SENSOR_NAME = /^[A-Za-z0-9_-]{1,32}$/;
const MAX_READ_TIMEOUT_MS = 10000;

interface Scheduled {
  definition: SensorDefinition;
  intervalMs: number;
  timeoutMs: number;
  stats: SensorStats;
  timer: TimerHandle | undefined;
  reading: boolean;
  nextDue: number;
}

export class SensorHub {
  readonly #platform: Platform;
  readonly #options: SensorHubOptions;
  readonly #sensors = new Map<string, Scheduled>();
  #running = false;

  constructor(platform: Platform, options: SensorHubOptions) {
    if (!Number.isFinite(options.defaultIntervalMs) || options.defaultIntervalMs < 10) throw new SensorError(`defaultIntervalMs must be at least 10, not ${options.defaultIntervalMs}`);
    this.#platform = platform;
    this.#options = options;
  }

  /** Adds a sensor (read at once if the hub is running); returns a function that removes it. */
  register(definition: SensorDefinition): () => void {
    if (typeof definition !== "object" || definition === null || typeof definition.read !== "function") throw new SensorError("a sensor needs a name and an async read()");
    if (!SENSOR_NAME.test(definition.name)) throw new SensorError(`sensor name ${JSON.stringify(definition.name)} must be 1..32 letters, digits, '_' or '-'`);
    if (this.#sensors.has(definition.name)) throw new SensorError(`a sensor named ${definition.name} is already registered`);
    const intervalMs = definition.intervalMs ?? this.#options.defaultIntervalMs;
    if (!Number.isFinite(intervalMs) || intervalMs < 10) throw new SensorError(`sensor ${definition.name}: intervalMs must be at least 10, not ${intervalMs}`);
    const timeoutMs = definition.timeoutMs ?? Math.min(intervalMs, MAX_READ_TIMEOUT_MS);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new SensorError(`sensor ${definition.name}: timeoutMs must be positive, not ${timeoutMs}`);
    const scheduled: Scheduled = { definition, intervalMs, timeoutMs, stats: { reads: 0, failures: 0, lastError: undefined }, timer: undefined, reading: false, nextDue: 0 };
    this.#sensors.set(definition.name, scheduled);
    if (this.#running) this.#start(scheduled);
    return () => this.#remove(definition.name);
  }

  /** Names of the registered sensors. */
  get names(): string[] {
    return Array.from(this.#sensors.keys());
  }

  stats(name: string): SensorStats | undefined {
    const s = this.#sensors.get(name)?.stats;
    return s ? { ...s } : undefined;
  }

  /** Reads every sensor now, then each at its interval. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const s of this.#sensors.values()) this.#start(s);
  }

  /** Stops all timers; reads under way finish but their values are discarded. */
  stop(): void {
    this.#running = false;
    for (const s of this.#sensors.values()) this.#cancel(s);
  }

  #remove(name: string): void {
    const s = this.#sensors.get(name);
    if (!s) return;
    this.#cancel(s);
    this.#sensors.delete(name);
  }

  #cancel(s: Scheduled): void {
    if (s.timer !== undefined) this.#platform.clearTimer(s.timer);
    s.timer = undefined;
  }

  #start(s: Scheduled): void {
    s.nextDue = this.#platform.now();
    this.#schedule(s, 0);
  }

  #schedule(s: Scheduled, delay: number): void {
    s.timer = this.#platform.setTimer(() => {
      s.timer = undefined;
      void this.#read(s);
    }, Math.max(0, delay));
  }

  async #read(s: Scheduled): Promise<void> {
    if (!this.#running || this.#sensors.get(s.definition.name) !== s || s.reading) return;
    s.reading = true;
    const name = s.definition.name;
    try {
      let pending: Promise<SensorValue>;
      try {
        pending = Promise.resolve(s.definition.read());
      } catch (error) {
        pending = Promise.reject(error);
      }
      const value = await withTimeout(this.#platform, pending, s.timeoutMs, () => new TimeoutError(`sensor ${name}: no value within ${s.timeoutMs} ms`));
      if (!this.#running || this.#sensors.get(name) !== s) return;
      s.stats.reads++;
      try {
        this.#options.onReading(name, value, this.#options.clock ? this.#options.clock() : this.#platform.wallClock());
      } catch (error) {
        // Not the sensor's fault (a full or failing store, a value the outbox refuses): logged by itself.
        this.#platform.log("error", "sensor", `${name}: reading not kept: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      }
    } catch (error) {
      s.stats.failures++;
      s.stats.lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.#platform.log("warn", "sensor", `${name}: read failed (${s.stats.failures} failures so far): ${s.stats.lastError}`);
    } finally {
      s.reading = false;
      if (this.#running && this.#sensors.get(name) === s) {
        // Fixed rate: the next slot after now, skipping slots an overrunning read missed.
        const now = this.#platform.now();
        s.nextDue += s.intervalMs;
        if (s.nextDue <= now) s.nextDue += Math.ceil((now - s.nextDue + 1) / s.intervalMs) * s.intervalMs;
        this.#schedule(s, s.nextDue - now);
      }
    }
  }
}
