// The ESP32 board hosts without hardware: each board's manifest against the wiring in modems.md §3,
// the modem power/reset sequences on a virtual clock with recorded pin writes, the settings read
// from mc/config (including mcconfig's flat string overrides) and the Preference-backed storage.
// (hosts/esp32 is Moddable host code; the parts tested here have no SDK imports, so Node runs them.)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Board, type BoardConfig, BoardConfigError, type BoardIo, createBoard, parseBoardConfig } from "../../hosts/esp32/boards.js";
import { readSettings } from "../../hosts/esp32/settings.js";
import { type PreferenceApi, preferenceStores } from "../../hosts/esp32/storage.js";
import { DeviceConfigError } from "../../modules/device/config.js";
import { StorageError } from "../../modules/platform/storage.js";
import { ManualPlatform } from "../lib/portable/manual-platform.js";

const root = join(import.meta.dirname, "../../..");

function boardManifest(name: string): { build?: Record<string, string>; config: { board: unknown; device: { modem: { dialect: string } } } } {
  return JSON.parse(readFileSync(join(root, "hosts/esp32", name, "manifest.json"), "utf8"));
}

type Event = { at: number; what: string };

/** A BoardIo that records every pin write and register access with the virtual time. */
function recordingIo(platform: ManualPlatform, inputs: Record<number, 0 | 1> = {}) {
  const events: Event[] = [];
  const registers = new Map<number, number>();
  const io: BoardIo = {
    output(pin, initial) {
      events.push({ at: platform.now(), what: `gpio${pin}=${initial} (init)` });
      return { write: (level) => events.push({ at: platform.now(), what: `gpio${pin}=${level}` }) };
    },
    input(pin) {
      return { read: () => inputs[pin] ?? 0 };
    },
    i2c(options) {
      events.push({ at: platform.now(), what: `i2c sda${options.data} scl${options.clock} @0x${options.address.toString(16)}` });
      return {
        readRegister: (register) => registers.get(register) ?? 0,
        writeRegister: (register, value) => {
          registers.set(register, value);
          events.push({ at: platform.now(), what: `reg 0x${register.toString(16)}=0x${value.toString(16)}` });
        },
      };
    },
  };
  return { io, events, registers, inputs };
}

async function run(platform: ManualPlatform, task: Promise<void>, ms: number): Promise<void> {
  let done = false;
  void task.then(() => (done = true));
  await platform.advance(ms);
  assert.ok(done, `the sequence did not finish within ${ms} ms`);
}

