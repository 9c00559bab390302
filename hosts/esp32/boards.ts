/**
 * The boards the firmware runs on: where the modem's UART is, and how to power the modem up,
 * down and reset it (modems.md §3). A board is chosen by the manifest's `config.board.kind`; its
 * pins come from the same config (each board's manifest under hosts/esp32/<board>/ sets them).
 *
 * This file does no I/O itself: pins and the I2C bus come in through BoardIo (Moddable's ECMA-419
 * digital and I2C on the device, board-io.ts; a recording fake in tests), time through Platform.
 * Pin levels are what the ESP32 drives: on LilyGO boards the power key goes through a transistor,
 * so driving the GPIO high presses the key.
 */
import type { BoardHooks } from "../../modules/modem/types.js";
import type { Platform } from "../../modules/platform/platform.js";
import { sleep } from "../../modules/platform/time.js";

export class BoardConfigError extends Error {
  override name = "BoardConfigError";
}

export interface OutputPin {
  write(level: 0 | 1): void;
}
export interface InputPin {
  read(): 0 | 1;
}
/** An I2C device with 8-bit registers. */
export interface RegisterDevice {
  readRegister(register: number): number;
  writeRegister(register: number, value: number): void;
}
export interface BoardIo {
  output(pin: number, initial: 0 | 1): OutputPin;
  input(pin: number): InputPin;
  i2c(options: { data: number; clock: number; address: number; hz: number }): RegisterDevice;
}

export interface UartPins {
  /** UART index (0..2). UART0 carries the console and the debugger on most boards. */
  port: number;
  /** ESP32 TX → modem RXD. */
  transmit: number;
  /** ESP32 RX ← modem TXD. */
  receive: number;
  baud: number;
}

export type BoardKind = "lilygo-t-sim7080g-s3" | "walter" | "esp32-bg95" | "moddable-simulator";
export const BOARD_KINDS: readonly BoardKind[] = ["lilygo-t-sim7080g-s3", "walter", "esp32-bg95", "moddable-simulator"];

/** A GPIO and the level that means "active" (key pressed, reset asserted, modem on). */
export interface PinLevel {
  pin: number;
  activeHigh: boolean;
}

export type BoardConfig =
  | {
      kind: "lilygo-t-sim7080g-s3";
      uart: UartPins;
      powerKey: PinLevel;
      /** AXP2101 power management IC: modem supply DC3, level shifter BLDO1. */
      pmu: { data: number; clock: number; address: number };
    }
  | {
      kind: "walter";
      uart: UartPins;
      /** Modem RESET, active low. */
      reset: PinLevel;
      /** ESP32 RTS → modem RTS input (modems.md §3: RTS↔RTS, CTS↔CTS). Held asserted: see walterBoard. */
      requestToSend: PinLevel;
    }
  | {
      kind: "esp32-bg95";
      uart: UartPins;
      powerKey: PinLevel;
      reset?: PinLevel;
      /** Quectel STATUS output: high while the modem runs. Lets power-on skip the pulse when already on. */
      status?: PinLevel;
    }
  | {
      kind: "moddable-simulator";
      /** The virtual modem's TCP address (`iotsafe sim --listen`). */
      modem: { address: string; port: number };
      /** Model the ESP32 UART's receive FIFO on that link (uart-fifo.ts): wire speed, FIFO size, host latency forgiven. */
      uart?: { baud: number; fifoBytes: number; hostLatencyAllowanceMs: number };
    };

/** A board, ready to use: its modem link settings, its one-time bring-up, and the modem hooks. */
export interface Board {
  readonly kind: BoardKind;
  /** The modem UART; undefined in the simulator (TCP). */
  readonly uart: UartPins | undefined;
  readonly tcp: { address: string; port: number; uart?: { baud: number; fifoBytes: number; hostLatencyAllowanceMs: number } } | undefined;
  /** Turns on what the modem needs (power rails, level shifters) before the first power-on. */
  bringUp(): Promise<void>;
  readonly hooks: BoardHooks;
}

