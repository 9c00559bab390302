/**
 * The seam between the card layer and whatever carries APDUs to the card: AT+CSIM, AT+CGLA on a
 * modem-managed channel, an in-process virtual card, later PC/SC. A transport moves one APDU
 * and returns the card's raw answer (data ‖ SW1 SW2); it knows nothing of T=0 rules or channels.
 */

export interface TransmitOptions {
  /** How long the card may take (signatures and key generation take seconds on real SIMs). */
  timeoutMs?: number;
}

export interface ApduTransport {
  /** Short name for logs and errors ("AT+CSIM", "AT+CGLA session 1"...). */
  readonly name: string;
  /** Sends one command APDU; resolves with the response bytes, SW1 SW2 last. */
  transmit(apdu: Uint8Array, options?: TransmitOptions): Promise<Uint8Array>;
}

/** What the AT transports need from the AT engine (modules/at AtEngine satisfies it). */
export interface AtCommandPort {
  send(command: string, options?: { prefix?: string; timeoutMs?: number }): Promise<{ lines: readonly string[]; final: string }>;
}

/** Counts of one operation or of a whole session: APDUs exchanged and their bytes. */
export interface ApduCount {
  apdus: number;
  bytesSent: number;
  bytesReceived: number;
}

/** Running APDU counters; `snapshot()` + `since()` measure one operation. */
export class ApduCounters implements ApduCount {
  apdus = 0;
  bytesSent = 0;
  bytesReceived = 0;

  record(sent: number, received: number): void {
    this.apdus++;
    this.bytesSent += sent;
    this.bytesReceived += received;
  }

  snapshot(): ApduCount {
    return { apdus: this.apdus, bytesSent: this.bytesSent, bytesReceived: this.bytesReceived };
  }

  since(start: ApduCount): ApduCount {
    return { apdus: this.apdus - start.apdus, bytesSent: this.bytesSent - start.bytesSent, bytesReceived: this.bytesReceived - start.bytesReceived };
  }
}
