// `iotsafe demo` (what `npm start` runs): the whole device in the simulator, end to end — the
// firmware's device application (modules/device) inside XS, a virtual modem with a virtual IoT SAFE
// SIM, and the virtual cloud (or a real MQTT broker), with progress by phase and every reading.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { DEVICE_EVENT_PREFIX } from "../../../modules/device/entries.js";
import type { DeviceEvent, DevicePhase, DeviceSummary } from "../../../modules/device/device.js";
import { asciiToBytes, bytesToAscii } from "../../../modules/bytes/bytes.js";
import { memoryLinkPair } from "../../../modules/platform/memory-link.js";
import type { ByteLink } from "../../../modules/platform/platform.js";
import { cardFromProfileFile } from "../../sim/card/iotsafe-card.js";
import { saveProfile } from "../../sim/card/profile.js";
import { newDeviceProfile } from "../../sim/card/profile-tools.js";
import { type CloudMessage, startVirtualCloud, type VirtualCloud } from "../../sim/cloud/virtual-cloud.js";
import { createDevCa, issueServerCertificate, loadDevCaFiles, writeDevCa } from "../../sim/pki/dev-ca.js";
import { parseFaultSpec, type RunningVirtualModem, startVirtualModem } from "../../sim/modem/index.js";
import type { XsRunner } from "../../sim/xs/runner.js";
import { connectTcpLink } from "../../node/links.js";
import { fileStores } from "../../node/storage.js";
import { type Engine, runFirmware } from "../firmware-host.js";
import { registerCommand } from "../registry.js";
import { formatProvisioningEvent, prepareBootstrapState } from "./provision.js";
import { startProvisioningCloud } from "../../sim/cloud/provisioning.js";

const USAGE = `usage: iotsafe demo [--messages N] [--broker HOST:PORT [--server-name NAME]] [--interval MS]
                   [--dialect NAME] [--transport modem|direct] [--fault SPEC]... [--state DIR]
                   [--engine xs|node] [--cn NAME] [--fresh-sim | --bootstrap-sim] [--verbose]

Runs the whole device in the simulator. A development CA, a virtual SIM profile (key generated in
the SIM, certificate for CN --cn) and a server certificate are created once in the state folder
(default state/, git-ignored) and reused; the device's outbox lives there too (state/storage/), so
readings not yet acknowledged survive to the next run. Then: the virtual cloud (TLS 1.3 requiring
client certificates from that CA + an MQTT broker), the virtual modem (--dialect, default
quectel-bg95) with the SIM, and the firmware (inside XS by default): modem → network → SIM → TLS
1.3 with the key in the SIM, through the modem's socket → MQTT → a simulated temperature every
--interval ms (default 1000), published at QoS 1 and deleted from the outbox by its PUBACK.

  --messages N        exit 0 once N readings were acknowledged (default: run until Ctrl-C)
  --broker HOST:PORT  use a real broker instead of the virtual cloud (e.g. mosquitto with
                      require_certificate, cafile STATE/ca.pem, certfile STATE/server.pem,
                      keyfile STATE/server.key, tls_version tlsv1.3); TLS name --server-name
                      (default localhost)
  --transport direct  TLS over a TCP connection this host makes (one connection, no reconnects)
                      instead of the modem's socket
  --fault SPEC        a virtual-modem fault, e.g. socket-closed:at=5000, reset:at=8000,
                      network-lost:every=20000, hang:at=6000 (see iotsafe sim --help)
  --fresh-sim         touchless provisioning: a new SIM that holds only a bootstrap (claim)
                      credential (state/sim-bootstrap.json); at first boot the SIM generates the
                      operational key, the device sends a CSR signed by it over MQTT with the claim
                      credential, the cloud's provisioning service issues the certificate, the
                      device stores and registers it and reconnects with it for telemetry
  --bootstrap-sim     the same with the bootstrap SIM of the last --fresh-sim run (already
                      provisioned: the stored certificate is used)`;

interface DemoState {
  dir: string;
  caPem: string;
  profilePath: string;
  serverCertPem: string;
  serverKeyPem: string;
  storageDir: string;
  created: boolean;
}

