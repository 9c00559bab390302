/**
 * Status words (SW1 SW2) as a small typed model. Meanings come from ISO 7816-4, ETSI TS 102 221
 * and the GSMA IoT SAFE status list (iotsafe.md §4).
 */
import { toHex } from "../bytes/bytes.js";

/** Named status words the card layer and the IoT SAFE client test for. */
export const SW = {
  SUCCESS: 0x9000,
  MORE_DATA: 0x6300,
  REMOTE_ADMIN_COMPLETED: 0x63cf,
  STORE_INTEGRITY: 0x6400,
  WRONG_LENGTH: 0x6700,
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  INCOMPATIBLE_FILE_STRUCTURE: 0x6981,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  DATA_INVALIDATED: 0x6984,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  REMOTE_ADMIN_FAILED: 0x6989,
  INCORRECT_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  NOT_FOUND: 0x6a82,
  INSUFFICIENT_MEMORY: 0x6a84,
  INCORRECT_P1P2: 0x6a86,
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  WRONG_P1P2: 0x6b00,
  INVALID_INSTRUCTION: 0x6d00,
  SIGNATURE_MISMATCH: 0x6d01,
  INVALID_CLASS: 0x6e00,
  UNKNOWN_ERROR: 0x6f00,
} as const;

const EXACT_MEANINGS: { readonly [sw: number]: string } = {
  0x9000: "success",
  0x6300: "more data available",
  0x63cf: "success; a remote-admin session has just completed",
  0x6400: "applet store integrity issue",
  0x6581: "memory failure",
  0x6700: "wrong length",
  0x6881: "logical channel not supported",
  0x6882: "secure messaging not supported",
  0x6981: "command incompatible with file structure",
  0x6982: "security status not satisfied",
  0x6983: "authentication method blocked",
  0x6984: "referenced data invalidated (remote admin is updating the object)",
  0x6985: "conditions of use not satisfied",
  0x6986: "command not allowed (no current EF)",
  0x6989: "remote admin finished and the command failed, or maximum capacity reached",
  0x6a80: "incorrect data",
  0x6a81: "function not supported",
  0x6a82: "reference not found (no such object or application)",
  0x6a84: "insufficient memory",
  0x6a86: "incorrect P1/P2",
  0x6a88: "referenced data not found",
  0x6b00: "wrong parameters P1/P2",
  0x6d00: "invalid instruction (is the applet selected on this channel?)",
  0x6d01: "signature does not match",
  0x6e00: "invalid class",
  0x6f00: "unknown error",
};

export class StatusWord {
  readonly sw1: number;
  readonly sw2: number;

  constructor(sw1: number, sw2: number) {
    this.sw1 = sw1 & 0xff;
    this.sw2 = sw2 & 0xff;
  }

  static of(value: number): StatusWord {
    return new StatusWord((value >> 8) & 0xff, value & 0xff);
  }

  /** SW1 SW2 as one 16-bit number, e.g. 0x9000. */
  get value(): number {
    return (this.sw1 << 8) | this.sw2;
  }

  /** Upper-case hex, e.g. "6A82" (the form used in logs and AT traces). */
  get hex(): string {
    return toHex(Uint8Array.of(this.sw1, this.sw2)).toUpperCase();
  }

  /** 9000, or 91xx (success with a proactive SIM toolkit command pending). */
  get isSuccess(): boolean {
    return this.value === SW.SUCCESS || this.sw1 === 0x91;
  }

  /** 62xx / 63xx: the command ran, with a warning. */
  get isWarning(): boolean {
    return this.sw1 === 0x62 || this.sw1 === 0x63;
  }

  /** 91xx: the card has a proactive command waiting (the modem fetches it). */
  get proactiveCommandPending(): boolean {
    return this.sw1 === 0x91;
  }

  /** For 61xx (and the GSM form 9Fxx): bytes waiting for GET RESPONSE (xx = 00 means 256). */
  get responseBytesAvailable(): number | undefined {
    return this.sw1 === 0x61 || this.sw1 === 0x9f ? this.sw2 || 256 : undefined;
  }

  /** For 6Cxx: the exact Le the card wants (xx = 00 means 256). */
  get correctLe(): number | undefined {
    return this.sw1 === 0x6c ? this.sw2 || 256 : undefined;
  }

  get meaning(): string {
    const exact = EXACT_MEANINGS[this.value];
    if (exact) return exact;
    switch (this.sw1) {
      case 0x61:
        return `${this.sw2 || 256} response bytes available`;
      case 0x9f:
        return `${this.sw2 || 256} response bytes available (GSM)`;
      case 0x6c:
        return `wrong Le; exact length is ${this.sw2 || 256}`;
      case 0x91:
        return `success; proactive command pending (${this.sw2} bytes)`;
      case 0x62:
        return "warning: non-volatile memory unchanged";
      case 0x63:
        return (this.sw2 & 0xf0) === 0xc0 ? `warning: counter ${this.sw2 & 0x0f}` : "warning: non-volatile memory changed";
      case 0x64:
        return "execution error: memory unchanged";
      case 0x65:
        return "execution error: memory changed";
      case 0x67:
        return "wrong length";
      case 0x68:
        return "function in CLA not supported";
      case 0x69:
        return "command not allowed";
      case 0x6a:
        return "wrong parameters";
      case 0x6b:
        return "wrong parameters P1/P2";
      case 0x6d:
        return "instruction not supported";
      case 0x6e:
        return "class not supported";
      case 0x6f:
        return "no precise diagnosis";
      default:
        return "unknown status";
    }
  }

  equals(value: number): boolean {
    return this.value === value;
  }

  toString(): string {
    return `${this.hex} (${this.meaning})`;
  }
}
