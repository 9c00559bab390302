/**
 * The device application end to end for integration tests: a development CA and a SIM profile
 * (made by the demo's own state preparation), the virtual cloud, a virtual modem per "boot", and
 * the firmware's "device" entry run inside XS (or on Node) with a durable file store — plus ways
 * to watch its events and to kill it mid-run as a power cut would.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceEvent, DeviceSummary } from "../../modules/device/device.js";
import { DEVICE_EVENT_PREFIX } from "../../modules/device/entries.js";
import { memoryLinkPair } from "../../modules/platform/memory-link.js";
import type { ByteLink } from "../../modules/platform/platform.js";
import { prepareDemoState, serveBoardLink } from "../../hosts/cli/commands/demo.js";
import { type Engine, runFirmware } from "../../hosts/cli/firmware-host.js";
import { fileStores } from "../../hosts/node/storage.js";
import { cardFromProfileFile } from "../../hosts/sim/card/iotsafe-card.js";
import { type CloudMessage, startVirtualCloud, type VirtualCloud } from "../../hosts/sim/cloud/virtual-cloud.js";
import { type LinkModelOptions, type RunningVirtualModem, startVirtualModem } from "../../hosts/sim/modem/index.js";
import type { XsRunner } from "../../hosts/sim/xs/runner.js";

export interface DeviceWorld {
  dir: string;
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  profilePath: string;
  storageDir: string;
  startCloud(port?: number): Promise<VirtualCloud>;
  startModem(link?: LinkModelOptions, dialect?: string): Promise<RunningVirtualModem>;
  close(): Promise<void>;
}

export async function makeDeviceWorld(): Promise<DeviceWorld> {
  const dir = mkdtempSync(join(tmpdir(), "iotsafe-device-"));
  const state = await prepareDemoState(dir, "device-001");
  const clouds: VirtualCloud[] = [];
  const modems: RunningVirtualModem[] = [];
  return {
    dir,
    caPem: state.caPem,
    serverCertPem: state.serverCertPem,
    serverKeyPem: state.serverKeyPem,
    profilePath: state.profilePath,
    storageDir: state.storageDir,
    async startCloud(port) {
      const cloud = await startVirtualCloud({ clientCa: state.caPem, serverCertPem: state.serverCertPem, serverKeyPem: state.serverKeyPem, ...(port ? { port } : {}) });
      clouds.push(cloud);
      return cloud;
    },
    async startModem(link, dialect = "quectel-bg95") {
      const modem = await startVirtualModem({ card: await cardFromProfileFile(state.profilePath), dialect, ...(link ? { link } : {}) });
      modems.push(modem);
      return modem;
    },
    async close() {
      for (const m of modems) await m.close().catch(() => undefined);
      for (const c of clouds) await c.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface DeviceRun {
  readonly events: DeviceEvent[];
  /** The run's summary; rejects if the firmware failed or was killed. */
  readonly done: Promise<{ result: DeviceSummary; peakHeapCount?: number }>;
  /** The first event (seen or to come) that matches; rejects after `ms`. */
  waitFor(predicate: (event: DeviceEvent) => boolean, ms?: number): Promise<DeviceEvent>;
  /** Kills the firmware where it is (xs engine): nothing is closed cleanly, like a power cut. */
  kill(): Promise<void>;
}

export interface DeviceRunOptions {
  modem: RunningVirtualModem;
  storageDir: string;
  /** Device configuration (modules/device/config.ts) */
  config: Record<string, unknown>;
  messages?: number;
  engine?: Engine;
  links?: Record<string, ByteLink>;
}

/** An `output` sink for runFirmware: parses the firmware's device event lines and hands each event to `onEvent`. */
export function deviceEventLines(onEvent: (event: DeviceEvent) => void): (text: string) => void {
  let buffered = "";
  return (text) => {
    buffered += text;
    for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.startsWith(DEVICE_EVENT_PREFIX)) onEvent(JSON.parse(line.slice(DEVICE_EVENT_PREFIX.length)) as DeviceEvent);
    }
  };
}

export function runDevice(options: DeviceRunOptions): DeviceRun {
  const events: DeviceEvent[] = [];
  const listeners: ((event: DeviceEvent) => void)[] = [];
  let runner: XsRunner | undefined;
  let runnerReady: () => void = () => undefined;
  const hasRunner = new Promise<void>((resolve) => (runnerReady = resolve));
  const [boardForFirmware, boardForHost] = memoryLinkPair();
  serveBoardLink(boardForHost, options.modem, () => undefined);
  const done = runFirmware<DeviceSummary>(
    "device",
    { config: options.config, board: true, ...(options.messages ? { messages: options.messages } : {}) },
    {
      engine: options.engine ?? "xs",
      modem: `tcp://127.0.0.1:${options.modem.port}`,
      links: { board: boardForFirmware, ...options.links },
      stores: fileStores(options.storageDir),
      logLevel: process.env.IOTSAFE_LOG === "debug" ? "debug" : process.env.IOTSAFE_LOG === "info" ? "info" : "error",
      output: deviceEventLines((event) => {
        events.push(event);
        if (process.env.IOTSAFE_LOG) process.stderr.write(`  [device event] ${JSON.stringify(event)}\n`);
        for (const l of listeners.slice()) l(event);
      }),
      onRunner: (r) => {
        runner = r;
        runnerReady();
      },
    },
  );
  done.catch(() => undefined);
  return {
    events,
    done,
    waitFor(predicate, ms = 30000) {
      const seen = events.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.splice(listeners.indexOf(listener), 1);
          reject(new Error(`no matching device event within ${ms} ms; events: ${events.map((e) => e.type).join(", ")}`));
        }, ms);
        const listener = (event: DeviceEvent) => {
          if (!predicate(event)) return;
          clearTimeout(timer);
          listeners.splice(listeners.indexOf(listener), 1);
          resolve(event);
        };
        listeners.push(listener);
      });
    },
    async kill() {
      await hasRunner;
      await runner!.close();
    },
  };
}

/** The outbox as stored (read from the files, by the documented record format, without opening it). */
export function storedOutbox(storageDir: string): { id: number; packetId: number; payload: Record<string, unknown> }[] {
  const dir = join(storageDir, "outbox");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^r\d+$/.test(n))
    .map((n) => {
      const bytes = readFileSync(join(dir, n));
      const nameLength = bytes[3]!;
      return { id: Number(n.slice(1)), packetId: bytes.readUInt16BE(1), payload: JSON.parse(bytes.subarray(4 + nameLength).toString("utf8")) as Record<string, unknown> };
    })
    .sort((a, b) => a.id - b.id);
}

/** Reading ids the cloud received from `identity`, in arrival order (repeats included). */
export function receivedIds(messages: readonly CloudMessage[], identity = "device-001"): number[] {
  return messages.filter((m) => m.identity === identity).map((m) => (JSON.parse(Buffer.from(m.payload).toString("utf8")) as { id: number }).id);
}
