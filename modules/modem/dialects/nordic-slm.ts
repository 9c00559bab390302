/**
 * Nordic nRF9160/nRF91x1 running the Serial LTE Modem application (modems.md §2.4). The SLM
 * takes CR LF line endings (use atEngineOptions("nordic-slm")), never echoes (ATE is refused),
 * prints `Ready` when it boots, and keeps the UICC off in CFUN=0 (CFUN=41 powers only the UICC).
 * The LTE attach brings up the default bearer (cid 0). Sockets act on the *current* socket:
 *   AT#XSOCKET=1,1,0 → `#XSOCKET: <handle>,1,6` (the new socket becomes current);
 *   AT#XSOCKETSELECT=<handle> makes another one current; AT#XSOCKET=0 closes the current one
 *   AT#XCONNECT="<host>",<port> → `#XCONNECT: 1`
 *   send: AT#XSEND → OK → data mode: raw bytes, then `+++` → `#XDATAMODE: 0`. The SLM ends data mode
 *     at the first `+++` anywhere, so a chunk never holds `+++` nor ends with `+`; runs of `+`
 *     go in command mode instead: AT#XSEND="+++" → `#XSEND: <n>` (text without `,` or `"`)
 *   receive: no URC announces data: AT#XPOLL=0,<handle> → `#XPOLL: <handle>,"<revents hex>"`
 *     (POLLIN 0x1, POLLHUP 0x10), then AT#XRECV=1 → `#XRECV: <n>` CR LF <n bytes> CR LF OK, up to
 *     2048 bytes (no length argument: the driver holds the surplus); only OK = the peer closed.
 * Signal quality comes from AT+CESQ (the nRF91 has no AT+CSQ); the ICCID from AT%XICCID.
 */
import { AtCommandError, type AtEngine, lengthFromField } from "../../at/index.js";
import type { Platform } from "../../platform/platform.js";
import { ModemResponseError, SocketOpenError, SocketSendError } from "../errors.js";
import { type DialectProfile, GenericModem, type ModemOptions } from "../generic.js";
import { fieldsOf, integerField, lineWith, quoteForError } from "../parse.js";
import type { PullSocket, ReceiveResult } from "../socket.js";
import type { SignalQuality } from "../types.js";

export const NORDIC_SLM_PROFILE: DialectProfile = {
  name: "nordic-slm",
  bootUrcs: ["Ready"],
  echoOff: false,
  cid: 0,
  // CSIM is documented; CCHO/CGLA are documented "for testing purposes only" (modems.md §2.4).
  simAccess: { csim: true, cgla: true, order: ["csim", "cgla"] },
  maxSendChunk: 1024,
  // #XRECV has no length argument: one answer can carry the SLM's whole 2048-byte buffer.
  maxReadChunk: 2048,
  iccidCommands: [{ command: "AT%XICCID", prefix: "%XICCID:" }],
  softResetCommand: "AT#XRESET",
  bootTimeoutMs: 10000,
  connectTimeoutMs: 160000,
  activationTimeoutMs: 150000,
  apnAtAttach: true,
  // Nothing announces received data: ask (AT#XPOLL, a few bytes) often.
  socketPollMs: 250,
};

const POLLIN = 0x0001;
const POLLERR = 0x0008;
const POLLHUP = 0x0010;
/** The SLM's data-mode terminator (CONFIG_SLM_DATAMODE_TERMINATOR default). */
const TERMINATOR = "+++";
const PLUS = 0x2b;
/** Longest text of one command-mode AT#XSEND="..." for runs of '+'. */
const MAX_TEXT_SEND = 256;

/**
 * Splits data into pieces that survive the SLM's data mode: `data` pieces contain no `+++` and
 * do not end with `+`; runs of `+` become `text` pieces (sent in command mode).
 */
export function splitForDataMode(bytes: Uint8Array, maxChunk: number): { kind: "data" | "text"; bytes: Uint8Array }[] {
  const pieces: { kind: "data" | "text"; bytes: Uint8Array }[] = [];
  let i = 0;
  while (i < bytes.length) {
    if (bytes[i] === PLUS) {
      let j = i;
      while (j < bytes.length && bytes[j] === PLUS && j - i < MAX_TEXT_SEND) j++;
      pieces.push({ kind: "text", bytes: bytes.subarray(i, j) });
      i = j;
      continue;
    }
    let end = i;
    while (end < bytes.length && end - i < maxChunk) {
      if (bytes[end] === PLUS && bytes[end + 1] === PLUS && bytes[end + 2] === PLUS) break;
      end++;
    }
    while (end > i && bytes[end - 1] === PLUS) end--;
    pieces.push({ kind: "data", bytes: bytes.subarray(i, end) });
    i = end;
  }
  return pieces;
}

