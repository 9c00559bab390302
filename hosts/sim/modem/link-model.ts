/**
 * The link model: what makes the virtual modem behave like hardware on a slow wire. It paces the
 * UART at a chosen baud rate (10 bit times per byte, both directions), delays each command
 * (per-command latency), each APDU (SIM latency), each TCP connect and delivery (network latency),
 * and injects faults: a modem reset (silent for the boot time, then its boot URCs), dropped bytes
 * on the modem's output, `+CME ERROR`, a socket closed by the network, SIM busy (`+CME ERROR: 14`
 * on SIM commands), a data context dropped by the network, and a hang (deaf and mute until the
 * board's reset pin — RunningVirtualModem.hardReset — restarts it).
 *
 * ```ts
 * const running = await startVirtualModem({ dialect: "quectel-bg95", link: { baud: 115200, faults: ["drop:on=+QIRD,bytes=3"] } });
 * running.linkModel!.inject({ kind: "reset" });
 * ```
 * Faults come from options (objects or CLI strings `KIND[:key=value,...]`, see parseFaultSpec)
 * or from inject(); a fault fires at a time (`at`, `every`), on a command (`on`, `after`), or, with
 * neither, at the first occasion (the next command / output / now).
 */
import { ByteQueue } from "../../../modules/platform/byte-queue.js";
import { type ByteLink, LinkClosedError, type Platform, type TimerHandle } from "../../../modules/platform/platform.js";
import { sleep } from "../../../modules/platform/time.js";
import type { Card } from "../card/card.js";
import type { AtCommand } from "./at-syntax.js";
import type { VirtualConnection, VirtualTcpStack } from "./dialects/network.js";
import { CME, CmeError } from "./errors.js";
import type { AtPort, ModemHooks, VirtualModem } from "./virtual-modem.js";

