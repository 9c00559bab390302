// `iotsafe sim`: runs the virtual modem (AT over TCP or a pty) with a virtual SIM behind AT+CSIM.
import { parseArgs } from "node:util";
import type { LogLevel } from "../../../modules/platform/platform.js";
import { nodePlatform } from "../../node/platform.js";
import type { Card } from "../../sim/card/card.js";
import { cardFromProfileFile } from "../../sim/card/iotsafe-card.js";
import { type LinkModelOptions, LinkModelError, modemDialectNames, parseFaultSpec, startVirtualModem } from "../../sim/modem/index.js";
import { registerCommand } from "../registry.js";
import { untilStopped } from "../until-stopped.js";

const USAGE = `usage: iotsafe sim [--listen HOST:PORT] [--pty PATH] [--profile P.json] [--dialect NAME]
                  [--registration-delay MS] [--pin PIN] [--log-level debug|info|warn|error]
                  [--baud N] [--latency MS] [--sim-latency MS] [--net-latency MS] [--boot-time MS]
                  [--fault SPEC]... [--seed N] [--host-alias NAME=127.0.0.1]... [--refuse-apn APN]...
                  [--no-coverage]

Runs a virtual cellular modem with a virtual SIM. Clients speak AT commands to it over TCP
(default 127.0.0.1:0, i.e. a free port) or over a pty created with socat. Ctrl-C stops it.
  --listen HOST:PORT   TCP address; PORT 0 picks a free port (printed)
  --pty PATH           also (or only, without --listen) expose a pty at PATH (needs socat)
  --profile P.json     IoT SAFE SIM profile (keys, certificates) for the virtual card
  --dialect NAME       modem dialect: ${modemDialectNames().join(", ")}
  --registration-delay MS   time from AT+CFUN=1 to registered (default 500)
  --pin PIN            start with the SIM locked by PIN
Link model (UART pacing, latencies, faults):
  --baud N             pace the UART at N baud (10 bit times per byte, both ways)
  --latency MS         delay before each command runs
  --sim-latency MS     delay added to each APDU
  --net-latency MS     delay of each TCP connect and delivery (both ways)
  --boot-time MS       how long a reset leaves the modem silent before its boot URCs (default 1000)
  --fault SPEC         KIND[:key=value,...]; KIND is reset, hang, drop, cme, socket-closed, sim-busy or
                       network-lost; keys: at=MS every=MS on=COMMAND after=N count=N code=N bytes=N
                       offset=N rate=P. E.g. reset:at=5000  drop:on=+QIRD,bytes=3  cme:on=+CSIM,code=14
  --seed N             seed of random byte drops (drop:rate=P)
Network:
  --host-alias NAME=ADDR   a name the modem's DNS resolves (to a loopback address; localhost always works)
  --refuse-apn APN     the network refuses data contexts for APN
  --no-coverage        the modem never registers (searches for ever)`;

export class UsageError extends Error {
  override name = "UsageError";
}

/** Parses "HOST:PORT", "[v6]:PORT", ":PORT" or "PORT". */
export function parseListenAddress(text: string): { host: string; port: number } {
  let host = "127.0.0.1";
  let portText = text;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
  } else if (text.includes(":")) {
    const colon = text.lastIndexOf(":");
    host = text.slice(0, colon) || host;
    portText = text.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new UsageError(`--listen: invalid port in ${JSON.stringify(text)}`);
  return { host, port: Number(portText) };
}

