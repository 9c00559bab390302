/**
 * SIMCom SIM7080G with the CA* socket set (modems.md §2.2): AT+CNCFG / AT+CNACT (application PDP
 * index 0, while AT+CGDCONT uses cid 1; `+APP PDP: 0,ACTIVE|DEACTIVE`); TCP:
 *   AT+CAOPEN=<cid>,0,"TCP","<host>",<port> → `+CAOPEN: <cid>,<result>` (0 OK, 20 DNS, 21 no network, 27 connect failed)
 *   AT+CASEND=<cid>,<len> → `> ` → bytes → OK
 *   `+CADATAIND: <cid>` → AT+CARECV=<cid>,<len> → `+CARECV: <len>,<data…>` CR LF OK (data on the header line)
 *   AT+CACLOSE=<cid>; `+CASTATE: <cid>,0` when the peer closes.
 * The manual puts `<cid>,` before the length in the +CARECV answer; real firmware does not
 * (modems.md pitfall 20). The two forms cannot be told apart when the length equals the cid, so
 * the form is an option: `carecvForm` "length" (default, real firmware) or "cid-length" (manual).
 */
import { AtCommandError, type AtEngine } from "../../at/index.js";
import type { Platform } from "../../platform/platform.js";
import { ApnRejectedError, ModemResponseError, type SocketOpenFailure, SocketOpenError, SocketSendError } from "../errors.js";
import { type DialectProfile, GenericModem, type ModemOptions } from "../generic.js";
import { fieldsOf, integerField, lineWith, quoteForError } from "../parse.js";
import type { PullSocket, ReceiveResult } from "../socket.js";
import type { AttachOptions } from "../types.js";

export const SIMCOM_SIM7080_PROFILE: DialectProfile = {
  name: "simcom-sim7080",
  // `+CPIN: READY` and `PB DONE` also come at boot, but +CPIN also answers AT+CPIN?: not a boot sign.
  bootUrcs: ["RDY", "SMS Ready"],
  echoOff: true,
  cid: 1,
  // No first-hand evidence for CSIM or CCHO on SIM7080 (modems.md §2.2): CSIM first, CGLA as fallback.
  simAccess: { csim: true, cgla: true, order: ["csim", "cgla"] },
  // ~1460 per SIMCom, Zephyr caps at 1024; TinyGSM#437 saw wrong +CARECV lengths above 512 on SIM7000.
  maxSendChunk: 1024,
  maxReadChunk: 1024,
  iccidCommands: [{ command: "AT+CCID" }],
  softResetCommand: "AT+CREBOOT",
  bootTimeoutMs: 15000,
  connectTimeoutMs: 150000,
  activationTimeoutMs: 150000,
};

/** The application-layer PDP index bound to CGDCONT cid 1. */
const PDP_INDEX = 0;

export interface SimcomOptions extends ModemOptions {
  /** Shape of the +CARECV answer: "length" = `+CARECV: <len>,<data>` (real firmware), "cid-length" = `+CARECV: <cid>,<len>,<data>` (manual). */
  carecvForm?: "length" | "cid-length";
}

function classifyOpenResult(result: number): { reason: SocketOpenFailure; text: string } {
  switch (result) {
    case 20:
      return { reason: "dns", text: "cannot resolve the host" };
    case 21:
      return { reason: "no-network", text: "network not active" };
    case 23:
    case 27:
      return { reason: "refused", text: result === 23 ? "remote refused" : "connect failed" };
    case 3:
      return { reason: "no-socket", text: "connection limit" };
    default:
      return { reason: "other", text: `result ${result}` };
  }
}

export class SimcomSim7080Modem extends GenericModem {
  readonly #cidFirst: boolean;
  /** Set while this driver activates the context: +APP PDP answers it, it is not a loss. */
  #activating = false;