/** Creates the development CA, SIM profile and server certificate once; reuses them later. */
export async function prepareDemoState(dir: string, cn: string): Promise<DemoState> {
  mkdirSync(dir, { recursive: true });
  const caPath = join(dir, "ca.pem");
  const caKeyPath = join(dir, "ca.key");
  const profilePath = join(dir, "sim.json");
  const serverCertPath = join(dir, "server.pem");
  const serverKeyPath = join(dir, "server.key");
  let created = false;
  if (!existsSync(caPath) || !existsSync(caKeyPath)) {
    writeDevCa(createDevCa({ cn: "iotsafe-xs development CA" }), dir, true);
    created = true;
  }
  const ca = loadDevCaFiles(caPath, caKeyPath);
  if (created || !existsSync(profilePath)) {
    saveProfile(profilePath, (await newDeviceProfile(ca, { cn })).profile);
    created = true;
  }
  if (created || !existsSync(serverCertPath) || !existsSync(serverKeyPath)) {
    const server = issueServerCertificate(ca, { cn: "localhost", dns: ["localhost"], ip: ["127.0.0.1"] });
    writeFileSync(serverCertPath, server.chainPem);
    writeFileSync(serverKeyPath, server.privateKeyPem, { mode: 0o600 });
    created = true;
  }
  return {
    dir,
    caPem: readFileSync(caPath, "utf8"),
    profilePath,
    serverCertPem: readFileSync(serverCertPath, "utf8"),
    serverKeyPem: readFileSync(serverKeyPath, "utf8"),
    storageDir: join(dir, "storage"),
    created,
  };
}

/** The host end of the firmware's "board" link (modules/device/board-link.ts): the virtual modem's buttons. */
export function serveBoardLink(link: ByteLink, modem: RunningVirtualModem, say: (text: string) => void): void {
  let buffered = "";
  let poweredOff = false;
  link.onReadable = () => {
    buffered += bytesToAscii(link.read() ?? new Uint8Array(0));
    for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
      const request = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      const answer = (text: string) => {
        try {
          link.write(asciiToBytes(text + "\n"));
        } catch {
          // the firmware is gone
        }
      };
      if (request === "hard-reset") {
        say(`[board]  reset pin pulsed: the virtual modem restarts`);
        modem.hardReset().then(
          () => answer("ok"),
          (error: unknown) => answer(`error ${(error as Error).message}`),
        );
      } else if (request === "power-off") {
        poweredOff = true;
        answer("ok");
      } else if (request === "power-on") {
        // The virtual modem cannot be switched off; a power cycle restarts it like the reset pin.
        if (!poweredOff) answer("ok");
        else {
          poweredOff = false;
          say(`[board]  power cycled: the virtual modem restarts`);
          modem.hardReset().then(
            () => answer("ok"),
            (error: unknown) => answer(`error ${(error as Error).message}`),
          );
        }
      } else answer(`error unknown request ${JSON.stringify(request)}`);
    }
    if (buffered.length > 200) buffered = "";
  };
}

const GROUP: Record<DevicePhase, [string, string]> = {
  "power-on": ["modem", "power-on"],
  init: ["modem", "init"],
  attach: ["network", "attach"],
  iotsafe: ["SIM", "IoT SAFE"],
  certificate: ["SIM", "certificate"],
  tls: ["TLS", "handshake"],
  mqtt: ["MQTT", "connect"],
};

function formatPhase(event: Extract<DeviceEvent, { type: "phase" }>): string {
  const [group, step] = GROUP[event.phase];
  const at = event.traffic.atCommands ? `${event.traffic.atCommands} AT` : "";
  const apdus = event.traffic.apdus ? `${event.traffic.apdus} APDUs` : "";
  return `[device] ${group.padEnd(8)}${step.padEnd(12)}${String(event.ms).padStart(6)} ms ${at.padStart(6)} ${apdus.padStart(9)}  ${event.detail}`;
}

