/**
 * Short command/response APDUs (ISO 7816-4 §5.1, cases 1–4). Extended length is not used: no
 * IoT SAFE client needs it and modems' AT+CSIM limits stop at one short APDU.
 */
import { concatBytes, toHex } from "../bytes/bytes.js";
import { ApduEncodingError, ApduFormatError } from "./errors.js";
import { StatusWord } from "./status.js";

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data (Lc = its length, 1..255). Absent or empty: no Lc. */
  data?: Uint8Array;
  /** Expected response length 1..256 (256 is sent as 00). Absent: no Le. */
  le?: number;
}

export interface ResponseApdu {
  data: Uint8Array;
  status: StatusWord;
}

export interface EncodeOptions {
  /**
   * Send a case-1 command as CLA INS P1 P2 00 (the T=0 TPDU form with P3 = 0), as every AT+CSIM
   * client does (`0070800100`, `812A010100`). Default true.
   */
  case1WithP3?: boolean;
}

export const MAX_SHORT_LC = 255;
export const MAX_SHORT_LE = 256;

function checkByte(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new ApduEncodingError(`APDU ${field} ${value} is not a byte`);
}

/** ISO case of a command: 1 (no data, no Le), 2 (Le), 3 (data), 4 (data and Le). */
export function apduCase(command: CommandApdu): 1 | 2 | 3 | 4 {
  const hasData = command.data !== undefined && command.data.length > 0;
  const hasLe = command.le !== undefined;
  return hasData ? (hasLe ? 4 : 3) : hasLe ? 2 : 1;
}

export function encodeCommandApdu(command: CommandApdu, options: EncodeOptions = {}): Uint8Array {
  checkByte(command.cla, "CLA");
  checkByte(command.ins, "INS");
  checkByte(command.p1, "P1");
  checkByte(command.p2, "P2");
  if (command.cla === 0xff) throw new ApduEncodingError("CLA FF is reserved (PPS)");
  // INS 6x / 9x are procedure bytes under T=0 and can never be sent.
  if ((command.ins & 0xf0) === 0x60 || (command.ins & 0xf0) === 0x90) {
    throw new ApduEncodingError(`INS ${toHex(Uint8Array.of(command.ins))} is invalid under T=0`);
  }
  const header = Uint8Array.of(command.cla, command.ins, command.p1, command.p2);
  const data = command.data ?? new Uint8Array(0);
  if (data.length > MAX_SHORT_LC) throw new ApduEncodingError(`command data of ${data.length} bytes exceeds a short APDU (255)`);
  let le: Uint8Array = new Uint8Array(0);
  if (command.le !== undefined) {
    if (!Number.isInteger(command.le) || command.le < 1 || command.le > MAX_SHORT_LE) {
      throw new ApduEncodingError(`Le ${command.le} is outside 1..256`);
    }
    le = Uint8Array.of(command.le & 0xff);
  }
  if (data.length === 0) {
    if (le.length === 0 && (options.case1WithP3 ?? true)) return concatBytes(header, Uint8Array.of(0));
    return concatBytes(header, le);
  }
  return concatBytes(header, Uint8Array.of(data.length), data, le);
}

/**
 * Decodes a short command APDU (used by fakes and virtual cards). Five bytes decode as case 2,
 * so a case-1 command sent in T=0 form reads back with le = 256.
 */
export function decodeCommandApdu(bytes: Uint8Array): CommandApdu {
  if (bytes.length < 4) throw new ApduFormatError(`command APDU of ${bytes.length} bytes is shorter than its header`);
  const command: CommandApdu = { cla: bytes[0]!, ins: bytes[1]!, p1: bytes[2]!, p2: bytes[3]! };
  if (bytes.length === 4) return command;
  if (bytes.length === 5) return { ...command, le: bytes[4]! || 256 };
  const lc = bytes[4]!;
  if (lc === 0) throw new ApduFormatError("extended-length APDUs are not supported (Lc byte 00 followed by more bytes)");
  if (bytes.length === 5 + lc) return { ...command, data: bytes.slice(5) };
  if (bytes.length === 6 + lc) return { ...command, data: bytes.slice(5, 5 + lc), le: bytes[5 + lc]! || 256 };
  throw new ApduFormatError(`command APDU of ${bytes.length} bytes does not match Lc ${lc}`);
}

/** Splits response bytes into data and SW1 SW2. */
export function decodeResponseApdu(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2) throw new ApduFormatError(`response APDU of ${bytes.length} bytes has no status word`);
  const n = bytes.length;
  return { data: bytes.slice(0, n - 2), status: new StatusWord(bytes[n - 2]!, bytes[n - 1]!) };
}

export function encodeResponseApdu(response: ResponseApdu): Uint8Array {
  return concatBytes(response.data, Uint8Array.of(response.status.sw1, response.status.sw2));
}

/** Upper-case hex of an APDU for logs and AT commands. */
export function apduHex(bytes: Uint8Array): string {
  return toHex(bytes).toUpperCase();
}