export class NordicSlmModem extends GenericModem {
  /** The SLM's current socket (the one #XSEND/#XRECV/#XSOCKET=0 act on), when known. */
  #current: number | undefined;
  /** Select-then-act pairs must not interleave between sockets. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(at: AtEngine, platform: Platform, options: ModemOptions = {}) {
    super(at, platform, options, NORDIC_SLM_PROFILE);
  }

  #exclusive<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(run, run);
    this.#chain = result.catch(() => undefined);
    return result;
  }

  async #select(handle: number): Promise<void> {
    if (this.#current === handle) return;
    this.#current = undefined;
    await this.command(`AT#XSOCKETSELECT=${handle}`, { prefix: "#XSOCKETSELECT:" });
    this.#current = handle;
  }

  protected override modemRebooted(reason: string, recoverNow = false): void {
    this.#current = undefined;
    super.modemRebooted(reason, recoverNow);
  }

  /** The UICC is off in CFUN=0: power only it (CFUN=41) so the SIM answers before the radio goes on. */
  protected override async afterInit(): Promise<void> {
    const { lines } = await this.query("AT+CFUN?", { prefix: "+CFUN:" });
    const level = integerField(fieldsOf(lineWith(lines, "+CFUN:", "AT+CFUN?"), "+CFUN:"), 0, 0, 255, "+CFUN <fun>");
    if (level === 0) await this.command("AT+CFUN=41", { timeoutMs: 30000 });
  }

  override async signalQuality(): Promise<SignalQuality> {
    const { lines } = await this.query("AT+CESQ", { prefix: "+CESQ:" });
    const fields = fieldsOf(lineWith(lines, "+CESQ:", "AT+CESQ"), "+CESQ:");
    const rsrq = integerField(fields, 4, 0, 255, "+CESQ <rsrq>");
    const rsrp = integerField(fields, 5, 0, 255, "+CESQ <rsrp>");
    const rsrpDbm = rsrp <= 97 ? rsrp - 141 : undefined;
    const rsrqDb = rsrq <= 34 ? -20 + rsrq / 2 : undefined;
    return { rssi: undefined, dbm: rsrpDbm, ber: undefined, ...(rsrpDbm !== undefined ? { rsrpDbm } : {}), ...(rsrqDb !== undefined ? { rsrqDb } : {}) };
  }

