/**
 * AT command engine: one command outstanding at a time over a ByteLink, with a queue,
 * per-command timeouts, resynchronisation, URC dispatch, data prompts and length-framed reads.
 *
 * ```ts
 * const at = new AtEngine(link, platform, { defaultTimeoutMs: 5000 });
 * const r = await at.send('AT+CSIM=10,"0070000001"', { prefix: "+CSIM:", timeoutMs: 10000 });
 * //   r.lines  info lines (with `prefix`: only the lines starting with it; without: every non-URC line)
 * //   r.final  the final result code ("OK", or a declared extra final such as "SEND OK")
 * //   r.data   length-framed payloads, in order
 * await at.send("AT+QISEND=0,5", { payload: { data, prompt: ">" }, finalResults: ["SEND OK"], errorResults: ["SEND FAIL"] });
 * await at.send("AT+USOWR=0,5", { prefix: "+USOWR:", payload: { data, prompt: "@", delayAfterPromptMs: 50 } });
 * await at.send("AT+QIRD=0,100", { prefix: "+QIRD:", dataHeader: { prefix: "+QIRD:", length: lengthFromField(0, 1) } });
 * await at.send("AT+CARECV=0,100", { prefix: "+CARECV:", dataHeader: { prefix: "+CARECV:", length: lengthFromField(0, 1), inline: true } });
 * const off = at.onUrc("+CEREG:", (line) => ...);   // off() unsubscribes
 * await at.resync();                                 // send AT until OK (power-on autobaud, recovery)
 * at.counters; at.close();
 * ```
 *
 * Line attribution, in order, while a command is pending: its echo is dropped; a line starting
 * with `dataHeader.prefix` for which `length()` gives a number is a data header; a final result
 * code ends the command; a line starting with `prefix` is a response line (even if a URC handler
 * has that prefix); a registered URC prefix goes to its handlers; anything else is collected
 * when the command has no `prefix`, dropped otherwise. While idle: URCs are dispatched, other
 * lines (including stale final result codes) are dropped.
 *
 * Final result codes: OK; ERROR, +CME ERROR, +CMS ERROR, NO CARRIER, BUSY, NO ANSWER,
 * NO DIALTONE, ABORT (these reject, see errors.ts); plus the command's `finalResults` (resolve,
 * e.g. "SEND OK", "CONNECT") and `errorResults` (reject with AtCommandError, e.g. "SEND FAIL").
 * A declared result matches the whole line, or its start when followed by " ", ":" or ",".
 *
 * Data headers: `length(headerText)` returns the payload length N (0 = no payload follows) or
 * null when the line is not a data header (e.g. `+QIRD: 5,5,0` answering a query). The header
 * text is also added to `lines`. Standard form: the N bytes follow the header line's CR LF.
 * With `inline: true`, `length` is also asked at each comma of a line being received, with the
 * text before that comma, and the N bytes start right after the comma (SIMCom `+CARECV: 12,<data>`).
 *
 * After a timeout (and after a failed write) the engine resynchronises before running anything
 * else: it discards partial input, sends `AT` until it gets `OK` followed by `resyncQuietMs` of
 * silence (so a late `OK` of the aborted command is not mistaken for a fresh one), at most
 * `resyncAttempts` times; if that fails, the waiting commands reject with AtResyncError and the
 * next send() tries again. Received lines are Latin-1 strings (one character per byte), trimmed;
 * NUL and 0xFF bytes are dropped as line noise. Memory is bounded by maxLineLength,
 * maxDataLength, maxResponseLength and maxQueueLength. Data-mode payloads must be sent with ATE0:
 * an echo of payload bytes would be read as lines.
 */
import { asciiToBytes, bytesToAscii } from "../bytes/bytes.js";
import { type ByteLink, LinkClosedError, type LogLevel, type Platform, type TimerHandle } from "../platform/platform.js";
import {
  AtAbandonedError,
  AtClosedError,
  AtCmeError,
  AtCmsError,
  AtCommandError,
  AtError,
  AtFramingError,
  AtInvalidCommandError,
  AtLineTooLongError,
  AtQueueFullError,
  AtResponseTooLongError,
  AtResyncError,
  AtTimeoutError,
} from "./errors.js";

