/**
 * Sequans GM02S / GM02SP (the Walter board; modems.md §2.5). The LTE attach brings the bearer up
 * (no activation command). TCP in command mode:
 *   AT+SQNSCFG=<id 1..6>,<cid>,<pktSz>,<maxTo>,<connTo ×100 ms>,<txTo ×100 ms>
 *   AT+SQNSCFGEXT=<id>,1,0,0,0,0   (ring with length, raw receive, no keepalive, raw send)
 *   AT+SQNSD=<id>,0,<port>,"<host>",0,0,1,0 → OK once connected
 *   AT+SQNSSENDEXT=<id>,<len ≤1500> → CR LF `> ` → bytes → OK
 *   `+SQNSRING: <id>[,<len>]` → AT+SQNSRECV=<id>,<n ≤1500> → `+SQNSRECV: <id>,<n>` CR LF <n bytes> CR LF OK
 *   AT+SQNSH=<id>; `+SQNSH: <id>` when the peer closes.
 * Boot (and AT^RESET) ends with `+SYSSTART`. Monarch answers AT+CSIM without quotes and may repeat
 * earlier answers first: modules/sim takes the last +CSIM line, quoted or not.
 */
import { AtCmeError, AtCommandError, type AtEngine, lengthFromField } from "../../at/index.js";
import type { Platform } from "../../platform/platform.js";
import { ModemResponseError, SocketOpenError, SocketSendError } from "../errors.js";
import { type DialectProfile, GenericModem, type ModemOptions } from "../generic.js";
import { fieldsOf, integerField, quoteForError } from "../parse.js";
import type { PullSocket, ReceiveResult } from "../socket.js";

export const SEQUANS_GM02S_PROFILE: DialectProfile = {
  name: "sequans-gm02s",
  bootUrcs: ["+SYSSTART"],
  echoOff: true,
  cid: 1,
  // CSIM worked on the first Monarch (unquoted answers); GM02S CSIM/CGLA untested (modems.md §2.5).
  simAccess: { csim: true, cgla: true, order: ["csim", "cgla"] },
  maxSendChunk: 1500,
  maxReadChunk: 1500,
  iccidCommands: [{ command: "AT+SQNCCID", prefix: "+SQNCCID:" }, { command: "AT+CCID", prefix: "+CCID:" }],
  softResetCommand: "AT^RESET",
  bootTimeoutMs: 15000,
  connectTimeoutMs: 60000,
  activationTimeoutMs: 150000,
  apnAtAttach: true,
};

export class SequansGm02sModem extends GenericModem {
  constructor(at: AtEngine, platform: Platform, options: ModemOptions = {}) {
    super(at, platform, options, SEQUANS_GM02S_PROFILE);
    this.subscribe("+SQNSRING:", (line) => this.#withSocket(line, "+SQNSRING:", (socket) => socket.notifyData()));
    this.subscribe("+SQNSH:", (line) => this.#withSocket(line, "+SQNSH:", (socket) => socket.notifyPeerClosed()));
  }

  #withSocket(line: string, prefix: string, action: (socket: PullSocket) => void): void {
    try {
      const socket = this.socketById(integerField(fieldsOf(line, prefix), 0, 1, 6, "connId"));
      if (socket) action(socket);
    } catch (error) {
      this.log("debug", `ignored ${quoteForError(line)}: ${(error as Error).message}`);
    }
  }

  protected override async openSocketOnModem(host: string, port: number, timeoutMs: number): Promise<number> {
    const id = this.freeSocketId(1, 6);
    const connectTenths = Math.min(1200, Math.max(10, Math.ceil(timeoutMs / 100)));
    try {
      // Packet size 0 (default), no inactivity timeout, connect timeout, 5 s transmit timeout.
      await this.command(`AT+SQNSCFG=${id},${this.profile.cid},0,0,${connectTenths},50`);
      await this.command(`AT+SQNSCFGEXT=${id},1,0,0,0,0`);
      await this.command(`AT+SQNSD=${id},0,${port},"${host}",0,0,1,0`, { timeoutMs: timeoutMs + 5000 });
    } catch (error) {
      if (error instanceof AtCommandError) throw new SocketOpenError(`cannot connect to ${host}:${port}: ${error.message}`, "other", undefined, id, { cause: error });
      throw error;
    }
    return id;
  }

  override async sendChunk(socket: PullSocket, chunk: Uint8Array): Promise<void> {
    await this.socketCommand(socket, async () => {
      try {
        await this.at.send(`AT+SQNSSENDEXT=${socket.id},${chunk.length}`, { payload: { data: chunk, prompt: ">" }, timeoutMs: this.dataTimeout(chunk.length) });
      } catch (error) {
        if (error instanceof AtCommandError) throw new SocketSendError(`socket ${socket.id}: AT+SQNSSENDEXT answered ${error.final}`, socket.id, { cause: error });
        throw error;
      }
    });
  }

  override async receive(socket: PullSocket, maxBytes: number): Promise<ReceiveResult> {
    const read = (): ReturnType<AtEngine["send"]> =>
      this.at.send(`AT+SQNSRECV=${socket.id},${maxBytes}`, {
        prefix: "+SQNSRECV:",
        dataHeader: { prefix: "+SQNSRECV:", length: lengthFromField(1, 2) },
        timeoutMs: this.dataTimeout(maxBytes),
      });
    let response;
    if (socket.state === "peer-closed") {
      // After +SQNSH the connection may be gone: an error then means "nothing left".
      try {
        response = await read();
      } catch (error) {
        if (error instanceof AtCommandError || error instanceof AtCmeError) return { data: new Uint8Array(0), endOfStream: true };
        throw error;
      }
    } else {
      response = await this.socketCommand(socket, read);
    }
    const header = response.lines.find((line) => line.startsWith("+SQNSRECV:"));
    const data = response.data[0];
    if (!header || !data) throw new ModemResponseError(`AT+SQNSRECV=${socket.id} answered no +SQNSRECV: <id>,<n> header (${quoteForError(response.lines.join(" | "))})`);
    if (integerField(fieldsOf(header, "+SQNSRECV:"), 0, 1, 6, "connId") !== socket.id) throw new ModemResponseError(`AT+SQNSRECV=${socket.id} answered for another socket: ${quoteForError(header)}`);
    if (data.length > maxBytes) throw new ModemResponseError(`AT+SQNSRECV asked for ${maxBytes} bytes and got ${data.length}`);
    return { data };
  }

  override async closeOnModem(socket: PullSocket): Promise<void> {
    if (socket.closeReason === "lost" || socket.closeReason === "network") return;
    try {
      await this.command(`AT+SQNSH=${socket.id}`, { timeoutMs: 15000 });
    } catch (error) {
      // After +SQNSH: <id> the modem has closed it already.
      if (!(error instanceof AtCommandError) || socket.closeReason !== "peer") throw error;
    }
  }
}
