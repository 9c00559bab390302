/**
 * A scripted modem for driver unit tests (portable: runs in XS too). It splits what the driver
 * writes into command lines, answers each from a table of responders (first match wins; a
 * responder may be used once or always), and can swallow raw payloads: a counted one after a
 * prompt, or one that ends with a terminator (nRF91 SLM data mode). Unanswered commands get no
 * reply at all (so a test sees the driver's timeout), and are recorded in `unanswered`.
 */
import { AtEngine, type AtEngineOptions } from "../../../modules/at/engine.js";
import { createModem, type CreateModemOptions, type Modem } from "../../../modules/modem/index.js";
import { memoryLinkPair, type MemoryLink } from "../../../modules/platform/memory-link.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";

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

export type Reply = string | Uint8Array | ((command: string, modem: ScriptModem) => void);

interface Responder {
  match: string | RegExp;
  reply: Reply;
  once: boolean;
}

export class ScriptModem {
  /** Every command line received (without its terminator), in order. */
  readonly commands: string[] = [];
  /** Commands nobody answered. */
  readonly unanswered: string[] = [];
  /** Raw payloads received. */
  readonly payloads: Uint8Array[] = [];
  #responders: Responder[] = [];
  #pending = "";
  #rawCount = 0;
  #rawTerminator: string | undefined;
  #raw: number[] = [];
  #rawDone: ((bytes: Uint8Array) => void) | undefined;
  /** The LF of a CR LF line ending belongs to the line, even when a payload starts right after it. */
  #skipLineFeed = false;

  constructor(readonly link: MemoryLink) {
    link.onReadable = () => this.#onBytes();
  }

  /** Answers commands matching `match` (exact text or RegExp) every time; a later `on` overrides an earlier one. */
  on(match: string | RegExp, reply: Reply): this {
    this.#responders.push({ match, reply, once: false });
    return this;
  }

  /** Answers the next command matching `match`, once; once-responders are tried before `on` ones. */
  once(match: string | RegExp, reply: Reply): this {
    this.#responders.push({ match, reply, once: true });
    return this;
  }

  /** Sends bytes (or Latin-1 text) to the driver. */
  send(data: string | Uint8Array): void {
    this.link.write(typeof data === "string" ? latin1(data) : data);
  }

  /** The next `count` bytes are payload, then `then` runs. */
  expectRaw(count: number, then?: (bytes: Uint8Array) => void): void {
    this.#rawCount = count;
    this.#rawTerminator = undefined;
    this.#raw = [];
    this.#rawDone = then;
  }

  /** The next bytes are payload up to and including `terminator` (which is not part of the payload). */
  expectRawUntil(terminator: string, then?: (bytes: Uint8Array) => void): void {
    this.#rawCount = 0;
    this.#rawTerminator = terminator;
    this.#raw = [];
    this.#rawDone = then;
  }

  #onBytes(): void {
    for (;;) {
      const chunk = this.link.read();
      if (!chunk) return;
      for (const byte of chunk) this.#onByte(byte);
    }
  }

  #onByte(byte: number): void {
    if (this.#skipLineFeed) {
      this.#skipLineFeed = false;
      if (byte === 0x0a) return;
    }
    if (this.#rawCount > 0 || this.#rawTerminator !== undefined) {
      this.#raw.push(byte);
      let done = false;
      let payload: Uint8Array | undefined;
      if (this.#rawCount > 0 && this.#raw.length === this.#rawCount) {
        payload = Uint8Array.from(this.#raw);
        done = true;
      } else if (this.#rawTerminator !== undefined && endsWith(this.#raw, this.#rawTerminator)) {
        payload = Uint8Array.from(this.#raw.slice(0, this.#raw.length - this.#rawTerminator.length));
        done = true;
      }
      if (done) {
        this.#rawCount = 0;
        this.#rawTerminator = undefined;
        this.#raw = [];
        this.payloads.push(payload!);
        const then = this.#rawDone;
        this.#rawDone = undefined;
        then?.(payload!);
      }
      return;
    }
    if (byte === 0x0a && this.#pending === "") return; // LF of a CR LF line ending
    if (byte !== 0x0d) {
      this.#pending += String.fromCharCode(byte);
      return;
    }
    const command = this.#pending;
    this.#pending = "";
    this.#skipLineFeed = true;
    if (command === "") return;
    this.commands.push(command);
    this.#answer(command);
  }

  #answer(command: string): void {
    const order = [...this.#responders.filter((r) => r.once), ...this.#responders.filter((r) => !r.once).reverse()];
    const responder = order.find((r) => (typeof r.match === "string" ? r.match === command : r.match.test(command)));
    if (!responder) {
      this.unanswered.push(command);
      return;
    }
    if (responder.once) this.#responders = this.#responders.filter((r) => r !== responder);
    const reply = responder.reply;
    if (typeof reply === "function") reply(command, this);
    else this.send(reply);
  }
}

function endsWith(bytes: number[], text: string): boolean {
  if (bytes.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[bytes.length - text.length + i] !== text.charCodeAt(i)) return false;
  return true;
}

export const OK = "\r\nOK\r\n";
export const ERROR = "\r\nERROR\r\n";

export interface DriverRig {
  platform: ManualPlatform;
  at: AtEngine;
  modem: Modem;
  script: ScriptModem;
}

/** A driver of `dialect` over an in-memory link to a ScriptModem, on a ManualPlatform. */
export function driverRig(dialect: string, options: CreateModemOptions = {}, atOptions: AtEngineOptions = {}): DriverRig {
  const platform = new ManualPlatform();
  const [driverEnd, modemEnd] = memoryLinkPair();
  const script = new ScriptModem(modemEnd);
  const at = new AtEngine(driverEnd, platform, { resyncTimeoutMs: 200, resyncQuietMs: 10, ...atOptions });
  const modem = createModem(dialect, at, platform, options);
  return { platform, at, modem, script };
}

/** The answers of a healthy, registered, SIM-ready modem to the generic 27.007 commands. */
export function answerBasics(script: ScriptModem): void {
  script
    .on("AT", OK)
    .on("ATE0", OK)
    .on("AT+CMEE=1", OK)
    .on("AT+CMEE?", `\r\n+CMEE: 1\r\n${OK}`)
    .on("AT+CPIN?", `\r\n+CPIN: READY\r\n${OK}`)
    .on("AT+CEREG=1", OK)
    .on(/^AT\+CGDCONT=/, OK)
    .on("AT+CGDCONT?", `\r\n+CGDCONT: 1,"IP","","0.0.0.0",0,0\r\n${OK}`)
    .on("AT+CFUN?", `\r\n+CFUN: 1\r\n${OK}`)
    .on("AT+CFUN=4", OK)
    .on("AT+CFUN=1", OK)
    .on("AT+CEREG?", `\r\n+CEREG: 1,1\r\n${OK}`);
}

/** Lets a promise run on the manual clock until it settles (advancing `step` ms at a time, at most `limit`). */
export async function run<T>(platform: ManualPlatform, promise: Promise<T>, limit = 600000, step = 50): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let waited = 0; !settled && waited <= limit; waited += step) await platform.advance(step);
  return promise;
}
