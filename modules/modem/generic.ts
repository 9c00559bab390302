/**
 * The 3GPP TS 27.007 base of every modem driver: power-on synchronisation, echo off, numeric
 * errors, SIM readiness, identity, attach (radio, PDP context, registration by polling and URC),
 * network time, signal quality, SIM access, the recovery ladder, and the socket registry that
 * vendor dialects fill in (each dialect is a subclass that overrides the protected hooks).
 *
 * ```ts
 * const modem = createModem("quectel-bg95", at, platform, hooks);
 * await modem.init({ pin });
 * await modem.attach({ apn: "iot.example" });
 * const socket = await modem.openTcp("cloud.example", 8883);   // a TlsTransport
 * ```
 *
 * UART discipline: one AT command outstanding (the AtEngine's queue); sockets are read in pull
 * mode (a URC only marks "data waiting"; read(N) asks the modem for at most N bytes).
 */
import { AtCmeError, AtCommandError, type AtEngine, AtResyncError, type AtResponse, type AtSendOptions, AtTimeoutError } from "../at/index.js";
import type { Platform, TimerHandle } from "../platform/platform.js";
import { sleep, TimeoutError, withTimeout } from "../platform/time.js";
import {
  ModemError,
  ModemRecoveryError,
  ModemResponseError,
  ModemUnsupportedError,
  NetworkTimeUnavailableError,
  NoCoverageError,
  SimLockedError,
  SimNotReadyError,
  SocketLostError,
  SocketOpenError,
} from "./errors.js";
import { checkQuotable, fieldsOf, integerField, lineWith, parseClock, quoteForError, splitFields } from "./parse.js";
import { PullSocket, type ReceiveResult, type SocketOperations } from "./socket.js";
import type {
  AttachOptions,
  AttachResult,
  BoardHooks,
  InitOptions,
  Modem,
  ModemDialectName,
  ModemEvent,
  ModemIdentity,
  ModemSocket,
  OpenTcpOptions,
  RecoveryStep,
  SignalQuality,
  SimAccessSupport,
  SimCommandPort,
  SocketCloseReason,
} from "./types.js";

export { ModemError, SimLockedError } from "./errors.js";
export type { InitOptions, ModemIdentity } from "./types.js";

/** The facts of one modem family that the generic code needs (vendor dialects fill them in). */
export interface DialectProfile {
  readonly name: ModemDialectName;
  /** Lines the modem prints when it has (re)booted; seeing one unasked means it reset. */
  readonly bootUrcs: readonly string[];
  /** False for modems that refuse ATE (nRF91 SLM never echoes). */
  readonly echoOff: boolean;
  /** The cid of the PDP context used for data (Nordic uses 0, the default bearer). */
  readonly cid: number;
  readonly simAccess: SimAccessSupport;
  readonly maxSendChunk: number;
  readonly maxReadChunk: number;
  /** ICCID commands in the order to try, with their answer prefix (bare line when undefined). */
  readonly iccidCommands: readonly { command: string; prefix?: string }[];
  /** Command that restarts the modem (answers OK, then reboots). */
  readonly softResetCommand: string | undefined;
  /** How long a (re)boot may take before the modem answers AT. */
  readonly bootTimeoutMs: number;
  /** Default socket connect timeout. */
  readonly connectTimeoutMs: number;
  /** Default data context activation timeout. */
  readonly activationTimeoutMs: number;
  /** The APN goes with the LTE attach (no activation command): a denied registration may mean a refused APN. */
  readonly apnAtAttach?: boolean;
  /** How often an idle socket asks the modem for data when no URC announces it (default 2000 ms). */
  readonly socketPollMs?: number;
  /** Default watchdog period (ModemOptions.healthCheckMs) for families whose resets go unannounced. */
  readonly healthCheckMs?: number;
}

export const GENERIC_PROFILE: DialectProfile = {
  name: "generic",
  bootUrcs: [],
  echoOff: true,
  cid: 1,
  simAccess: { csim: true, cgla: true, order: ["csim", "cgla"] },
  maxSendChunk: 1024,
  maxReadChunk: 1024,
  iccidCommands: [{ command: "AT+CCID", prefix: "+CCID:" }, { command: "AT+QCCID", prefix: "+QCCID:" }, { command: "AT+ICCID", prefix: "+ICCID:" }],
  softResetCommand: "AT+CFUN=1,1",
  bootTimeoutMs: 15000,
  connectTimeoutMs: 150000,
  activationTimeoutMs: 150000,
};

export interface RecoveryOptions {
  /** Rounds of the whole ladder before giving up (default 3). */
  rounds?: number;
  /** Pause after the first failed round, doubled after each (default 2000 ms). */
  backoffMs?: number;
  /** Longest pause between rounds (default 60000 ms). */
  maxBackoffMs?: number;
  /** How long an afterReset handler may run (default 60000 ms). */
  afterResetTimeoutMs?: number;
}

