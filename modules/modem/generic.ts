/**
 * The 3GPP TS 27.007 base of every modem driver: power-on synchronisation, echo off, numeric
 * errors, SIM readiness, identity. Vendor dialects (sockets, data context) build on it.
 */
import { AtCmeError, type AtEngine } from "../at/index.js";
import type { Platform } from "../platform/platform.js";
import { sleep } from "../platform/time.js";

export class ModemError extends Error {
  override name = "ModemError";
}

/** The SIM needs a PIN (or PUK) that was not supplied, or refused the one given. */
export class SimLockedError extends ModemError {
  override name = "SimLockedError";
  constructor(readonly state: string) {
    super(`SIM is locked (${state})${state === "SIM PIN" ? ": supply the PIN" : ""}`);
  }
}

export interface ModemIdentity {
  manufacturer: string;
  model: string;
  firmware: string;
  imei: string;
  iccid: string;
  imsi: string;
}

export interface InitOptions {
  /** Sent with AT+CPIN when the SIM asks for it. */
  pin?: string;
  /** How long to wait for the SIM to become ready (busy right after boot): default 20000 ms. */
  simReadyTimeoutMs?: number;
}

/** First non-empty information line, without a prefix such as "+CGSN: " if present. */
function value(lines: readonly string[], prefix?: string): string {
  for (const line of lines) {
    const text = prefix && line.startsWith(prefix) ? line.slice(prefix.length) : line;
    const trimmed = text.trim().replace(/^"(.*)"$/, "$1");
    if (trimmed) return trimmed;
  }
  return "";
}

export class GenericModem {
  constructor(
    readonly at: AtEngine,
    readonly platform: Platform,
  ) {}

  /** Synchronise, echo off, numeric +CME errors, then wait until the SIM is ready. */
  async init(options: InitOptions = {}): Promise<void> {
    await this.at.resync();
    await this.at.send("ATE0");
    await this.at.send("AT+CMEE=1");
    await this.waitForSim(options);
  }

  /** Polls AT+CPIN? until READY, entering the PIN once if asked; SIM busy (CME 14) is retried. */
  async waitForSim(options: InitOptions = {}): Promise<void> {
    const deadline = this.platform.now() + (options.simReadyTimeoutMs ?? 20000);
    let pinSent = false;
    for (;;) {
      let state: string | undefined;
      try {
        state = value((await this.at.send("AT+CPIN?", { prefix: "+CPIN:" })).lines, "+CPIN:");
      } catch (error) {
        if (!(error instanceof AtCmeError) || (error.code !== 14 && error.code !== 10 && error.code !== 13)) throw error;
        if (error.code === 10) throw new ModemError("no SIM inserted (+CME ERROR: 10)");
      }
      if (state === "READY") return;
      if (state === "SIM PIN" && options.pin !== undefined && !pinSent) {
        pinSent = true;
        await this.at.send(`AT+CPIN="${options.pin}"`);
        continue;
      }
      if (state && state !== "READY") throw new SimLockedError(state);
      if (this.platform.now() >= deadline) throw new ModemError("SIM not ready (busy) before the timeout");
      await sleep(this.platform, 500);
    }
  }

  async identity(): Promise<ModemIdentity> {
    const ask = async (command: string, prefix?: string) => value((await this.at.send(command, prefix ? { prefix } : {})).lines, prefix);
    const iccid = await ask("AT+CCID", "+CCID:").catch(() => ask("AT+QCCID", "+QCCID:"));
    return {
      manufacturer: await ask("AT+CGMI"),
      model: await ask("AT+CGMM"),
      firmware: await ask("AT+CGMR"),
      imei: await ask("AT+CGSN"),
      iccid,
      imsi: await ask("AT+CIMI"),
    };
  }
}
