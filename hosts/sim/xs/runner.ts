/**
 * Runs a firmware bundle inside the real XS engine and bridges the platform interface to Node:
 * timers, logs, randomness and byte links live on the Node side; the firmware sees them through
 * hosts/sim/xs/xs-side.ts. `call(name, args)` runs an entry point the bundle registered.
 */
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ByteLink, LogLevel } from "../../../modules/platform/platform.js";
import type { StoreOpener } from "../../../modules/platform/storage.js";
import type { HostEvent, SerializedError, XsReply, XsRequest } from "./bridge-protocol.js";
import { XsnapError, XsnapProcess } from "./xsnap-process.js";

/** An error thrown inside XS by an entry point, carried over with its name and message. */
export class XsEntryError extends Error {
  constructor(readonly remote: SerializedError) {
    super(remote.message);
    this.name = remote.name;
    if (remote.stack) this.stack = `${remote.name}: ${remote.message}\n    (inside XS)\n${remote.stack}`;
  }
}

export interface XsRunnerOptions {
  /** The esbuild bundle to evaluate; default dist/xs/firmware.js. */
  bundlePath?: string;
  /** Byte links the firmware reaches with hostLink(name). More can be attached later. */
  links?: Record<string, ByteLink>;
  log?: (level: LogLevel, tag: string, message: string) => void;
  /** Text the firmware prints for the user. Default: process.stdout. */
  output?: (text: string) => void;
  /** Durable storage the firmware reaches with context.store(domain); without it the firmware has none. */
  stores?: StoreOpener;
  /**
   * After every crank, run a garbage collection and record the live slot count (the memory the
   * firmware really holds between events). Slower; for benchmarks.
   */
  measureLiveHeap?: boolean;
}

const distDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export function defaultBundlePath(name: "firmware" | "unit-tests" = "firmware"): string {
  return join(distDir, "xs", `${name}.js`);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class XsRunner {
  readonly #process: XsnapProcess;
  readonly #links = new Map<string, ByteLink>();
  readonly #timers = new Map<number, NodeJS.Timeout>();
  readonly #calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #events: HostEvent[] = [];
  #flushScheduled = false;
  #nextCallId = 1;
  #fatal: Error | undefined;
  #livePeak = 0;
  readonly #measureLiveHeap: boolean;
  readonly #log: NonNullable<XsRunnerOptions["log"]>;
  readonly #output: NonNullable<XsRunnerOptions["output"]>;
  readonly #stores: StoreOpener | undefined;

  private constructor(options: XsRunnerOptions) {
    this.#log = options.log ?? ((level, tag, message) => process.stderr.write(`[${level}] ${tag}: ${message}\n`));
    this.#output = options.output ?? ((text) => process.stdout.write(text));
    this.#measureLiveHeap = options.measureLiveHeap === true;
    this.#stores = options.stores;
    this.#process = new XsnapProcess((query) => this.#answer(query), { stdout: (text) => this.#output(text) });
    for (const [name, link] of Object.entries(options.links ?? {})) this.attachLink(name, link);
  }

  /** Starts xsnap-worker and evaluates the bundle. */
  static async start(options: XsRunnerOptions = {}): Promise<XsRunner> {
    const runner = new XsRunner(options);
    const code = readFileSync(options.bundlePath ?? defaultBundlePath(), "utf8");
    await runner.#process.evaluate(code);
    return runner;
  }

  /** Peak slot-heap count XS reported across all cranks (its own memory measure). */
  get peakHeapCount(): number {
    return this.#process.peakHeapCount;
  }
  /**
   * With measureLiveHeap: the most slots alive after a garbage collection at a crank boundary.
   * (xsnap slots are 32 bytes on 64-bit hosts; the ESP32's are 16.)
   */
  get peakLiveHeapCount(): number {
    return this.#livePeak;
  }
  get cranks(): number {
    return this.#process.cranks;
  }

  attachLink(name: string, link: ByteLink): void {
    this.#links.set(name, link);
    const drain = () => {
      const bytes = link.read();
      if (bytes && bytes.length) this.#post({ kind: "link-data", link: name, hex: Buffer.from(bytes).toString("hex") });
    };
    link.onReadable = drain;
    link.onClose = (error) => {
      drain();
      this.#post({ kind: "link-close", link: name, ...(error ? { error: error.message } : {}) });
    };
    if (link.readable > 0) drain();
  }

  /** Runs the entry point `name` inside XS and resolves with what it returned. */
  call<T = unknown>(name: string, args: unknown = null): Promise<T> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    const callId = this.#nextCallId++;
    return new Promise<T>((resolve, reject) => {
      this.#calls.set(callId, { resolve: resolve as (v: unknown) => void, reject });
      this.#post({ kind: "call", callId, name, args });
    });
  }

  async close(): Promise<void> {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    for (const link of this.#links.values()) {
      link.onReadable = undefined;
      link.onClose = undefined;
    }
    await this.#process.close();
    this.#failAll(new XsnapError("XS runner closed"));
  }

  #failAll(error: Error): void {
    for (const { reject } of this.#calls.values()) reject(error);
    this.#calls.clear();
  }

  #post(event: HostEvent): void {
    this.#events.push(event);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    if (this.#events.length === 0 || this.#fatal) return;
    const events = this.#events;
    this.#events = [];
    try {
      await this.#process.command(encoder.encode(JSON.stringify({ events })));
      if (this.#measureLiveHeap) {
        const { meter } = await this.#process.evaluate("gc()");
        if (meter) this.#livePeak = Math.max(this.#livePeak, meter.currentHeapCount);
      }
    } catch (error) {
      this.#fatal = error as Error;
      for (const t of this.#timers.values()) clearTimeout(t);
      this.#failAll(this.#fatal);
    }
  }

  #answer(query: Uint8Array): Uint8Array {
    let reply: XsReply = {};
    try {
      reply = this.#handle(JSON.parse(decoder.decode(query)) as XsRequest);
    } catch (error) {
      reply = { error: (error as Error).message };
    }
    return encoder.encode(JSON.stringify(reply));
  }

  #handle(request: XsRequest): XsReply {
    switch (request.op) {
      case "timer-set": {
        const id = request.id;
        this.#timers.set(
          id,
          setTimeout(() => {
            this.#timers.delete(id);
            this.#post({ kind: "timer", id });
          }, request.ms),
        );
        return {};
      }
      case "timer-clear":
        clearTimeout(this.#timers.get(request.id));
        this.#timers.delete(request.id);
        return {};
      case "log":
        this.#log(request.level, request.tag, request.message);
        return {};
      case "output":
        this.#output(request.text);
        return {};
      case "link-write": {
        const link = this.#links.get(request.link);
        if (!link) return { error: `no link named ${request.link} is attached` };
        try {
          link.write(new Uint8Array(Buffer.from(request.hex, "hex")));
        } catch (error) {
          // The close event may still be on its way to XS; say so, so XS throws LinkClosedError.
          return { error: (error as Error).message, closed: true };
        }
        return {};
      }
      case "link-close":
        this.#links.get(request.link)?.close();
        return {};
      case "random":
        return { hex: Buffer.from(randomFillSync(new Uint8Array(request.count))).toString("hex") };
      case "wall-clock":
        return { ms: Date.now() };
      case "store-get":
      case "store-set":
      case "store-delete":
      case "store-keys": {
        if (!this.#stores) return { error: "this host gave the firmware no storage" };
        const store = this.#stores(request.domain);
        if (request.op === "store-keys") return { keys: store.keys() };
        if (request.op === "store-delete") store.delete(request.key);
        else if (request.op === "store-set") store.set(request.key, new Uint8Array(Buffer.from(request.hex, "hex")));
        else {
          const value = store.get(request.key);
          return value ? { hex: Buffer.from(value).toString("hex") } : {};
        }
        return {};
      }
      case "call-result": {
        const call = this.#calls.get(request.callId);
        this.#calls.delete(request.callId);
        if (call) {
          // Settle after this synchronous reply, outside the worker's crank.
          if (request.ok) setImmediate(() => call.resolve(request.value));
          else {
            const error = new XsEntryError(request.error);
            setImmediate(() => call.reject(error));
          }
        }
        return {};
      }
    }
  }
}
