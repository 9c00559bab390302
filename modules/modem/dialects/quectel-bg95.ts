/**
 * Quectel BG95 / BG96 / BG77 (modems.md §2.1): AT+QICSGP / AT+QIACT data context, TCP in buffer
 * access mode (access_mode 0): AT+QIOPEN → OK, then `+QIOPEN: <id>,<err>`; AT+QISEND=<id>,<len>
 * → `> ` → bytes → SEND OK | SEND FAIL (buffer full: retried); `+QIURC: "recv",<id>[,<len>]`
 * (once until drained) → AT+QIRD=<id>,<n> → `+QIRD: <n>\r\n<n bytes>\r\n\r\nOK`; AT+QICLOSE;
 * `+QIURC: "closed",<id>` and `+QIURC: "pdpdeact",<ctx>`.
 */
import { AtCommandError, lengthFromField } from "../../at/index.js";
import type { AtEngine } from "../../at/index.js";
import type { Platform } from "../../platform/platform.js";
import { sleep, TimeoutError, withTimeout } from "../../platform/time.js";
import { ApnRejectedError, ModemResponseError, type SocketOpenFailure, SocketOpenError, SocketSendError } from "../errors.js";
import { type DialectProfile, GenericModem, type ModemOptions } from "../generic.js";
import { fieldsOf, integerField, quoteForError } from "../parse.js";
import type { PullSocket, ReceiveResult } from "../socket.js";
import type { AttachOptions } from "../types.js";

export const QUECTEL_BG95_PROFILE: DialectProfile = {
  name: "quectel-bg95",
  bootUrcs: ["RDY", "APP RDY"],
  echoOff: true,
  cid: 1,
  // CSIM works on BG96 (wolfSSL's IoT SAFE demo); CCHO/CGLA on BG95 is unconfirmed: second choice.
  simAccess: { csim: true, cgla: true, order: ["csim", "cgla"] },
  maxSendChunk: 1460,
  maxReadChunk: 1500,
  iccidCommands: [{ command: "AT+QCCID", prefix: "+QCCID:" }, { command: "AT+CCID", prefix: "+CCID:" }],
  softResetCommand: "AT+CFUN=1,1",
  bootTimeoutMs: 15000,
  connectTimeoutMs: 150000,
  activationTimeoutMs: 150000,
};

const CONTEXT_ID = 1;
/** SEND FAIL means "buffer full": retry this many times, pausing between. */
const SEND_FAIL_RETRIES = 10;

/** Quectel TCP/IP error codes of +QIOPEN (Quectel TCP/IP application note). */
function classifyOpenError(code: number): { reason: SocketOpenFailure; text: string } {
  switch (code) {
    case 564:
      return { reason: "dns", text: "DNS busy" };
    case 565:
      return { reason: "dns", text: "DNS parse failed" };
    case 566:
      return { reason: "refused", text: "socket connect failed" };
    case 569:
      return { reason: "timeout", text: "operation timeout" };
    case 561:
    case 570:
    case 573:
      return { reason: "no-network", text: code === 561 ? "open PDP context failed" : code === 570 ? "PDP context broken down" : "APN not configured" };
    case 563:
      return { reason: "no-socket", text: "socket identity has been used" };
    default:
      return { reason: "other", text: `error ${code}` };
  }
}

export class QuectelBg95Modem extends GenericModem {
  readonly #openWaiters = new Map<number, (code: number) => void>();

  constructor(at: AtEngine, platform: Platform, options: ModemOptions = {}) {
    super(at, platform, options, QUECTEL_BG95_PROFILE);
    this.subscribe("+QIURC:", (line) => this.#onQiurc(line));
    this.subscribe("+QIOPEN:", (line) => this.#onQiopen(line));
  }

  #onQiurc(line: string): void {
    try {
      const fields = fieldsOf(line, "+QIURC:");
      const kind = fields[0]?.value;
      if (kind === "recv") this.socketById(integerField(fields, 1, 0, 11, "connectID"))?.notifyData();
      else if (kind === "closed") this.socketById(integerField(fields, 1, 0, 11, "connectID"))?.notifyPeerClosed();
      else if (kind === "pdpdeact") {
        if (integerField(fields, 1, 1, 16, "contextID") === CONTEXT_ID) this.dataContextLost(`the network deactivated PDP context ${CONTEXT_ID}`);
      }
    } catch (error) {
      this.log("debug", `ignored ${quoteForError(line)}: ${(error as Error).message}`);
    }
  }

  #onQiopen(line: string): void {
    try {
      const fields = fieldsOf(line, "+QIOPEN:");
      const id = integerField(fields, 0, 0, 11, "connectID");
      const code = integerField(fields, 1, 0, 65535, "+QIOPEN <err>");
      this.#openWaiters.get(id)?.(code);
    } catch (error) {
      this.log("debug", `ignored ${quoteForError(line)}: ${(error as Error).message}`);
    }
  }

  protected override async activateData(options: AttachOptions, timeoutMs: number): Promise<string | undefined> {
    const auth = options.user !== undefined && options.user !== "" ? 1 : 0;
    await this.command(`AT+QICSGP=${CONTEXT_ID},1,"${options.apn}","${options.user ?? ""}","${options.password ?? ""}",${auth}`);
    let ip = await this.#activeAddress();
    if (ip !== undefined) return ip || undefined;
    try {
      await this.command(`AT+QIACT=${CONTEXT_ID}`, { timeoutMs });
    } catch (error) {
      if (error instanceof AtCommandError) throw new ApnRejectedError(options.apn, `AT+QIACT=${CONTEXT_ID} answered ${error.final}`, { cause: error });
      throw error;
    }
    ip = await this.#activeAddress();
    return ip || undefined;
  }

