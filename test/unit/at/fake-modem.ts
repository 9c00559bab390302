/**
 * A tiny scripted modem for AT engine tests: it splits what the engine writes into command
 * lines (CR-terminated), hands each to the test's script, can swallow a counted raw payload
 * after a prompt, and writes whatever the test tells it to. Portable (runs in XS too).
 */
import { AtEngine, type AtEngineOptions } from "../../../modules/at/engine.js";
import { memoryLinkPair, type MemoryLink } from "../../../modules/platform/memory-link.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";

/** Bytes of a string taken as Latin-1 (so tests can write 0x00, 0xFF, CR, LF...). */
export function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

export function latin1Text(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]!);
  return out;
}

export type Script = (command: string, modem: FakeModem) => void;

export class FakeModem {
  /** Every command line received, without its terminator. */
  readonly commands: string[] = [];
  /** Raw payloads received after expectRaw(). */
  readonly payloads: Uint8Array[] = [];
  /** Everything received, as Latin-1 text. */
  received = "";
  private pending = "";
  private rawWanted = 0;
  private rawDone: ((bytes: Uint8Array) => void) | undefined;
  private raw: number[] = [];

  constructor(readonly link: MemoryLink, public script: Script = () => {}) {
    link.onReadable = () => this.onBytes();
  }

  /** Sends bytes (or Latin-1 text) to the engine. */
  reply(data: string | Uint8Array): void {
    this.link.write(typeof data === "string" ? latin1(data) : data);
  }

  /** The next `count` bytes are a raw payload, not command text. */
  expectRaw(count: number, then?: (bytes: Uint8Array) => void): void {
    this.rawWanted = count;
    this.rawDone = then;
    this.raw = [];
  }

  private onBytes(): void {
    for (;;) {
      const chunk = this.link.read();
      if (!chunk) return;
      this.received += latin1Text(chunk);
      for (const byte of chunk) this.onByte(byte);
    }
  }

  private onByte(byte: number): void {
    if (this.rawWanted > 0) {
      this.raw.push(byte);
      if (this.raw.length === this.rawWanted) {
        const bytes = Uint8Array.from(this.raw);
        this.rawWanted = 0;
        this.payloads.push(bytes);
        this.rawDone?.(bytes);
      }
      return;
    }
    if (byte === 0x0a && this.pending === "") return; // LF of a "\r\n" line ending
    if (byte !== 0x0d) {
      this.pending += String.fromCharCode(byte);
      return;
    }
    const command = this.pending;
    this.pending = "";
    this.commands.push(command);
    this.script(command, this);
  }
}

export interface Rig {
  platform: ManualPlatform;
  at: AtEngine;
  modem: FakeModem;
  link: MemoryLink;
}

export function rig(script?: Script, options?: AtEngineOptions): Rig {
  const platform = new ManualPlatform();
  const [engineEnd, modemEnd] = memoryLinkPair();
  const modem = new FakeModem(modemEnd, script);
  const at = new AtEngine(engineEnd, platform, options);
  return { platform, at, modem, link: engineEnd };
}

/** Observes a promise without awaiting it, so a test can check whether it has settled yet. */
export interface Outcome<T> {
  settled: boolean;
  value: T | undefined;
  error: unknown;
}

export function watch<T>(promise: Promise<T>): Outcome<T> {
  const outcome: Outcome<T> = { settled: false, value: undefined, error: undefined };
  promise.then(
    (value) => {
      outcome.settled = true;
      outcome.value = value;
    },
    (error: unknown) => {
      outcome.settled = true;
      outcome.error = error;
    },
  );
  return outcome;
}
