/**
 * The firmware's settings on Moddable hosts, read from the manifest's `config` (mc/config):
 *
 *   board      which board and its pins (boards.ts; each board's manifest under hosts/esp32/<board>/)
 *   device     the device application's configuration (modules/device/config.ts)
 *   crypto     "native" (default: Moddable's C crypt module, modules/crypto/native-provider.ts) or "noble"
 *   messages   stop once this many readings were acknowledged (tests, measurements); default: run forever
 *   logLevel   "debug" | "info" | "warn" | "error"
 *
 * `mcconfig ... key=value` adds flat string values to config, so the settings people change when
 * building also come flat: apn, brokerHost, brokerPort, dialect, messages, crypto, logLevel, and the
 * modem pins of a board (modemTx, modemRx, modemBaud, modemUart, modemPowerKey, modemReset,
 * modemStatus) or the simulator's virtual modem (modemAddress, modemPort) and its UART model
 * (uartBaud, uartFifoBytes, uartAllowanceMs: hosts/esp32/uart-fifo.ts).
 */
import { type DeviceConfig, parseDeviceConfig } from "../../modules/device/config.js";
import type { LogLevel } from "../../modules/platform/platform.js";
import { type BoardConfig, BoardConfigError, parseBoardConfig } from "./boards.js";

export interface FirmwareSettings {
  board: BoardConfig;
  device: DeviceConfig;
  crypto: "native" | "noble";
  messages: number | undefined;
  logLevel: LogLevel;
}

type Json = Record<string, unknown>;

/** A plain, mutable deep copy. (mc/config lives in flash: XS's JSON.stringify cannot mark its objects.) */
function copy(value: unknown, depth = 0): unknown {
  if (depth > 16) throw new BoardConfigError("config is nested too deeply");
  if (Array.isArray(value)) return value.map((item) => copy(item, depth + 1));
  if (value && typeof value === "object") {
    const out: Json = {};
    for (const key of Object.keys(value)) out[key] = copy((value as Json)[key], depth + 1);
    return out;
  }
  return value;
}

function clone(value: unknown): Json {
  return value && typeof value === "object" && !Array.isArray(value) ? (copy(value) as Json) : {};
}

function child(parent: Json, key: string): Json {
  const value = parent[key];
  if (value && typeof value === "object" && !Array.isArray(value)) return value as Json;
  const created: Json = {};
  parent[key] = created;
  return created;
}

function numeric(value: unknown): unknown {
  return typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
}

/** Settings from mc/config; BoardConfigError / DeviceConfigError name what is wrong. */
export function readSettings(config: unknown): FirmwareSettings {
  const flat = (config && typeof config === "object" ? config : {}) as Json;
  const board = clone(flat["board"]);
  const device = clone(flat["device"]);

  const pinOverrides: [string, string, string?][] = [
    ["modemTx", "uart", "transmit"],
    ["modemRx", "uart", "receive"],
    ["modemBaud", "uart", "baud"],
    ["modemUart", "uart", "port"],
    ["modemPowerKey", "powerKey", "pin"],
    ["modemReset", "reset", "pin"],
    ["modemStatus", "status", "pin"],
    ["modemAddress", "modem", "address"],
    ["modemPort", "modem", "port"],
    ["uartBaud", "uart", "baud"],
    ["uartFifoBytes", "uart", "fifoBytes"],
    ["uartAllowanceMs", "uart", "hostLatencyAllowanceMs"],
  ];
  for (const [key, section, field] of pinOverrides) {
    if (flat[key] === undefined) continue;
    const target = child(board, section);
    target[field!] = key === "modemAddress" ? flat[key] : numeric(flat[key]);
  }

  if (flat["apn"] !== undefined) child(device, "modem")["apn"] = flat["apn"];
  if (flat["dialect"] !== undefined) child(device, "modem")["dialect"] = flat["dialect"];
  if (flat["brokerHost"] !== undefined) child(device, "broker")["host"] = flat["brokerHost"];
  if (flat["brokerPort"] !== undefined) child(device, "broker")["port"] = numeric(flat["brokerPort"]);

  const crypto = flat["crypto"] ?? "native";
  if (crypto !== "native" && crypto !== "noble") throw new BoardConfigError(`config.crypto must be "native" or "noble", not ${JSON.stringify(crypto)}`);
  const logLevel = flat["logLevel"] ?? "info";
  if (logLevel !== "debug" && logLevel !== "info" && logLevel !== "warn" && logLevel !== "error") {
    throw new BoardConfigError(`config.logLevel must be debug, info, warn or error, not ${JSON.stringify(logLevel)}`);
  }
  let messages: number | undefined;
  if (flat["messages"] !== undefined && flat["messages"] !== null && flat["messages"] !== 0 && flat["messages"] !== "0") {
    const n = numeric(flat["messages"]);
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) throw new BoardConfigError(`config.messages must be a positive integer, not ${JSON.stringify(flat["messages"])}`);
    messages = n;
  }
  return { board: parseBoardConfig(board), device: parseDeviceConfig(device), crypto, messages, logLevel };
}