export interface AtEngineOptions {
  /** Timeout of a command without its own `timeoutMs` (default 5000). */
  defaultTimeoutMs?: number;
  /** Appended to every command (default "\r"). */
  lineEnding?: "\r" | "\r\n";
  /** Longest accepted received line in bytes (default 1100: an AT+CSIM response can be ~530). */
  maxLineLength?: number;
  /** Largest accepted length-framed payload (default 2048). */
  maxDataLength?: number;
  /** Largest total of lines and payloads collected for one command (default 8192). */
  maxResponseLength?: number;
  /** Commands that may wait behind the pending one (default 32). */
  maxQueueLength?: number;
  /** `AT` attempts of one resynchronisation (default 5). */
  resyncAttempts?: number;
  /** Wait for `OK` after each resync `AT` (default 1000). */
  resyncTimeoutMs?: number;
  /** Silence required after the resync `OK` (default 100). */
  resyncQuietMs?: number;
}

export interface AtPayload {
  /** Raw bytes written after the prompt. */
  data: Uint8Array;
  /** The prompt the modem sends without a line ending (default ">"; u-blox: "@"). Surrounding spaces are ignored. */
  prompt?: string;
  /** Pause between the prompt and the data (u-blox needs ≥ 50 ms). */
  delayAfterPromptMs?: number;
}

export interface AtDataHeader {
  /** Start of the header line, e.g. "+QIRD:". */
  prefix: string;
  /** Payload length announced by the header text, or null if this line is not a data header. */
  length: (header: string) => number | null;
  /** The payload follows a comma on the header line itself (SIMCom `+CARECV: 12,<data>`). */
  inline?: boolean;
}

export interface AtSendOptions {
  /** Information-line prefix, e.g. "+CSIM:". */
  prefix?: string;
  timeoutMs?: number;
  /** Extra final result codes that complete the command successfully ("SEND OK", "CONNECT"). */
  finalResults?: string[];
  /** Extra final result codes that fail the command ("SEND FAIL", "CONNECT FAIL"). */
  errorResults?: string[];
  /** Data-send command: wait for the prompt, then write the bytes. */
  payload?: AtPayload;
  /** Length-framed read: the header announces N raw bytes. */
  dataHeader?: AtDataHeader;
}

export interface AtResponse {
  lines: string[];
  final: string;
  data: Uint8Array[];
}

export interface AtCounters {
  /** Command lines written, including the resync `AT`s. */
  commandsSent: number;
  bytesIn: number;
  bytesOut: number;
  timeouts: number;
  resyncs: number;
  resyncFailures: number;
  urcs: number;
  overlongLines: number;
}

export type UrcHandler = (line: string) => void;

/**
 * A `length` function for data headers whose length is field `index` of `fieldCount`
 * comma-separated decimal fields after the colon: `+QIRD: 12` → lengthFromField(0, 1),
 * `+SQNSRECV: 1,12` → lengthFromField(1, 2). Any other shape gives null (not a data header).
 */
export function lengthFromField(index: number, fieldCount: number): (header: string) => number | null {
  return (header) => {
    const colon = header.indexOf(":");
    if (colon < 0) return null;
    const fields = header.slice(colon + 1).split(",");
    if (fields.length !== fieldCount) return null;
    for (const field of fields) if (!/^\s*\d{1,9}\s*$/.test(field)) return null;
    return Number(fields[index]!.trim());
  };
}

