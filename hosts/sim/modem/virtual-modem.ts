/**
 * The virtual modem: one device (functionality, network registration, SIM and its logical-channel
 * sessions, PDP contexts) with any number of AT ports, each an AT interpreter over one ByteLink
 * with its own echo / verbose / CMEE / URC settings, like the several AT ttys of a USB modem.
 *
 * Host-neutral: time comes from a Platform, bytes from a ByteLink, so tests can drive it with a
 * ManualPlatform and an in-memory link; server.ts puts it on TCP or a pty.
 */
import { asciiToBytes, bytesToAscii, concatBytes, toHex } from "../../../modules/bytes/bytes.js";
import { type ByteLink, LinkClosedError, type Platform, type TimerHandle } from "../../../modules/platform/platform.js";
import { TimeoutError, withTimeout } from "../../../modules/platform/time.js";
import { type Card, classOnChannel } from "../card/card.js";
import { type AtCommand, CommandLineAssembler, type AssembledLine, commandLineBody, parseCommandLine } from "./at-syntax.js";
import type { CommandContext, CommandHandler, CommandTable } from "./commands.js";
import { genericDialect, type ModemDialect } from "./dialects.js";
import { AtSyntaxError, CME, CmeError, DataTimeoutError, cmeText } from "./errors.js";
import { genericCommands } from "./generic-commands.js";
import type { VirtualTcpStack } from "./dialects/network.js";

export interface ModemIdentity {
  manufacturer: string;
  model: string;
  revision: string;
  /** 15 digits. */
  imei: string;
  /** Used when the card does not know its IMSI. */
  imsi: string;
  /** Used when the card does not know its ICCID. */
  iccid: string;
}

