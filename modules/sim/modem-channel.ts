/**
 * Modem-managed logical channels (27.007 AT+CCHO / AT+CGLA / AT+CCHC). The modem opens the
 * channel and SELECTs the AID; it returns a session id that is NOT the channel number, and it
 * codes the channel into CLA itself, so commands go out with the channel bits cleared.
 */
import { toHex } from "../bytes/bytes.js";
import type { LogLevel } from "../platform/platform.js";
import { CglaTransport, checkSessionId, mapAtError, parseCchoAnswer, type SessionId } from "./at-transport.js";
import { type CardAccess, type CardChannel, TransportChannel } from "./channel.js";
import { ApplicationNotFoundError, TransportRefusedError } from "./errors.js";
import type { ExchangeOptions } from "./t0.js";
import { ApduCounters, type AtCommandPort } from "./transport.js";

export interface ModemChannelOptions {
  /** Session ids closed by `recover()` with AT+CCHC, ignoring errors. Default "1", "2", "3". */
  recoverSessionIds?: readonly string[];
  /** Timeout of AT+CCHO / AT+CCHC (default 10000). */
  controlTimeoutMs?: number;
  /** Default timeout of each AT+CGLA (default 10000). */
  defaultTimeoutMs?: number;
  exchange?: ExchangeOptions;
  counters?: ApduCounters;
  log?: (level: LogLevel, message: string) => void;
}

export class ModemChannelAccess implements CardAccess {
  readonly name = "AT+CCHO/AT+CGLA (modem-managed channels)";
  readonly counters: ApduCounters;
  readonly #at: AtCommandPort;
  readonly #options: ModemChannelOptions;

  constructor(at: AtCommandPort, options: ModemChannelOptions = {}) {
    this.#at = at;
    this.#options = options;
    this.counters = options.counters ?? new ApduCounters();
  }

  #log(level: LogLevel, message: string): void {
    this.#options.log?.(level, message);
  }

  async closeSession(sessionId: SessionId): Promise<void> {
    checkSessionId(sessionId);
    try {
      await this.#at.send(`AT+CCHC=${sessionId}`, { timeoutMs: this.#options.controlTimeoutMs ?? 10000 });
    } catch (error) {
      throw mapAtError("AT+CCHC", error);
    }
  }

  async recover(): Promise<void> {
    for (const id of this.#options.recoverSessionIds ?? ["1", "2", "3"]) {
      try {
        await this.closeSession(id);
        this.#log("debug", `closed AT+CCHO session ${id} left open by an earlier boot`);
      } catch (error) {
        this.#log("debug", `AT+CCHC=${id} during recovery: ${(error as Error).message}`);
      }
    }
  }

  async openApplication(aids: readonly Uint8Array[], options: ExchangeOptions = {}): Promise<CardChannel> {
    const attempts: { aid: string; outcome: string }[] = [];
    let refusals = 0;
    for (const aid of aids) {
      const aidHex = toHex(aid).toUpperCase();
      if (aid.length < 1 || aid.length > 16) {
        attempts.push({ aid: aidHex, outcome: "invalid AID length" });
        continue;
      }
      let sessionId: SessionId;
      try {
        const response = await this.#at.send(`AT+CCHO="${aidHex}"`, { timeoutMs: this.#options.controlTimeoutMs ?? 10000 });
        sessionId = parseCchoAnswer(response.lines);
      } catch (error) {
        const mapped = mapAtError("AT+CCHO", error);
        // The modem gives no status word: "refused" covers both "no such AID" and "CCHO unsupported".
        if (!(mapped instanceof TransportRefusedError)) throw mapped;
        refusals++;
        attempts.push({ aid: aidHex, outcome: mapped.reason?.message ?? mapped.message });
        continue;
      }
      this.#log("debug", `AT+CCHO opened session ${sessionId} for ${aidHex}`);
      const transport = new CglaTransport(this.#at, sessionId, { defaultTimeoutMs: this.#options.defaultTimeoutMs ?? 10000 });
      return new TransportChannel(transport, 0, aid, () => this.closeSession(sessionId), transport.name, { ...this.#options.exchange, ...options }, this.counters);
    }
    if (refusals > 0 && refusals === aids.length) {
      // Every AID refused by the modem: to a fallback strategy this is "transport refused".
      throw new TransportRefusedError("AT+CCHO", `refused for every AID (${attempts.map((a) => `${a.aid}: ${a.outcome}`).join("; ")}); the modem may not support it, or no applet is present`);
    }
    throw new ApplicationNotFoundError(attempts);
  }
}
