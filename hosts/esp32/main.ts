/**
 * The firmware's main module on Moddable hosts (ESP32 boards and the Moddable desktop simulator).
 *
 * The module only defines things; the Moddable runtime calls its default export once the machine
 * is up. That keeps the module body free of native calls, so the whole firmware bundle can be
 * preloaded: built into flash at link time instead of being created in the JS heap at boot
 * (manifest.json "preload"; documentation/xs/preload.md in the SDK).
 *
 * Settings come from the manifest's config (settings.ts). Output lines for hosts and tests:
 *   "@device {json}"   each DeviceEvent (modules/device/device.ts)
 *   "@done {json}"     the DeviceSummary, when `messages` readings were acknowledged
 *   "@failed text"     the device stopped on an error it could not recover from
 *   "@uart {json}"     simulator with the UART model (config.board.uart): FIFO statistics, before "@done"
 *   "@memory {json}"   measurement builds only (config.memoryProbe = interval in ms): the largest
 *                      live heap seen (garbage collected before each reading), before "@done"
 */
import { BlockCipher, Digest, GHASH, Mode } from "crypt";
import EC from "ec";
import ECPoint from "ecp";
import config from "mc/config";
import Preference from "preference";
import { createNativeProvider, type ModdableCrypt } from "../../modules/crypto/native-provider.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { applicationSensors } from "../../modules/device/app-sensors.js";
import { Device } from "../../modules/device/device.js";
import fillRandom from "iotsafe/random";
import { moddableBoardIo } from "./board-io.js";
import { createBoard } from "./boards.js";
import { moddablePlatform, tcpLink, uartLink } from "./platform.js";
import { readSettings } from "./settings.js";
import { type PreferenceApi, preferenceStores } from "./storage.js";

/** Marks the lines hosts parse out of the trace output. */
export const DEVICE_LINE = "@device ";
export const DONE_LINE = "@done ";
export const FAILED_LINE = "@failed ";
export const MEMORY_LINE = "@memory ";
export const UART_LINE = "@uart ";

interface MemoryReading {
  slotBytes: number;
  chunkBytes: number;
  stackBytes: number;
}

/** The largest readings, and the last device event before each heap peak (where to look for savings). */
interface MemoryPeak extends MemoryReading {
  slotPeakAfter: string;
  chunkPeakAfter: string;
}

/**
 * Measurement builds: every `intervalMs` (and at each device event) collect garbage and read the
 * live heap; returns a function giving the largest readings. The probe module exists only in the
 * measurement manifest, so it is imported at run time.
 */
async function startMemoryProbe(platform: ReturnType<typeof moddablePlatform>, intervalMs: number): Promise<{ sample(event?: string): void; peak(): MemoryPeak }> {
  const probe = ((await import("iotsafe/memory-probe")) as { default: () => MemoryReading }).default;
  const peak: MemoryPeak = { slotBytes: 0, chunkBytes: 0, stackBytes: 0, slotPeakAfter: "start", chunkPeakAfter: "start" };
  let lastEvent = "start";
  const sample = (event?: string) => {
    if (event) lastEvent = event;
    const reading = probe();
    if (reading.slotBytes > peak.slotBytes) Object.assign(peak, { slotBytes: reading.slotBytes, slotPeakAfter: lastEvent });
    if (reading.chunkBytes > peak.chunkBytes) Object.assign(peak, { chunkBytes: reading.chunkBytes, chunkPeakAfter: lastEvent });
    peak.stackBytes = Math.max(peak.stackBytes, reading.stackBytes);
  };
  const tick = () => {
    sample();
    platform.setTimer(tick, intervalMs);
  };
  platform.setTimer(tick, intervalMs);
  return { sample, peak: () => ({ ...peak }) };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function start(): Promise<void> {
  const settings = readSettings(config);
  const platform = moddablePlatform({ fillRandom: (out) => fillRandom(out), logLevel: settings.logLevel });
  // The simulator board opens no pins: its BoardIo is never called (and the simulator has no GPIOs).
  const board = createBoard(settings.board, moddableBoardIo(), platform);
  await board.bringUp();
  const modemLink = board.tcp ? tcpLink({ ...board.tcp, platform }) : uartLink(board.uart!);
  const uartStats = "uartStats" in modemLink ? modemLink.uartStats : undefined;
  const crypt: ModdableCrypt = { Digest, BlockCipher, Mode, GHASH, EC, ECPoint };
  const provider = settings.crypto === "native" ? createNativeProvider(crypt) : nobleCrypto;
  const probeInterval = Number(config.memoryProbe ?? 0); // mcconfig command-line values are strings
  const memoryProbe = probeInterval > 0 ? await startMemoryProbe(platform, probeInterval) : undefined;
  platform.log("info", "main", `board ${board.kind}, modem ${settings.device.modem.dialect} over ${board.tcp ? `TCP ${board.tcp.address}:${board.tcp.port}` : `UART${board.uart!.port} at ${board.uart!.baud} baud`}, crypto ${provider.name}`);
  const device = new Device({
    config: settings.device,
    platform,
    modemLink,
    board: board.hooks,
    outboxStore: preferenceStores(Preference as PreferenceApi)("outbox"),
    sensors: applicationSensors(platform),
    provider,
    onEvent: (event) => {
      memoryProbe?.sample("phase" in event ? `${event.type} ${String(event.phase)}` : event.type);
      trace(DEVICE_LINE + JSON.stringify(event) + "\n");
    },
    ...(settings.messages !== undefined ? { stopAfterAcknowledged: settings.messages } : {}),
  });
  const summary = await device.run();
  if (memoryProbe) trace(MEMORY_LINE + JSON.stringify(memoryProbe.peak()) + "\n");
  if (uartStats) trace(UART_LINE + JSON.stringify(uartStats) + "\n");
  trace(DONE_LINE + JSON.stringify(summary) + "\n");
}

export default function main(): void {
  start().catch((error: unknown) => trace(FAILED_LINE + describe(error) + "\n"));
}