const CR = 0x0d;
const LF = 0x0a;
const COMMA = 0x2c;
const READ_CHUNK = 256;
const FAILING_FINALS = ["ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "ABORT"];

interface Job {
  command: string;
  bytes: Uint8Array;
  options: AtSendOptions;
  timeoutMs: number;
  resolve: (response: AtResponse) => void;
  reject: (error: Error) => void;
  lines: string[];
  data: Uint8Array[];
  size: number;
  /** First error seen while the response was still arriving; reported when the command ends. */
  failure: AtError | undefined;
  promptBytes: Uint8Array | undefined;
  awaitingPrompt: boolean;
  payloadWritten: boolean;
  timer: TimerHandle | undefined;
  promptTimer: TimerHandle | undefined;
}

interface ResyncRun {
  attempts: number;
  deadline: number;
  timer: TimerHandle | undefined;
  quietTimer: TimerHandle | undefined;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Does `line` match a declared result code (whole line, or its start followed by " ", ":" or ",")? */
function matchesResult(line: string, result: string): boolean {
  if (!line.startsWith(result)) return false;
  if (line.length === result.length || result.endsWith(":")) return true;
  const next = line[result.length];
  return next === " " || next === ":" || next === ",";
}

/** Text for logs: control and non-ASCII bytes as \xNN. */
function printable(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c < 0x20 || c > 0x7e ? `\\x${(c < 16 ? "0" : "") + c.toString(16)}` : text[i];
  }
  return out;
}

function isPositive(value: number | undefined): boolean {
  return value === undefined || (Number.isFinite(value) && value > 0);
}

// Plain (TypeScript-private) fields rather than #fields: the XS bundle is lowered to ES2020, where
// #fields become WeakMap look-ups, too slow in the per-byte receive loop on an ESP32.
export class AtEngine {
  private readonly link: ByteLink;
  private readonly platform: Platform;
  private readonly defaultTimeoutMs: number;
  private readonly lineEnding: string;
  private readonly maxDataLength: number;
  private readonly maxResponseLength: number;
  private readonly maxQueueLength: number;
  private readonly resyncAttempts: number;
  private readonly resyncTimeoutMs: number;
  private readonly resyncQuietMs: number;

  private readonly stats: AtCounters = { commandsSent: 0, bytesIn: 0, bytesOut: 0, timeouts: 0, resyncs: 0, resyncFailures: 0, urcs: 0, overlongLines: 0 };
  private urcHandlers: { prefix: string; handler: UrcHandler }[] = [];
  private queue: Job[] = [];
  private current: Job | undefined;
  private closed = false;
  private pumpScheduled = false;

  // Receive state: a line being assembled, or a counted payload being read.
  private readonly lineBuffer: Uint8Array;
  private lineLength = 0;
  private discardingLine = false;
  private dataBuffer: Uint8Array | undefined;
  private dataFilled = 0;
  private dataRemaining = 0;
  private skipLineFeed = false;

  // Resynchronisation state.
  private needsResync = false;
  private resyncFailed = false;
  private resyncRun: ResyncRun | undefined;
  private resyncWaiters: Waiter[] = [];

  constructor(link: ByteLink, platform: Platform, options: AtEngineOptions = {}) {
    const numbers = [options.defaultTimeoutMs, options.maxLineLength, options.maxDataLength, options.maxResponseLength, options.maxQueueLength, options.resyncAttempts, options.resyncTimeoutMs, options.resyncQuietMs];
    if (!numbers.every(isPositive)) throw new RangeError("AtEngine options must be positive numbers");
    if (options.lineEnding !== undefined && options.lineEnding !== "\r" && options.lineEnding !== "\r\n") throw new RangeError('AtEngine lineEnding must be "\\r" or "\\r\\n"');
    this.link = link;
    this.platform = platform;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 5000;
    this.lineEnding = options.lineEnding ?? "\r";
    this.lineBuffer = new Uint8Array(Math.max(16, Math.floor(options.maxLineLength ?? 1100)));
    this.maxDataLength = options.maxDataLength ?? 2048;
    this.maxResponseLength = options.maxResponseLength ?? 8192;
    this.maxQueueLength = options.maxQueueLength ?? 32;
    this.resyncAttempts = Math.floor(options.resyncAttempts ?? 5);
    this.resyncTimeoutMs = options.resyncTimeoutMs ?? 1000;
    this.resyncQuietMs = options.resyncQuietMs ?? 100;
    link.onReadable = () => this.drain();
    link.onClose = (error) => this.shutDown(error);
    // Boot URCs may already be waiting.
    if (link.readable > 0) void Promise.resolve().then(() => this.drain());
  }

  /** A snapshot of the counters. */
  get counters(): AtCounters {
    return { ...this.stats };
  }

  resetCounters(): void {
    for (const key of Object.keys(this.stats) as (keyof AtCounters)[]) this.stats[key] = 0;
  }

  /** Received bytes the engine holds right now (partial line, payload, collected response): bounded. */
  get bufferedBytes(): number {
    let held = this.lineLength + (this.dataBuffer?.length ?? 0);
    const job = this.current;
    if (job) {
      for (const line of job.lines) held += line.length;
      for (const data of job.data) held += data.length;
    }
    return held;
  }

  /** True once the engine or its link has closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Queues `command` (without terminator); resolves with its response, rejects with an AtError. */
  send(command: string, options: AtSendOptions = {}): Promise<AtResponse> {
    return new Promise<AtResponse>((resolve, reject) => {
      if (this.closed) return reject(new AtClosedError(command));
      const problem = this.checkCommand(command, options);
      if (problem) return reject(new AtInvalidCommandError(command, problem));
      if (this.queue.length >= this.maxQueueLength) return reject(new AtQueueFullError(command, this.maxQueueLength));
      const prompt = options.payload ? (options.payload.prompt ?? ">").trim() : undefined;
      this.queue.push({
        command,
        bytes: asciiToBytes(command + this.lineEnding),
        options,
        timeoutMs: options.timeoutMs ?? this.defaultTimeoutMs,
        resolve,
        reject,
        lines: [],
        data: [],
        size: 0,
        failure: undefined,
        promptBytes: prompt === undefined ? undefined : asciiToBytes(prompt),
        awaitingPrompt: false,
        payloadWritten: false,
        timer: undefined,
        promptTimer: undefined,
      });
      this.schedulePump();
    });
  }

  /**
   * Sends `AT` until `OK` (bounded), after the pending command and before queued ones. For
   * power-on synchronisation (autobaud) and for recovery; rejects with AtResyncError.
   */
  resync(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closed) return reject(new AtClosedError("AT"));
      this.needsResync = true;
      this.resyncWaiters.push({ resolve, reject });
      this.schedulePump();
    });
  }

  /** Calls `handler` with each URC line starting with `prefix`. Returns the unsubscribe function. */
  onUrc(prefix: string, handler: UrcHandler): () => void {
    if (prefix.length === 0) throw new RangeError("URC prefix must not be empty");
    const entry = { prefix, handler };
    this.urcHandlers.push(entry);
    return () => {
      this.urcHandlers = this.urcHandlers.filter((e) => e !== entry);
    };
  }

  /**
   * Rejects the command in flight now with AtAbandonedError instead of at its timeout, when the
   * caller knows its answer cannot come (the modem announced a reboot). Queued commands stay queued;
   * the engine resynchronises before the next one. Returns whether a command was in flight.
   */
  abandonPending(reason: string): boolean {
    const job = this.current;
    if (!job || this.closed) return false;
    this.finish(job);
    this.needsResync = true;
    this.resyncFailed = false;
    this.log("warn", `abandoned ${printable(job.command)}: ${reason}`);
    job.reject(new AtAbandonedError(job.command, reason));
    return true;
  }

  /** Closes the link; the pending and queued commands reject with AtClosedError. */
  close(): void {
    if (this.closed) return;
    this.shutDown(undefined);
    try {
      this.link.close();
    } catch {
      // Already closed: nothing more to release.
    }
  }

  // ---- queue ----

  private checkCommand(command: string, options: AtSendOptions): string | undefined {
    if (!/^[\x20-\x7e]+$/.test(command)) return "command must be non-empty printable ASCII without CR/LF";
    if (options.timeoutMs !== undefined && !isPositive(options.timeoutMs)) return "timeoutMs must be a positive number";
    if (options.prefix !== undefined && options.prefix.length === 0) return "prefix must not be empty";
    const payload = options.payload;
    if (payload) {
      if (!(payload.data instanceof Uint8Array)) return "payload.data must be a Uint8Array";
      const prompt = (payload.prompt ?? ">").trim();
      if (!/^[\x21-\x7e]{1,8}$/.test(prompt)) return "payload.prompt must be 1-8 printable ASCII characters";
      if (payload.delayAfterPromptMs !== undefined && !(payload.delayAfterPromptMs >= 0)) return "payload.delayAfterPromptMs must be >= 0";
    }
    if (options.dataHeader && options.dataHeader.prefix.length === 0) return "dataHeader.prefix must not be empty";
    return undefined;
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    // Deferred so that a command is never written while a received chunk is still being parsed
    // (bytes that arrived before the command must not be read as its response).
    void Promise.resolve().then(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    if (this.closed || this.current || this.resyncRun) return;
    if (this.needsResync) {
      // After a failed resync, wait until someone needs the modem again.
      if (this.resyncFailed && this.queue.length === 0 && this.resyncWaiters.length === 0) return;
      this.startResync();
      return;
    }
    const job = this.queue.shift();
    if (!job) return;
    this.current = job;
    job.awaitingPrompt = job.promptBytes !== undefined;
    this.log("debug", `TX ${printable(job.command)}`);
    const error = this.write(job.bytes);
    if (error) {
      this.current = undefined;
      if (this.closed) return;
      this.needsResync = true;
      job.reject(new AtError(job.command, `write failed: ${error.message}`));
      this.schedulePump();
      return;
    }
    this.stats.commandsSent++;
    job.timer = this.platform.setTimer(() => this.onTimeout(job), job.timeoutMs);
  }

  /** Writes bytes; returns the error instead of throwing. A closed link shuts the engine down. */
  private write(bytes: Uint8Array): Error | undefined {
    try {
      this.link.write(bytes);
      this.stats.bytesOut += bytes.length;
      return undefined;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (failure instanceof LinkClosedError) this.shutDown(failure);
      return failure;
    }
  }

  private finish(job: Job): void {
    if (job.timer !== undefined) this.platform.clearTimer(job.timer);
    if (job.promptTimer !== undefined) this.platform.clearTimer(job.promptTimer);
    job.timer = job.promptTimer = undefined;
    if (this.current === job) this.current = undefined;
    this.schedulePump();
  }

  private onTimeout(job: Job): void {
    job.timer = undefined;
    if (this.current !== job) return;
    this.stats.timeouts++;
    this.finish(job);
    this.resetReceiver();
    this.needsResync = true;
    this.resyncFailed = false;
    this.log("warn", `timeout after ${job.timeoutMs} ms: ${printable(job.command)}`);
    job.reject(job.failure ?? new AtTimeoutError(job.command, job.timeoutMs));
  }

  private complete(job: Job, final: string): void {
    this.finish(job);
    if (job.failure) return job.reject(job.failure);
    const { command } = job;
    if (final === "OK" || job.options.finalResults?.some((r) => matchesResult(final, r))) {
      if (job.promptBytes && !job.payloadWritten) return job.reject(new AtCommandError(command, final, `${final} before the data was sent`));
      return job.resolve({ lines: job.lines, final, data: job.data });
    }
    if (final.startsWith("+CME ERROR:")) return job.reject(new AtCmeError(command, final, final.slice(11).trim()));
    if (final.startsWith("+CMS ERROR:")) return job.reject(new AtCmsError(command, final, final.slice(11).trim()));
    job.reject(new AtCommandError(command, final));
  }

  private isFinal(line: string, job: Job | undefined): boolean {
    if (line === "OK" || line.startsWith("+CME ERROR:") || line.startsWith("+CMS ERROR:") || FAILING_FINALS.includes(line)) return true;
    if (!job) return false;
    const { finalResults, errorResults } = job.options;
    return !!(finalResults?.some((r) => matchesResult(line, r)) || errorResults?.some((r) => matchesResult(line, r)));
  }

  private fail(job: Job, error: AtError): void {
    if (!job.failure) job.failure = error;
  }

  private collect(job: Job, line: string): void {
    job.size += line.length;
    if (job.size > this.maxResponseLength) this.fail(job, new AtResponseTooLongError(job.command, this.maxResponseLength));
    else job.lines.push(line);
  }

  // ---- receive ----

  private drain(): void {
    try {
      for (;;) {
        if (this.closed) return;
        const chunk = this.link.read(READ_CHUNK);
        if (!chunk || chunk.length === 0) return;
        this.stats.bytesIn += chunk.length;
        this.receive(chunk);
      }
    } catch (error) {
      // A defect must not wedge the link: report it, forget partial input, keep going.
      this.log("error", `receive failed: ${error instanceof Error ? error.message : String(error)}`);
      this.resetReceiver();
    }
  }

  private resetReceiver(): void {
    this.lineLength = 0;
    this.discardingLine = false;
    this.dataBuffer = undefined;
    this.dataFilled = 0;
    this.dataRemaining = 0;
    this.skipLineFeed = false;
  }

  private receive(chunk: Uint8Array): void {
    const end = chunk.length;
    let i = 0;
    while (i < end && !this.closed) {
      if (this.dataRemaining > 0) {
        if (this.skipLineFeed) {
          this.skipLineFeed = false;
          if (chunk[i] === LF) {
            i++;
            continue;
          }
        }
        const take = Math.min(this.dataRemaining, end - i);
        if (this.dataBuffer) this.dataBuffer.set(chunk.subarray(i, i + take), this.dataFilled);
        this.dataFilled += take;
        this.dataRemaining -= take;
        i += take;
        if (this.dataRemaining === 0) this.endData();
        continue;
      }
      const byte = chunk[i++]!;
      if (byte === CR || byte === LF) {
        this.endLine(byte === CR);
        continue;
      }
      if (byte === 0x00 || byte === 0xff || this.discardingLine) continue;
      if (this.lineLength === this.lineBuffer.length) {
        this.lineOverflow();
        continue;
      }
      this.lineBuffer[this.lineLength++] = byte;
      const job = this.current;
      if (!job || this.resyncRun) continue;
      if (job.awaitingPrompt && this.lineIsPrompt(job.promptBytes!)) this.onPrompt(job);
      else if (byte === COMMA && job.options.dataHeader?.inline) this.checkInlineHeader(job);
    }
  }

  private lineOverflow(): void {
    this.stats.overlongLines++;
    this.discardingLine = true;
    this.lineLength = 0;
    const job = this.resyncRun ? undefined : this.current;
    if (job) this.fail(job, new AtLineTooLongError(job.command, this.lineBuffer.length));
    else this.log("debug", `discarded a line longer than ${this.lineBuffer.length} bytes`);
  }

  private endLine(endedWithCr: boolean): void {
    if (this.discardingLine) {
      this.discardingLine = false;
      return;
    }
    if (this.lineLength === 0) return;
    const line = bytesToAscii(this.lineBuffer, 0, this.lineLength).trim();
    this.lineLength = 0;
    if (line.length > 0) this.handleLine(line, endedWithCr);
  }

  private handleLine(line: string, endedWithCr: boolean): void {
    this.log("debug", `RX ${printable(line)}`);
    if (this.resyncRun) return this.resyncLine(line);
    const job = this.current;
    if (!job) {
      if (this.dispatchUrc(line)) return;
      this.log("debug", this.isFinal(line, undefined) ? "ignored a final result code with no command pending" : "dropped an unsolicited line");
      return;
    }
    if (line === job.command.trim()) return; // echo (ATE1)
    const header = job.options.dataHeader;
    if (header && line.startsWith(header.prefix) && this.startData(job, header, line, endedWithCr)) return;
    if (this.isFinal(line, job)) return this.complete(job, line);
    const { prefix } = job.options;
    if (prefix !== undefined && line.startsWith(prefix)) return this.collect(job, line);
    if (this.dispatchUrc(line)) return;
    if (prefix === undefined) return this.collect(job, line);
    this.log("debug", "dropped a line that does not match the command's prefix");
  }

  private dispatchUrc(line: string): boolean {
    let handled = false;
    for (const { prefix, handler } of this.urcHandlers.slice()) {
      if (!line.startsWith(prefix)) continue;
      handled = true;
      try {
        handler(line);
      } catch (error) {
        this.log("warn", `URC handler for ${prefix} threw: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (handled) this.stats.urcs++;
    return handled;
  }

  private lineIsPrompt(prompt: Uint8Array): boolean {
    if (this.lineLength !== prompt.length) return false;
    for (let k = 0; k < prompt.length; k++) if (this.lineBuffer[k] !== prompt[k]) return false;
    return true;
  }

  private onPrompt(job: Job): void {
    job.awaitingPrompt = false;
    this.lineLength = 0;
    this.log("debug", "RX data prompt");
    const delay = job.options.payload!.delayAfterPromptMs ?? 0;
    if (delay <= 0) return this.writePayload(job);
    job.promptTimer = this.platform.setTimer(() => {
      job.promptTimer = undefined;
      if (this.current === job) this.writePayload(job);
    }, delay);
  }

  private writePayload(job: Job): void {
    const data = job.options.payload!.data;
    this.log("debug", `TX <${data.length} data bytes>`);
    const error = this.write(data);
    if (!error) job.payloadWritten = true;
    else if (!this.closed) this.fail(job, new AtError(job.command, `payload write failed: ${error.message}`));
  }

  /** At a comma of a line: is the text before it an inline data header? */
  private checkInlineHeader(job: Job): void {
    const header = job.options.dataHeader!;
    const prefixLength = header.prefix.length;
    if (this.lineLength <= prefixLength) return;
    for (let k = 0; k < prefixLength; k++) if (this.lineBuffer[k] !== header.prefix.charCodeAt(k)) return;
    const text = bytesToAscii(this.lineBuffer, 0, this.lineLength - 1).trim();
    if (!this.startData(job, header, text, false)) return;
    this.log("debug", `RX ${printable(text)},`);
    this.lineLength = 0;
  }

  /** Handles a data header line; false when `length` says it is not one. */
  private startData(job: Job, header: AtDataHeader, text: string, endedWithCr: boolean): boolean {
    let length: number | null;
    try {
      length = header.length(text);
    } catch (error) {
      this.fail(job, new AtFramingError(job.command, `data header ${JSON.stringify(printable(text))} could not be read: ${error instanceof Error ? error.message : String(error)}`));
      this.collect(job, text);
      return true;
    }
    if (length === null) return false;
    this.collect(job, text);
    if (!Number.isInteger(length) || length < 0) {
      this.fail(job, new AtFramingError(job.command, `data header ${JSON.stringify(printable(text))} gives an invalid length ${String(length)}`));
      return true;
    }
    if (length === 0) {
      job.data.push(new Uint8Array(0));
      return true;
    }
    job.size += length;
    if (length > this.maxDataLength || job.size > this.maxResponseLength) {
      // Skip the bytes so that the rest of the response stays in step; the command fails.
      this.fail(job, new AtFramingError(job.command, `data header announces ${length} bytes, more than the ${length > this.maxDataLength ? this.maxDataLength : this.maxResponseLength} allowed`));
      this.dataBuffer = undefined;
    } else {
      this.dataBuffer = new Uint8Array(length);
    }
    this.dataFilled = 0;
    this.dataRemaining = length;
    this.skipLineFeed = endedWithCr;
    return true;
  }

  private endData(): void {
    const buffer = this.dataBuffer;
    this.dataBuffer = undefined;
    this.log("debug", `RX <${this.dataFilled} data bytes>`);
    if (buffer && this.current) this.current.data.push(buffer);
  }

  // ---- resynchronisation ----

  private startResync(): void {
    this.resyncFailed = false;
    this.stats.resyncs++;
    this.resetReceiver();
    this.resyncRun = { attempts: 0, deadline: this.platform.now() + this.resyncAttempts * (this.resyncTimeoutMs + this.resyncQuietMs), timer: undefined, quietTimer: undefined };
    this.log("info", "resynchronising: sending AT until OK");
    this.resyncAttempt();
  }

  private clearResyncTimers(run: ResyncRun): void {
    if (run.timer !== undefined) this.platform.clearTimer(run.timer);
    if (run.quietTimer !== undefined) this.platform.clearTimer(run.quietTimer);
    run.timer = run.quietTimer = undefined;
  }

  private resyncAttempt(): void {
    const run = this.resyncRun;
    if (!run) return;
    this.clearResyncTimers(run);
    if (run.attempts >= this.resyncAttempts || this.platform.now() > run.deadline) return this.endResync(false);
    run.attempts++;
    this.log("debug", "TX AT");
    this.write(asciiToBytes("AT" + this.lineEnding));
    if (this.closed) return;
    this.stats.commandsSent++;
    run.timer = this.platform.setTimer(() => this.resyncAttempt(), this.resyncTimeoutMs);
  }

  private resyncLine(line: string): void {
    const run = this.resyncRun!;
    if (line === "AT") return; // echo
    if (line === "OK") {
      if (this.platform.now() > run.deadline) return this.endResync(false);
      this.clearResyncTimers(run);
      // An OK followed by silence answers our AT; more output means that OK was stale.
      run.quietTimer = this.platform.setTimer(() => this.endResync(true), this.resyncQuietMs);
      return;
    }
    if (this.dispatchUrc(line)) return;
    if (run.quietTimer !== undefined) this.resyncAttempt();
  }

  private endResync(succeeded: boolean): void {
    const run = this.resyncRun;
    if (!run) return;
    this.clearResyncTimers(run);
    this.resyncRun = undefined;
    const waiters = this.resyncWaiters;
    this.resyncWaiters = [];
    if (succeeded) {
      this.needsResync = false;
      this.log("info", "resynchronised");
      for (const waiter of waiters) waiter.resolve();
    } else {
      this.stats.resyncFailures++;
      this.resyncFailed = true;
      this.log("warn", `resynchronisation failed after ${run.attempts} attempts`);
      const queued = this.queue;
      this.queue = [];
      for (const waiter of waiters) waiter.reject(new AtResyncError("AT", run.attempts));
      for (const job of queued) job.reject(new AtResyncError(job.command, run.attempts));
    }
    this.schedulePump();
  }

  // ---- shutdown ----

  private shutDown(reason: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.link.onReadable = undefined;
    this.link.onClose = undefined;
    this.resetReceiver();
    const job = this.current;
    this.current = undefined;
    if (job) {
      if (job.timer !== undefined) this.platform.clearTimer(job.timer);
      if (job.promptTimer !== undefined) this.platform.clearTimer(job.promptTimer);
      job.reject(new AtClosedError(job.command, reason));
    }
    if (this.resyncRun) {
      this.clearResyncTimers(this.resyncRun);
      this.resyncRun = undefined;
    }
    for (const waiter of this.resyncWaiters) waiter.reject(new AtClosedError("AT", reason));
    for (const queued of this.queue) queued.reject(new AtClosedError(queued.command, reason));
    this.resyncWaiters = [];
    this.queue = [];
    this.log("info", reason ? `link closed: ${reason.message}` : "closed");
  }

  private log(level: LogLevel, message: string): void {
    this.platform.log(level, "at", message);
  }
}
