/**
 * Runs a firmware entry point (modules/device/entries.ts) for a CLI command: inside the real XS
 * engine (default) or directly on Node, with the modem reached over TCP (a virtual modem, or a
 * real one behind a serial-to-TCP bridge) or a serial/pty device path.
 */
import type { FirmwareContext } from "../../modules/device/context.js";
import { firmwareEntries } from "../../modules/device/entries.js";
import type { ByteLink, LogLevel } from "../../modules/platform/platform.js";
import type { StoreOpener } from "../../modules/platform/storage.js";
import { connectTcpLink, openDeviceLink } from "../node/links.js";
import { nodePlatform } from "../node/platform.js";
import { XsRunner } from "../sim/xs/runner.js";

export type Engine = "xs" | "node";

export interface FirmwareRunOptions {
  engine: Engine;
  /** tcp://HOST:PORT, or a device path such as /dev/ttyUSB0 or a pty. */
  modem: string;
  logLevel?: LogLevel;
  /** Receives log lines (default: stderr). */
  log?: (line: string) => void;
  output?: (text: string) => void;
  /** XS only: garbage-collect after every crank and report the live heap peak (slower). */
  measureLiveHeap?: boolean;
  /** More byte links by name (for example "net": a TCP connection the host made). Closed afterwards. */
  links?: Record<string, ByteLink>;
  /** Durable storage for the firmware (context.store); e.g. fileStores(dir) from hosts/node/storage.ts. */
  stores?: StoreOpener;
  /** Called with the XS runner once it started (xs engine only): lets a host stop the firmware mid-run. */
  onRunner?: (runner: XsRunner) => void;
}

export interface FirmwareRunResult<T> {
  result: T;
  /** Peak XS slot-heap count, garbage included (xs engine only). */
  peakHeapCount?: number;
  /** With measureLiveHeap: peak live slots after GC at crank boundaries. */
  peakLiveHeapCount?: number;
  wallMs: number;
}

export class ModemAddressError extends Error {
  override name = "ModemAddressError";
}

export async function openModemLink(address: string): Promise<ByteLink> {
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(address);
  if (tcp) return connectTcpLink(tcp[1]!.replace(/^\[|\]$/g, ""), Number(tcp[2]));
  if (address.startsWith("/")) return openDeviceLink(address);
  throw new ModemAddressError(`--modem must be tcp://HOST:PORT or a device path, not ${JSON.stringify(address)}`);
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export async function runFirmware<T>(name: string, args: unknown, options: FirmwareRunOptions): Promise<FirmwareRunResult<T>> {
  if (!firmwareEntries[name]) throw new Error(`no firmware entry point named ${name}`);
  const minRank = RANK[options.logLevel ?? "warn"];
  const writeLog = options.log ?? ((line: string) => process.stderr.write(line + "\n"));
  const output = options.output ?? ((text: string) => process.stdout.write(text));
  const link = await openModemLink(options.modem);
  const links: Record<string, ByteLink> = { ...options.links, modem: link };
  const started = performance.now();
  try {
    if (options.engine === "node") {
      const platform = nodePlatform({ logLevel: options.logLevel ?? "warn", write: writeLog });
      const context: FirmwareContext = {
        platform,
        link: (linkName) => {
          const named = links[linkName];
          if (!named) throw new Error(`no link named ${linkName}`);
          return named;
        },
        print: output,
        ...(options.stores ? { store: options.stores } : {}),
      };
      const result = (await firmwareEntries[name]!(args, context)) as T;
      return { result, wallMs: performance.now() - started };
    }
    const runner = await XsRunner.start({
      links,
      measureLiveHeap: options.measureLiveHeap === true,
      log: (level, tag, message) => {
        if (RANK[level] >= minRank) writeLog(`[${level}] ${tag}: ${message}`);
      },
      output,
      ...(options.stores ? { stores: options.stores } : {}),
    });
    options.onRunner?.(runner);
    try {
      const result = await runner.call<T>(name, args);
      return {
        result,
        peakHeapCount: runner.peakHeapCount,
        ...(options.measureLiveHeap ? { peakLiveHeapCount: runner.peakLiveHeapCount } : {}),
        wallMs: performance.now() - started,
      };
    } finally {
      await runner.close();
    }
  } finally {
    for (const named of Object.values(links)) named.close();
  }
}
