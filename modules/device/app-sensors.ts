/**
 * The sensors this firmware build reads: the one list an OEM edits to add theirs (see the README,
 * "Adding a sensor"). Sensors without an interval are read every `publishIntervalMs` of the
 * configuration.
 */
import type { Platform } from "../platform/platform.js";
import { simulatedTemperature } from "./example-sensors.js";
import type { SensorDefinition } from "./sensors.js";

export function applicationSensors(platform: Platform): SensorDefinition[] {
  return [
    // Desktop and simulator: a simulated room temperature. On a board, replace it (or add to it),
    // e.g. esp32InternalTemperature(reader) from ./example-sensors.js.
    simulatedTemperature(platform),
  ];
}