export interface ModemOptions {
  /** Board power key / reset pin. */
  hooks?: BoardHooks;
  /** Run the recovery ladder on its own when the modem reboots, loses the data context or stops answering (default true). */
  autoRecover?: boolean;
  recovery?: RecoveryOptions;
  /** How often attach polls AT+CEREG? besides listening for +CEREG URCs (default 2000 ms). */
  registrationPollMs?: number;
  /** SIM busy (+CME ERROR: 14) retries of simPort commands (default 5, 300 ms apart, doubling). */
  simBusyRetries?: number;
  /** Pause after a boot URC before re-initialising (the modem prints more boot lines meanwhile; default 1000 ms). */
  bootSettleMs?: number;
  /** How long a (re)boot may take before the modem answers AT; default the family's. */
  bootTimeoutMs?: number;
  /**
   * Every this many ms, check that the modem still answers and kept its settings (a watchdog
   * for resets nobody announces). Default: the family's (30000 for u-blox, which prints no boot URC; else off).
   */
  healthCheckMs?: number;
  timeouts?: {
    /** Ordinary commands (default 5000 ms). */
    commandMs?: number;
    /** Commands that carry socket data: this plus 1 ms per byte (default 10000 ms). */
    dataBaseMs?: number;
  };
}

const STEPS: readonly RecoveryStep[] = ["resync", "reinit", "reactivate", "soft-reset", "hard-reset"];

/** Ordinary commands: 27.007 answers within a few seconds. */
const SHORT_TIMEOUT_MS = 5000;

/** The first information line's value, without a prefix such as "+CGMM: " and without quotes. */
function firstValue(lines: readonly string[], prefix?: string): string {
  for (const line of lines) {
    const text = prefix && line.startsWith(prefix) ? line.slice(prefix.length) : line;
    const trimmed = text.trim().replace(/^"(.*)"$/, "$1");
    if (trimmed) return trimmed;
  }
  return "";
}

/** Time to allow for a command that carries `bytes` of data over a slow UART: a base plus 1 ms per byte (9600 baud). */
export function dataTimeoutMs(bytes: number, baseMs = 10000): number {
  return baseMs + bytes;
}

export class GenericModem implements Modem, SocketOperations {
  readonly dialect: ModemDialectName;
  readonly simAccess: SimAccessSupport;
  readonly maxSendChunk: number;
  readonly maxReadChunk: number;
  readonly simPort: SimCommandPort;
  protected readonly profile: DialectProfile;
  protected readonly options: ModemOptions;
  protected readonly sockets = new Map<number, PullSocket>();

  #unsubscribe: (() => void)[] = [];
  #urcWaiters: ((line: string) => void)[] = [];
  #listeners: ((event: ModemEvent) => void)[] = [];
  #afterReset: (() => Promise<void>)[] = [];
  #registrationWaiters: (() => void)[] = [];
  #lastRegistration: number | undefined;
  #initOptions: InitOptions | undefined;
  #attachOptions: AttachOptions | undefined;
  #recovery: Promise<RecoveryStep> | undefined;
  /** A reset happened since the last successful recovery: afterReset handlers are due. */
  #resetPending = false;
  #expectingBoot = false;
  /** afterReset handlers are running: their own commands must not wait for the recovery they are part of. */
  #inAfterReset = false;
  #bootWaiters: (() => void)[] = [];
  #bootTimer: TimerHandle | undefined;
  #healthTimer: TimerHandle | undefined;
  #disposed = false;