  constructor(at: AtEngine, platform: Platform, options: SimcomOptions = {}) {
    super(at, platform, options, SIMCOM_SIM7080_PROFILE);
    this.#cidFirst = options.carecvForm === "cid-length";
    this.subscribe("+CADATAIND:", (line) => this.#onSocketUrc(line, "data"));
    this.subscribe("+CASTATE:", (line) => this.#onSocketUrc(line, "state"));
    this.subscribe("+APP PDP:", (line) => this.#onAppPdp(line));
  }

  #onSocketUrc(line: string, kind: "data" | "state"): void {
    try {
      const fields = fieldsOf(line, kind === "data" ? "+CADATAIND:" : "+CASTATE:");
      const socket = this.socketById(integerField(fields, 0, 0, 12, "cid"));
      if (kind === "data") socket?.notifyData();
      else if (integerField(fields, 1, 0, 9, "state") === 0) socket?.notifyPeerClosed();
    } catch (error) {
      this.log("debug", `ignored ${quoteForError(line)}: ${(error as Error).message}`);
    }
  }

  #onAppPdp(line: string): void {
    if (this.#activating) return;
    const fields = fieldsOf(line, "+APP PDP:");
    if (fields[0]?.value === String(PDP_INDEX) && fields[1]?.value.toUpperCase() === "DEACTIVE") {
      this.dataContextLost(`the network deactivated application PDP ${PDP_INDEX}`);
    }
  }

  protected override async activateData(options: AttachOptions, timeoutMs: number): Promise<string | undefined> {
    const credentials = options.user !== undefined && options.user !== "" ? `,"${options.user}","${options.password ?? ""}",3` : "";
    await this.command(`AT+CNCFG=${PDP_INDEX},1,"${options.apn}"${credentials}`);
    const active = await this.#activeAddress();
    if (active !== undefined) return active;
    this.#activating = true;
    const outcome = this.waitForUrc(
      (line) => {
        const fields = fieldsOf(line, "+APP PDP:");
        if (fields[0]?.value !== String(PDP_INDEX)) return undefined;
        return fields[1]?.value.toUpperCase() === "ACTIVE" ? "active" : "deactive";
      },
      timeoutMs,
      () => new ApnRejectedError(options.apn, `no +APP PDP: ${PDP_INDEX},ACTIVE within ${timeoutMs} ms`),
    );
    try {
      try {
        await this.command(`AT+CNACT=${PDP_INDEX},1`, { timeoutMs: 30000 });
      } catch (error) {
        outcome.cancel();
        if (error instanceof AtCommandError) throw new ApnRejectedError(options.apn, `AT+CNACT=${PDP_INDEX},1 answered ${error.final}`, { cause: error });
        throw error;
      }
      if ((await outcome.promise) !== "active") throw new ApnRejectedError(options.apn, `the modem answered +APP PDP: ${PDP_INDEX},DEACTIVE`);
    } finally {
      this.#activating = false;
    }
    return (await this.#activeAddress()) || undefined;
  }

  /** `+CNACT: <idx>,<status>,"<ip>"`: the address when index 0 is active, undefined otherwise. */
  async #activeAddress(): Promise<string | undefined> {
    const { lines } = await this.query("AT+CNACT?", { prefix: "+CNACT:" });
    for (const line of lines) {
      const fields = fieldsOf(line, "+CNACT:");
      if (integerField(fields, 0, 0, 15, "pdpidx") !== PDP_INDEX) continue;
      if (integerField(fields, 1, 0, 2, "statusx") === 1) return fields[2]?.value ?? "";
    }
    return undefined;
  }

  protected override async isDataActive(): Promise<boolean> {
    return (await this.#activeAddress()) !== undefined;
  }

  protected override async deactivateData(): Promise<void> {
    this.#activating = true;
    try {
      await this.command(`AT+CNACT=${PDP_INDEX},0`, { timeoutMs: 30000 });
    } finally {
      this.#activating = false;
    }
  }

  protected override async openSocketOnModem(host: string, port: number, timeoutMs: number): Promise<number> {
    const id = this.freeSocketId(0, 12);
    let lines: readonly string[];
    try {
      ({ lines } = await this.command(`AT+CAOPEN=${id},${PDP_INDEX},"TCP","${host}",${port}`, { prefix: "+CAOPEN:", timeoutMs }));
    } catch (error) {
      if (error instanceof AtCommandError) throw new SocketOpenError(`AT+CAOPEN to ${host}:${port} answered ${error.final}`, "other", undefined, id, { cause: error });
      throw error;
    }
    const fields = fieldsOf(lineWith(lines, "+CAOPEN:", "AT+CAOPEN"), "+CAOPEN:");
    if (integerField(fields, 0, 0, 12, "cid") !== id) throw new ModemResponseError(`AT+CAOPEN=${id} answered for another cid: ${quoteForError(lines.join(" | "))}`);
    const result = integerField(fields, 1, 0, 255, "+CAOPEN <result>");
    if (result !== 0) {
      await this.command(`AT+CACLOSE=${id}`, { timeoutMs: 10000 }).catch(() => undefined);
      const { reason, text } = classifyOpenResult(result);
      throw new SocketOpenError(`cannot connect to ${host}:${port}: +CAOPEN result ${result} (${text})`, reason, result, id);
    }
    return id;
  }

  override async sendChunk(socket: PullSocket, chunk: Uint8Array): Promise<void> {
    await this.socketCommand(socket, async () => {
      try {
        await this.at.send(`AT+CASEND=${socket.id},${chunk.length}`, { payload: { data: chunk, prompt: ">" }, timeoutMs: this.dataTimeout(chunk.length) });
      } catch (error) {
        if (error instanceof AtCommandError) throw new SocketSendError(`socket ${socket.id}: AT+CASEND answered ${error.final}`, socket.id, { cause: error });
        throw error;
      }
    });
  }

  /** The data length announced by `+CARECV: ...` at the comma before the data (null: not there yet). */
  #carecvLength(socketId: number): (header: string) => number | null {
    return (header) => {
      const colon = header.indexOf(":");
      if (colon < 0) return null;
      const fields = header.slice(colon + 1).split(",");
      if (!fields.every((f) => /^\s*\d{1,9}\s*$/.test(f))) return null;
      const numbers = fields.map((f) => Number(f.trim()));
      if (!this.#cidFirst) return numbers.length === 1 ? numbers[0]! : null;
      if (numbers.length === 1) return null;
      if (numbers.length === 2 && numbers[0] === socketId) return numbers[1]!;
      return null;
    };
  }

  override async receive(socket: PullSocket, maxBytes: number): Promise<ReceiveResult> {
    const response = await this.socketCommand(socket, () =>
      this.at.send(`AT+CARECV=${socket.id},${maxBytes}`, {
        prefix: "+CARECV:",
        dataHeader: { prefix: "+CARECV:", length: this.#carecvLength(socket.id), inline: true },
        timeoutMs: this.dataTimeout(maxBytes),
      }),
    );
    const data = response.data[0];
    if (!data) throw new ModemResponseError(`AT+CARECV=${socket.id} answered no +CARECV: <len> header (${quoteForError(response.lines.join(" | "))})`);
    if (data.length > maxBytes) throw new ModemResponseError(`AT+CARECV asked for ${maxBytes} bytes and got ${data.length}`);
    return { data };
  }

  override async closeOnModem(socket: PullSocket): Promise<void> {
    if (socket.closeReason === "lost" || socket.closeReason === "network") return;
    await this.command(`AT+CACLOSE=${socket.id}`, { timeoutMs: 15000 });
  }
}