// ---- timings (modems.md §2, §3) ----

/** SIMCom SIM7080G on the LilyGO board: PWRKEY low 100 ms, high 1000 ms, low; off pulse 1.3 s. */
export const SIM7080_TIMING = { settleMs: 100, onPulseMs: 1000, offPulseMs: 1300, supplyOffMs: 200 } as const;
/** Sequans GM02SP on Walter: RESET low 10 ms, then the modem boots (+SYSSTART about 1 s later). */
export const WALTER_TIMING = { resetPulseMs: 10 } as const;
/** Quectel BG95: PWRKEY 500–1000 ms on (750 ms, as Zephyr's BG9x driver), ≥650 ms off, RESET_N 2–3.8 s. */
export const BG95_TIMING = { onPulseMs: 750, offPulseMs: 800, resetPulseMs: 2500, powerDownWaitMs: 2000, statusPollMs: 100 } as const;

// ---- AXP2101 (X-Powers PMU on the LilyGO T-SIM7080G-S3) ----

/** Registers and fields from the AXP2101 datasheet (register map as used by X-Powers' XPowersLib). */
export const AXP2101 = {
  /** DCDC on/off: bit 2 = DC3. */
  DCDC_ONOFF: 0x80,
  DC3_ENABLE_BIT: 2,
  /** DC3 voltage, bits 6:0; 1600–3400 mV in 100 mV steps are codes 88–106 (bit 7 is DVM, kept). */
  DC3_VOLTAGE: 0x84,
  /** LDO on/off 0: bit 4 = BLDO1. */
  LDO_ONOFF0: 0x90,
  BLDO1_ENABLE_BIT: 4,
  /** BLDO1 voltage, bits 4:0: (mV − 500) / 100 (bits 7:5 kept). */
  BLDO1_VOLTAGE: 0x96,
} as const;

/** The DC3 code for `millivolts` in its 100 mV range (1600–3400 mV). */
export function axp2101Dc3Code(millivolts: number): number {
  if (!Number.isInteger(millivolts) || millivolts < 1600 || millivolts > 3400 || millivolts % 100 !== 0) {
    throw new BoardConfigError(`AXP2101 DC3 supports 1600..3400 mV in 100 mV steps here, not ${millivolts}`);
  }
  return 88 + (millivolts - 1600) / 100;
}

/** The BLDO1 code for `millivolts` (500–3500 mV, 100 mV steps). */
export function axp2101Bldo1Code(millivolts: number): number {
  if (!Number.isInteger(millivolts) || millivolts < 500 || millivolts > 3500 || millivolts % 100 !== 0) {
    throw new BoardConfigError(`AXP2101 BLDO1 supports 500..3500 mV in 100 mV steps, not ${millivolts}`);
  }
  return (millivolts - 500) / 100;
}

function updateRegister(device: RegisterDevice, register: number, mask: number, value: number): void {
  const current = device.readRegister(register) & 0xff;
  device.writeRegister(register, (current & ~mask & 0xff) | (value & mask));
}

/** The two AXP2101 rails the SIM7080G needs: DC3 = modem supply (3000 mV), BLDO1 = level shifter (3300 mV). */
export class Axp2101Rails {
  constructor(private readonly pmu: RegisterDevice) {}
  setModemSupply(on: boolean, millivolts = 3000): void {
    if (on) updateRegister(this.pmu, AXP2101.DC3_VOLTAGE, 0x7f, axp2101Dc3Code(millivolts));
    updateRegister(this.pmu, AXP2101.DCDC_ONOFF, 1 << AXP2101.DC3_ENABLE_BIT, on ? 0xff : 0);
  }
  /** The ESP32↔modem level shifter; the LilyGO examples warn never to turn it off. */
  enableLevelShifter(millivolts = 3300): void {
    updateRegister(this.pmu, AXP2101.BLDO1_VOLTAGE, 0x1f, axp2101Bldo1Code(millivolts));
    updateRegister(this.pmu, AXP2101.LDO_ONOFF0, 1 << AXP2101.BLDO1_ENABLE_BIT, 0xff);
  }
}