describe("Moddable ESP32 boards", () => {
  describe("manifests match the wiring in modems.md §3", () => {
    it("LilyGO T-SIM7080G-S3: ESP32-S3, SIM7080G on TX 5 / RX 4 at 115200, PWRKEY GPIO41 through a transistor, AXP2101 on SDA 15 / SCL 7", () => {
      const m = boardManifest("lilygo-t-sim7080g-s3");
      assert.equal(m.build?.ESP32_SUBCLASS, "esp32s3");
      const board = parseBoardConfig(m.config.board);
      assert.deepEqual(board, {
        kind: "lilygo-t-sim7080g-s3",
        uart: { port: 1, transmit: 5, receive: 4, baud: 115200 },
        powerKey: { pin: 41, activeHigh: true },
        pmu: { data: 15, clock: 7, address: 0x34 },
      });
      assert.equal(m.config.device.modem.dialect, "simcom-sim7080");
    });

    it("Walter: ESP32-S3, GM02SP on TX 48 / RX 14 at 115200, RTS GPIO21, RESET GPIO45 active low, no power key", () => {
      const m = boardManifest("walter");
      assert.equal(m.build?.ESP32_SUBCLASS, "esp32s3");
      assert.deepEqual(parseBoardConfig(m.config.board), {
        kind: "walter",
        uart: { port: 1, transmit: 48, receive: 14, baud: 115200 },
        reset: { pin: 45, activeHigh: false },
        requestToSend: { pin: 21, activeHigh: false },
      });
      assert.equal(m.config.device.modem.dialect, "sequans-gm02s");
    });

    it("generic ESP32 + BG95: pins from the manifest, overridable from the mcconfig command line", () => {
      const m = boardManifest("esp32-bg95");
      assert.equal(m.build?.ESP32_SUBCLASS, undefined, "a classic ESP32");
      assert.equal(parseBoardConfig(m.config.board).kind, "esp32-bg95");
      assert.equal(m.config.device.modem.dialect, "quectel-bg95");
      // mcconfig adds `key=value` arguments to config as flat strings.
      const settings = readSettings({ ...m.config, modemTx: "25", modemRx: "26", modemPowerKey: "27", modemReset: "14", modemBaud: "921600", apn: "iot.example", messages: "10" });
      assert.deepEqual(settings.board, {
        kind: "esp32-bg95",
        uart: { port: 2, transmit: 25, receive: 26, baud: 921600 },
        powerKey: { pin: 27, activeHigh: true },
        reset: { pin: 14, activeHigh: true },
      });
      assert.equal(settings.device.modem.apn, "iot.example");
      assert.equal(settings.device.modem.dialect, "quectel-bg95");
      assert.equal(settings.messages, 10);
      assert.equal(settings.crypto, "native");
    });
  });

  describe("LilyGO T-SIM7080G-S3 power sequence", () => {
    it("bring-up enables the level shifter (BLDO1 3300 mV) and keeps the PMU's other bits", async () => {
      const platform = new ManualPlatform();
      const { io, events, registers } = recordingIo(platform);
      registers.set(0x90, 0x01); // ALDO1 already on
      registers.set(0x96, 0xe0); // reserved high bits set
      const board = createBoard(parseBoardConfig(boardManifest("lilygo-t-sim7080g-s3").config.board), io, platform);
      await board.bringUp();
      // AXP2101: BLDO1 voltage in register 0x96 bits 4:0, 500 mV + 100 mV per step → 3300 mV is 28 (0x1c);
      // BLDO1 enable is bit 4 of register 0x90.
      assert.equal(registers.get(0x96), 0xe0 | 0x1c);
      assert.equal(registers.get(0x90), 0x01 | 0x10);
      assert.ok(events.some((e) => e.what === "i2c sda15 scl7 @0x34"));
    });

    it("power-on: modem supply off 200 ms, DC3 = 3000 mV on, then PWRKEY low 100 ms, high 1000 ms, low", async () => {
      const platform = new ManualPlatform();
      const { io, events, registers } = recordingIo(platform);
      registers.set(0x80, 0x05); // DC1 and DC3 on
      const board = createBoard(parseBoardConfig(boardManifest("lilygo-t-sim7080g-s3").config.board), io, platform);
      await board.bringUp();
      events.length = 0;
      await run(platform, board.hooks.powerOn!(), 2000);
      // DC3: enable bit 2 of 0x80; voltage in 0x84 bits 6:0, 1600–3400 mV in 100 mV steps from code 88 → 3000 mV is 102 (0x66).
      assert.deepEqual(
        events.map((e) => `${e.at} ${e.what}`),
        ["0 reg 0x80=0x1", "200 reg 0x84=0x66", "200 reg 0x80=0x5", "200 gpio41=0", "300 gpio41=1", "1300 gpio41=0"],
      );
    });

    it("the hooks refuse to run before bring-up, and power-off is a 1.3 s key press", async () => {
      const platform = new ManualPlatform();
      const { io, events } = recordingIo(platform);
      const board = createBoard(parseBoardConfig(boardManifest("lilygo-t-sim7080g-s3").config.board), io, platform);
      await assert.rejects(board.hooks.powerOn!(), BoardConfigError);
      events.length = 0;
      await run(platform, board.hooks.powerOff!(), 2000);
      assert.deepEqual(events.map((e) => `${e.at} ${e.what}`), ["0 gpio41=1", "1300 gpio41=0"]);
    });
  });

  describe("Walter reset sequence", () => {
    it("bring-up asserts RTS (low); power-on and hard reset pull RESET low for 10 ms", async () => {
      const platform = new ManualPlatform();
      const { io, events } = recordingIo(platform);
      const board = createBoard(parseBoardConfig(boardManifest("walter").config.board), io, platform);
      assert.deepEqual(events.map((e) => e.what), ["gpio45=1 (init)"], "RESET released at start");
      await board.bringUp();
      assert.equal(events.at(-1)!.what, "gpio21=0 (init)");
      events.length = 0;
      await run(platform, board.hooks.hardReset!(), 100);
      assert.deepEqual(events.map((e) => `${e.at} ${e.what}`), ["0 gpio45=0", "10 gpio45=1"]);
      await board.hooks.powerOff!();
      assert.equal(events.at(-1)!.what, "gpio45=0", "power-off holds the modem in reset");
    });
  });

  describe("generic ESP32 + BG95", () => {
    const config = (extra: Record<string, unknown> = {}): BoardConfig =>
      parseBoardConfig({ kind: "esp32-bg95", uart: { port: 2, transmit: 17, receive: 16 }, powerKey: { pin: 4 }, ...extra });

    it("power-on is a 750 ms PWRKEY press (500–1000 ms per modems.md); power-off 800 ms (≥ 650 ms)", async () => {
      const platform = new ManualPlatform();
      const { io, events } = recordingIo(platform);
      const board = createBoard(config(), io, platform);
      events.length = 0;
      await run(platform, board.hooks.powerOn!(), 1000);
      await run(platform, board.hooks.powerOff!(), 1000);
      assert.deepEqual(events.map((e) => `${e.at} ${e.what}`), ["0 gpio4=1", "750 gpio4=0", "1000 gpio4=1", "1800 gpio4=0"]);
      assert.equal(board.hooks.hardReset, undefined, "no RESET and no STATUS pin: no hard reset");
    });

    it("with STATUS high the modem is already on: no key press (it would switch the modem off)", async () => {
      const platform = new ManualPlatform();
      const { io, events } = recordingIo(platform, { 35: 1 });
      const board = createBoard(config({ status: 35 }), io, platform);
      events.length = 0;
      await run(platform, board.hooks.powerOn!(), 10);
      assert.deepEqual(events, []);
    });

    it("hard reset: RESET_N for 2.5 s when wired; otherwise off press, wait for STATUS low, on press", async () => {
      const platform = new ManualPlatform();
      const withReset = recordingIo(platform);
      const a = createBoard(config({ reset: { pin: 5 } }), withReset.io, platform);
      withReset.events.length = 0;
      await run(platform, a.hooks.hardReset!(), 3000);
      assert.deepEqual(withReset.events.map((e) => `${e.at} ${e.what}`), ["0 gpio5=1", "2500 gpio5=0"]);

      const platform2 = new ManualPlatform();
      const withStatus = recordingIo(platform2, { 35: 1 });
      const b: Board = createBoard(config({ status: 35 }), withStatus.io, platform2);
      withStatus.events.length = 0;
      let done = false;
      void b.hooks.hardReset!().then(() => (done = true));
      await platform2.advance(800); // the off press
      withStatus.inputs[35] = 0; // the modem powers down
      await platform2.advance(2000);
      assert.ok(done);
      assert.deepEqual(withStatus.events.map((e) => e.what), ["gpio4=1", "gpio4=0", "gpio4=1", "gpio4=0"]);
    });
  });

  describe("board and settings checks", () => {
    it("refuses unknown kinds, missing and shared pins, and pins beyond GPIO48", () => {
      assert.throws(() => parseBoardConfig({ kind: "esp8266" }), /config\.board\.kind must be one of/);
      assert.throws(() => parseBoardConfig({ kind: "walter", uart: { transmit: 48, receive: 14 }, reset: 45 }), /requestToSend/);
      assert.throws(() => parseBoardConfig({ kind: "esp32-bg95", uart: { transmit: 17, receive: 17 }, powerKey: 4 }), /same pin 17/);
      assert.throws(() => parseBoardConfig({ kind: "esp32-bg95", uart: { transmit: 17, receive: 16 }, powerKey: 16 }), /GPIO 16 is used twice/);
      assert.throws(() => parseBoardConfig({ kind: "esp32-bg95", uart: { transmit: 49, receive: 16 }, powerKey: 4 }), /0\.\.48/);
      assert.throws(() => parseBoardConfig({ kind: "moddable-simulator", modem: { address: "localhost" } }), /IPv4/);
    });

    it("settings: crypto and logLevel are checked; device configuration errors come from the device layer", () => {
      const board = { kind: "moddable-simulator" };
      assert.equal(readSettings({ board, crypto: "noble" }).crypto, "noble");
      assert.throws(() => readSettings({ board, crypto: "openssl" }), BoardConfigError);
      assert.throws(() => readSettings({ board, logLevel: "loud" }), BoardConfigError);
      assert.throws(() => readSettings({ board, messages: "ten" }), BoardConfigError);
      assert.throws(() => readSettings({ board, dialect: "nokia-3310" }), DeviceConfigError);
      assert.throws(() => readSettings({ board, brokerPort: "70000" }), DeviceConfigError);
      const sim = readSettings({ board, modemPort: "5556", modemAddress: "10.0.0.2" });
      assert.deepEqual(sim.board, { kind: "moddable-simulator", modem: { address: "10.0.0.2", port: 5556 } });
    });
  });

  describe("Preference storage", () => {
    function fakePreference(): PreferenceApi & { data: Map<string, unknown> } {
      const data = new Map<string, unknown>();
      return {
        data,
        set: (domain, key, value) => void data.set(`${domain}/${key}`, value),
        get: (domain, key) => data.get(`${domain}/${key}`),
        delete: (domain, key) => void data.delete(`${domain}/${key}`),
        keys: (domain) => [...data.keys()].filter((k) => k.startsWith(`${domain}/`)).map((k) => k.slice(domain.length + 1)),
      };
    }

    it("stores copies as ArrayBuffers, returns copies, lists only portable keys", () => {
      const preference = fakePreference();
      const store = preferenceStores(preference)("outbox");
      const value = Uint8Array.of(1, 2, 3);
      store.set("r1", value);
      value[0] = 9;
      assert.ok(preference.data.get("outbox/r1") instanceof ArrayBuffer);
      const read = store.get("r1")!;
      assert.deepEqual([...read], [1, 2, 3]);
      read[1] = 7;
      assert.deepEqual([...store.get("r1")!], [1, 2, 3]);
      preference.data.set("outbox/not a key!", new ArrayBuffer(1));
      assert.deepEqual(store.keys(), ["r1"]);
      store.delete("r1");
      assert.equal(store.get("r1"), undefined);
    });

    it("refuses NVS-incompatible names and sizes, and values that are not bytes", () => {
      const preference = fakePreference();
      const stores = preferenceStores(preference);
      assert.throws(() => stores("a-domain-name-too-long"), StorageError);
      const store = stores("outbox");
      assert.throws(() => store.set("x", new Uint8Array(4001)), StorageError);
      preference.data.set("outbox/n", 42);
      assert.throws(() => store.get("n"), StorageError);
    });
  });
});
