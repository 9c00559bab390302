/**
 * Firmware-managed logical channels over a raw APDU transport (AT+CSIM, a virtual card, PC/SC):
 * MANAGE CHANNEL open (`00 70 00 00 01`), SELECT by AID on the new channel (`0n A4 04 00 …`),
 * MANAGE CHANNEL close (`00 70 80 0n 00`). The host codes the channel into every CLA.
 */
import { toHex } from "../bytes/bytes.js";
import type { LogLevel } from "../platform/platform.js";
import type { CommandApdu } from "./apdu.js";
import { type CardAccess, type CardChannel, INS_MANAGE_CHANNEL, INS_SELECT, TransportChannel } from "./channel.js";
import { classByteForChannel, MAX_LOGICAL_CHANNEL } from "./class-byte.js";
import { ApplicationNotFoundError, CardStatusError, ChannelError } from "./errors.js";
import { type ExchangeOptions, exchangeApdu } from "./t0.js";
import { ApduCounters, type ApduTransport } from "./transport.js";

export interface ManageChannelOptions {
  /** Channels closed by `recover()` (an earlier boot may have left them open). Default 1, 2, 3. */
  recoverChannels?: readonly number[];
  /** Highest channel number this host accepts from MANAGE CHANNEL (1..19). Default 19. */
  maxChannel?: number;
  /** Defaults for every exchange (timeouts, GET RESPONSE class...). */
  exchange?: ExchangeOptions;
  /** Counters shared by all channels this access opens (a fresh one when omitted). */
  counters?: ApduCounters;
  log?: (level: LogLevel, message: string) => void;
}

export class ManageChannelAccess implements CardAccess {
  readonly name: string;
  readonly counters: ApduCounters;
  readonly #transport: ApduTransport;
  readonly #options: ManageChannelOptions;

  constructor(transport: ApduTransport, options: ManageChannelOptions = {}) {
    this.#transport = transport;
    this.#options = options;
    this.name = `${transport.name} (host-managed channels)`;
    this.counters = options.counters ?? new ApduCounters();
  }

  #exchange(command: CommandApdu, options: ExchangeOptions = {}) {
    return exchangeApdu(this.#transport, command, this.counters, { ...this.#options.exchange, ...options });
  }

  #log(level: LogLevel, message: string): void {
    this.#options.log?.(level, message);
  }

  /** MANAGE CHANNEL close of `channel` on the basic channel; throws CardStatusError on a failing SW. */
  async closeChannel(channel: number, options: ExchangeOptions = {}): Promise<void> {
    if (channel < 1 || channel > MAX_LOGICAL_CHANNEL) throw new ChannelError(`cannot close logical channel ${channel}`);
    const response = await this.#exchange({ cla: 0x00, ins: INS_MANAGE_CHANNEL, p1: 0x80, p2: channel }, options);
    if (!response.status.isSuccess) throw new CardStatusError(`MANAGE CHANNEL close ${channel}`, response.status);
  }

  async recover(): Promise<void> {
    for (const channel of this.#options.recoverChannels ?? [1, 2, 3]) {
      try {
        await this.closeChannel(channel);
        this.#log("debug", `closed logical channel ${channel} left open by an earlier boot`);
      } catch (error) {
        // A channel that was not open answers an error: that is the normal case.
        this.#log("debug", `close of channel ${channel} during recovery: ${(error as Error).message}`);
      }
    }
  }

  /** MANAGE CHANNEL open; resolves with the channel number the card assigned. */
  async openChannel(options: ExchangeOptions = {}): Promise<number> {
    const response = await this.#exchange({ cla: 0x00, ins: INS_MANAGE_CHANNEL, p1: 0x00, p2: 0x00, le: 1 }, options);
    if (!response.status.isSuccess) throw new CardStatusError("MANAGE CHANNEL open", response.status);
    if (response.data.length !== 1) {
      throw new ChannelError(`MANAGE CHANNEL open answered ${response.data.length} data bytes instead of the channel number`);
    }
    const channel = response.data[0]!;
    const max = this.#options.maxChannel ?? MAX_LOGICAL_CHANNEL;
    if (channel < 1 || channel > max) {
      // Give it back rather than leak it; the card may still count it as open.
      await this.closeChannel(channel).catch(() => undefined);
      throw new ChannelError(`MANAGE CHANNEL open assigned channel ${channel}, outside 1..${max}`);
    }
    return channel;
  }

  async openApplication(aids: readonly Uint8Array[], options: ExchangeOptions = {}): Promise<CardChannel> {
    let channel: number;
    try {
      channel = await this.openChannel(options);
    } catch (error) {
      // All channels in use (6881/6A81/...): free the ones an earlier boot leaked, then try once more.
      if (!(error instanceof CardStatusError)) throw error;
      this.#log("info", `${error.message}; closing stale channels and retrying`);
      await this.recover();
      channel = await this.openChannel(options);
    }
    const attempts: { aid: string; outcome: string }[] = [];
    try {
      for (const aid of aids) {
        if (aid.length < 1 || aid.length > 16) {
          attempts.push({ aid: toHex(aid).toUpperCase(), outcome: "invalid AID length" });
          continue;
        }
        const select: CommandApdu = { cla: classByteForChannel(channel, false), ins: INS_SELECT, p1: 0x04, p2: 0x00, data: aid };
        const response = await this.#exchange(select, options);
        if (response.status.isSuccess) {
          this.#log("debug", `selected ${toHex(aid)} on channel ${channel}`);
          return new TransportChannel(
            this.#transport,
            channel,
            aid,
            () => this.closeChannel(channel),
            `${this.#transport.name} channel ${channel}`,
            this.#options.exchange,
            this.counters,
          );
        }
        attempts.push({ aid: toHex(aid).toUpperCase(), outcome: response.status.toString() });
      }
    } catch (error) {
      await this.closeChannel(channel).catch(() => undefined);
      throw error;
    }
    await this.closeChannel(channel).catch(() => undefined);
    throw new ApplicationNotFoundError(attempts);
  }
}