export const FAULT_KINDS = ["reset", "drop", "cme", "socket-closed", "sim-busy", "network-lost", "hang"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpec {
  kind: FaultKind;
  /** Fire this many ms after the modem starts. */
  at?: number;
  /** Fire again every this many ms (after `at`, or from the start). */
  every?: number;
  /** Fire when a command of this name arrives (e.g. "+QIRD", "+CSIM"; case-insensitive, "AT" optional). */
  on?: string;
  /** With `on` (or alone: any command), fire on the n-th match (1 = the next). */
  after?: number;
  /** How many times the fault fires; default 1, 0 = unlimited. */
  count?: number;
  /** cme: the +CME ERROR code (default 100, unknown). */
  code?: number;
  /** drop: bytes to drop from the modem's output (default 8)… */
  bytes?: number;
  /** …starting this many bytes into it (default 4: past the leading CR LF and into the answer). */
  offset?: number;
  /** drop: instead, drop each output byte with this probability (0..1; seeded, never stops). */
  rate?: number;
}
// hang: the modem goes deaf and mute until the board resets it (RunningVirtualModem.hardReset).

export interface LinkModelOptions {
  /** UART speed; bytes take 10 bit times each, both ways. Default: no pacing. */
  baud?: number;
  /** Delay before each command runs. */
  commandLatencyMs?: number;
  /** Delay added to each APDU the modem sends to the SIM. */
  simLatencyMs?: number;
  /** Delay of each TCP connect and each delivery, both directions. */
  networkLatencyMs?: number;
  /** How long a reset leaves the modem deaf and mute before its boot URCs (default 1000 ms). */
  bootTimeMs?: number;
  faults?: readonly (FaultSpec | string)[];
  /** Seed of the random byte drops (default 1). */
  seed?: number;
}

export interface LinkModelStats {
  resets: number;
  droppedBytes: number;
  cmeErrors: number;
  simBusy: number;
  socketsClosed: number;
  networkDrops: number;
}

export class LinkModelError extends Error {
  override name = "LinkModelError";
}

const SIM_COMMANDS = new Set(["+CSIM", "+CGLA", "+CCHO", "+CCHC", "+CRSM", "+CPIN", "+CIMI"]);
const NUMBER_KEYS = ["at", "every", "after", "count", "code", "bytes", "offset", "rate"] as const;

/**
 * Parses a CLI fault: `KIND[:key=value,...]`, e.g. `reset:at=5000`, `drop:on=+QIRD,bytes=3`,
 * `cme:on=+QISEND,code=3,count=2`, `sim-busy:count=3`, `socket-closed:every=30000`, `drop:rate=0.001`.
 */
export function parseFaultSpec(text: string): FaultSpec {
  const colon = text.indexOf(":");
  const kind = (colon < 0 ? text : text.slice(0, colon)).trim();
  if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new LinkModelError(`unknown fault ${JSON.stringify(kind)} (known: ${FAULT_KINDS.join(", ")})`);
  const spec: FaultSpec = { kind: kind as FaultKind };
  if (colon < 0) return checkFault(spec);
  for (const part of text.slice(colon + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) throw new LinkModelError(`fault option ${JSON.stringify(part)} is not key=value`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "on") spec.on = value;
    else if ((NUMBER_KEYS as readonly string[]).includes(key)) {
      const number = Number(value);
      if (value === "" || !Number.isFinite(number) || number < 0) throw new LinkModelError(`fault option ${key}=${value} is not a non-negative number`);
      (spec as unknown as Record<string, number>)[key] = number;
    } else throw new LinkModelError(`unknown fault option ${JSON.stringify(key)} (known: on, ${NUMBER_KEYS.join(", ")})`);
  }
  return checkFault(spec);
}

function checkFault(spec: FaultSpec): FaultSpec {
  if (!(FAULT_KINDS as readonly string[]).includes(spec.kind)) throw new LinkModelError(`unknown fault ${JSON.stringify(spec.kind)}`);
  if (spec.rate !== undefined && (spec.kind !== "drop" || spec.rate > 1)) throw new LinkModelError("rate is a probability (0..1) of the drop fault");
  if (spec.code !== undefined && (!Number.isInteger(spec.code) || spec.code > 65535)) throw new LinkModelError(`cme code ${spec.code}`);
  return spec;
}

/** Normalises "+qird", "AT+QIRD", "qird" to the command table's "+QIRD". */
function commandName(text: string): string {
  let name = text.trim().toUpperCase();
  if (name.startsWith("AT")) name = name.slice(2);
  if (!/^[+#%$^*&]/.test(name)) name = "+" + name;
  return name;
}

/** mulberry32: small, seeded, good enough to scatter byte drops. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ActiveFault {
  spec: FaultSpec;
  /** Times left to fire; Infinity when unlimited. */
  left: number;
  /** Matching commands still to skip before firing. */
  skip: number;
  /** Armed: fires at the next occasion of its kind (command, output...). */
  armed: boolean;
  timers: TimerHandle[];
}

export class LinkModel {
  readonly options: LinkModelOptions;
  readonly stats: LinkModelStats = { resets: 0, droppedBytes: 0, cmeErrors: 0, simBusy: 0, socketsClosed: 0, networkDrops: 0 };
  readonly #platform: Platform;
  readonly #random: () => number;
  #faults: ActiveFault[] = [];
  #modem: VirtualModem | undefined;
  #deaf = false;
  #bootTimer: TimerHandle | undefined;
  /** Bytes still to skip, then to drop, of the modem's output (a drop fault in progress). */
  #dropSkip = 0;
  #dropLeft = 0;
  #connections = new Set<DelayedConnection>();
  #closed = false;

  constructor(options: LinkModelOptions, platform: Platform) {
    if (options.baud !== undefined && (!Number.isFinite(options.baud) || options.baud < 300)) throw new LinkModelError(`baud ${options.baud} is below 300`);
    for (const key of ["commandLatencyMs", "simLatencyMs", "networkLatencyMs", "bootTimeMs"] as const) {
      const value = options[key];
      if (value !== undefined && (!Number.isFinite(value) || value < 0)) throw new LinkModelError(`${key} must be a non-negative number`);
    }
    this.options = options;
    this.#platform = platform;
    this.#random = seededRandom(options.seed ?? 1);
    for (const fault of options.faults ?? []) this.#add(typeof fault === "string" ? parseFaultSpec(fault) : checkFault({ ...fault }), false);
  }

  /** True while an injected reset keeps the modem deaf and mute. */
  get booting(): boolean {
    return this.#deaf;
  }

  /** Hooks to give the VirtualModem (command latency, CME and SIM-busy faults, command-triggered faults). */
  get hooks(): ModemHooks {
    return { beforeCommand: (command, port) => this.#beforeCommand(command, port) };
  }

  /** Starts the timed faults against `modem`; call once, after the modem exists. */
  attach(modem: VirtualModem): void {
    this.#modem = modem;
    for (const fault of this.#faults) this.#schedule(fault);
  }

  /** Adds a fault now: without a time or command trigger it fires at once (reset, socket-closed, network-lost) or at the next occasion. */
  inject(fault: FaultSpec | FaultKind | string): void {
    const spec = typeof fault === "string" ? parseFaultSpec(fault) : checkFault({ ...fault });
    this.#add(spec, true);
  }

  close(): void {
    this.#closed = true;
    for (const fault of this.#faults) for (const timer of fault.timers) this.#platform.clearTimer(timer);
    this.#faults = [];
    if (this.#bootTimer !== undefined) this.#platform.clearTimer(this.#bootTimer);
  }

  // ---- faults ----

  #add(spec: FaultSpec, scheduleNow: boolean): void {
    const count = spec.count ?? 1;
    const fault: ActiveFault = {
      spec,
      left: count === 0 ? Infinity : count,
      skip: Math.max(0, (spec.after ?? 1) - 1),
      armed: spec.at === undefined && spec.every === undefined,
      timers: [],
    };
    this.#faults.push(fault);
    if (scheduleNow && this.#modem) this.#schedule(fault);
  }

  #schedule(fault: ActiveFault): void {
    const { spec } = fault;
    if (spec.at !== undefined || spec.every !== undefined) {
      const first = spec.at ?? spec.every!;
      const tick = (): void => {
        if (this.#closed || fault.left <= 0) return;
        this.#trigger(fault);
        if (spec.every !== undefined && fault.left > 0) fault.timers.push(this.#platform.setTimer(tick, spec.every));
      };
      fault.timers.push(this.#platform.setTimer(tick, first));
      return;
    }
    // Untimed faults that are not tied to a command or to output fire at once.
    const immediate = spec.on === undefined && spec.after === undefined && (spec.kind === "reset" || spec.kind === "socket-closed" || spec.kind === "network-lost" || spec.kind === "hang");
    if (immediate) this.#fire(fault);
  }

  /** A timed trigger: one-shot kinds fire now; command/output kinds get armed for their next occasion. */
  #trigger(fault: ActiveFault): void {
    const { kind } = fault.spec;
    if (kind === "reset" || kind === "socket-closed" || kind === "network-lost" || kind === "hang") this.#fire(fault);
    else fault.armed = true;
  }

  #consume(fault: ActiveFault): void {
    fault.left--;
    if (fault.left <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
  }

  #fire(fault: ActiveFault): void {
    this.#consume(fault);
    switch (fault.spec.kind) {
      case "reset":
        this.resetModem();
        return;
      case "socket-closed":
        this.closeSockets();
        return;
      case "network-lost":
        this.dropDataContext();
        return;
      case "hang":
        this.hang();
        return;
      case "drop":
        this.#dropSkip = fault.spec.offset ?? 4;
        this.#dropLeft = fault.spec.bytes ?? 8;
        return;
      default:
        return;
    }
  }

  /** Resets the modem the hard way: silent for the boot time (sockets gone at once), then boot URCs. */
  resetModem(): void {
    const modem = this.#modem;
    if (!modem || modem.closed) return;
    this.stats.resets++;
    modem.platform.log("info", "modem", "link model: modem reset");
    modem.dialect.onReset?.(modem);
    this.#deaf = true;
    if (this.#bootTimer !== undefined) this.#platform.clearTimer(this.#bootTimer);
    this.#bootTimer = this.#platform.setTimer(() => {
      this.#bootTimer = undefined;
      this.#deaf = false;
      if (!modem.closed) void modem.reset();
    }, this.options.bootTimeMs ?? 1000);
  }

  /** The modem stops answering (firmware wedged) until resetModem() — the board's reset pin. */
  hang(): void {
    if (!this.#modem || this.#modem.closed) return;
    this.#modem.platform.log("info", "modem", "link model: modem hangs");
    this.#deaf = true;
    if (this.#bootTimer !== undefined) this.#platform.clearTimer(this.#bootTimer);
    this.#bootTimer = undefined;
  }

  /** Closes every TCP connection from the network side (the dialect reports a peer close). */
  closeSockets(): void {
    for (const connection of [...this.#connections]) {
      if (connection.closeFromNetwork()) this.stats.socketsClosed++;
    }
  }

  dropDataContext(): void {
    const modem = this.#modem;
    if (!modem?.dialect.dropDataContext) return;
    this.stats.networkDrops++;
    modem.dialect.dropDataContext(modem);
  }

  async #beforeCommand(command: AtCommand, _port: AtPort): Promise<void> {
    const latency = this.options.commandLatencyMs ?? 0;
    if (latency > 0) await sleep(this.#platform, latency);
    for (const fault of this.#faults.slice()) {
      const { spec } = fault;
      const commandTriggered = spec.on !== undefined || spec.after !== undefined;
      const timed = spec.at !== undefined || spec.every !== undefined;
      if (timed && !fault.armed) continue;
      // Without a command trigger only cme and sim-busy wait for "the next command".
      if (!commandTriggered && (!fault.armed || (spec.kind !== "cme" && spec.kind !== "sim-busy"))) continue;
      if (spec.on !== undefined && commandName(spec.on) !== command.name) continue;
      if (spec.kind === "sim-busy" && spec.on === undefined && !SIM_COMMANDS.has(command.name)) continue;
      if (spec.kind === "drop" && spec.rate !== undefined) continue;
      if (fault.skip > 0) {
        fault.skip--;
        continue;
      }
      if (timed) fault.armed = false;
      switch (spec.kind) {
        case "cme": {
          this.#consume(fault);
          this.stats.cmeErrors++;
          throw new CmeError(spec.code ?? CME.UNKNOWN, `link model: injected +CME ERROR on ${command.name}`);
        }
        case "sim-busy": {
          this.#consume(fault);
          this.stats.simBusy++;
          throw new CmeError(CME.SIM_BUSY, `link model: SIM busy on ${command.name}`);
        }
        default:
          this.#fire(fault);
      }
    }
  }

  /** The modem's output after drop faults (and nothing while it boots). */
  #filterOutput(bytes: Uint8Array): Uint8Array {
    if (this.#deaf) return new Uint8Array(0);
    const rateFault = this.#faults.find((f) => f.spec.kind === "drop" && f.spec.rate !== undefined && (f.armed || (f.spec.at === undefined && f.spec.every === undefined)));
    if (this.#dropLeft === 0 && !rateFault) {
      // An untimed, untriggered drop fault applies to the next output.
      const pending = this.#faults.find((f) => f.spec.kind === "drop" && f.armed && f.spec.on === undefined && f.spec.after === undefined && f.spec.rate === undefined);
      if (!pending) return bytes;
      this.#fire(pending);
    }
    const kept: number[] = [];
    for (const byte of bytes) {
      if (this.#dropSkip > 0) {
        this.#dropSkip--;
        kept.push(byte);
      } else if (this.#dropLeft > 0) {
        this.#dropLeft--;
        this.stats.droppedBytes++;
      } else if (rateFault && this.#random() < rateFault.spec.rate!) {
        this.stats.droppedBytes++;
      } else kept.push(byte);
    }
    return Uint8Array.from(kept);
  }

  // ---- wrappers ----

  /** The modem's end of a byte link, paced at the baud rate, with output faults and deafness applied. */
  wrapLink(link: ByteLink): ByteLink {
    return new PacedLink(link, this.#platform, this.options.baud, (bytes) => this.#filterOutput(bytes), () => this.#deaf);
  }

  /** A card whose APDUs take `simLatencyMs` longer. */
  wrapCard(card: Card): Card {
    const latency = this.options.simLatencyMs ?? 0;
    if (latency <= 0) return card;
    const platform = this.#platform;
    return {
      get iccid() {
        return card.iccid;
      },
      get imsi() {
        return card.imsi;
      },
      async transmit(apdu) {
        await sleep(platform, latency);
        return card.transmit(apdu);
      },
      reset: () => card.reset?.(),
    };
  }

  /** A TCP stack whose connects and deliveries take `networkLatencyMs`, and whose connections the socket-closed fault can cut. */
  wrapTcpStack(stack: VirtualTcpStack): VirtualTcpStack {
    const latency = this.options.networkLatencyMs ?? 0;
    return {
      connect: async (host, port, timeoutMs) => {
        if (latency > 0) await sleep(this.#platform, latency);
        const inner = await stack.connect(host, port, timeoutMs);
        const connection = new DelayedConnection(inner, this.#platform, latency, () => this.#connections.delete(connection));
        this.#connections.add(connection);
        return connection;
      },
    };
  }
}

/** Bytes queued to pass a paced wire: each chunk becomes due when the wire has carried it. */
class PacedQueue {
  #queue: { due: number; bytes: Uint8Array }[] = [];
  #busyUntil = 0;
  #timer: TimerHandle | undefined;

  constructor(
    readonly platform: Platform,
    readonly baud: number | undefined,
    readonly deliver: (bytes: Uint8Array) => void,
  ) {}

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.baud === undefined) {
      this.deliver(bytes);
      return;
    }
    const now = this.platform.now();
    const start = Math.max(now, this.#busyUntil);
    this.#busyUntil = start + (bytes.length * 10 * 1000) / this.baud;
    this.#queue.push({ due: this.#busyUntil, bytes });
    this.#arm();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#queue.length === 0) return;
    const wait = Math.max(0, Math.ceil(this.#queue[0]!.due - this.platform.now()));
    this.#timer = this.platform.setTimer(() => {
      this.#timer = undefined;
      const now = this.platform.now();
      while (this.#queue.length > 0 && this.#queue[0]!.due <= now + 0.5) this.deliver(this.#queue.shift()!.bytes);
      this.#arm();
    }, wait);
  }

  clear(): void {
    if (this.#timer !== undefined) this.platform.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
  }
}

class PacedLink implements ByteLink {
  onReadable: ((count: number) => void) | undefined;
  onClose: ((error?: Error) => void) | undefined;
  #received = new ByteQueue();
  #closed = false;
  readonly #out: PacedQueue;
  readonly #in: PacedQueue;

  constructor(
    readonly inner: ByteLink,
    platform: Platform,
    baud: number | undefined,
    readonly filterOutput: (bytes: Uint8Array) => Uint8Array,
    readonly deaf: () => boolean,
  ) {
    this.#out = new PacedQueue(platform, baud, (bytes) => {
      if (this.#closed) return;
      try {
        inner.write(bytes);
      } catch (error) {
        if (!(error instanceof LinkClosedError)) throw error;
      }
    });
    this.#in = new PacedQueue(platform, baud, (bytes) => {
      if (this.#closed) return;
      this.#received.push(bytes);
      this.onReadable?.(this.#received.length);
    });
    inner.onReadable = () => this.#pull();
    inner.onClose = (error) => {
      this.#shutDown();
      this.onClose?.(error);
    };
    if (inner.readable > 0) void Promise.resolve().then(() => this.#pull());
  }

  #pull(): void {
    for (;;) {
      const bytes = this.inner.read();
      if (!bytes || bytes.length === 0) return;
      if (this.deaf()) continue; // a booting modem hears nothing
      this.#in.push(bytes);
    }
  }

  get readable(): number {
    return this.#received.length;
  }

  read(max?: number): Uint8Array | undefined {
    return this.#received.take(max);
  }

  write(bytes: Uint8Array): void {
    if (this.#closed) throw new LinkClosedError();
    this.#out.push(this.filterOutput(bytes.slice()));
  }

  close(): void {
    this.#shutDown();
    this.inner.close();
  }

  #shutDown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out.clear();
    this.#in.clear();
  }
}

/** A connection seen through network latency; the socket-closed fault cuts it from the network side. */
class DelayedConnection implements VirtualConnection {
  onData: (() => void) | undefined;
  onPeerClose: (() => void) | undefined;
  #received = new ByteQueue();
  #inFlight = 0;
  #peerClosed = false;
  #closed = false;
  #bytesReceived = 0;

  constructor(
    readonly inner: VirtualConnection,
    readonly platform: Platform,
    readonly latencyMs: number,
    readonly forget: () => void,
  ) {
    inner.onData = () => this.#pull();
    inner.onPeerClose = () => this.#later(() => this.#peerClose());
    if (inner.available > 0) this.#pull();
    if (inner.peerClosed) this.#later(() => this.#peerClose());
  }

  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get remotePort(): number {
    return this.inner.remotePort;
  }
  get localPort(): number {
    return this.inner.localPort;
  }
  get available(): number {
    return this.#received.length;
  }
  get unsent(): number {
    return this.inner.unsent;
  }
  get bytesSent(): number {
    return this.inner.bytesSent;
  }
  get bytesReceived(): number {
    return this.#bytesReceived;
  }
  get peerClosed(): boolean {
    return this.#peerClosed;
  }

  #later(action: () => void): void {
    if (this.latencyMs <= 0) action();
    else this.platform.setTimer(action, this.latencyMs);
  }

  /** Takes bytes from the inner connection while this one has room (keeps the inner backpressure). */
  #pull(): void {
    const room = 64 * 1024 - this.#received.length - this.#inFlight;
    if (room <= 0 || this.#closed) return;
    const bytes = this.inner.read(room);
    if (bytes.length === 0) return;
    this.#inFlight += bytes.length;
    this.#later(() => {
      this.#inFlight -= bytes.length;
      if (this.#closed) return;
      this.#received.push(bytes);
      this.#bytesReceived += bytes.length;
      this.onData?.();
    });
  }

  #peerClose(): void {
    if (this.#peerClosed || this.#closed) return;
    this.#peerClosed = true;
    this.onPeerClose?.();
  }

  read(max: number): Uint8Array {
    const out = this.#received.take(max) ?? new Uint8Array(0);
    const take = out.length;
    if (take > 0 && this.inner.available > 0) this.#pull();
    return out;
  }

  write(bytes: Uint8Array): void {
    if (this.#closed || this.#peerClosed) return;
    const copy = bytes.slice();
    this.#later(() => this.inner.write(copy));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onData = undefined;
    this.onPeerClose = undefined;
    this.forget();
    // Writes still crossing the network go out before the FIN.
    this.#later(() => this.inner.close());
  }

  /** The network cut the connection: the peer-close path runs (buffered data stays readable). Returns false when already closed. */
  closeFromNetwork(): boolean {
    if (this.#closed || this.#peerClosed) return false;
    this.inner.onData = undefined;
    this.inner.onPeerClose = undefined;
    this.inner.close();
    this.forget();
    this.#peerClose();
    return true;
  }
}
