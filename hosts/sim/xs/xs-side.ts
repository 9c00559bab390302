/**
 * The XS side of the bridge: implements the firmware's Platform and ByteLink inside xsnap-worker
 * on top of its two host hooks, and runs named entry points that the Node host calls.
 * Bundled (by esbuild) together with the firmware; never imported by Node code.
 */
import { bytesToUtf8, fromHex, toHex, utf8ToBytes } from "../../../modules/bytes/bytes.js";
import { ByteQueue } from "../../../modules/platform/byte-queue.js";
import { type ByteLink, LinkClosedError, type LogLevel, type Platform, type TimerHandle } from "../../../modules/platform/platform.js";
import { checkStorageName, checkStorageValue, type KeyValueStore } from "../../../modules/platform/storage.js";
import type { HostEvent, HostEventBatch, SerializedError, XsReply, XsRequest } from "./bridge-protocol.js";

declare function issueCommand(message: ArrayBuffer): ArrayBuffer;
declare const performance: { now(): number };

function request(message: XsRequest): XsReply {
  const bytes = utf8ToBytes(JSON.stringify(message));
  const reply = bytesToUtf8(new Uint8Array(issueCommand(bytes.buffer as ArrayBuffer)));
  const parsed = (reply ? JSON.parse(reply) : {}) as XsReply;
  if (parsed.closed) throw new LinkClosedError(parsed.error);
  if (parsed.error) throw new Error(`host refused ${message.op}: ${parsed.error}`);
  return parsed;
}

const timers = new Map<number, () => void>();
let nextTimerId = 1;

export const xsPlatform: Platform = {
  now: () => performance.now(),
  wallClock: () => request({ op: "wall-clock" }).ms!,
  setTimer(callback, ms) {
    const id = nextTimerId++;
    timers.set(id, callback);
    request({ op: "timer-set", id, ms });
    return id as unknown as TimerHandle;
  },
  clearTimer(handle) {
    const id = handle as unknown as number;
    if (timers.delete(id)) request({ op: "timer-clear", id });
  },
  log(level: LogLevel, tag: string, message: string) {
    request({ op: "log", level, tag, message });
  },
  randomBytes(count) {
    return fromHex(request({ op: "random", count }).hex!);
  },
};

/** Text for the user (a CLI's standard output), as opposed to log records. */
export function print(text: string): void {
  request({ op: "output", text });
}

class XsLink implements ByteLink {
  onReadable: ((count: number) => void) | undefined;
  onClose: ((error?: Error) => void) | undefined;
  #received = new ByteQueue();
  #closed = false;
  constructor(readonly name: string) {}

  get readable(): number {
    return this.#received.length;
  }
  write(bytes: Uint8Array): void {
    if (this.#closed) throw new LinkClosedError(`link ${this.name} is closed`);
    if (bytes.length > 0) request({ op: "link-write", link: this.name, hex: toHex(bytes) });
  }
  read(max?: number): Uint8Array | undefined {
    return this.#received.take(max);
  }
  close(): void {
    if (this.#closed) return;
    request({ op: "link-close", link: this.name });
    this.closed();
  }
  received(bytes: Uint8Array): void {
    if (this.#closed || bytes.length === 0) return;
    this.#received.push(bytes);
    this.onReadable?.(this.#received.length);
  }
  closed(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose?.(error);
  }
}

const links = new Map<string, XsLink>();

/** The byte link the host attached under `name` (for example "modem"). */
export function hostLink(name: string): ByteLink {
  let link = links.get(name);
  if (!link) {
    link = new XsLink(name);
    links.set(name, link);
  }
  return link;
}

/** A storage domain on the Node host (its store answers each call synchronously). */
function hostStore(domain: string): KeyValueStore {
  checkStorageName(domain, "domain");
  return {
    get(key) {
      checkStorageName(key);
      const hex = request({ op: "store-get", domain, key }).hex;
      return hex === undefined ? undefined : fromHex(hex);
    },
    set(key, value) {
      checkStorageName(key);
      checkStorageValue(key, value);
      request({ op: "store-set", domain, key, hex: toHex(value) });
    },
    delete(key) {
      checkStorageName(key);
      request({ op: "store-delete", domain, key });
    },
    keys() {
      return request({ op: "store-keys", domain }).keys ?? [];
    },
  };
}

export interface EntryContext {
  platform: Platform;
  link(name: string): ByteLink;
  print(text: string): void;
  store(domain: string): KeyValueStore;
}

export type EntryPoint = (args: unknown, context: EntryContext) => Promise<unknown> | unknown;

const entries = new Map<string, EntryPoint>();

/** Makes `fn` callable from the Node host as `runner.call(name, args)`. */
export function registerEntry(name: string, fn: EntryPoint): void {
  entries.set(name, fn);
}

function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  return { name: "Error", message: String(error) };
}

const context: EntryContext = { platform: xsPlatform, link: hostLink, print, store: hostStore };

function runCall(callId: number, name: string, args: unknown): void {
  const fn = entries.get(name);
  const settle = (ok: boolean, value: unknown) =>
    request(ok ? { op: "call-result", callId, ok: true, value: value === undefined ? null : value } : { op: "call-result", callId, ok: false, error: serializeError(value) });
  if (!fn) {
    settle(false, new Error(`no entry point named ${name} in this XS bundle`));
    return;
  }
  let result: Promise<unknown>;
  try {
    result = Promise.resolve(fn(args, context));
  } catch (error) {
    result = Promise.reject(error);
  }
  result.then(
    (value) => settle(true, value),
    (error: unknown) => settle(false, error),
  );
}

function dispatch(event: HostEvent): void {
  switch (event.kind) {
    case "timer": {
      const callback = timers.get(event.id);
      timers.delete(event.id);
      callback?.();
      break;
    }
    case "link-data":
      (hostLink(event.link) as XsLink).received(fromHex(event.hex));
      break;
    case "link-close":
      (hostLink(event.link) as XsLink).closed(event.error ? new Error(event.error) : undefined);
      break;
    case "call":
      runCall(event.callId, event.name, event.args);
      break;
  }
}

(globalThis as { handleCommand?: (message: ArrayBuffer) => ArrayBuffer }).handleCommand = (message) => {
  const batch = JSON.parse(bytesToUtf8(new Uint8Array(message))) as HostEventBatch;
  for (const event of batch.events) {
    try {
      dispatch(event);
    } catch (error) {
      // A throwing callback must not lose the rest of the batch; report it where a person will see it.
      xsPlatform.log("error", "xs", `uncaught in ${event.kind} handler: ${serializeError(error).message}`);
    }
  }
  return new ArrayBuffer(0);
};