  protected override openSocketOnModem(host: string, port: number, timeoutMs: number): Promise<number> {
    return this.#exclusive(async () => {
      let handle: number;
      try {
        const { lines } = await this.command("AT#XSOCKET=1,1,0", { prefix: "#XSOCKET:" });
        handle = integerField(fieldsOf(lineWith(lines, "#XSOCKET:", "AT#XSOCKET"), "#XSOCKET:"), 0, 0, 255, "socket handle");
      } catch (error) {
        if (error instanceof AtCommandError) throw new SocketOpenError(`AT#XSOCKET=1,1,0 answered ${error.final}`, "no-socket", undefined, undefined, { cause: error });
        throw error;
      }
      this.#current = handle;
      try {
        const { lines } = await this.command(`AT#XCONNECT="${host}",${port}`, { prefix: "#XCONNECT:", timeoutMs });
        if (fieldsOf(lineWith(lines, "#XCONNECT:", "AT#XCONNECT"), "#XCONNECT:")[0]?.value !== "1") throw new SocketOpenError(`AT#XCONNECT to ${host}:${port} did not connect`, "refused", undefined, handle);
      } catch (error) {
        await this.command("AT#XSOCKET=0", { timeoutMs: 10000 }).catch(() => undefined);
        this.#current = undefined;
        if (error instanceof AtCommandError) throw new SocketOpenError(`cannot connect to ${host}:${port}: AT#XCONNECT answered ${error.final}`, "other", undefined, handle, { cause: error });
        throw error;
      }
      return handle;
    });
  }

  override async sendChunk(socket: PullSocket, chunk: Uint8Array): Promise<void> {
    for (const piece of splitForDataMode(chunk, this.maxSendChunk)) {
      await this.socketCommand(socket, () => this.#exclusive(() => (piece.kind === "text" ? this.#sendText(socket, piece.bytes) : this.#sendData(socket, piece.bytes))));
    }
  }

  async #sendData(socket: PullSocket, bytes: Uint8Array): Promise<void> {
    await this.#select(socket.id);
    const framed = new Uint8Array(bytes.length + TERMINATOR.length);
    framed.set(bytes);
    for (let i = 0; i < TERMINATOR.length; i++) framed[bytes.length + i] = TERMINATOR.charCodeAt(i);
    try {
      // The command's OK opens data mode: the engine writes the data at that OK, as after a prompt.
      await this.at.send("AT#XSEND", { payload: { data: framed, prompt: "OK" }, finalResults: ["#XDATAMODE:"], timeoutMs: this.dataTimeout(framed.length) });
    } catch (error) {
      if (error instanceof AtCommandError) throw new SocketSendError(`socket ${socket.id}: AT#XSEND answered ${error.final}`, socket.id, { cause: error });
      throw error;
    }
  }

  async #sendText(socket: PullSocket, bytes: Uint8Array): Promise<void> {
    await this.#select(socket.id);
    let text = "";
    for (const byte of bytes) text += String.fromCharCode(byte);
    let lines: readonly string[];
    try {
      ({ lines } = await this.command(`AT#XSEND="${text}"`, { prefix: "#XSEND:", timeoutMs: this.dataTimeout(bytes.length) }));
    } catch (error) {
      if (error instanceof AtCommandError) throw new SocketSendError(`socket ${socket.id}: AT#XSEND="..." answered ${error.final}`, socket.id, { cause: error });
      throw error;
    }
    const sent = integerField(fieldsOf(lineWith(lines, "#XSEND:", "AT#XSEND"), "#XSEND:"), 0, 0, 65535, "#XSEND size");
    if (sent !== bytes.length) throw new SocketSendError(`socket ${socket.id}: the modem sent ${sent} of ${bytes.length} bytes`, socket.id);
  }

  override async receive(socket: PullSocket, _maxBytes: number): Promise<ReceiveResult> {
    return this.socketCommand(socket, () =>
      this.#exclusive(async () => {
        const { lines } = await this.command(`AT#XPOLL=0,${socket.id}`, { prefix: "#XPOLL:" });
        let revents = 0;
        for (const line of lines) {
          const fields = fieldsOf(line, "#XPOLL:");
          if (integerField(fields, 0, -1000, 255, "#XPOLL handle") !== socket.id) continue;
          const text = fields[1]?.value ?? "";
          if (!/^0x[0-9a-fA-F]{1,8}$/.test(text)) throw new ModemResponseError(`#XPOLL revents ${quoteForError(text)} is not hex`);
          revents = parseInt(text.slice(2), 16);
        }
        if ((revents & (POLLIN | POLLHUP | POLLERR)) === 0) return { data: new Uint8Array(0) };
        await this.#select(socket.id);
        let response;
        try {
          response = await this.at.send("AT#XRECV=1", {
            prefix: "#XRECV:",
            dataHeader: { prefix: "#XRECV:", length: lengthFromField(0, 1) },
            timeoutMs: this.dataTimeout(this.maxReadChunk) + 1000,
          });
        } catch (error) {
          // ERROR: nothing arrived within the receive timeout after all.
          if (error instanceof AtCommandError && error.final === "ERROR") return { data: new Uint8Array(0) };
          throw error;
        }
        const data = response.data[0];
        // recv() returned 0: the peer closed (the SLM then prints no #XRECV line, only OK).
        if (!data) return { data: new Uint8Array(0), endOfStream: true };
        if (data.length > this.maxReadChunk) throw new ModemResponseError(`#XRECV gave ${data.length} bytes, more than the SLM buffer`);
        return { data };
      }),
    );
  }

  override async closeOnModem(socket: PullSocket): Promise<void> {
    if (socket.closeReason === "lost" || socket.closeReason === "network") return;
    await this.#exclusive(async () => {
      await this.#select(socket.id);
      this.#current = undefined; // the SLM makes another socket current after the close
      await this.command("AT#XSOCKET=0", { prefix: "#XSOCKET:", timeoutMs: 15000 });
    });
  }
}
