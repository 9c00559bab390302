/**
 * Puts the virtual modem on a wire: a TCP listener (each connection is one AT port of the same
 * modem), a pty made with socat, or an in-memory ByteLink.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ByteLink, Platform } from "../../../modules/platform/platform.js";
import { openDeviceLink, socketLink } from "../../node/links.js";
import { nodePlatform } from "../../node/platform.js";
import type { Card } from "../card/card.js";
import { MinimalCard } from "../card/minimal-card.js";
import { type ModemDialect, modemDialect } from "./dialects.js";
import { loopbackTcpStack } from "./dialects/loopback.js";
import { LinkModel, type LinkModelOptions } from "./link-model.js";
import { type AtPort, VirtualModem, type VirtualModemOptions } from "./virtual-modem.js";

export interface ModemSetupOptions extends Omit<VirtualModemOptions, "platform" | "card" | "dialect"> {
  /** Default: a MinimalCard (logical channels + SELECT of the IoT SAFE AIDs). */
  card?: Card;
  /** A dialect or its registered name; default "generic". */
  dialect?: string | ModemDialect;
  /** Default: nodePlatform() logging warnings and errors. */
  platform?: Platform;
  /** UART pacing, latencies and injected faults (see link-model.ts). */
  link?: LinkModelOptions;
  /** Names the modem's DNS resolves, each to a loopback address ("localhost" always works). */
  hostAliases?: Readonly<Record<string, string>>;
}

export interface StartVirtualModemOptions extends ModemSetupOptions {
  /** TCP address to listen on; port 0 picks a free port. Default 127.0.0.1:0 unless `pty` is given. */
  listen?: { host?: string; port: number };
  /** Path of a pty symlink to create (needs socat) for clients that open a serial device. */
  pty?: string;
}

export interface RunningVirtualModem {
  modem: VirtualModem;
  /** Bound TCP host (e.g. "127.0.0.1"), when listening on TCP. */
  address: string | undefined;
  /** Bound TCP port, when listening on TCP. */
  port: number | undefined;
  /** Where clients connect: "tcp://127.0.0.1:PORT" and/or the pty path. */
  endpoints: string[];
  /** The link model, when `link` options were given: inject faults, read stats. */
  linkModel: LinkModel | undefined;
  /** The board's reset pin: the modem goes silent for its boot time, then boots (a hook for BoardHooks.hardReset). */
  hardReset(): Promise<void>;
  /** Stops listening, closes every connection and the pty, stops the modem's timers. */
  close(): Promise<void>;
}

export class PtyUnavailableError extends Error {
  override name = "PtyUnavailableError";
}

const linkModels = new WeakMap<VirtualModem, LinkModel>();

/** The link model a modem was built with (createVirtualModem with `link`). */
export function linkModelOf(modem: VirtualModem): LinkModel | undefined {
  return linkModels.get(modem);
}

/** Builds the modem device from options with defaults filled in. */
export function createVirtualModem(options: ModemSetupOptions = {}): VirtualModem {
  const dialect = typeof options.dialect === "string" ? modemDialect(options.dialect) : options.dialect;
  const platform = options.platform ?? nodePlatform({ logLevel: "warn" });
  const model = options.link ? new LinkModel(options.link, platform) : undefined;
  const card = options.card ?? new MinimalCard();
  const tcp = options.tcp ?? loopbackTcpStack(options.hostAliases ? { hostAliases: options.hostAliases } : {});
  const userHooks = options.hooks;
  const modelHooks = model?.hooks;
  const hooks = modelHooks
    ? {
        async beforeCommand(...args: Parameters<NonNullable<typeof modelHooks.beforeCommand>>) {
          await modelHooks.beforeCommand!(...args);
          await userHooks?.beforeCommand?.(...args);
        },
        ...(userHooks?.onTraffic ? { onTraffic: userHooks.onTraffic } : {}),
      }
    : userHooks;
  const modem = new VirtualModem({
    ...options,
    platform,
    card: model ? model.wrapCard(card) : card,
    dialect,
    tcp: model ? model.wrapTcpStack(tcp) : tcp,
    ...(hooks ? { hooks } : {}),
  });
  if (model) {
    linkModels.set(modem, model);
    model.attach(modem);
  }
  return modem;
}

/** `link` wrapped by the modem's link model (pacing, dropped bytes), or as is. */
function modemSide(modem: VirtualModem, link: ByteLink): ByteLink {
  return linkModels.get(modem)?.wrapLink(link) ?? link;
}