// ---- config parsing ----

type Json = Record<string, unknown>;

function object(value: unknown, where: string): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new BoardConfigError(`${where} must be an object`);
  return value as Json;
}

/** An integer setting; strings of digits are accepted (mcconfig command-line values are strings). */
function integer(value: unknown, where: string, min: number, max: number): number {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new BoardConfigError(`${where} must be an integer ${min}..${max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

/** ESP32 and ESP32-S3 GPIO numbers stay below 49. */
const MAX_GPIO = 48;

function pin(value: unknown, where: string): number {
  return integer(value, where, 0, MAX_GPIO);
}

function pinLevel(value: unknown, where: string, defaultActiveHigh: boolean): PinLevel {
  if (typeof value === "number" || typeof value === "string") return { pin: pin(value, where), activeHigh: defaultActiveHigh };
  const o = object(value, where);
  const activeHigh = o["activeHigh"] === undefined ? defaultActiveHigh : o["activeHigh"];
  if (typeof activeHigh !== "boolean") throw new BoardConfigError(`${where}.activeHigh must be true or false`);
  return { pin: pin(o["pin"], `${where}.pin`), activeHigh };
}

function uart(value: unknown, where: string): UartPins {
  const o = object(value, where);
  const pins: UartPins = {
    port: integer(o["port"] ?? 1, `${where}.port`, 0, 2),
    transmit: pin(o["transmit"], `${where}.transmit`),
    receive: pin(o["receive"], `${where}.receive`),
    baud: integer(o["baud"] ?? 115200, `${where}.baud`, 1200, 4000000),
  };
  if (pins.transmit === pins.receive) throw new BoardConfigError(`${where}: transmit and receive are the same pin ${pins.transmit}`);
  return pins;
}

function distinctPins(kind: string, pins: (number | undefined)[]): void {
  const used = pins.filter((p): p is number => p !== undefined);
  for (let i = 0; i < used.length; i++) {
    if (used.indexOf(used[i]!) !== i) throw new BoardConfigError(`board ${kind}: GPIO ${used[i]} is used twice`);
  }
}

/** The board settings `input` (the manifest's config.board) describes; BoardConfigError when incomplete or inconsistent. */
export function parseBoardConfig(input: unknown): BoardConfig {
  const o = object(input, "config.board");
  const kind = o["kind"];
  if (typeof kind !== "string" || !(BOARD_KINDS as readonly string[]).includes(kind)) {
    throw new BoardConfigError(`config.board.kind must be one of ${BOARD_KINDS.join(", ")}, not ${JSON.stringify(kind)}`);
  }
  switch (kind as BoardKind) {
    case "lilygo-t-sim7080g-s3": {
      const u = uart(o["uart"], "config.board.uart");
      const powerKey = pinLevel(o["powerKey"], "config.board.powerKey", true);
      const p = object(o["pmu"], "config.board.pmu");
      const pmu = { data: pin(p["data"], "config.board.pmu.data"), clock: pin(p["clock"], "config.board.pmu.clock"), address: integer(p["address"] ?? 0x34, "config.board.pmu.address", 0x08, 0x77) };
      distinctPins(kind, [u.transmit, u.receive, powerKey.pin, pmu.data, pmu.clock]);
      return { kind: "lilygo-t-sim7080g-s3", uart: u, powerKey, pmu };
    }
    case "walter": {
      const u = uart(o["uart"], "config.board.uart");
      const reset = pinLevel(o["reset"], "config.board.reset", false);
      const requestToSend = pinLevel(o["requestToSend"], "config.board.requestToSend", false);
      distinctPins(kind, [u.transmit, u.receive, reset.pin, requestToSend.pin]);
      return { kind: "walter", uart: u, reset, requestToSend };
    }
    case "esp32-bg95": {
      const u = uart(o["uart"], "config.board.uart");
      const powerKey = pinLevel(o["powerKey"], "config.board.powerKey", true);
      const reset = o["reset"] === undefined || o["reset"] === null ? undefined : pinLevel(o["reset"], "config.board.reset", true);
      const status = o["status"] === undefined || o["status"] === null ? undefined : pinLevel(o["status"], "config.board.status", true);
      distinctPins(kind, [u.transmit, u.receive, powerKey.pin, reset?.pin, status?.pin]);
      return { kind: "esp32-bg95", uart: u, powerKey, ...(reset ? { reset } : {}), ...(status ? { status } : {}) };
    }
    case "moddable-simulator": {
      const m = object(o["modem"] ?? {}, "config.board.modem");
      const address = m["address"] ?? "127.0.0.1";
      if (typeof address !== "string" || !/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) throw new BoardConfigError(`config.board.modem.address must be an IPv4 address, not ${JSON.stringify(address)}`);
      const modem = { address, port: integer(m["port"] ?? 5555, "config.board.modem.port", 1, 65535) };
      if (o["uart"] === undefined || o["uart"] === null) return { kind: "moddable-simulator", modem };
      const u = object(o["uart"], "config.board.uart");
      const uart = {
        baud: integer(u["baud"] ?? 115200, "config.board.uart.baud", 300, 4000000),
        fifoBytes: integer(u["fifoBytes"] ?? 128, "config.board.uart.fifoBytes", 16, 4096),
        hostLatencyAllowanceMs: integer(u["hostLatencyAllowanceMs"] ?? 0, "config.board.uart.hostLatencyAllowanceMs", 0, 1000),
      };
      return { kind: "moddable-simulator", modem, uart };
    }
  }
}

// ---- the boards ----

function level(p: PinLevel, active: boolean): 0 | 1 {
  return active === p.activeHigh ? 1 : 0;
}

/** Presses a key (or asserts a line) for `ms`, then releases it. */
async function pulse(platform: Platform, output: OutputPin, p: PinLevel, ms: number): Promise<void> {
  output.write(level(p, true));
  await sleep(platform, ms);
  output.write(level(p, false));
}

/**
 * LilyGO T-SIM7080G-S3: the modem's supply (DC3) and the UART level shifter (BLDO1) come from the
 * AXP2101 PMU; PWRKEY on a GPIO. Power-on starts from a known state — supply off 200 ms, then on —
 * because a key pulse toggles the modem: a modem left on by an earlier run would be switched off.
 * There is no reset line, so a hard reset is that power cycle.
 */
function lilygoBoard(config: Extract<BoardConfig, { kind: "lilygo-t-sim7080g-s3" }>, io: BoardIo, platform: Platform): Board {
  let rails: Axp2101Rails | undefined;
  const powerKey = io.output(config.powerKey.pin, level(config.powerKey, false));
  const railsReady = () => {
    if (!rails) throw new BoardConfigError("lilygo-t-sim7080g-s3: bringUp() must run before the modem is powered");
    return rails;
  };
  const powerCycleAndStart = async () => {
    const r = railsReady();
    r.setModemSupply(false);
    await sleep(platform, SIM7080_TIMING.supplyOffMs);
    r.setModemSupply(true);
    powerKey.write(level(config.powerKey, false));
    await sleep(platform, SIM7080_TIMING.settleMs);
    await pulse(platform, powerKey, config.powerKey, SIM7080_TIMING.onPulseMs);
  };
  return {
    kind: config.kind,
    uart: config.uart,
    tcp: undefined,
    async bringUp() {
      rails = new Axp2101Rails(io.i2c({ ...config.pmu, hz: 100000 }));
      rails.enableLevelShifter();
    },
    hooks: {
      powerOn: powerCycleAndStart,
      async powerOff() {
        await pulse(platform, powerKey, config.powerKey, SIM7080_TIMING.offPulseMs);
      },
      hardReset: powerCycleAndStart,
    },
  };
}

/**
 * DPTechnics Walter (ESP32-S3 + Sequans GM02SP): no power key; the modem is always supplied and
 * RESET (active low) restarts it. Its UART expects RTS/CTS, which Moddable's ESP32 serial driver
 * does not do: the ESP32's RTS line is held asserted ("ready to receive"), so the modem always
 * sends, and the firmware keeps the bytes in flight small instead (architecture.md §4).
 */
function walterBoard(config: Extract<BoardConfig, { kind: "walter" }>, io: BoardIo, platform: Platform): Board {
  const reset = io.output(config.reset.pin, level(config.reset, false));
  const resetPulse = () => pulse(platform, reset, config.reset, WALTER_TIMING.resetPulseMs);
  return {
    kind: config.kind,
    uart: config.uart,
    tcp: undefined,
    async bringUp() {
      io.output(config.requestToSend.pin, level(config.requestToSend, true));
    },
    hooks: {
      powerOn: resetPulse,
      // Holding RESET is the closest to "off" this board has; powerOn releases it with a fresh pulse.
      async powerOff() {
        reset.write(level(config.reset, true));
      },
      hardReset: resetPulse,
    },
  };
}

/**
 * A generic ESP32 board with a Quectel BG95 whose pins come from the manifest. With a STATUS pin,
 * power-on leaves a running modem alone (a key pulse would switch it off) and a hard reset without
 * a RESET pin is an off pulse, a wait for STATUS to drop, and an on pulse. Without STATUS the
 * power-on pulse is sent unconditionally.
 */
function bg95Board(config: Extract<BoardConfig, { kind: "esp32-bg95" }>, io: BoardIo, platform: Platform): Board {
  const powerKey = io.output(config.powerKey.pin, level(config.powerKey, false));
  const reset = config.reset ? io.output(config.reset.pin, level(config.reset, false)) : undefined;
  const status = config.status ? io.input(config.status.pin) : undefined;
  const isOn = () => (status && config.status ? status.read() === level(config.status, true) : undefined);
  const powerOn = async () => {
    if (isOn() === true) return;
    await pulse(platform, powerKey, config.powerKey, BG95_TIMING.onPulseMs);
  };
  const hooks: BoardHooks = {
    powerOn,
    async powerOff() {
      if (isOn() === false) return;
      await pulse(platform, powerKey, config.powerKey, BG95_TIMING.offPulseMs);
    },
  };
  if (reset && config.reset) {
    const resetLevel = config.reset;
    hooks.hardReset = () => pulse(platform, reset, resetLevel, BG95_TIMING.resetPulseMs);
  } else if (status) {
    hooks.hardReset = async () => {
      await pulse(platform, powerKey, config.powerKey, BG95_TIMING.offPulseMs);
      for (let waited = 0; waited < BG95_TIMING.powerDownWaitMs && isOn() !== false; waited += BG95_TIMING.statusPollMs) {
        await sleep(platform, BG95_TIMING.statusPollMs);
      }
      await powerOn();
    };
  }
  return { kind: config.kind, uart: config.uart, tcp: undefined, async bringUp() {}, hooks };
}

export function createBoard(config: BoardConfig, io: BoardIo, platform: Platform): Board {
  switch (config.kind) {
    case "lilygo-t-sim7080g-s3":
      return lilygoBoard(config, io, platform);
    case "walter":
      return walterBoard(config, io, platform);
    case "esp32-bg95":
      return bg95Board(config, io, platform);
    case "moddable-simulator":
      return { kind: config.kind, uart: undefined, tcp: { ...config.modem, ...(config.uart ? { uart: config.uart } : {}) }, async bringUp() {}, hooks: {} };
  }
}
