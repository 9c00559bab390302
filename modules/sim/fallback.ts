/**
 * Card access with a preferred strategy and fallbacks: e.g. AT+CSIM with host-managed channels
 * first, AT+CCHO/AT+CGLA when the modem refuses CSIM (ERROR / +CME ERROR), or the reverse for
 * modems known to mishandle raw MANAGE CHANNEL. The strategy that worked is tried first next time.
 */
import type { LogLevel } from "../platform/platform.js";
import { CsimTransport } from "./at-transport.js";
import type { CardAccess, CardChannel } from "./channel.js";
import { SimError, TransportRefusedError } from "./errors.js";
import { ManageChannelAccess, type ManageChannelOptions } from "./manage-channel.js";
import { ModemChannelAccess, type ModemChannelOptions } from "./modem-channel.js";
import type { ExchangeOptions } from "./t0.js";
import { ApduCounters, type AtCommandPort } from "./transport.js";

export class FallbackCardAccess implements CardAccess {
  readonly #strategies: CardAccess[];
  #preferred = 0;
  readonly #log: ((level: LogLevel, message: string) => void) | undefined;

  constructor(strategies: readonly CardAccess[], log?: (level: LogLevel, message: string) => void) {
    if (strategies.length === 0) throw new SimError("FallbackCardAccess needs at least one strategy");
    this.#strategies = [...strategies];
    this.#log = log;
  }

  get name(): string {
    return this.#strategies.map((s) => s.name).join(" → ");
  }

  /** The strategy currently tried first. */
  get current(): CardAccess {
    return this.#strategies[this.#preferred]!;
  }

  async recover(): Promise<void> {
    for (const strategy of this.#strategies) {
      try {
        await strategy.recover();
      } catch (error) {
        this.#log?.("debug", `${strategy.name} recovery: ${(error as Error).message}`);
      }
    }
  }

  async openApplication(aids: readonly Uint8Array[], options?: ExchangeOptions): Promise<CardChannel> {
    const order = this.#strategies.map((_, i) => (this.#preferred + i) % this.#strategies.length);
    let lastRefusal: TransportRefusedError | undefined;
    for (const index of order) {
      const strategy = this.#strategies[index]!;
      try {
        const channel = await strategy.openApplication(aids, options);
        if (index !== this.#preferred) this.#log?.("info", `card access: using ${strategy.name}`);
        this.#preferred = index;
        return channel;
      } catch (error) {
        if (!(error instanceof TransportRefusedError)) throw error;
        lastRefusal = error;
        this.#log?.("warn", `card access: ${strategy.name} refused (${error.message}); trying the next transport`);
      }
    }
    throw lastRefusal!;
  }
}

export type SimTransportKind = "csim" | "cgla";

export interface AtCardAccessOptions {
  /** Transports in order of preference (per modem). Default ["csim", "cgla"]. */
  order?: readonly SimTransportKind[];
  csim?: ManageChannelOptions & { defaultTimeoutMs?: number };
  cgla?: ModemChannelOptions;
  log?: (level: LogLevel, message: string) => void;
}

/** Card access over the AT engine with the chosen transport order and shared counters. */
export function createAtCardAccess(at: AtCommandPort, options: AtCardAccessOptions = {}): FallbackCardAccess {
  const counters = new ApduCounters();
  const log = options.log;
  const strategies = (options.order ?? ["csim", "cgla"]).map((kind): CardAccess => {
    if (kind === "csim") {
      const transport = new CsimTransport(at, { defaultTimeoutMs: options.csim?.defaultTimeoutMs ?? 10000 });
      return new ManageChannelAccess(transport, { counters, ...(log ? { log } : {}), ...options.csim });
    }
    return new ModemChannelAccess(at, { counters, ...(log ? { log } : {}), ...options.cgla });
  });
  return new FallbackCardAccess(strategies, log);
}
