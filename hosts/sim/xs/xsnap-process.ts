/**
 * Drives the `xsnap-worker` binary (the real XS engine, compiled by `npm install @agoric/xsnap`)
 * through its netstring protocol on fds 3 (to XS) and 4 (from XS), without the package's Node
 * wrapper (which would lock down the whole Node process with SES).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";

export class XsnapError extends Error {
  override name = "XsnapError";
}

/** Path of the release xsnap-worker binary that @agoric/xsnap built at install time. */
export function xsnapWorkerPath(): string {
  const pkg = dirname(createRequire(import.meta.url).resolve("@agoric/xsnap"));
  const platformDir = process.platform === "darwin" ? "mac" : "lin";
  const path = join(pkg, "..", "xsnap-native/xsnap/build/bin", platformDir, "release/xsnap-worker");
  if (!existsSync(path)) {
    throw new XsnapError(`xsnap-worker not found at ${path}: run \`npm install\` (it compiles the XS engine)`);
  }
  return path;
}

/** Metering figures xsnap reports with each completed crank. */
export interface CrankMeter {
  currentHeapCount: number;
  compute: number;
  allocate: number;
}

export interface CrankResult {
  reply: Uint8Array;
  meter: CrankMeter | undefined;
}

/** Answers XS's synchronous issueCommand(); must not throw (return an error reply instead). */
export type QueryHandler = (query: Uint8Array) => Uint8Array;

class NetstringReader {
  #buffer: Buffer = Buffer.alloc(0);
  constructor(private readonly onMessage: (payload: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    for (;;) {
      const colon = this.#buffer.indexOf(0x3a);
      if (colon < 0) {
        if (this.#buffer.length > 20) throw new XsnapError("malformed netstring length from xsnap-worker");
        return;
      }
      const length = Number(this.#buffer.subarray(0, colon).toString("ascii"));
      if (!Number.isInteger(length) || length < 0) throw new XsnapError("malformed netstring length from xsnap-worker");
      const end = colon + 1 + length;
      if (this.#buffer.length < end + 1) return;
      if (this.#buffer[end] !== 0x2c) throw new XsnapError("netstring from xsnap-worker lacks its trailing comma");
      const payload = this.#buffer.subarray(colon + 1, end);
      this.#buffer = this.#buffer.subarray(end + 1);
      this.onMessage(payload);
    }
  }
}

function netstring(prefix: string, payload: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(prefix, "ascii"), payload]);
  return Buffer.concat([Buffer.from(`${body.length}:`, "ascii"), body, Buffer.from(",", "ascii")]);
}

/**
 * One xsnap-worker process. Host → XS messages ("cranks") are serialised: each waits for the
 * previous one's reply, as the worker handles one at a time.
 */
export class XsnapProcess {
  readonly #child: ChildProcess;
  readonly #toXs: Writable;
  #pending: { resolve: (r: CrankResult) => void; reject: (e: Error) => void } | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #exited: Error | undefined;
  #stderr = "";
  cranks = 0;
  peakHeapCount = 0;

  constructor(private readonly onQuery: QueryHandler, options: { stdout?: (text: string) => void } = {}) {
    this.#child = spawn(xsnapWorkerPath(), [], { stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"] });
    this.#toXs = this.#child.stdio[3] as Writable;
    const fromXs = this.#child.stdio[4] as Readable;
    const reader = new NetstringReader((payload) => this.#onMessage(payload));
    fromXs.on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (error) {
        this.#fail(error as Error);
      }
    });
    (this.#child.stdout as Readable).on("data", (chunk: Buffer) => options.stdout?.(chunk.toString("utf8")));
    (this.#child.stderr as Readable).on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString("utf8")).slice(-4000);
    });
    this.#toXs.on("error", () => {}); // reported through the exit handler
    this.#child.on("exit", (code, signal) => {
      this.#fail(new XsnapError(`xsnap-worker exited (${signal ?? `code ${code}`})${this.#stderr ? `: ${this.#stderr.trim()}` : ""}`));
    });
  }

  get exited(): boolean {
    return this.#exited !== undefined;
  }

  #fail(error: Error): void {
    if (!this.#exited) this.#exited = error;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(error);
  }

  #onMessage(payload: Buffer): void {
    const kind = String.fromCharCode(payload[0] ?? 0);
    const body = payload.subarray(1);
    if (kind === "?") {
      const reply = this.onQuery(new Uint8Array(body.buffer, body.byteOffset, body.length));
      this.#toXs.write(netstring("/", reply));
      return;
    }
    const pending = this.#pending;
    this.#pending = undefined;
    if (!pending) {
      this.#fail(new XsnapError(`unexpected message ${JSON.stringify(kind)} from xsnap-worker`));
      return;
    }
    this.cranks++;
    if (kind === ".") {
      const separator = body.indexOf(0x01);
      let meter: CrankMeter | undefined;
      let reply = body;
      if (separator >= 0) {
        try {
          meter = JSON.parse(body.subarray(0, separator).toString("utf8")) as CrankMeter;
          this.peakHeapCount = Math.max(this.peakHeapCount, meter.currentHeapCount);
        } catch {
          meter = undefined;
        }
        reply = body.subarray(separator + 1);
      }
      pending.resolve({ reply: new Uint8Array(reply), meter });
    } else if (kind === "!") {
      pending.reject(new XsnapError(`exception inside XS: ${body.toString("utf8") || "(no message)"}`));
    } else {
      pending.reject(new XsnapError(`unexpected reply ${JSON.stringify(kind)} from xsnap-worker`));
    }
  }

  #crank(prefix: string, payload: Uint8Array): Promise<CrankResult> {
    const run = () =>
      new Promise<CrankResult>((resolve, reject) => {
        if (this.#exited) {
          reject(this.#exited);
          return;
        }
        this.#pending = { resolve, reject };
        this.#toXs.write(netstring(prefix, payload));
      });
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Evaluates a script (for example an esbuild IIFE bundle) in the worker's global scope. */
  evaluate(code: string): Promise<CrankResult> {
    return this.#crank("e", Buffer.from(code, "utf8"));
  }

  /** Calls `globalThis.handleCommand(bytes)` inside XS and runs its jobs to completion. */
  command(bytes: Uint8Array): Promise<CrankResult> {
    return this.#crank("?", bytes);
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#toXs.end();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  }
}
