// A raw TCP client for the virtual-modem tests: writes bytes, collects every byte the modem sends,
// and waits (with a generous bound) for expected text, so tests can assert exact framing.
import { connect, type Socket } from "node:net";

export class RawModemClient {
  readonly socket: Socket;
  #received = "";
  #cursor = 0;
  #waiters: (() => void)[] = [];
  #ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.#received += chunk.toString("latin1");
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", () => undefined);
  }

  static connect(port: number, host = "127.0.0.1"): Promise<RawModemClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once("connect", () => resolve(new RawModemClient(socket)));
      socket.once("error", reject);
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  send(text: string | Uint8Array): void {
    this.socket.write(typeof text === "string" ? Buffer.from(text, "latin1") : text);
  }

  /**
   * Waits until the text received after the cursor contains `marker`; returns that text up to and
   * including the marker and moves the cursor past it.
   */
  async readUntil(marker: string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.#received.indexOf(marker, this.#cursor);
      if (at >= 0) {
        const text = this.#received.slice(this.#cursor, at + marker.length);
        this.#cursor = at + marker.length;
        return text;
      }
      if (this.#ended) throw new Error(`connection closed before ${JSON.stringify(marker)}; got ${JSON.stringify(this.pending())}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${JSON.stringify(marker)} within ${timeoutMs} ms; got ${JSON.stringify(this.pending())}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends `command` and returns everything up to and including the next final `OK`/`ERROR`/`+CME ERROR` line. */
  async command(command: string, lineEnding = "\r"): Promise<string> {
    this.send(command + lineEnding);
    return this.readFinal();
  }

  /** Reads up to the next final result code (verbose form). */
  async readFinal(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.pending();
      const match = /\r\n(OK|ERROR|\+CME ERROR: [^\r]*)\r\n/.exec(text);
      if (match) {
        const end = match.index + match[0].length;
        this.#cursor += end;
        return text.slice(0, end);
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#ended) throw new Error(`no final result code; got ${JSON.stringify(text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Text received after the cursor (not consumed). */
  pending(): string {
    return this.#received.slice(this.#cursor);
  }

  /** Waits `ms` and returns whatever arrived after the cursor meanwhile (consumed). */
  async collectFor(ms: number): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const text = this.pending();
    this.#cursor = this.#received.length;
    return text;
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
