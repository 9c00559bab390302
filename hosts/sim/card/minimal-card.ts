/**
 * A minimal UICC: logical channels (MANAGE CHANNEL open/close) and SELECT by AID for the IoT SAFE
 * and Thales applet AIDs, nothing else. Enough for the virtual modem's CSIM/CCHO/CGLA paths; the
 * full applet lives in iotsafe-card.ts.
 */
import { concatBytes, toHex } from "../../../modules/bytes/bytes.js";
import {
  type Card,
  type CommandApdu,
  ApduFormatError,
  isProprietaryClass,
  isValidClass,
  logicalChannelOfClass,
  parseCommandApdu,
  statusWord,
  SW,
} from "./card.js";

/** GSMA IoT SAFE and the two Thales applet AIDs (iotsafe.md §1.2). */
export const KNOWN_APPLET_AIDS: readonly string[] = [
  "a0000005590010",
  "a0000002480400",
  "a00000003053f12401770101495341",
];

const INS_MANAGE_CHANNEL = 0x70;
const INS_SELECT = 0xa4;
/** Channels 1..3 use the first interindustry class form, 4..19 the further form (TS 102 221). */
const HIGHEST_CHANNEL = 19;

export interface MinimalCardOptions {
  /** AIDs (hex) that SELECT accepts; default {@link KNOWN_APPLET_AIDS}. */
  applets?: readonly string[];
  /** Highest logical channel the card offers (1..19); default 19. */
  maxChannel?: number;
  iccid?: string;
  imsi?: string;
}

export class MinimalCard implements Card {
  readonly iccid: string | undefined;
  readonly imsi: string | undefined;
  readonly #applets: Set<string>;
  readonly #maxChannel: number;
  /** Open logical channels; channel 0 (basic) is always open. Value: selected AID (hex) or "". */
  readonly #channels = new Map<number, string>([[0, ""]]);

  constructor(options: MinimalCardOptions = {}) {
    this.#applets = new Set((options.applets ?? KNOWN_APPLET_AIDS).map((aid) => aid.toLowerCase()));
    this.#maxChannel = Math.max(0, Math.min(HIGHEST_CHANNEL, options.maxChannel ?? HIGHEST_CHANNEL));
    this.iccid = options.iccid;
    this.imsi = options.imsi;
  }

  /** Open logical channels other than the basic one, ascending. */
  get openChannels(): number[] {
    return [...this.#channels.keys()].filter((c) => c !== 0).sort((a, b) => a - b);
  }

  /** The AID (lower-case hex) selected on `channel`, "" if none, undefined if the channel is closed. */
  selectedAid(channel: number): string | undefined {
    return this.#channels.get(channel);
  }

  reset(): void {
    this.#channels.clear();
    this.#channels.set(0, "");
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    return this.#process(apdu);
  }

  #process(bytes: Uint8Array): Uint8Array {
    let apdu: CommandApdu;
    try {
      apdu = parseCommandApdu(bytes);
    } catch (error) {
      if (error instanceof ApduFormatError) return statusWord(SW.WRONG_LENGTH);
      throw error;
    }
    if (!isValidClass(apdu.cla)) return statusWord(SW.CLASS_NOT_SUPPORTED);
    const channel = logicalChannelOfClass(apdu.cla);
    if (!this.#channels.has(channel)) return statusWord(SW.LOGICAL_CHANNEL_NOT_SUPPORTED);
    if (apdu.ins === INS_MANAGE_CHANNEL || apdu.ins === INS_SELECT) {
      // Both are interindustry commands; a proprietary class does not address them.
      if (isProprietaryClass(apdu.cla)) return statusWord(SW.CLASS_NOT_SUPPORTED);
      return apdu.ins === INS_MANAGE_CHANNEL ? this.#manageChannel(apdu) : this.#select(apdu, channel);
    }
    return statusWord(SW.INS_NOT_SUPPORTED);
  }

  #manageChannel(apdu: CommandApdu): Uint8Array {
    if (apdu.data.length !== 0) return statusWord(SW.WRONG_LENGTH);
    if (apdu.p1 === 0x00) {
      if (apdu.p2 === 0x00) {
        // Card-assigned channel: answers one byte (Le 01, or 00 meaning "up to 256").
        if (apdu.le === undefined) return statusWord(SW.WRONG_LENGTH);
        const free = this.#lowestFreeChannel();
        if (free === undefined) return statusWord(SW.FUNCTION_NOT_SUPPORTED);
        this.#channels.set(free, "");
        return concatBytes(Uint8Array.of(free), statusWord(SW.OK));
      }
      // Open the channel named in P2.
      if (apdu.p2 > this.#maxChannel) return statusWord(SW.INCORRECT_P1P2);
      if (this.#channels.has(apdu.p2)) return statusWord(SW.FUNCTION_NOT_SUPPORTED);
      this.#channels.set(apdu.p2, "");
      return statusWord(SW.OK);
    }
    if (apdu.p1 === 0x80) {
      if (apdu.p2 === 0 || apdu.p2 > HIGHEST_CHANNEL) return statusWord(SW.INCORRECT_P1P2);
      if (!this.#channels.has(apdu.p2)) return statusWord(SW.REFERENCED_DATA_NOT_FOUND);
      this.#channels.delete(apdu.p2);
      return statusWord(SW.OK);
    }
    return statusWord(SW.INCORRECT_P1P2);
  }

  #select(apdu: CommandApdu, channel: number): Uint8Array {
    // Only "select by DF name" (P1 04), first or only occurrence, with or without FCI (P2 00/04/0C).
    if (apdu.p1 !== 0x04) return statusWord(SW.INCORRECT_P1P2);
    if ((apdu.p2 & 0xf3) !== 0x00) return statusWord(SW.INCORRECT_P1P2);
    if (apdu.data.length < 1 || apdu.data.length > 16) return statusWord(SW.WRONG_LENGTH);
    const aid = toHex(apdu.data);
    if (!this.#applets.has(aid)) return statusWord(SW.FILE_NOT_FOUND);
    this.#channels.set(channel, aid);
    return statusWord(SW.OK);
  }

  #lowestFreeChannel(): number | undefined {
    for (let c = 1; c <= this.#maxChannel; c++) if (!this.#channels.has(c)) return c;
    return undefined;
  }
}