/** The Luhn check digit of a digit string (IMEI and ICCID end with one). */
export function luhnCheckDigit(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

export const DEFAULT_IDENTITY: Readonly<ModemIdentity> = {
  manufacturer: "iotsafe-xs",
  model: "Virtual Modem",
  revision: "VM01.00",
  imei: "35000000123456" + luhnCheckDigit("35000000123456"),
  // MCC 001 / MNC 01: the 3GPP test network.
  imsi: "001010123456789",
  iccid: "891000000000123456" + luhnCheckDigit("891000000000123456"),
};

export interface NetworkOptions {
  /** Long alphanumeric operator name for AT+COPS?. */
  operatorName?: string;
  /** MCC+MNC of the operator (AT+COPS=? and numeric formats). */
  operatorNumeric?: string;
  /** Tracking area code (4 hex digits) and cell id (8 hex digits) for CEREG n>=2. */
  trackingAreaCode?: string;
  cellId?: string;
  /** AT+CSQ rssi (0..31) while registered. */
  rssi?: number;
  /** 1 (home) or 5 (roaming). */
  registeredStatus?: 1 | 5;
  /** False: the modem searches forever (+CEREG status 2), as with no coverage. Default true. */
  coverage?: boolean;
  /** APNs the network refuses to activate a data context for. */
  refusedApns?: string[];
}

export interface ModemHooks {
  /** Runs before each command; may delay it (return a promise) or fail it (throw CmeError / AtSyntaxError). */
  beforeCommand?(command: AtCommand, port: AtPort): void | Promise<void>;
  /** Sees every chunk of bytes a port receives and sends (traces, counters). */
  onTraffic?(direction: "in" | "out", bytes: Uint8Array, port: AtPort): void;
}

export interface VirtualModemOptions {
  platform: Platform;
  card: Card;
  dialect?: ModemDialect;
  identity?: Partial<ModemIdentity>;
  /** AT+CFUN level at power-on: 1 (default) starts registering at once. */
  initialFunctionality?: 0 | 1 | 4;
  /** Time from CFUN=1 (or power-on) to registered; default 500 ms. */
  registrationDelayMs?: number;
  network?: NetworkOptions;
  /** When set, the SIM starts in state SIM PIN and needs AT+CPIN="<pin>". */
  pin?: string;
  /** PUK that unblocks the PIN after three wrong attempts; default "12345678". */
  puk?: string;
  /** Longest command line (bytes before CR); longer lines are answered ERROR. Default 2048. */
  maxLineLength?: number;
  /** How long one APDU may take before the modem gives up with +CME ERROR: 13. Default 10 s. */
  cardTimeoutMs?: number;
  /** First AT+CCHO session id; default 271828 (deliberately unlike a channel number). */
  firstSessionId?: number;
  /** Time zone of AT+CCLK in quarter hours; default the host's. */
  timeZoneQuarterHours?: number;
  hooks?: ModemHooks;
  /** The TCP stack behind the dialects' socket commands (server.ts gives a loopback-only one). */
  tcp?: VirtualTcpStack;
}

export type SimState = "READY" | "SIM PIN" | "SIM PUK";

export interface PdpContext {
  cid: number;
  type: string;
  apn: string;
}

interface ChannelSession {
  channel: number;
  aid: string;
}

const PIN_ATTEMPTS = 3;

/** The device: state shared by all of its AT ports. */
export class VirtualModem {
  readonly platform: Platform;
  readonly card: Card;
  readonly dialect: ModemDialect;
  readonly identity: Readonly<ModemIdentity>;
  readonly hooks: ModemHooks;
  readonly maxLineLength: number;
  readonly network: Required<NetworkOptions>;
  readonly pdpContexts = new Map<number, PdpContext>();
  readonly tcp: VirtualTcpStack | undefined;
  readonly #commands: CommandTable;
  readonly #options: VirtualModemOptions;
  readonly #ports = new Set<AtPort>();
  readonly #sessions = new Map<number, ChannelSession>();
  readonly #extensions = new Map<string, unknown>();
  #nextSessionId: number;
  #functionality: number;
  #registration = 0;
  #registrationTimer: TimerHandle | undefined;
  /** False after AT+COPS=2 or AT+CGATT=0. */
  #attachAllowed = true;
  #simState: SimState;
  #pin: string | undefined;
  #pinAttemptsLeft = PIN_ATTEMPTS;
  #closed = false;

  constructor(options: VirtualModemOptions) {
    this.#options = options;
    this.platform = options.platform;
    this.card = options.card;
    this.dialect = options.dialect ?? genericDialect;
    this.identity = {
      ...DEFAULT_IDENTITY,
      ...(this.card.imsi ? { imsi: this.card.imsi } : {}),
      ...(this.card.iccid ? { iccid: this.card.iccid } : {}),
      ...this.dialect.identity,
      ...options.identity,
    };
    this.hooks = options.hooks ?? {};
    this.tcp = options.tcp;
    this.maxLineLength = options.maxLineLength ?? 2048;
    this.network = {
      operatorName: "IoTSAFE Sim",
      operatorNumeric: "00101",
      trackingAreaCode: "1A2B",
      cellId: "01A2B3C4",
      rssi: 20,
      registeredStatus: 1,
      coverage: true,
      refusedApns: [],
      ...options.network,
    };
    this.#commands = { ...genericCommands, ...this.dialect.commands };
    this.#nextSessionId = options.firstSessionId ?? 271828;
    this.#pin = options.pin;
    this.#simState = options.pin === undefined ? "READY" : "SIM PIN";
    this.#functionality = options.initialFunctionality ?? this.dialect.initialFunctionality ?? 1;
    this.pdpContexts.set(1, { cid: 1, type: "IP", apn: "" });
    this.dialect.install?.(this);
    this.#updateRegistration();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get ports(): readonly AtPort[] {
    return [...this.#ports];
  }

  /** Looks up the handler for a command name (upper case). */
  commandHandler(name: string): CommandHandler | undefined {
    return Object.prototype.hasOwnProperty.call(this.#commands, name) ? this.#commands[name] : undefined;
  }

  /** Per-modem state of a dialect or extension, created on first use. */
  extension<T>(key: string, create: () => T): T {
    if (!this.#extensions.has(key)) this.#extensions.set(key, create());
    return this.#extensions.get(key) as T;
  }

  /** Starts an AT interpreter on `link`; it lives until the link closes or the modem closes. */
  attach(link: ByteLink): AtPort {
    if (this.#closed) throw new LinkClosedError("virtual modem is closed");
    const port = new AtPort(this, link);
    this.#ports.add(port);
    return port;
  }

  /** @internal called by a port whose link closed. */
  detach(port: AtPort): void {
    this.#ports.delete(port);
  }

  /** Writes a URC, formatted per port (`format` may return undefined to skip a port). */
  broadcast(format: (port: AtPort) => string | undefined): void {
    for (const port of this.#ports) {
      const line = format(port);
      if (line !== undefined) port.sendUrc(line);
    }
  }

  // --- functionality and registration ---

  get functionality(): number {
    return this.#functionality;
  }

  /** 27.007 <stat>: 0 not registered, 1 home, 2 searching, 5 roaming. */
  get registrationStatus(): number {
    return this.#registration;
  }

  get registered(): boolean {
    return this.#registration === 1 || this.#registration === 5;
  }

  setFunctionality(level: number): void {
    this.#functionality = level;
    this.#updateRegistration();
  }

  /** AT+COPS=2 / AT+CGATT=0 forbid attaching; AT+COPS=0 / AT+CGATT=1 allow it again. */
  setAttachAllowed(allowed: boolean): void {
    this.#attachAllowed = allowed;
    this.#updateRegistration();
  }

  #updateRegistration(): void {
    if (this.#closed) return;
    const wanted = this.#functionality === 1 && this.#attachAllowed && this.#simState === "READY";
    if (!wanted) {
      if (this.#registrationTimer !== undefined) this.platform.clearTimer(this.#registrationTimer);
      this.#registrationTimer = undefined;
      this.#setRegistration(0);
      return;
    }
    if (this.registered || this.#registrationTimer !== undefined) return;
    this.#setRegistration(2);
    if (!this.network.coverage) return; // searching for ever
    this.#registrationTimer = this.platform.setTimer(() => {
      this.#registrationTimer = undefined;
      // Modems whose attach carries the APN (LTE default bearer) are denied when the network refuses it.
      const bearer = this.dialect.defaultBearerCid;
      const apn = bearer === undefined ? undefined : this.pdpContexts.get(bearer)?.apn;
      this.#setRegistration(apn !== undefined && this.network.refusedApns.includes(apn) ? 3 : this.network.registeredStatus);
    }, this.#options.registrationDelayMs ?? 500);
  }

  #setRegistration(status: number): void {
    if (status === this.#registration) return;
    this.#registration = status;
    this.platform.log("debug", "modem", `registration status ${status}`);
    this.broadcast((port) => port.registrationUrc());
  }

  // --- SIM ---

  get simState(): SimState {
    return this.#simState;
  }

  /** Throws the CME error a SIM command gets while the SIM is locked. */
  requireSimReady(): void {
    if (this.#simState === "SIM PIN") throw new CmeError(CME.SIM_PIN_REQUIRED);
    if (this.#simState === "SIM PUK") throw new CmeError(CME.SIM_PUK_REQUIRED);
  }

  /** AT+CPIN="<pin>" (state SIM PIN) or AT+CPIN="<puk>","<new pin>" (state SIM PUK). */
  enterPin(code: string, newPin: string | undefined): void {
    if (this.#simState === "READY") throw new CmeError(CME.OPERATION_NOT_ALLOWED, "no PIN is requested");
    if (this.#simState === "SIM PIN") {
      if (code !== this.#pin) {
        this.#pinAttemptsLeft--;
        if (this.#pinAttemptsLeft <= 0) this.#simState = "SIM PUK";
        throw new CmeError(CME.INCORRECT_PASSWORD);
      }
    } else {
      if (newPin === undefined) throw new CmeError(CME.SIM_PUK_REQUIRED);
      if (code !== (this.#options.puk ?? "12345678")) throw new CmeError(CME.INCORRECT_PASSWORD);
      this.#pin = newPin;
    }
    this.#pinAttemptsLeft = PIN_ATTEMPTS;
    this.#simState = "READY";
    this.#updateRegistration();
  }

  /** Sends one APDU to the card; CME 13 (SIM failure) if the card throws or takes too long. */
  async transmitApdu(apdu: Uint8Array): Promise<Uint8Array> {
    let response: Uint8Array;
    try {
      response = await withTimeout(this.platform, this.card.transmit(apdu), this.#options.cardTimeoutMs ?? 10_000, () => new TimeoutError("card did not answer"));
    } catch (error) {
      this.platform.log("warn", "modem", `card failed: ${error instanceof Error ? error.message : String(error)}`);
      throw new CmeError(CME.SIM_FAILURE);
    }
    if (!(response instanceof Uint8Array) || response.length < 2) {
      this.platform.log("warn", "modem", "card answered without a status word");
      throw new CmeError(CME.SIM_FAILURE);
    }
    return response;
  }

  /**
   * AT+CCHO: MANAGE CHANNEL open, then SELECT `aid` on the new channel. Returns a session id that
   * is deliberately not the channel number (27.007 §8.45: the MT owns the channel bits of CLA).
   */
  async openSession(aid: Uint8Array): Promise<number> {
    const open = await this.transmitApdu(Uint8Array.of(0x00, 0x70, 0x00, 0x00, 0x01));
    const sw = swOf(open);
    if (!(sw === 0x9000 || (sw & 0xff00) === 0x9100) || open.length !== 3) {
      // 6A81 and friends: the card has no free channel.
      throw new CmeError(sw === 0x6a81 ? CME.MEMORY_FULL : CME.SIM_FAILURE, `MANAGE CHANNEL answered ${hexWord(sw)}`);
    }
    const channel = open[0]!;
    if (channel < 1 || channel > 19) throw new CmeError(CME.SIM_FAILURE, `card opened channel ${channel}`);
    const select = concatBytes(Uint8Array.of(classOnChannel(0x00, channel), 0xa4, 0x04, 0x00, aid.length), aid, Uint8Array.of(0x00));
    const selected = swOf(await this.transmitApdu(select));
    const ok = selected === 0x9000 || (selected & 0xff00) === 0x6100 || (selected & 0xff00) === 0x9100;
    if (!ok) {
      await this.#closeChannel(channel).catch(() => undefined);
      throw new CmeError(selected === 0x6a82 ? CME.NOT_FOUND : CME.SIM_FAILURE, `SELECT answered ${hexWord(selected)}`);
    }
    const sessionId = this.#nextSessionId++;
    this.#sessions.set(sessionId, { channel, aid: toHex(aid) });
    return sessionId;
  }

  /** The logical channel behind a CCHO session id; CME 21 (invalid index) for an unknown id. */
  sessionChannel(sessionId: number): number {
    const session = this.#sessions.get(sessionId);
    if (!session) throw new CmeError(CME.INVALID_INDEX, `no logical-channel session ${sessionId}`);
    return session.channel;
  }

  /** AT+CCHC: closes the channel behind the session. */
  async closeSession(sessionId: number): Promise<void> {
    const channel = this.sessionChannel(sessionId);
    this.#sessions.delete(sessionId);
    await this.#closeChannel(channel);
  }

  async #closeChannel(channel: number): Promise<void> {
    const sw = swOf(await this.transmitApdu(Uint8Array.of(0x00, 0x70, 0x80, channel, 0x00)));
    if (sw !== 0x9000) throw new CmeError(CME.SIM_FAILURE, `MANAGE CHANNEL close answered ${hexWord(sw)}`);
  }

  // --- clock ---

  /** `yy/MM/dd,hh:mm:ss±zz` (zz in quarter hours) from the host clock, as AT+CCLK reports it. */
  clockText(): string {
    const now = this.platform.wallClock();
    const quarters = this.#options.timeZoneQuarterHours ?? Math.round(-new Date(now).getTimezoneOffset() / 15);
    const local = new Date(now + quarters * 15 * 60_000);
    const two = (n: number): string => String(n).padStart(2, "0");
    const date = `${two(local.getUTCFullYear() % 100)}/${two(local.getUTCMonth() + 1)}/${two(local.getUTCDate())}`;
    const time = `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())}`;
    return `${date},${time}${quarters < 0 ? "-" : "+"}${two(Math.abs(quarters))}`;
  }

  // --- lifecycle ---

  /**
   * Restarts the modem (AT+CFUN=<n>,1): the SIM is reset (channels closed, PIN asked again),
   * every port returns to its defaults, registration starts over, and the dialect's boot URCs follow.
   */
  async reset(): Promise<void> {
    this.dialect.onReset?.(this);
    this.#sessions.clear();
    try {
      await this.card.reset?.();
    } catch (error) {
      this.platform.log("warn", "modem", `card reset failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (this.#pin !== undefined) this.#simState = "SIM PIN";
    this.#pinAttemptsLeft = PIN_ATTEMPTS;
    this.#attachAllowed = true;
    this.#functionality = this.#options.initialFunctionality ?? this.dialect.initialFunctionality ?? 1;
    for (const port of this.#ports) port.resetSettings();
    if (this.#registrationTimer !== undefined) this.platform.clearTimer(this.#registrationTimer);
    this.#registrationTimer = undefined;
    this.#registration = 0;
    for (const urc of this.dialect.bootUrcs ?? []) this.broadcast(() => urc);
    const bootText = this.dialect.bootText;
    if (bootText) for (const port of this.#ports) port.sendText(bootText);
    this.#updateRegistration();
  }

  /** Stops timers and closes every port's link. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#registrationTimer !== undefined) this.platform.clearTimer(this.#registrationTimer);
    this.#registrationTimer = undefined;
    this.dialect.onReset?.(this);
    for (const port of [...this.#ports]) port.close();
    this.#ports.clear();
  }
}

function swOf(response: Uint8Array): number {
  return (response[response.length - 2]! << 8) | response[response.length - 1]!;
}

function hexWord(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, "0");
}

/** Bytes a port reads from its link at a time. */
const INPUT_CHUNK = 1024;
/** URCs held while a command runs; the oldest are dropped beyond this. */
const MAX_QUEUED_URCS = 64;

interface RawRequest {
  buffer: Uint8Array;
  filled: number;
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
  timer: TimerHandle;
}

/**
 * Receives a port's input bytes while a dialect's data mode runs (e.g. the nRF91 SLM's AT#XSEND
 * data mode, which ends with a terminator). Returns how many of `bytes` it took and whether data
 * mode is over; bytes it did not take are parsed as command lines again.
 */
export type RawSink = (bytes: Uint8Array) => { consumed: number; done: boolean };

type FinalResult = { kind: "ok" } | { kind: "error" } | { kind: "cme"; code: number } | { kind: "text"; text: string } | { kind: "none" };

/** One AT interpreter on one byte link. */
export class AtPort {
  /** ATE: echo command lines back. */
  echo = true;
  /** ATV: verbose (text) result codes. */
  verbose = true;
  /** ATQ: suppress result codes. */
  quiet = false;
  /** AT+CMEE: 0 plain ERROR, 1 numeric, 2 verbose. */
  cmee = 0;
  /** AT+CEREG=<n>: 0 no URC, 1 stat, 2+ stat and location. */
  ceregMode = 0;

  readonly modem: VirtualModem;
  readonly #link: ByteLink;
  readonly #assembler: CommandLineAssembler;
  #inbox: Uint8Array | undefined;
  #inboxOffset = 0;
  #executing = false;
  #pumping = false;
  #closed = false;
  #raw: RawRequest | undefined;
  #sink: RawSink | undefined;
  #urcQueue: string[] = [];

  constructor(modem: VirtualModem, link: ByteLink) {
    this.modem = modem;
    this.echo = modem.dialect.portDefaults?.echo ?? true;
    this.#link = link;
    this.#assembler = new CommandLineAssembler(modem.maxLineLength, modem.dialect.lineTermination ?? "cr");
    link.onReadable = () => this.#pump();
    link.onClose = () => this.#shutDown();
    // Bytes may already be waiting on the link.
    void Promise.resolve().then(() => this.#pump());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** ATZ / AT&F / modem reset: back to power-on settings. */
  resetSettings(): void {
    this.echo = this.modem.dialect.portDefaults?.echo ?? true;
    this.verbose = true;
    this.quiet = false;
    this.cmee = 0;
    this.ceregMode = 0;
  }

  /** The +CEREG URC this port wants for the current registration, per its AT+CEREG mode. */
  registrationUrc(): string | undefined {
    if (this.ceregMode === 0) return undefined;
    return `+CEREG: ${this.registrationFields()}`;
  }

  /** `<stat>[,"<tac>","<ci>",<AcT>]` (location only for mode >= 2 while registered). */
  registrationFields(): string {
    const modem = this.modem;
    let text = String(modem.registrationStatus);
    if (this.ceregMode >= 2 && modem.registered) text += `,"${modem.network.trackingAreaCode}","${modem.network.cellId}",7`;
    return text;
  }

  /** Writes an unsolicited result code now, or after the running command's final result code. */
  sendUrc(line: string): void {
    if (this.#closed) return;
    if (this.#sink) return; // data mode: notifications are dropped (as the nRF91 SLM does)
    if (this.#executing || this.#raw) {
      if (this.#urcQueue.length >= MAX_QUEUED_URCS) this.#urcQueue.shift();
      this.#urcQueue.push(line);
      return;
    }
    this.#writeText(this.#frameLine(line));
  }

  /** Writes text as is, unframed (boot banners such as the SLM's "Ready\r\n"). */
  sendText(text: string): void {
    if (this.#closed) return;
    this.#writeText(text);
  }

  /** Closes the link (the port detaches when the close is reported). */
  close(): void {
    try {
      this.#link.close();
    } finally {
      this.#shutDown();
    }
  }

  // --- input ---

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#closed) {
        if (this.#raw) {
          if (!this.#fillRaw(this.#raw)) return;
          continue;
        }
        if (this.#sink) {
          if (!this.#feedSink(this.#sink)) return;
          continue;
        }
        if (this.#executing) return;
        if (!this.#inbox) {
          const chunk = this.#link.read(INPUT_CHUNK);
          if (!chunk || chunk.length === 0) return;
          this.modem.hooks.onTraffic?.("in", chunk, this);
          this.#inbox = chunk;
          this.#inboxOffset = 0;
        }
        const { next, line } = this.#assembler.push(this.#inbox, this.#inboxOffset);
        if (next >= this.#inbox.length) this.#inbox = undefined;
        else this.#inboxOffset = next;
        if (line) this.#handleLine(line);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Moves waiting bytes into a raw read; false when none are waiting. */
  #fillRaw(request: RawRequest): boolean {
    const wanted = request.buffer.length - request.filled;
    let chunk: Uint8Array | undefined;
    if (this.#inbox) {
      chunk = this.#inbox.subarray(this.#inboxOffset, Math.min(this.#inbox.length, this.#inboxOffset + wanted));
      this.#inboxOffset += chunk.length;
      if (this.#inboxOffset >= this.#inbox.length) this.#inbox = undefined;
    } else {
      chunk = this.#link.read(wanted);
      if (!chunk || chunk.length === 0) return false;
      this.modem.hooks.onTraffic?.("in", chunk, this);
    }
    request.buffer.set(chunk, request.filled);
    request.filled += chunk.length;
    if (request.filled === request.buffer.length) {
      this.#raw = undefined;
      this.modem.platform.clearTimer(request.timer);
      request.resolve(request.buffer);
    }
    return true;
  }

  /** Sends every input byte to `sink` until it says data mode is over (see RawSink). */
  startRawSink(sink: RawSink): void {
    if (this.#closed) return;
    this.#sink = sink;
    void Promise.resolve().then(() => this.#pump());
  }

  /** Ends data mode from the modem's side (e.g. the socket under it closed). */
  stopRawSink(): void {
    this.#sink = undefined;
    void Promise.resolve().then(() => this.#pump());
  }

  get inDataMode(): boolean {
    return this.#sink !== undefined;
  }

  /** Gives waiting input to the sink; false when no input is waiting. */
  #feedSink(sink: RawSink): boolean {
    let chunk: Uint8Array;
    let fromInbox = false;
    if (this.#inbox) {
      chunk = this.#inbox.subarray(this.#inboxOffset);
      fromInbox = true;
    } else {
      const read = this.#link.read(INPUT_CHUNK);
      if (!read || read.length === 0) return false;
      this.modem.hooks.onTraffic?.("in", read, this);
      chunk = read;
    }
    const { consumed, done } = sink(chunk);
    const taken = Math.max(0, Math.min(chunk.length, Math.floor(consumed)));
    if (fromInbox) {
      this.#inboxOffset += taken;
      if (this.#inboxOffset >= this.#inbox!.length) this.#inbox = undefined;
    } else if (taken < chunk.length) {
      this.#inbox = chunk;
      this.#inboxOffset = taken;
    }
    if (done && this.#sink === sink) this.#sink = undefined;
    return true;
  }

  #readData(count: number, timeoutMs: number): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new LinkClosedError());
    if (this.#raw) return Promise.reject(new Error("a data read is already in progress"));
    if (!Number.isInteger(count) || count < 0) return Promise.reject(new RangeError(`cannot read ${count} bytes`));
    if (count === 0) return Promise.resolve(new Uint8Array(0));
    return new Promise((resolve, reject) => {
      const timer = this.modem.platform.setTimer(() => {
        if (this.#raw !== request) return;
        this.#raw = undefined;
        reject(new DataTimeoutError(`received ${request.filled} of ${count} data bytes in ${timeoutMs} ms`));
      }, timeoutMs);
      const request: RawRequest = { buffer: new Uint8Array(count), filled: 0, resolve, reject, timer };
      this.#raw = request;
      this.#pump();
    });
  }

  #handleLine(line: AssembledLine): void {
    if (line.kind === "overflow") {
      this.modem.platform.log("debug", "modem", `command line longer than ${this.modem.maxLineLength} bytes discarded`);
      this.#writeFinal({ kind: "error" });
      return;
    }
    if (this.echo) this.#write(concatBytes(line.bytes, Uint8Array.of(0x0d)));
    const body = commandLineBody(bytesToAscii(line.bytes));
    if (body === undefined) return; // no "AT": line noise, ignored as V.250 says
    let commands: AtCommand[];
    try {
      commands = parseCommandLine(body);
    } catch (error) {
      if (!(error instanceof AtSyntaxError)) throw error;
      this.modem.platform.log("debug", "modem", error.message);
      this.#writeFinal({ kind: "error" });
      return;
    }
    this.#executing = true;
    void this.#execute(commands).then(
      () => this.#finishCommand(),
      (error: unknown) => {
        this.modem.platform.log("error", "modem", `command line failed: ${String(error)}`);
        this.#finishCommand();
      },
    );
  }

  #finishCommand(): void {
    this.#executing = false;
    const queued = this.#urcQueue;
    this.#urcQueue = [];
    for (const urc of queued) this.sendUrc(urc);
    this.#pump();
  }

  async #execute(commands: AtCommand[]): Promise<void> {
    let final: FinalResult = { kind: "ok" };
    const afterFinal: (() => void)[] = [];
    for (const command of commands) {
      let replacement: string | null | undefined;
      const context: CommandContext = {
        modem: this.modem,
        port: this,
        info: (line) => this.#writeText(this.#frameLine(line)),
        raw: (bytes) => this.#write(bytes),
        readData: (count, timeoutMs) => this.#readData(count, timeoutMs),
        setFinalResult: (result) => {
          replacement = result;
        },
        afterFinalResult: (action) => {
          afterFinal.push(action);
        },
      };
      try {
        const handler = this.modem.commandHandler(command.name);
        if (!handler) throw new AtSyntaxError(`unknown command ${command.name}`);
        await this.modem.hooks.beforeCommand?.(command, this);
        await handler(context, command);
        if (replacement !== undefined) final = replacement === null ? { kind: "none" } : { kind: "text", text: replacement };
      } catch (error) {
        if (error instanceof CmeError) {
          final = { kind: "cme", code: error.code };
          this.modem.platform.log("debug", "modem", `${command.name}: ${error.message}`);
        } else if (error instanceof AtSyntaxError) {
          final = { kind: "error" };
          this.modem.platform.log("debug", "modem", `${command.name}: ${error.message}`);
        } else {
          final = { kind: "error" };
          this.modem.platform.log("error", "modem", `${command.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        }
        break;
      }
    }
    this.#writeFinal(final);
    for (const action of afterFinal) {
      try {
        action();
      } catch (error) {
        this.modem.platform.log("error", "modem", `after-result action failed: ${String(error)}`);
      }
    }
  }

  // --- output ---

  /** An information line or URC: `\r\n<line>\r\n` (ATV1) or `<line>\r\n` (ATV0). */
  #frameLine(line: string): string {
    return this.verbose ? `\r\n${line}\r\n` : `${line}\r\n`;
  }

  #writeFinal(result: FinalResult): void {
    if (result.kind === "none" || this.quiet) return;
    let text: string;
    if (result.kind === "ok") text = this.verbose ? "\r\nOK\r\n" : "0\r";
    else if (result.kind === "error" || (result.kind === "cme" && this.cmee === 0)) text = this.verbose ? "\r\nERROR\r\n" : "4\r";
    else if (result.kind === "cme") text = this.#frameLine(`+CME ERROR: ${this.cmee === 1 ? result.code : cmeText(result.code)}`);
    else text = this.#frameLine(result.text);
    this.#writeText(text);
  }

  #writeText(text: string): void {
    this.#write(asciiToBytes(text));
  }

  #write(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.modem.hooks.onTraffic?.("out", bytes, this);
    try {
      this.#link.write(bytes);
    } catch (error) {
      if (!(error instanceof LinkClosedError)) throw error;
      this.#shutDown();
    }
  }

  #shutDown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#urcQueue = [];
    this.#sink = undefined;
    const raw = this.#raw;
    this.#raw = undefined;
    if (raw) {
      this.modem.platform.clearTimer(raw.timer);
      raw.reject(new LinkClosedError());
    }
    this.modem.detach(this);
  }
}