/** Runs a virtual modem on an existing ByteLink (e.g. one end of memoryLinkPair()). */
export function attachVirtualModem(link: ByteLink, options: ModemSetupOptions = {}): { modem: VirtualModem; port: AtPort; close(): void } {
  const modem = createVirtualModem(options);
  const port = modem.attach(modemSide(modem, link));
  return {
    modem,
    port,
    close: () => {
      linkModels.get(modem)?.close();
      modem.close();
    },
  };
}

/** Starts a virtual modem listening on TCP and/or a pty. */
export async function startVirtualModem(options: StartVirtualModemOptions = {}): Promise<RunningVirtualModem> {
  const modem = createVirtualModem(options);
  const endpoints: string[] = [];
  let server: Server | undefined;
  let pty: PtyBridge | undefined;
  const sockets = new Set<Socket>();
  let address: string | undefined;
  let port: number | undefined;
  try {
    const listen = options.listen ?? (options.pty === undefined ? { host: "127.0.0.1", port: 0 } : undefined);
    if (listen) {
      const host = listen.host ?? "127.0.0.1";
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        modem.attach(modemSide(modem, socketLink(socket)));
      });
      await new Promise<void>((resolve, reject) => {
        server!.once("error", reject);
        server!.listen(listen.port, host, () => {
          server!.removeListener("error", reject);
          resolve();
        });
      });
      const bound = server.address();
      if (bound === null || typeof bound === "string") throw new Error("TCP listener has no address");
      address = bound.address;
      port = bound.port;
      endpoints.push(`tcp://${address.includes(":") ? `[${address}]` : address}:${port}`);
    }
    if (options.pty !== undefined) {
      pty = await PtyBridge.start(options.pty, modem);
      endpoints.push(options.pty);
    }
  } catch (error) {
    linkModels.get(modem)?.close();
    modem.close();
    server?.close();
    await pty?.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    modem,
    address,
    port,
    endpoints,
    linkModel: linkModels.get(modem),
    hardReset: async () => {
      const model = linkModels.get(modem);
      if (model) model.resetModem();
      else await modem.reset();
    },
    close: () => {
      closing ??= (async () => {
        linkModels.get(modem)?.close();
        modem.close();
        if (server) {
          const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
          for (const socket of sockets) socket.destroy();
          await closed;
        }
        await pty?.close();
      })();
      return closing;
    },
  };
}

/** True when a socat binary can be run. */
export function socatAvailable(): boolean {
  const probe = spawnSync("socat", ["-V"], { stdio: "ignore" });
  return probe.error === undefined && probe.status === 0;
}

/**
 * A pty pair made by socat: the client opens `path`, the modem opens the other side. socat ends
 * when the client closes its side, so the bridge restarts it until closed; the modem (and its
 * state) lives on across client reconnects, like a real modem across a host reboot.
 */
class PtyBridge {
  #child: ChildProcess | undefined;
  #closed = false;
  readonly #dir: string;

  private constructor(
    readonly path: string,
    readonly modem: VirtualModem,
  ) {
    this.#dir = mkdtempSync(join(tmpdir(), "iotsafe-modem-pty-"));
  }

  static async start(path: string, modem: VirtualModem): Promise<PtyBridge> {
    if (!socatAvailable()) {
      throw new PtyUnavailableError("--pty needs socat, which is not installed (apt-get install socat); use --listen HOST:PORT instead");
    }
    const bridge = new PtyBridge(path, modem);
    try {
      await bridge.#spawn();
    } catch (error) {
      await bridge.close();
      throw error;
    }
    return bridge;
  }

  async #spawn(): Promise<void> {
    const modemSide = join(this.#dir, "modem");
    const child = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${this.path}`, `pty,raw,echo=0,link=${modemSide}`], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.#child = child;
    // socat -d -d reports "... PTY is /dev/pts/N" for each side, then "starting data transfer loop".
    const ready = await new Promise<boolean>((resolve) => {
      let text = "";
      const timer = setTimeout(() => resolve(false), 5000);
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (chunk: string) => {
        if (text.length < 8192) text += chunk;
        if (text.includes("starting data transfer loop")) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.once("exit", () => {
        clearTimeout(timer);
        resolve(false);
      });
      child.once("error", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ready) {
      child.kill("SIGTERM");
      throw new PtyUnavailableError(`socat could not create a pty at ${this.path}`);
    }
    child.stderr!.resume();
    const link = openDeviceLink(modemSide);
    this.modem.attach(linkModels.get(this.modem)?.wrapLink(link) ?? link);
    child.once("exit", () => {
      link.close();
      if (this.#closed || this.modem.closed) return;
      // The client closed its side: make a fresh pair at the same path.
      setTimeout(() => {
        if (!this.#closed && !this.modem.closed) this.#spawn().catch((error: unknown) => this.modem.platform.log("error", "modem", String(error)));
      }, 100);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