  /** The address of the active context (empty when active without one), or undefined when inactive. */
  async #activeAddress(): Promise<string | undefined> {
    const { lines } = await this.query("AT+QIACT?", { prefix: "+QIACT:" });
    for (const line of lines) {
      const fields = fieldsOf(line, "+QIACT:");
      if (integerField(fields, 0, 1, 16, "contextID") !== CONTEXT_ID) continue;
      if (integerField(fields, 1, 0, 1, "context_state") === 1) return fields[3]?.value ?? "";
    }
    return undefined;
  }

  protected override async isDataActive(): Promise<boolean> {
    return (await this.#activeAddress()) !== undefined;
  }

  protected override async deactivateData(): Promise<void> {
    await this.command(`AT+QIDEACT=${CONTEXT_ID}`, { timeoutMs: 40000 });
  }

  protected override async openSocketOnModem(host: string, port: number, timeoutMs: number): Promise<number> {
    try {
      return await this.#openOnce(host, port, timeoutMs);
    } catch (error) {
      // 563: the id is still held on the modem by a socket an earlier boot of the MCU opened (the
      // modem kept running). The failed attempt closed it; one more try then finds it free.
      if (!(error instanceof SocketOpenError) || error.code !== 563) throw error;
      this.platform.log("info", "modem", `socket id ${error.socketId} was left open by an earlier boot; closed it, opening again`);
      return this.#openOnce(host, port, timeoutMs);
    }
  }

  async #openOnce(host: string, port: number, timeoutMs: number): Promise<number> {
    const id = this.freeSocketId(0, 11);
    let resolveCode!: (code: number) => void;
    const result = new Promise<number>((resolve) => {
      resolveCode = resolve;
    });
    this.#openWaiters.set(id, (code) => resolveCode(code));
    try {
      try {
        await this.command(`AT+QIOPEN=${CONTEXT_ID},${id},"TCP","${host}",${port},0,0`, { timeoutMs: 10000 });
      } catch (error) {
        if (error instanceof AtCommandError) throw new SocketOpenError(`AT+QIOPEN to ${host}:${port} answered ${error.final}`, "other", undefined, id, { cause: error });
        throw error;
      }
      let code: number;
      try {
        code = await withTimeout(this.platform, result, timeoutMs, () => new TimeoutError("no +QIOPEN"));
      } catch (error) {
        await this.#closeQuietly(id);
        throw new SocketOpenError(`no +QIOPEN answer for ${host}:${port} within ${timeoutMs} ms`, "timeout", undefined, id, { cause: error });
      }
      if (code !== 0) {
        // The id stays allocated on the modem after a failed open until QICLOSE.
        await this.#closeQuietly(id);
        const { reason, text } = classifyOpenError(code);
        throw new SocketOpenError(`cannot connect to ${host}:${port}: +QIOPEN error ${code} (${text})`, reason, code, id);
      }
      return id;
    } finally {
      this.#openWaiters.delete(id);
    }
  }

  async #closeQuietly(id: number): Promise<void> {
    await this.command(`AT+QICLOSE=${id}`, { timeoutMs: 10000 }).catch(() => undefined);
  }

  override async sendChunk(socket: PullSocket, chunk: Uint8Array): Promise<void> {
    await this.socketCommand(socket, async () => {
      let pause = 100;
      for (let attempt = 0; ; attempt++) {
        try {
          await this.at.send(`AT+QISEND=${socket.id},${chunk.length}`, {
            payload: { data: chunk, prompt: ">" },
            finalResults: ["SEND OK"],
            errorResults: ["SEND FAIL"],
            timeoutMs: this.dataTimeout(chunk.length),
          });
          return;
        } catch (error) {
          if (!(error instanceof AtCommandError)) throw error;
          if (error.final !== "SEND FAIL") throw new SocketSendError(`socket ${socket.id}: AT+QISEND answered ${error.final}`, socket.id, { cause: error });
          if (attempt >= SEND_FAIL_RETRIES) throw new SocketSendError(`socket ${socket.id}: the modem's send buffer stayed full (SEND FAIL ${attempt + 1} times)`, socket.id, { cause: error });
          await sleep(this.platform, pause);
          pause = Math.min(pause * 2, 2000);
        }
      }
    });
  }

  override async receive(socket: PullSocket, maxBytes: number): Promise<ReceiveResult> {
    const response = await this.socketCommand(socket, () =>
      this.at.send(`AT+QIRD=${socket.id},${maxBytes}`, {
        prefix: "+QIRD:",
        dataHeader: { prefix: "+QIRD:", length: lengthFromField(0, 1) },
        timeoutMs: this.dataTimeout(maxBytes),
      }),
    );
    const data = response.data[0];
    if (!data) throw new ModemResponseError(`AT+QIRD=${socket.id} answered no +QIRD: <n> header (${quoteForError(response.lines.join(" | "))})`);
    if (data.length > maxBytes) throw new ModemResponseError(`AT+QIRD asked for ${maxBytes} bytes and got ${data.length}`);
    return { data };
  }

  override async closeOnModem(socket: PullSocket): Promise<void> {
    if (socket.closeReason === "lost" || socket.closeReason === "network") return;
    await this.command(`AT+QICLOSE=${socket.id}`, { timeoutMs: 10000 });
  }
}