function describeReading(payload: Uint8Array): { id: number | undefined; text: string } {
  try {
    const r = JSON.parse(Buffer.from(payload).toString("utf8")) as { id?: unknown; sensor?: unknown; value?: unknown; dropped?: unknown };
    const value = r.value as { value?: unknown; unit?: unknown } | number | string | boolean;
    const shown = typeof value === "object" && value !== null ? `${String(value.value)}${value.unit ? ` ${String(value.unit)}` : ""}` : String(value);
    return { id: typeof r.id === "number" ? r.id : undefined, text: `reading #${String(r.id)} ${String(r.sensor)} ${shown}${r.dropped ? ` (${String(r.dropped)} dropped before it)` : ""}` };
  } catch {
    return { id: undefined, text: `${payload.length} bytes that are not a reading` };
  }
}

function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new Error(`--broker must be HOST:PORT, not ${JSON.stringify(text)}`);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

registerCommand("demo", {
  summary: "the whole device in the simulator, end to end (npm start)",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        state: { type: "string", default: "state" },
        engine: { type: "string", default: "xs" },
        cn: { type: "string", default: "device-001" },
        messages: { type: "string" },
        broker: { type: "string" },
        "server-name": { type: "string", default: "localhost" },
        interval: { type: "string", default: "1000" },
        dialect: { type: "string", default: "quectel-bg95" },
        transport: { type: "string", default: "modem" },
        fault: { type: "string", multiple: true },
        verbose: { type: "boolean", default: false },
        "fresh-sim": { type: "boolean", default: false },
        "bootstrap-sim": { type: "boolean", default: false },
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      process.stdout.write(USAGE + "\n");
      return 0;
    }
    const engine = values.engine as Engine;
    if (engine !== "xs" && engine !== "node") throw new Error("--engine must be xs or node");
    const messages = values.messages === undefined ? undefined : Number(values.messages);
    if (messages !== undefined && (!Number.isInteger(messages) || messages < 1)) throw new Error("--messages must be a positive integer");
    const interval = Number(values.interval);
    if (!Number.isInteger(interval) || interval < 10) throw new Error("--interval must be an integer number of milliseconds, at least 10");
    if (values.transport !== "modem" && values.transport !== "direct") throw new Error("--transport must be modem or direct");
    const faults = (values.fault ?? []).map((spec) => parseFaultSpec(spec));
    const external = values.broker === undefined ? undefined : parseHostPort(values.broker);
    const say = (text: string) => process.stdout.write(text + "\n");

    const state = await prepareDemoState(values.state!, values.cn!);
    const shownState = relative(process.cwd(), state.dir) || ".";
    say(`state: ${shownState}/ (${state.created ? "created: development CA, SIM profile, server certificate" : "reused"})`);
    const provisioningMode = values["fresh-sim"] || values["bootstrap-sim"];
    if (provisioningMode && external) throw new Error("--fresh-sim and --bootstrap-sim need the virtual cloud (its provisioning service), not --broker");
    if (provisioningMode && values.transport !== "modem") throw new Error("--fresh-sim and --bootstrap-sim need --transport modem");
    const bootstrap = provisioningMode
      ? await prepareBootstrapState(state.dir, loadDevCaFiles(join(state.dir, "ca.pem"), join(state.dir, "ca.key")), values["fresh-sim"]!, join(state.storageDir, "provision"))
      : undefined;
    if (bootstrap) {
      say(
        `[sim]    ${bootstrap.fresh ? "new" : "reused"} bootstrap SIM ${relative(process.cwd(), bootstrap.profilePath)} (ICCID ${bootstrap.iccid}): claim key 01 + claim certificate 02 from the claim CA, ` +
          `server trust anchor 03, operational CA 08; operational containers 06/07 ${bootstrap.fresh ? "empty" : "as the last run left them"}`,
      );
    }

    let cloud: VirtualCloud | undefined;
    const seen = new Map<string, number>(); // identity/reading id → times received
    let repeats = 0;
    if (bootstrap) {
      cloud = (
        await startProvisioningCloud({
          claimCa: bootstrap.claimCa,
          operationalCa: bootstrap.operationalCa,
          registryPath: bootstrap.registryPath,
          serverCertPem: state.serverCertPem,
          serverKeyPem: state.serverKeyPem,
          log: (line: string) => {
            if (values.verbose || line.startsWith("provisioning:")) say(`[cloud]  ${line}`);
          },
        })
      ).cloud;
      say(`[cloud]  virtual cloud on ${cloud.host}:${cloud.port}: TLS 1.3 requiring client certificates from the claim CA (provisioning topics only) or the operational CA (telemetry, once registered); fleet-provisioning service`);
    } else if (!external) {
      cloud = await startVirtualCloud({ clientCa: state.caPem, serverCertPem: state.serverCertPem, serverKeyPem: state.serverKeyPem, ...(values.verbose ? { log: (line: string) => say(`[cloud]  ${line}`) } : {}) });
      say(`[cloud]  virtual cloud on ${cloud.host}:${cloud.port}: TLS 1.3 requiring client certificates from the development CA, MQTT broker behind it`);
    }
    if (cloud) {
      cloud.onMessage((message: CloudMessage) => {
        if (message.topic.startsWith("$")) return; // provisioning requests: the service logs them
        const reading = describeReading(message.payload);
        const key = `${message.identity}/${String(reading.id)}`;
        const count = (seen.get(key) ?? 0) + 1;
        seen.set(key, count);
        if (count > 1) repeats++;
        say(`[cloud]  ${message.identity} → ${message.topic}: ${reading.text}${count > 1 ? ` — a repeat (at-least-once), dropped by its reading id` : ""}`);
      });
      cloud.events.on("refused", (refusal: { kind: string; reason: string }) => say(`[cloud]  refused ${refusal.kind}: ${refusal.reason}`));
    }
    const broker = external ?? { host: "127.0.0.1", port: cloud!.port };

    const modem = await startVirtualModem({
      card: await cardFromProfileFile(bootstrap?.profilePath ?? state.profilePath),
      dialect: values.dialect!,
      ...(faults.length > 0 ? { link: { faults } } : {}),
    });
    const modemUrl = `tcp://127.0.0.1:${modem.port}`;
    say(`[modem]  virtual ${values.dialect} on ${modemUrl}, SIM ${relative(process.cwd(), bootstrap?.profilePath ?? state.profilePath)}${faults.length ? `, faults: ${(values.fault ?? []).join(" ")}` : ""}`);
    if (external) say(`[device] broker: ${broker.host}:${broker.port} (external), TLS name ${values["server-name"]}`);

    const [boardForFirmware, boardForHost] = memoryLinkPair();
    serveBoardLink(boardForHost, modem, say);
    const links: Record<string, ByteLink> = { board: boardForFirmware };
    if (values.transport === "direct") links["net"] = await connectTcpLink(broker.host, broker.port);

    let acknowledged = 0;
    let buffered = "";
    const onEvent = (event: DeviceEvent) => {
      switch (event.type) {
        case "phase":
          say(event.attempt > 1 && (event.phase === "tls" || event.phase === "mqtt") ? formatPhase(event).replace("[device] ", "[device] (again) ") : formatPhase(event));
          break;
        case "stored":
          if (values.verbose) say(`[device] reading #${event.id} of ${event.sensor} stored (outbox: ${event.outboxSize})`);
          break;
        case "acknowledged":
          acknowledged = event.acknowledged;
          say(`[device] reading #${event.id} acknowledged (PUBACK), deleted from the outbox — ${event.acknowledged} this run, ${event.outboxSize} waiting`);
          break;
        case "dropped":
          say(`[device] outbox full: the oldest reading dropped (${event.total} dropped in all)`);
          break;
        case "connection-lost":
          say(`[device] ${event.error} — recovering`);
          break;
        case "recovered":
          say(`[device] modem recovery ladder: ${event.step} (${event.ms} ms)`);
          break;
        case "recovery-failed":
          say(`[device] modem recovery failed (${event.error}): booting the modem again`);
          break;
        case "backoff":
          say(`[device] reconnecting in ${event.ms} ms (backoff after ${event.failures} failure${event.failures === 1 ? "" : "s"})`);
          break;
        case "stopping":
          say(`[device] stopping: ${event.reason}`);
          break;
        case "provisioning":
          say(formatProvisioningEvent(event.event));
          break;
        case "renewal-due":
          say(`[device] certificate (valid to ${new Date(event.notAfter).toISOString()}) due for renewal: reconnecting to renew it`);
          break;
      }
    };
    const output = (text: string) => {
      buffered += text;
      for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith(DEVICE_EVENT_PREFIX)) onEvent(JSON.parse(line.slice(DEVICE_EVENT_PREFIX.length)) as DeviceEvent);
        else say(line);
      }
    };

    let runner: XsRunner | undefined;
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      say(`\n[device] Ctrl-C: the firmware stops where it is (as a power cut would); its outbox stays in ${shownState}/storage/`);
      if (runner) void runner.close();
      else process.exitCode = 0;
    };
    process.on("SIGINT", onSigint);
    say(`[device] firmware ${engine === "xs" ? "inside the XS engine (xsnap-worker)" : "on Node"}; a reading every ${interval} ms${messages ? `; stops after ${messages} acknowledged` : "; Ctrl-C stops"}`);
    const config = {
      modem: { dialect: values.dialect },
      network: values.transport,
      broker: { host: broker.host, port: broker.port, serverName: values["server-name"] },
      publishIntervalMs: interval,
      backoff: { initialMs: 500, maxMs: 10000 },
      ...(bootstrap ? { provisioning: {} } : {}),
    };
    try {
      const { result, peakHeapCount, wallMs } = await runFirmware<DeviceSummary>(
        "device",
        { config, board: true, ...(messages ? { messages } : {}) },
        {
          engine,
          modem: modemUrl,
          links,
          stores: fileStores(state.storageDir),
          logLevel: values.verbose ? "info" : "error",
          output,
          onRunner: (r) => (runner = r),
        },
      );
      printSummary(say, result, { peakHeapCount, wallMs, cloud, repeats, shownState });
      const ok = messages === undefined || result.acknowledged >= messages;
      return ok ? 0 : 1;
    } catch (error) {
      if (interrupted) {
        say(`stopped: ${acknowledged} readings acknowledged this run${cloud ? `; the cloud received ${seen.size} distinct readings (${repeats} repeats)` : ""}.`);
        return 0;
      }
      throw error;
    } finally {
      process.removeListener("SIGINT", onSigint);
      await modem.close();
      await cloud?.close();
    }
  },
});

