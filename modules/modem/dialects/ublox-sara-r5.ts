/**
 * u-blox SARA-R5 (modems.md §2.3): the internal IP stack needs a PSD profile mapped to the cid
 * (AT+UPSD=0,100,<cid>, AT+UPSD=0,0,2, AT+UPSDA=0,3; AT+UPSND to check); TCP:
 *   AT+USOCR=6 → `+USOCR: <s>`;  AT+USOCO=<s>,"<host>",<port>,1 → OK, then `+UUSOCO: <s>,<err>`
 *   AT+USOWR=<s>,<len ≤1024> → `@` → wait 50 ms → bytes → `+USOWR: <s>,<sent>` OK
 *     (a plain OK without +USOWR means "not sent", as ubxlib treats it)
 *   `+UUSORD: <s>,<len>` → AT+USORD=<s>,<n ≤1024> → `+USORD: <s>,<n>,"<n bytes>"` (binary inside quotes)
 *   AT+USOCL=<s>,1 (async) → `+UUSOCL: <s>`; `+UUSOCL: <s>` also when the peer closes
 * No boot URC is documented: a reset is noticed by the settings it loses (AT+CMEE back to 0).
 */
import { AtCmeError, AtCommandError, type AtEngine } from "../../at/index.js";
import type { Platform } from "../../platform/platform.js";
import { ApnRejectedError, ModemResponseError, type SocketOpenFailure, SocketOpenError, SocketSendError } from "../errors.js";
import { type DialectProfile, GenericModem, type ModemOptions } from "../generic.js";
import { fieldsOf, integerField, lineWith, quoteForError } from "../parse.js";
import type { PullSocket, ReceiveResult } from "../socket.js";
import type { AttachOptions } from "../types.js";

export const UBLOX_SARA_R5_PROFILE: DialectProfile = {
  name: "ublox-sara-r5",
  bootUrcs: [],
  echoOff: true,
  cid: 1,
  // CSIM ran IoT SAFE on SARA-R410M; R5 and CCHO/CGLA are unverified (modems.md §2.3).
  simAccess: { csim: true, cgla: true, order: ["csim", "cgla"] },
  maxSendChunk: 1024,
  maxReadChunk: 1024,
  iccidCommands: [{ command: "AT+CCID", prefix: "+CCID:" }],
  // CFUN=15: reset the module and the SIM (modems.md §6 pitfall 6).
  softResetCommand: "AT+CFUN=15",
  bootTimeoutMs: 20000,
  connectTimeoutMs: 150000,
  activationTimeoutMs: 150000,
  // Nothing announces a reboot: check the settings now and then.
  healthCheckMs: 30000,
};

const PROFILE_ID = 0;
/** u-blox needs a pause of at least 50 ms between its `@` prompt and the data (ubxlib waits 50, Zephyr 75). */
const PROMPT_PAUSE_MS = 50;
const CLOSE_TIMEOUT_MS = 30000;

/** Socket error codes of +UUSOCO (BSD errno numbering). */
function classifyConnectError(code: number): { reason: SocketOpenFailure; text: string } {
  if (code === 111 || code === 61) return { reason: "refused", text: "connection refused" };
  if (code === 110 || code === 60) return { reason: "timeout", text: "connection timed out" };
  return { reason: "other", text: `socket error ${code}` };
}

