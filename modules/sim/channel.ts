/**
 * Logical channels above a transport. A `CardAccess` opens a channel and selects an application
 * on it; the resulting `CardChannel` sends commands with the channel coded into CLA (or with
 * channel bits cleared when the modem manages the channel) and follows the T=0 rules.
 */
import { toHex } from "../bytes/bytes.js";
import type { CommandApdu, ResponseApdu } from "./apdu.js";
import { withChannel } from "./class-byte.js";
import { ChannelError } from "./errors.js";
import { type ExchangeOptions, exchangeApdu } from "./t0.js";
import { ApduCounters, type ApduTransport } from "./transport.js";

export const INS_MANAGE_CHANNEL = 0x70;
export const INS_SELECT = 0xa4;

/** A channel with an application selected on it. */
export interface CardChannel {
  /** The channel number coded into CLA by this host (0 when the modem manages the channel). */
  readonly channel: number;
  /** For logs: "AT+CSIM channel 1", "AT+CGLA session 3"... */
  readonly description: string;
  /** The AID selected on this channel. */
  readonly aid: Uint8Array;
  /** APDUs and bytes exchanged on this channel so far. */
  readonly counters: ApduCounters;
  readonly isOpen: boolean;
  /**
   * Sends a command with its CLA moved to this channel, following 61xx/6Cxx; resolves with the
   * final data and status word (a failing status word is returned, not thrown).
   */
  transmit(command: CommandApdu, options?: ExchangeOptions): Promise<ResponseApdu>;
  /** Closes the channel (MANAGE CHANNEL close or AT+CCHC). Later transmits throw ChannelError. */
  close(): Promise<void>;
}

/** A way to reach applications on the card: firmware-managed channels (AT+CSIM) or modem-managed ones (AT+CCHO). */
export interface CardAccess {
  readonly name: string;
  /** Closes channels or sessions an earlier boot may have left open; ignores every card or modem error. */
  recover(): Promise<void>;
  /** Opens a channel and selects the first of `aids` the card accepts. */
  openApplication(aids: readonly Uint8Array[], options?: ExchangeOptions): Promise<CardChannel>;
}

/** The channel implementation shared by both access strategies. */
export class TransportChannel implements CardChannel {
  readonly counters: ApduCounters;
  #open = true;
  readonly #closer: () => Promise<void>;

  constructor(
    readonly transport: ApduTransport,
    readonly channel: number,
    readonly aid: Uint8Array,
    closer: () => Promise<void>,
    readonly description: string,
    readonly defaults: ExchangeOptions = {},
    counters?: ApduCounters,
  ) {
    this.#closer = closer;
    this.counters = counters ?? new ApduCounters();
  }

  get isOpen(): boolean {
    return this.#open;
  }

  transmit(command: CommandApdu, options: ExchangeOptions = {}): Promise<ResponseApdu> {
    if (!this.#open) return Promise.reject(new ChannelError(`${this.description} (AID ${toHex(this.aid)}) is closed`));
    const onChannel = { ...command, cla: withChannel(command.cla, this.channel) };
    return exchangeApdu(this.transport, onChannel, this.counters, { ...this.defaults, ...options });
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    await this.#closer();
  }
}