  constructor(
    readonly at: AtEngine,
    readonly platform: Platform,
    options: ModemOptions = {},
    profile: DialectProfile = GENERIC_PROFILE,
  ) {
    this.profile = profile;
    this.options = options;
    this.dialect = profile.name;
    this.simAccess = profile.simAccess;
    this.maxSendChunk = profile.maxSendChunk;
    this.maxReadChunk = profile.maxReadChunk;
    this.simPort = { send: (command, sendOptions) => this.#simSend(command, sendOptions ?? {}) };
    this.subscribe("+CEREG:", (line) => this.#onRegistrationUrc(line));
    for (const urc of profile.bootUrcs) this.subscribe(urc, (line) => this.#onBootUrc(line));
  }

  // ---- events ----

  onEvent(listener: (event: ModemEvent) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  afterReset(handler: () => Promise<void>): () => void {
    this.#afterReset.push(handler);
    return () => {
      this.#afterReset = this.#afterReset.filter((h) => h !== handler);
    };
  }

  protected emit(event: ModemEvent): void {
    for (const listener of this.#listeners.slice()) {
      try {
        listener(event);
      } catch (error) {
        this.log("warn", `event listener failed: ${(error as Error).message}`);
      }
    }
  }

  protected log(level: "debug" | "info" | "warn" | "error", message: string): void {
    this.platform.log(level, "modem", message);
  }

  /** Registers a URC handler for the modem's lifetime (removed by dispose()); waiters see the line first. */
  protected subscribe(prefix: string, handler: (line: string) => void): void {
    this.#unsubscribe.push(
      this.at.onUrc(prefix, (line) => {
        for (const waiter of this.#urcWaiters.slice()) waiter(line);
        handler(line);
      }),
    );
  }

  /**
   * Waits for a URC (of a subscribed prefix) that `match` accepts. Register before sending the
   * command that provokes it: the URC can arrive in the same chunk as the command's OK.
   */
  protected waitForUrc<T>(match: (line: string) => T | undefined, timeoutMs: number, makeError: () => Error): { promise: Promise<T>; cancel(): void } {
    let cancel!: () => void;
    const promise = new Promise<T>((resolve, reject) => {
      const finish = (): void => {
        this.platform.clearTimer(timer);
        this.#urcWaiters = this.#urcWaiters.filter((w) => w !== waiter);
      };
      const waiter = (line: string): void => {
        let value: T | undefined;
        try {
          value = match(line);
        } catch {
          value = undefined;
        }
        if (value === undefined) return;
        finish();
        resolve(value);
      };
      const timer = this.platform.setTimer(() => {
        finish();
        reject(makeError());
      }, timeoutMs);
      cancel = () => {
        finish();
        reject(new ModemError("wait cancelled"));
      };
      this.#urcWaiters.push(waiter);
    });
    promise.catch(() => undefined);
    return { promise, cancel };
  }

  /** at.send with a default timeout; the single place commands go through. */
  protected command(command: string, options: AtSendOptions = {}): Promise<AtResponse> {
    return this.at.send(command, { timeoutMs: this.options.timeouts?.commandMs ?? SHORT_TIMEOUT_MS, ...options });
  }

  /** Timeout of a command that carries `bytes` of socket data. */
  protected dataTimeout(bytes: number): number {
    return dataTimeoutMs(bytes, this.options.timeouts?.dataBaseMs);
  }

  /** A read-only query: retried once after a timeout (the engine resynchronised meanwhile). */
  protected async query(command: string, options: AtSendOptions = {}): Promise<AtResponse> {
    try {
      return await this.command(command, options);
    } catch (error) {
      if (!(error instanceof AtTimeoutError)) throw this.#noteFailure(error);
      return await this.command(command, options).catch((again: unknown) => {
        throw this.#noteFailure(again);
      });
    }
  }

  // ---- init, SIM, identity ----

  async init(options: InitOptions = {}): Promise<void> {
    this.#initOptions = { ...options };
    await this.#synchronise(this.#bootTimeoutMs());
    if (this.profile.echoOff) await this.command("ATE0");
    await this.command("AT+CMEE=1");
    await this.afterInit();
    await this.waitForSim(options);
    this.#armHealthCheck();
  }

  #armHealthCheck(): void {
    const interval = this.options.healthCheckMs ?? this.profile.healthCheckMs ?? 0;
    if (interval <= 0 || this.#disposed || this.at.isClosed || this.#healthTimer !== undefined) return;
    this.#healthTimer = this.platform.setTimer(() => {
      this.#healthTimer = undefined;
      if (this.#disposed || this.at.isClosed) return;
      const check = this.#recovery ? Promise.resolve() : this.#checkConfigured().catch((error: unknown) => void this.#noteFailure(error));
      void check.then(() => this.#armHealthCheck());
    }, interval);
  }

  /** Dialect hook after ATE0/CMEE and before the SIM check (e.g. power the UICC on). */
  protected async afterInit(): Promise<void> {}

  /** Sends AT until OK, for up to `budgetMs` (a booting modem ignores its UART for seconds). */
  async #synchronise(budgetMs: number): Promise<void> {
    const deadline = this.platform.now() + budgetMs;
    for (;;) {
      try {
        await this.at.resync();
        return;
      } catch (error) {
        if (!(error instanceof AtResyncError) || this.platform.now() >= deadline) throw error;
      }
    }
  }

  async waitForSim(options: InitOptions = {}): Promise<void> {
    const deadline = this.platform.now() + (options.simReadyTimeoutMs ?? 20000);
    let pinSent = false;
    let lastProblem = "no answer";
    for (;;) {
      let state: string | undefined;
      try {
        state = firstValue((await this.query("AT+CPIN?", { prefix: "+CPIN:" })).lines, "+CPIN:");
      } catch (error) {
        if (!(error instanceof AtCmeError)) throw error;
        if (error.code === 10) throw new SimNotReadyError("no SIM inserted (+CME ERROR: 10)", { cause: error });
        if (error.code === 11) state = "SIM PIN";
        else if (error.code === 12) state = "SIM PUK";
        else if (error.code !== 13 && error.code !== 14) throw error;
        else lastProblem = error.code === 14 ? "SIM busy" : "SIM failure";
      }
      if (state === "READY") return;
      if (state === "SIM PIN" && options.pin !== undefined && !pinSent) {
        pinSent = true;
        checkPin(options.pin);
        try {
          await this.command(`AT+CPIN="${options.pin}"`, { timeoutMs: 15000 });
        } catch (error) {
          if (error instanceof AtCmeError && error.code === 16) throw new SimLockedError("SIM PIN", "the SIM refused the PIN (+CME ERROR: 16 incorrect password)");
          throw error;
        }
        continue;
      }
      if (state === "SIM PIN" && pinSent) throw new SimLockedError("SIM PIN", "the SIM still asks for its PIN after it was entered");
      if (state !== undefined && state !== "") throw new SimLockedError(state);
      if (this.platform.now() >= deadline) throw new SimNotReadyError(`SIM not ready before the timeout (${lastProblem})`);
      await sleep(this.platform, 500);
    }
  }

  async identity(): Promise<ModemIdentity> {
    const ask = async (command: string, prefix?: string): Promise<string> => firstValue((await this.query(command, prefix ? { prefix } : {})).lines, prefix);
    const manufacturer = await ask("AT+CGMI");
    const model = await ask("AT+CGMM");
    const firmware = (await ask("AT+CGMR")).replace(/^Revision:\s*/i, "");
    const imeiText = await ask("AT+CGSN");
    const imei = /^\D{0,12}(\d{14,17})$/.exec(imeiText.replace(/"/g, ""))?.[1];
    if (!imei) throw new ModemResponseError(`AT+CGSN answered ${quoteForError(imeiText)}, not an IMEI`);
    const imsiText = await ask("AT+CIMI");
    if (!/^\d{6,15}$/.test(imsiText)) throw new ModemResponseError(`AT+CIMI answered ${quoteForError(imsiText)}, not an IMSI`);
    return { manufacturer, model, firmware, imei, iccid: await this.readIccid(), imsi: imsiText };
  }

  /** Tries the family's ICCID commands in order; the first answer that holds an ICCID wins. */
  protected async readIccid(): Promise<string> {
    let lastError: unknown;
    for (const { command, prefix } of this.profile.iccidCommands) {
      try {
        const lines = (await this.query(command, prefix ? { prefix } : {})).lines;
        for (const line of lines) {
          const text = prefix && line.startsWith(prefix) ? line.slice(prefix.length) : line;
          // Bare, quoted, or behind a vendor prefix the table did not name ("+CCID: 89...").
          const iccid = /^\s*(?:[+%#^][A-Z]+:\s*)?"?([0-9]{18,21}[0-9Ff]?)"?(?:,.*)?$/.exec(text)?.[1];
          if (iccid) return iccid.toUpperCase();
        }
        lastError = new ModemResponseError(`${command} answered no ICCID`);
      } catch (error) {
        if (!(error instanceof AtCommandError)) throw error;
        lastError = error;
      }
    }
    throw new ModemResponseError(`no ICCID: ${(lastError as Error | undefined)?.message ?? "no command"}`, { cause: lastError });
  }

  // ---- attach ----

  async attach(options: AttachOptions): Promise<AttachResult> {
    checkQuotable(options.apn, "APN", 100);
    if (options.user !== undefined) checkQuotable(options.user, "user", 64);
    if (options.password !== undefined) checkQuotable(options.password, "password", 64);
    await this.#waitForRecovery();
    const result = await this.#attach(options);
    this.#attachOptions = { ...options };
    return result;
  }

  async #attach(options: AttachOptions): Promise<AttachResult> {
    await this.configureRadio();
    await this.command("AT+CEREG=1");
    const type = options.pdpType ?? "IP";
    if (!(await this.#contextIs(type, options.apn))) {
      // The LTE attach uses the context: change it with the radio off, so the next attach carries it.
      if ((await this.#functionality()) === 1) await this.command("AT+CFUN=4", { timeoutMs: 30000 });
      await this.command(`AT+CGDCONT=${this.profile.cid},"${type}","${options.apn}"`);
    }
    await this.command("AT+CFUN=1", { timeoutMs: 30000 });
    let registrationStatus: 1 | 5;
    try {
      registrationStatus = await this.waitForRegistration(options.registrationTimeoutMs ?? 180000);
    } catch (error) {
      if (error instanceof NoCoverageError && error.lastStatus === 3 && this.profile.apnAtAttach) {
        throw new NoCoverageError(`${error.message}: the network refused the attach, check the APN ${JSON.stringify(options.apn)} and the subscription`, 3);
      }
      throw error;
    }
    const ipAddress = await this.activateData(options, options.activationTimeoutMs ?? this.profile.activationTimeoutMs);
    return { registrationStatus, ipAddress };
  }

  /** Is the data cid already defined with this type and APN (AT+CGDCONT?)? */
  async #contextIs(type: string, apn: string): Promise<boolean> {
    let lines: readonly string[];
    try {
      ({ lines } = await this.query("AT+CGDCONT?", { prefix: "+CGDCONT:" }));
    } catch (error) {
      if (error instanceof AtCommandError) return false; // cannot tell: set it
      throw error;
    }
    for (const line of lines) {
      const fields = fieldsOf(line, "+CGDCONT:");
      if (integerField(fields, 0, 0, 255, "+CGDCONT cid") !== this.profile.cid) continue;
      return fields[1]?.value.toUpperCase() === type && (fields[2]?.value ?? "") === apn;
    }
    return false;
  }

  /** AT+CFUN? level; undefined when the modem does not say. */
  async #functionality(): Promise<number | undefined> {
    try {
      const { lines } = await this.query("AT+CFUN?", { prefix: "+CFUN:" });
      return integerField(fieldsOf(lineWith(lines, "+CFUN:", "AT+CFUN?"), "+CFUN:"), 0, 0, 255, "+CFUN <fun>");
    } catch (error) {
      if (error instanceof AtCommandError || error instanceof ModemResponseError) return undefined;
      throw error;
    }
  }

  /** Dialect hook before the radio goes on (RAT selection and the like). */
  protected async configureRadio(): Promise<void> {}

  /**
   * Dialect hook: activate the data context the modem's IP stack uses (AT+QIACT, AT+CNACT,
   * AT+UPSDA...). Idempotent: an already active context is left as it is. Resolves with the IP
   * address when the modem reports one. The generic 27.007 modem has nothing to do (the LTE
   * default bearer comes with the attach).
   */
  protected async activateData(_options: AttachOptions, _timeoutMs: number): Promise<string | undefined> {
    return undefined;
  }

  /** Dialect hook: is the data context still up? The generic answer: still registered. */
  protected async isDataActive(): Promise<boolean> {
    return this.#isRegistered(await this.#readRegistration());
  }

  /** Dialect hook: deactivate the data context. */
  protected async deactivateData(): Promise<void> {}

  async detach(): Promise<void> {
    this.#attachOptions = undefined;
    for (const socket of [...this.sockets.values()]) await socket.close();
    await this.deactivateData();
    await this.command("AT+CFUN=4", { timeoutMs: 30000 });
  }

  /** Waits for registration (home 1 or roaming 5), polling AT+CEREG? and listening to +CEREG URCs. */
  protected async waitForRegistration(timeoutMs: number): Promise<1 | 5> {
    const deadline = this.platform.now() + timeoutMs;
    const pollMs = this.options.registrationPollMs ?? 2000;
    for (;;) {
      const status = await this.#readRegistration();
      if (this.#isRegistered(status)) return status as 1 | 5;
      if (status === 3) throw new NoCoverageError("the network denied registration (+CEREG status 3)", status);
      const left = deadline - this.platform.now();
      if (left <= 0) {
        const meaning = status === 2 ? "still searching: no coverage?" : status === 0 ? "not searching" : `status ${status}`;
        throw new NoCoverageError(`not registered within ${timeoutMs} ms (${meaning})`, status);
      }
      await this.#waitRegistrationUrc(Math.min(pollMs, left));
      if (this.#isRegistered(this.#lastRegistration)) return this.#lastRegistration as 1 | 5;
      if (this.#lastRegistration === 3) throw new NoCoverageError("the network denied registration (+CEREG status 3)", 3);
    }
  }

  #isRegistered(status: number | undefined): boolean {
    return status === 1 || status === 5;
  }

  async #readRegistration(): Promise<number> {
    const { lines } = await this.query("AT+CEREG?", { prefix: "+CEREG:" });
    // A +CEREG URC can land among the answer lines: the read form has an unquoted <stat> second.
    let urcStatus: number | undefined;
    for (const line of lines) {
      const fields = fieldsOf(line, "+CEREG:");
      if (fields.length >= 2 && !fields[1]!.quoted && fields[1]!.value !== "") {
        this.#lastRegistration = integerField(fields, 1, 0, 11, "+CEREG <stat>");
        return this.#lastRegistration;
      }
      urcStatus = integerField(fields, 0, 0, 11, "+CEREG <stat>");
    }
    if (urcStatus === undefined) throw new ModemResponseError("AT+CEREG? answered no +CEREG line");
    this.#lastRegistration = urcStatus;
    return urcStatus;
  }

  #onRegistrationUrc(line: string): void {
    let status: number;
    try {
      status = integerField(fieldsOf(line, "+CEREG:"), 0, 0, 11, "+CEREG <stat>");
    } catch (error) {
      this.log("debug", `ignored ${quoteForError(line)}: ${(error as Error).message}`);
      return;
    }
    this.#lastRegistration = status;
    this.emit({ type: "registration", status });
    const waiters = this.#registrationWaiters;
    this.#registrationWaiters = [];
    for (const wake of waiters) wake();
  }

  #waitRegistrationUrc(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.platform.setTimer(() => {
        this.#registrationWaiters = this.#registrationWaiters.filter((w) => w !== wake);
        resolve();
      }, ms);
      const wake = (): void => {
        this.platform.clearTimer(timer);
        resolve();
      };
      this.#registrationWaiters.push(wake);
    });
  }

  // ---- time, signal ----

  async networkTime(): Promise<Date> {
    const { lines } = await this.query("AT+CCLK?", { prefix: "+CCLK:" });
    const line = lineWith(lines, "+CCLK:", "AT+CCLK?");
    const date = parseClock(line.slice("+CCLK:".length).trim());
    // Before network time arrives modems show their epoch (1980, 2000, 2004...).
    if (date.getUTCFullYear() < 2020) throw new NetworkTimeUnavailableError(`the modem has no network time yet (clock shows ${date.toISOString()})`);
    return date;
  }

  async signalQuality(): Promise<SignalQuality> {
    const { lines } = await this.query("AT+CSQ", { prefix: "+CSQ:" });
    const fields = fieldsOf(lineWith(lines, "+CSQ:", "AT+CSQ"), "+CSQ:");
    const rssiRaw = integerField(fields, 0, 0, 99, "+CSQ <rssi>");
    const berRaw = integerField(fields, 1, 0, 99, "+CSQ <ber>");
    if (rssiRaw > 31 && rssiRaw !== 99) throw new ModemResponseError(`+CSQ <rssi> ${rssiRaw} is outside 0..31 and 99`);
    const rssi = rssiRaw === 99 ? undefined : rssiRaw;
    return { rssi, dbm: rssi === undefined ? undefined : -113 + 2 * rssi, ber: berRaw > 7 ? undefined : berRaw };
  }

  // ---- SIM access ----

  async #simSend(command: string, options: { prefix?: string; timeoutMs?: number }): Promise<AtResponse> {
    await this.#waitForRecovery();
    const retries = this.options.simBusyRetries ?? 5;
    let pause = 300;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.at.send(command, { timeoutMs: 10000, ...options });
      } catch (error) {
        if (!(error instanceof AtCmeError) || error.code !== 14 || attempt >= retries) throw this.#noteFailure(error);
        this.log("debug", `SIM busy; retrying in ${pause} ms`);
        await sleep(this.platform, pause);
        pause = Math.min(pause * 2, 5000);
      }
    }
  }

  // ---- sockets ----

  async openTcp(host: string, port: number, options: OpenTcpOptions = {}): Promise<ModemSocket> {
    checkQuotable(host, "host", 128);
    if (host.length === 0 || host.includes(",")) throw new RangeError("host must be a non-empty name or address without commas");
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port ${port} is outside 1..65535`);
    await this.#waitForRecovery();
    const timeoutMs = options.connectTimeoutMs ?? this.profile.connectTimeoutMs;
    let id: number;
    try {
      id = await this.openSocketOnModem(host, port, timeoutMs);
    } catch (error) {
      throw this.#noteFailure(error);
    }
    const socket = new PullSocket(id, host, port, this, this.platform, {
      pollIntervalMs: options.pollIntervalMs ?? this.profile.socketPollMs ?? 2000,
      ...(options.readTimeoutMs !== undefined ? { readTimeoutMs: options.readTimeoutMs } : {}),
    });
    this.sockets.set(id, socket);
    return socket;
  }

  /** Dialect hook: open a TCP connection; resolves with the modem's id for it. */
  protected async openSocketOnModem(_host: string, _port: number, _timeoutMs: number): Promise<number> {
    throw new ModemUnsupportedError(`the ${this.dialect} driver has no socket commands; choose the modem's dialect`);
  }

  /** The lowest id in [first, last] not held by an open socket; SocketOpenError when all are taken. */
  protected freeSocketId(first: number, last: number): number {
    for (let id = first; id <= last; id++) if (!this.sockets.has(id)) return id;
    throw new SocketOpenError(`all ${last - first + 1} sockets of the modem are in use`, "no-socket");
  }

  /** The socket behind a URC's id, if this driver opened it. */
  protected socketById(id: number): PullSocket | undefined {
    return this.sockets.get(id);
  }

  // SocketOperations: dialects override the three operations.
  async sendChunk(_socket: PullSocket, _chunk: Uint8Array): Promise<void> {
    throw new ModemUnsupportedError(`the ${this.dialect} driver has no socket commands`);
  }

  async receive(_socket: PullSocket, _maxBytes: number): Promise<ReceiveResult> {
    throw new ModemUnsupportedError(`the ${this.dialect} driver has no socket commands`);
  }

  async closeOnModem(_socket: PullSocket): Promise<void> {}

  released(socket: PullSocket, reason: SocketCloseReason): void {
    if (this.sockets.get(socket.id) === socket) this.sockets.delete(socket.id);
    this.emit({ type: "socket-closed", socketId: socket.id, reason });
  }

  /**
   * Wraps a socket operation: a failure may mean the modem reset behind our back (its socket is
   * gone and the command is refused), which is checked before the error is passed on.
   */
  protected async socketCommand<T>(socket: PullSocket, run: () => Promise<T>): Promise<T> {
    await this.#waitForRecovery();
    if (!socket.usable && socket.closeReason !== "local") throw new SocketLostError(`socket ${socket.id} was lost`, socket.id);
    try {
      return await run();
    } catch (error) {
      if ((error instanceof AtCommandError || error instanceof AtTimeoutError) && !this.#recovery) {
        // Refused or unanswered: is it because the modem rebooted (settings back to defaults)?
        await this.#checkConfigured().catch(() => undefined);
      }
      throw this.#noteFailure(error);
    }
  }

  // ---- data context loss and modem resets ----

  /** A dialect saw its "data context dropped" URC: sockets are gone; reactivate when recovering on our own. */
  protected dataContextLost(reason: string): void {
    this.log("warn", `data context lost: ${reason}`);
    for (const socket of [...this.sockets.values()]) socket.notifyLost("network");
    this.emit({ type: "data-context-lost", reason });
    if (this.#attachOptions && this.#autoRecover()) this.#recoverInBackground(reason, "reactivate");
  }

  /**
   * The modem rebooted (boot URC, lost settings, or a reset we made): every socket is lost. When
   * noticed outside a recovery (settings found lost), re-initialise on our own.
   */
  protected modemRebooted(reason: string, recoverNow = false): void {
    this.log("warn", `modem reset: ${reason}`);
    this.#resetPending = true;
    for (const socket of [...this.sockets.values()]) socket.notifyLost("lost");
    this.emit({ type: "reset", reason });
    if (recoverNow && this.#initOptions && this.#autoRecover() && !this.#recovery && !this.#expectingBoot) this.#recoverInBackground(reason, "reinit");
  }

  #onBootUrc(line: string): void {
    if (this.#disposed) return;
    const waiters = this.#bootWaiters;
    this.#bootWaiters = [];
    for (const wake of waiters) wake();
    if (this.#expectingBoot) return; // our own reset
    if (this.#bootTimer !== undefined) return; // a later line of the same boot (RDY, then APP RDY)
    this.modemRebooted(`the modem printed ${quoteForError(line)}`);
    // The command in flight went to the modem before it rebooted: its answer will never come, so
    // its caller (a socket read, say) learns now instead of at the command's timeout.
    this.at.abandonPending(`the modem rebooted (it printed ${quoteForError(line)})`);
    // More boot lines follow (RDY, then APP RDY...): let them pass, then re-initialise.
    this.#bootTimer = this.platform.setTimer(() => {
      this.#bootTimer = undefined;
      if (this.#initOptions && this.#autoRecover() && !this.#recovery) this.#recoverInBackground("the modem rebooted", "reinit");
    }, this.options.bootSettleMs ?? 1000);
  }

  #bootTimeoutMs(): number {
    return this.options.bootTimeoutMs ?? this.profile.bootTimeoutMs;
  }

  #autoRecover(): boolean {
    return !this.#disposed && this.options.autoRecover !== false;
  }

  /** Notes an error on its way out: a modem that stopped answering gets the recovery ladder. */
  #noteFailure(error: unknown): unknown {
    if (error instanceof AtResyncError && this.#initOptions && this.#autoRecover() && !this.#recovery) {
      this.#recoverInBackground("the modem stopped answering AT", "resync");
    }
    return error;
  }

  /** Checks that the modem kept the settings init() made (a silent reboot resets AT+CMEE to 0). */
  async #checkConfigured(): Promise<void> {
    if (!this.#initOptions) return;
    const { lines } = await this.command("AT+CMEE?", { prefix: "+CMEE:" });
    const mode = firstValue(lines, "+CMEE:");
    if (mode !== "1") {
      this.modemRebooted(`AT+CMEE is ${mode === "" ? "unset" : mode}: the modem lost its settings`, true);
      throw new ModemError("the modem lost its settings (it rebooted)");
    }
  }

  async #waitForRecovery(): Promise<void> {
    if (this.#inAfterReset) return;
    const running = this.#recovery;
    if (running) await running.catch(() => undefined);
  }

  // ---- recovery ladder ----

  recover(reason = "requested"): Promise<RecoveryStep> {
    return this.#startRecovery(reason, "resync");
  }

  #recoverInBackground(reason: string, from: RecoveryStep): void {
    this.#startRecovery(reason, from).catch((error: unknown) => this.log("error", `recovery failed: ${(error as Error).message}`));
  }

  #startRecovery(reason: string, from: RecoveryStep): Promise<RecoveryStep> {
    if (this.#recovery) return this.#recovery;
    const run = this.#runRecovery(reason, from);
    this.#recovery = run;
    const clear = (): void => {
      if (this.#recovery === run) this.#recovery = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  async #runRecovery(reason: string, from: RecoveryStep): Promise<RecoveryStep> {
    const recovery = this.options.recovery ?? {};
    const rounds = recovery.rounds ?? 3;
    let backoff = recovery.backoffMs ?? 2000;
    let start = STEPS.indexOf(from);
    let lastError: unknown;
    this.log("info", `recovering (${reason}) from step ${from}`);
    const gone = (): boolean => this.#disposed || this.at.isClosed;
    for (let round = 1; round <= rounds && !gone(); round++) {
      for (let index = start; index < STEPS.length && !gone(); index++) {
        const step = STEPS[index]!;
        if (step === "hard-reset" && !this.options.hooks?.hardReset) continue;
        if (step === "soft-reset" && !this.profile.softResetCommand) continue;
        try {
          await this.#recoveryStep(step);
          await this.#verifyHealthy();
          this.log("info", `recovered by step ${step}`);
          if (this.#resetPending) await this.#runAfterReset();
          this.emit({ type: "recovered", step });
          return step;
        } catch (error) {
          lastError = error;
          this.log("warn", `recovery step ${step} did not bring the modem back: ${(error as Error).message}`);
        }
      }
      start = 0;
      if (round < rounds && !gone()) {
        await sleep(this.platform, backoff);
        backoff = Math.min(backoff * 2, recovery.maxBackoffMs ?? 60000);
      }
    }
    const failure = new ModemRecoveryError(`the modem did not recover after ${rounds} rounds (${reason}): ${(lastError as Error | undefined)?.message ?? "disposed"}`, { cause: lastError });
    this.emit({ type: "recovery-failed", error: failure });
    throw failure;
  }

  async #recoveryStep(step: RecoveryStep): Promise<void> {
    switch (step) {
      case "resync":
        await this.at.resync();
        return;
      case "reinit":
        await this.#reinitialise();
        return;
      case "reactivate":
        await this.#reactivate();
        return;
      case "soft-reset":
        this.modemRebooted("soft reset by the recovery ladder");
        await this.#rebootAndWait(async () => {
          await this.command(this.profile.softResetCommand!, { timeoutMs: 15000 });
        });
        await this.#reinitialise();
        await this.#reactivate();
        return;
      case "hard-reset":
        this.modemRebooted("hard reset by the recovery ladder");
        await this.#rebootAndWait(() => this.options.hooks!.hardReset!());
        await this.#reinitialise();
        await this.#reactivate();
        return;
    }
  }

  async #reinitialise(): Promise<void> {
    const options = this.#initOptions ?? {};
    await this.#synchronise(this.#bootTimeoutMs());
    if (this.profile.echoOff) await this.command("ATE0");
    await this.command("AT+CMEE=1");
    await this.afterInit();
    await this.waitForSim(options);
  }

  async #reactivate(): Promise<void> {
    const options = this.#attachOptions;
    if (!options) return;
    if (await this.isDataActive().catch(() => false)) return;
    await this.#attach(options);
  }

  /** Runs `reset` and waits for the boot URC (or the boot time) and an answer to AT. */
  async #rebootAndWait(reset: () => Promise<void>): Promise<void> {
    this.#expectingBoot = true;
    try {
      const booted = this.profile.bootUrcs.length > 0 ? this.#waitForBootUrc(this.#bootTimeoutMs()) : undefined;
      await reset();
      if (booted) await booted;
      else await sleep(this.platform, Math.min(this.#bootTimeoutMs(), 5000));
      await this.#synchronise(this.#bootTimeoutMs());
    } finally {
      this.#expectingBoot = false;
    }
  }

  #waitForBootUrc(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.platform.setTimer(() => {
        this.#bootWaiters = this.#bootWaiters.filter((w) => w !== wake);
        resolve(); // no boot line: try AT anyway
      }, timeoutMs);
      const wake = (): void => {
        this.platform.clearTimer(timer);
        resolve();
      };
      this.#bootWaiters.push(wake);
    });
  }

  async #verifyHealthy(): Promise<void> {
    await this.#checkConfigured();
    if (this.#attachOptions && !(await this.isDataActive())) throw new ModemError("the data context is not active");
  }

  async #runAfterReset(): Promise<void> {
    this.#resetPending = false;
    const timeoutMs = this.options.recovery?.afterResetTimeoutMs ?? 60000;
    this.#inAfterReset = true;
    try {
      for (const handler of this.#afterReset.slice()) {
        try {
          await withTimeout(this.platform, handler(), timeoutMs, () => new TimeoutError(`afterReset handler took more than ${timeoutMs} ms`));
        } catch (error) {
          this.log("warn", `afterReset handler failed: ${(error as Error).message}`);
        }
      }
    } finally {
      this.#inAfterReset = false;
    }
  }

  // ---- power ----

  async powerOn(): Promise<void> {
    await this.options.hooks?.powerOn?.();
  }

  async powerOff(): Promise<void> {
    for (const socket of [...this.sockets.values()]) socket.notifyLost("lost");
    await this.options.hooks?.powerOff?.();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    if (this.#bootTimer !== undefined) this.platform.clearTimer(this.#bootTimer);
    if (this.#healthTimer !== undefined) this.platform.clearTimer(this.#healthTimer);
    this.#healthTimer = undefined;
    for (const socket of [...this.sockets.values()]) socket.notifyLost("lost");
    const waiters = [...this.#registrationWaiters, ...this.#bootWaiters];
    this.#registrationWaiters = [];
    this.#bootWaiters = [];
    for (const wake of waiters) wake();
  }
}

function checkPin(pin: string): void {
  if (!/^\d{4,8}$/.test(pin)) throw new RangeError("a SIM PIN is 4 to 8 digits");
}

/** Splits a +CME-style numeric error out of an unknown error (for dialects mapping vendor codes). */
export function cmeCode(error: unknown): number | undefined {
  return error instanceof AtCmeError ? error.code : undefined;
}

export { splitFields };
