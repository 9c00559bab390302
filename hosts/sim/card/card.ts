/**
 * The virtual modem's view of a smart card (UICC): one command APDU in, one response APDU
 * (data + SW1 SW2) out. The minimal card (minimal-card.ts) and the IoT SAFE card
 * (iotsafe-card.ts) implement it; a link model can wrap one to add latency or faults.
 * Also: ISO 7816-4 / ETSI TS 102 221 helpers for the class byte and short/extended APDUs.
 */

export interface Card {
  /** Sends one command APDU (CLA INS P1 P2 [Lc data] [Le]); resolves with data || SW1 SW2. */
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
  /** ICCID digits (EF 2FE2) if the card knows them; the modem answers AT+CCID with it. */
  readonly iccid?: string;
  /** IMSI digits if the card knows them; the modem answers AT+CIMI with it. */
  readonly imsi?: string;
  /** Cold reset (the modem restarted or powered the SIM down): closes logical channels, forgets selections. */
  reset?(): void | Promise<void>;
}

/** A command APDU that is not a well-formed ISO 7816-4 case 1..4 (short or extended) APDU. */
export class ApduFormatError extends Error {
  override name = "ApduFormatError";
}

/** A class byte that TS 102 221 reserves (0x20..0x3F) or forbids (0xFF). */
export class InvalidClassError extends Error {
  override name = "InvalidClassError";
}

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data (empty when there is no Lc field). */
  data: Uint8Array;
  /** Expected response length (1..256 short, 1..65536 extended); undefined when Le is absent. */
  le: number | undefined;
  extended: boolean;
}

/** Splits a command APDU into its fields (ISO 7816-4 §5.1 cases 1, 2S/E, 3S/E, 4S/E). */
export function parseCommandApdu(apdu: Uint8Array): CommandApdu {
  if (apdu.length < 4) throw new ApduFormatError(`command APDU of ${apdu.length} bytes is shorter than its 4-byte header`);
  const header = { cla: apdu[0]!, ins: apdu[1]!, p1: apdu[2]!, p2: apdu[3]! };
  const body = apdu.subarray(4);
  const n = body.length;
  if (n === 0) return { ...header, data: new Uint8Array(0), le: undefined, extended: false };
  const b0 = body[0]!;
  if (n === 1) return { ...header, data: new Uint8Array(0), le: b0 === 0 ? 256 : b0, extended: false };
  if (b0 !== 0) {
    if (n === 1 + b0) return { ...header, data: body.slice(1), le: undefined, extended: false };
    if (n === 2 + b0) {
      const le = body[n - 1]!;
      return { ...header, data: body.slice(1, 1 + b0), le: le === 0 ? 256 : le, extended: false };
    }
    throw new ApduFormatError(`short APDU body of ${n} bytes does not match Lc=${b0}`);
  }
  // b0 == 0 and more than one byte: extended length fields.
  if (n === 3) {
    const le = (body[1]! << 8) | body[2]!;
    return { ...header, data: new Uint8Array(0), le: le === 0 ? 65536 : le, extended: true };
  }
  const lc = (body[1]! << 8) | body[2]!;
  if (lc === 0) throw new ApduFormatError("extended APDU with Lc=0");
  if (n === 3 + lc) return { ...header, data: body.slice(3), le: undefined, extended: true };
  if (n === 5 + lc) {
    const le = (body[n - 2]! << 8) | body[n - 1]!;
    return { ...header, data: body.slice(3, 3 + lc), le: le === 0 ? 65536 : le, extended: true };
  }
  throw new ApduFormatError(`extended APDU body of ${n} bytes does not match Lc=${lc}`);
}

/** Valid class bytes per TS 102 221 §10.1.1: first (0x00..0x1F) and further (0x40..0x7F) interindustry, proprietary 0x80..0xFE. */
export function isValidClass(cla: number): boolean {
  return cla >= 0 && cla <= 0xfe && !(cla >= 0x20 && cla <= 0x3f);
}

/** True for a proprietary class (b8 set), e.g. 0x80..0x83 or 0xC0..0xCF. */
export function isProprietaryClass(cla: number): boolean {
  return (cla & 0x80) !== 0;
}

/** The logical channel (0..19) a class byte addresses: b1-b2 in the first form, 4 + b1-b4 in the further form. */
export function logicalChannelOfClass(cla: number): number {
  if (!isValidClass(cla)) throw new InvalidClassError(`class byte 0x${cla.toString(16).padStart(2, "0")} is reserved`);
  return (cla & 0x40) === 0 ? cla & 0x03 : 4 + (cla & 0x0f);
}

/**
 * `cla` re-coded to address logical `channel` (0..19), keeping its proprietary bit and command
 * chaining bit (b5), whatever channel it named before. Secure-messaging bits are kept when the
 * form does not change and dropped when it does (the virtual cards do not implement SM).
 */
export function classOnChannel(cla: number, channel: number): number {
  if (!isValidClass(cla)) throw new InvalidClassError(`class byte 0x${cla.toString(16).padStart(2, "0")} is reserved`);
  if (!Number.isInteger(channel) || channel < 0 || channel > 19) throw new RangeError(`logical channel ${channel} is outside 0..19`);
  const proprietary = cla & 0x80;
  const chaining = cla & 0x10;
  const firstForm = (cla & 0x40) === 0;
  if (channel <= 3) {
    return firstForm ? (cla & 0xfc) | channel : proprietary | chaining | channel;
  }
  const secureMessaging = firstForm ? 0 : cla & 0x20;
  return proprietary | 0x40 | secureMessaging | chaining | (channel - 4);
}

/** Status word helpers. */
export function statusWord(sw: number): Uint8Array {
  return Uint8Array.of((sw >> 8) & 0xff, sw & 0xff);
}

export const SW = {
  OK: 0x9000,
  WRONG_LENGTH: 0x6700,
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  INCORRECT_P1P2: 0x6a86,
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  INS_NOT_SUPPORTED: 0x6d00,
  CLASS_NOT_SUPPORTED: 0x6e00,
} as const;
