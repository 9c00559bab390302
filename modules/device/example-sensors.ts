/**
 * Example sensors: a simulated temperature for desktops and the simulator, and the adapter for the
 * ESP32's internal temperature sensor (the native reader comes with the hardware issue).
 */
import type { Platform } from "../platform/platform.js";
import { type SensorDefinition, SensorUnavailableError } from "./sensors.js";

export interface SimulatedTemperatureOptions {
  name?: string;
  intervalMs?: number;
  /** Mean temperature, °C. Default 21. */
  meanCelsius?: number;
  /** Amplitude of the slow swing, °C. Default 3. */
  swingCelsius?: number;
  /** Period of the swing. Default one hour. */
  periodMs?: number;
  /** Largest random step between readings, °C. Default 0.2. */
  noiseCelsius?: number;
}

/**
 * A plausible room temperature: a slow sine swing around a mean plus a little noise from the
 * platform's random source, rounded to 0.01 °C. `{ value, unit: "Cel" }` (SenML's unit name).
 */
export function simulatedTemperature(platform: Platform, options: SimulatedTemperatureOptions = {}): SensorDefinition {
  const mean = options.meanCelsius ?? 21;
  const swing = options.swingCelsius ?? 3;
  const period = options.periodMs ?? 3600000;
  const noise = options.noiseCelsius ?? 0.2;
  const origin = platform.now();
  return {
    name: options.name ?? "temperature",
    ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
    async read() {
      const phase = ((platform.now() - origin) / period) * 2 * Math.PI;
      const random = platform.randomBytes(1)[0]! / 255; // 0..1
      const celsius = mean + swing * Math.sin(phase) + (random * 2 - 1) * noise;
      return { value: Math.round(celsius * 100) / 100, unit: "Cel" };
    },
  };
}

/**
 * The ESP32's on-chip temperature sensor (ESP32-S2/S3/C3/C6: the IDF `temperature_sensor` driver;
 * the original ESP32 has none that is documented). The firmware cannot reach it without a native
 * module, so the board host passes its reader in — hosts/esp32 with the hardware issue:
 *
 * ```ts
 * // hosts/esp32/<board>/main.ts, with a native `temperature` module built into the board's manifest:
 * import Temperature from "temperature";
 * sensors.push(esp32InternalTemperature(() => Temperature.celsius()));
 * ```
 * Without a reader every read rejects with SensorUnavailableError (counted, logged, not fatal).
 * The die temperature runs well above the room's; it is a health value, not an ambient reading.
 */
export function esp32InternalTemperature(readCelsius?: () => number, options: { name?: string; intervalMs?: number } = {}): SensorDefinition {
  return {
    name: options.name ?? "chip-temperature",
    ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
    async read() {
      if (!readCelsius) throw new SensorUnavailableError("this board host gave no reader for the ESP32 internal temperature sensor");
      const celsius = readCelsius();
      if (!Number.isFinite(celsius)) throw new SensorUnavailableError(`the internal temperature reader returned ${String(celsius)}`);
      return { value: Math.round(celsius * 10) / 10, unit: "Cel" };
    },
  };
}