function printSummary(
  say: (text: string) => void,
  s: DeviceSummary,
  extra: { peakHeapCount: number | undefined; wallMs: number; cloud: VirtualCloud | undefined; repeats: number; shownState: string },
): void {
  const boot = s.bootTraffic;
  say(`done: ${s.acknowledged} readings acknowledged in ${(extra.wallMs / 1000).toFixed(1)} s${extra.peakHeapCount ? `; XS peak heap ${extra.peakHeapCount} slots` : ""}.`);
  if (boot) say(`  boot, power-on to CONNACK: ${boot.atCommands} AT commands (${boot.atBytes} bytes), ${boot.apdus} APDUs (${boot.apduBytes} bytes)`);
  if (s.perAcknowledged) say(`  publishing: ${s.perAcknowledged.atCommands} AT commands and ${s.perAcknowledged.atBytes} AT bytes per acknowledged reading, ${s.telemetryTraffic.apdus} APDUs`);
  const resumed = s.tls && s.tls.resumptions > 0 ? ` (${s.tls.resumptions} resumed the TLS session: no SIM signature)` : "";
  say(`  connections: ${s.connections}${resumed}, failures recovered: ${s.failures}${Object.keys(s.recoveries).length ? ` (ladder: ${Object.entries(s.recoveries).map(([k, v]) => `${k} ×${v}`).join(", ")})` : ""}, QoS 1 re-sent with DUP: ${s.mqtt.resent}`);
  say(`  outbox: ${s.outbox.size} reading${s.outbox.size === 1 ? "" : "s"} kept for the next run in ${extra.shownState}/storage/outbox, ${s.outbox.dropped} dropped in all`);
  if (extra.cloud) {
    const mine = extra.cloud.messages.filter((m) => m.identity === s.clientId);
    say(`  cloud: ${mine.length} messages from ${s.clientId} (identity from its certificate), ${extra.repeats} repeats dropped by reading id`);
  }
}