export class UbloxSaraR5Modem extends GenericModem {
  constructor(at: AtEngine, platform: Platform, options: ModemOptions = {}) {
    super(at, platform, options, UBLOX_SARA_R5_PROFILE);
    this.subscribe("+UUSORD:", (line) => this.#withSocket(line, "+UUSORD:", (socket) => socket.notifyData()));
    this.subscribe("+UUSOCL:", (line) => this.#withSocket(line, "+UUSOCL:", (socket) => socket.notifyPeerClosed()));
    this.subscribe("+UUSOCO:", () => undefined);
    this.subscribe("+UUPSDD:", (line) => {
      if (fieldsOf(line, "+UUPSDD:")[0]?.value === String(PROFILE_ID)) this.dataContextLost(`the network deactivated PSD profile ${PROFILE_ID}`);
    });
  }

  #withSocket(line: string, prefix: string, action: (socket: PullSocket) => void): void {
    try {
      const socket = this.socketById(integerField(fieldsOf(line, prefix), 0, 0, 255, "socket"));
      if (socket) action(socket);
    } catch (error) {
      this.log("debug", `ignored ${quoteForError(line)}: ${(error as Error).message}`);
    }
  }

  /** UART power saving off: u-blox advises it around SIM command sequences. */
  protected override async afterInit(): Promise<void> {
    await this.command("AT+UPSV=0");
  }

  protected override async activateData(options: AttachOptions, timeoutMs: number): Promise<string | undefined> {
    await this.command(`AT+UPSD=${PROFILE_ID},100,${this.profile.cid}`);
    await this.command(`AT+UPSD=${PROFILE_ID},0,2`);
    if (!(await this.isDataActive())) {
      try {
        await this.command(`AT+UPSDA=${PROFILE_ID},3`, { timeoutMs });
      } catch (error) {
        if (error instanceof AtCommandError) throw new ApnRejectedError(options.apn, `AT+UPSDA=${PROFILE_ID},3 answered ${error.final}`, { cause: error });
        throw error;
      }
    }
    const { lines } = await this.query(`AT+UPSND=${PROFILE_ID},0`, { prefix: "+UPSND:" });
    return fieldsOf(lineWith(lines, "+UPSND:", "AT+UPSND"), "+UPSND:")[2]?.value || undefined;
  }

  protected override async isDataActive(): Promise<boolean> {
    const { lines } = await this.query(`AT+UPSND=${PROFILE_ID},8`, { prefix: "+UPSND:" });
    return integerField(fieldsOf(lineWith(lines, "+UPSND:", "AT+UPSND"), "+UPSND:"), 2, 0, 1, "+UPSND status") === 1;
  }

  protected override async deactivateData(): Promise<void> {
    await this.command(`AT+UPSDA=${PROFILE_ID},4`, { timeoutMs: 40000 });
  }

  protected override async openSocketOnModem(host: string, port: number, timeoutMs: number): Promise<number> {
    const { lines } = await this.command("AT+USOCR=6", { prefix: "+USOCR:" }).catch((error: unknown) => {
      if (error instanceof AtCommandError) throw new SocketOpenError(`AT+USOCR=6 answered ${error.final}`, "no-socket", undefined, undefined, { cause: error });
      throw error;
    });
    const id = integerField(fieldsOf(lineWith(lines, "+USOCR:", "AT+USOCR"), "+USOCR:"), 0, 0, 255, "+USOCR socket");
    if (this.socketById(id)) throw new ModemResponseError(`AT+USOCR gave socket ${id}, which is still open`);
    const connected = this.waitForUrc(
      (line) => {
        const fields = fieldsOf(line, "+UUSOCO:");
        return integerField(fields, 0, 0, 255, "socket") === id ? integerField(fields, 1, 0, 65535, "+UUSOCO error") : undefined;
      },
      timeoutMs,
      () => new SocketOpenError(`no +UUSOCO for ${host}:${port} within ${timeoutMs} ms`, "timeout", undefined, id),
    );
    try {
      await this.command(`AT+USOCO=${id},"${host}",${port},1`, { timeoutMs: 10000 });
      const code = await connected.promise;
      if (code !== 0) {
        const { reason, text } = classifyConnectError(code);
        throw new SocketOpenError(`cannot connect to ${host}:${port}: +UUSOCO error ${code} (${text})`, reason, code, id);
      }
      return id;
    } catch (error) {
      connected.cancel();
      await this.command(`AT+USOCL=${id}`, { timeoutMs: CLOSE_TIMEOUT_MS }).catch(() => undefined);
      if (error instanceof AtCommandError) throw new SocketOpenError(`AT+USOCO to ${host}:${port} answered ${error.final}`, "other", undefined, id, { cause: error });
      throw error;
    }
  }

  override async sendChunk(socket: PullSocket, chunk: Uint8Array): Promise<void> {
    await this.socketCommand(socket, async () => {
      let lines: readonly string[];
      try {
        ({ lines } = await this.at.send(`AT+USOWR=${socket.id},${chunk.length}`, {
          prefix: "+USOWR:",
          payload: { data: chunk, prompt: "@", delayAfterPromptMs: PROMPT_PAUSE_MS },
          timeoutMs: this.dataTimeout(chunk.length),
        }));
      } catch (error) {
        if (error instanceof AtCommandError) throw new SocketSendError(`socket ${socket.id}: AT+USOWR answered ${error.final}`, socket.id, { cause: error });
        throw error;
      }
      const line = lines.find((l) => l.startsWith("+USOWR:"));
      if (!line) throw new SocketSendError(`socket ${socket.id}: AT+USOWR answered OK without +USOWR (not sent)`, socket.id);
      const fields = fieldsOf(line, "+USOWR:");
      const sent = integerField(fields, 1, 0, 65535, "+USOWR length");
      if (integerField(fields, 0, 0, 255, "socket") !== socket.id || sent !== chunk.length) {
        throw new SocketSendError(`socket ${socket.id}: the modem took ${sent} of ${chunk.length} bytes (${quoteForError(line)})`, socket.id);
      }
    });
  }

  override async receive(socket: PullSocket, maxBytes: number): Promise<ReceiveResult> {
    const read = (): ReturnType<AtEngine["send"]> =>
      this.at.send(`AT+USORD=${socket.id},${maxBytes}`, {
        prefix: "+USORD:",
        // `+USORD: <s>,<n>,"<n bytes>"`: the quotes come with the payload, so take n + 2 bytes.
        dataHeader: {
          prefix: "+USORD:",
          inline: true,
          length: (header) => {
            const match = /^\+USORD:\s*(\d{1,3})\s*,\s*(\d{1,5})\s*$/.exec(header);
            return match && Number(match[1]) === socket.id ? Number(match[2]) + 2 : null;
          },
        },
        timeoutMs: this.dataTimeout(maxBytes),
      });
    let response;
    if (socket.state === "peer-closed") {
      // After +UUSOCL the socket may be gone: "operation not allowed" then means "nothing left".
      try {
        response = await read();
      } catch (error) {
        if (error instanceof AtCmeError && (error.code === 3 || /not allowed/i.test(error.text ?? ""))) return { data: new Uint8Array(0), endOfStream: true };
        throw error;
      }
    } else {
      response = await this.socketCommand(socket, read);
    }
    const quoted = response.data[0];
    if (!quoted) throw new ModemResponseError(`AT+USORD=${socket.id} answered no +USORD: <s>,<n>,"<data>" (${quoteForError(response.lines.join(" | "))})`);
    if (quoted.length < 2 || quoted[0] !== 0x22 || quoted[quoted.length - 1] !== 0x22) throw new ModemResponseError(`AT+USORD=${socket.id}: the data is not inside double quotes`);
    const data = quoted.slice(1, quoted.length - 1);
    if (data.length > maxBytes) throw new ModemResponseError(`AT+USORD asked for ${maxBytes} bytes and got ${data.length}`);
    return { data };
  }

  override async closeOnModem(socket: PullSocket): Promise<void> {
    // Closing a socket the modem already closed, then opening one, locked boards for minutes (TinyGSM).
    if (socket.closeReason !== "local") return;
    const closed = this.waitForUrc(
      (line) => (integerField(fieldsOf(line, "+UUSOCL:"), 0, 0, 255, "socket") === socket.id ? true : undefined),
      CLOSE_TIMEOUT_MS,
      () => new SocketSendError(`no +UUSOCL for socket ${socket.id} within ${CLOSE_TIMEOUT_MS} ms`, socket.id),
    );
    try {
      await this.command(`AT+USOCL=${socket.id},1`, { timeoutMs: 10000 });
    } catch (error) {
      closed.cancel();
      if (!(error instanceof AtCommandError)) throw error;
      // No asynchronous close on this firmware: the synchronous one can take up to 120 s.
      await this.command(`AT+USOCL=${socket.id}`, { timeoutMs: 120000 });
      return;
    }
    await closed.promise;
  }
}