async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        listen: { type: "string" },
        pty: { type: "string" },
        profile: { type: "string" },
        dialect: { type: "string", default: "generic" },
        "registration-delay": { type: "string" },
        pin: { type: "string" },
        "log-level": { type: "string", default: "warn" },
        baud: { type: "string" },
        latency: { type: "string" },
        "sim-latency": { type: "string" },
        "net-latency": { type: "string" },
        "boot-time": { type: "string" },
        fault: { type: "string", multiple: true },
        seed: { type: "string" },
        "host-alias": { type: "string", multiple: true },
        "refuse-apn": { type: "string", multiple: true },
        "no-coverage": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`iotsafe sim: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const logLevel = values["log-level"] as string;
  if (!["debug", "info", "warn", "error"].includes(logLevel)) return usageFailure(`--log-level must be debug, info, warn or error`);
  if (!modemDialectNames().includes(values.dialect as string)) {
    return usageFailure(`--dialect ${JSON.stringify(values.dialect)} is not supported (known: ${modemDialectNames().join(", ")})`);
  }
  let listen: { host: string; port: number } | undefined;
  let registrationDelayMs: number | undefined;
  let card: Card | undefined;
  let link: LinkModelOptions | undefined;
  const hostAliases: Record<string, string> = {};
  try {
    link = linkOptions(values);
    for (const alias of values["host-alias"] ?? []) {
      const eq = alias.indexOf("=");
      if (eq <= 0) throw new UsageError(`--host-alias takes NAME=ADDRESS, not ${JSON.stringify(alias)}`);
      hostAliases[alias.slice(0, eq)] = alias.slice(eq + 1);
    }
    if (values.listen !== undefined) listen = parseListenAddress(values.listen);
    else if (values.pty === undefined) listen = { host: "127.0.0.1", port: 0 };
    if (values["registration-delay"] !== undefined) {
      if (!/^\d{1,7}$/.test(values["registration-delay"])) throw new UsageError("--registration-delay takes milliseconds");
      registrationDelayMs = Number(values["registration-delay"]);
    }
    if (values.pin !== undefined && !/^\d{4,8}$/.test(values.pin)) throw new UsageError("--pin takes 4 to 8 digits");
    if (values.profile !== undefined) card = await cardFromProfileFile(values.profile);
  } catch (error) {
    if (error instanceof UsageError || error instanceof LinkModelError) return usageFailure(error.message);
    throw error;
  }

  let running;
  try {
    running = await startVirtualModem({
      ...(listen ? { listen } : {}),
      ...(values.pty !== undefined ? { pty: values.pty } : {}),
      ...(card ? { card } : {}),
      ...(registrationDelayMs !== undefined ? { registrationDelayMs } : {}),
      ...(values.pin !== undefined ? { pin: values.pin } : {}),
      ...(link ? { link } : {}),
      ...(Object.keys(hostAliases).length > 0 ? { hostAliases } : {}),
      network: { coverage: !values["no-coverage"], refusedApns: values["refuse-apn"] ?? [] },
      dialect: values.dialect as string,
      platform: nodePlatform({ logLevel: logLevel as LogLevel }),
    });
  } catch (error) {
    if (error instanceof RangeError || error instanceof LinkModelError) return usageFailure(error.message);
    throw error;
  }
  process.stdout.write(`virtual modem listening on ${running.endpoints.join(" and ")}\n`);

  // Runs until SIGINT/SIGTERM, then closes everything and exits 0.
  await untilStopped();
  await running.close();
  process.stderr.write("virtual modem stopped\n");
  return 0;
}

/** Milliseconds or a count: a whole number of at most 9 digits. */
function wholeNumber(text: string, flag: string): number {
  if (!/^\d{1,9}$/.test(text)) throw new UsageError(`${flag} takes a whole number, not ${JSON.stringify(text)}`);
  return Number(text);
}

function linkOptions(values: Record<string, unknown>): LinkModelOptions | undefined {
  const link: { -readonly [K in keyof LinkModelOptions]: LinkModelOptions[K] } = {};
  const numeric: [string, "baud" | "commandLatencyMs" | "simLatencyMs" | "networkLatencyMs" | "bootTimeMs" | "seed"][] = [
    ["baud", "baud"],
    ["latency", "commandLatencyMs"],
    ["sim-latency", "simLatencyMs"],
    ["net-latency", "networkLatencyMs"],
    ["boot-time", "bootTimeMs"],
    ["seed", "seed"],
  ];
  for (const [flag, key] of numeric) {
    const text = values[flag];
    if (typeof text === "string") link[key] = wholeNumber(text, `--${flag}`);
  }
  const faults = (values.fault as string[] | undefined) ?? [];
  if (faults.length > 0) link.faults = faults.map((spec) => parseFaultSpec(spec));
  // Faults need the link model even without pacing; always give one so RunningVirtualModem can inject.
  return link;
}

function usageFailure(message: string): number {
  process.stderr.write(`iotsafe sim: ${message}\n`);
  return 2;
}

registerCommand("sim", { summary: "run the virtual modem + SIM (AT over TCP or a pty)", run });
