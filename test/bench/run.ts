// `npm run bench`: figures, not pass/fail. One full mutual-auth TLS 1.3 handshake with the client
// key in the virtual SIM behind the virtual modem, in XS and on Node, plus the SIM traffic of
// "read certificate + one signature", the ESP32's XS machine against the live peaks of the whole
// device in Moddable's simulator (when the SDK is installed), and the size of the TLS client bundle.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import type { ProbeResult } from "../../hosts/cli/commands/probe.js";
import type { SecureEchoResult } from "../../hosts/cli/commands/connect.js";
import { type Engine, runFirmware } from "../../hosts/cli/firmware-host.js";
import { connectTcpLink } from "../../hosts/node/links.js";
import { cardFromProfileFile } from "../../hosts/sim/card/iotsafe-card.js";
import { saveProfile } from "../../hosts/sim/card/profile.js";
import { newDeviceProfile } from "../../hosts/sim/card/profile-tools.js";
import { startVirtualModem } from "../../hosts/sim/modem/index.js";
import { createDevCa, issueServerCertificate } from "../../hosts/sim/pki/dev-ca.js";
import { machineBytesOn32Bit, manifestMachine, memoryHeadroom, moddableProblem, runSimulator } from "../lib/moddable-sdk.js";
import { repoRoot } from "../lib/sim-world.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function table(title: string, rows: [string, ...string[]][], header: string[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |";
  process.stdout.write(`\n${title}\n${line(header)}\n|${widths.map((w) => "-".repeat(w + 2)).join("|")}|\n${rows.map(line).join("\n")}\n`);
}

const DIALECTS = ["quectel-bg95", "simcom-sim7080", "ublox-sara-r5", "sequans-gm02s", "nordic-slm"];

/**
 * The firmware's XS machine on the ESP32 boards (manifest.json "esp32/*" creation) against the live
 * peaks of boot + IoT SAFE + TLS handshake + ten publishes, per dialect, measured in Moddable's
 * simulator with that same fixed-size machine (run.mjs --memory). Needs the Moddable SDK.
 */
async function benchEsp32Machine(): Promise<void> {
  const problem = moddableProblem({ simulator: true });
  if (problem) {
    process.stdout.write(`\nESP32 XS machine (Moddable simulator): not measured here: ${problem}\n`);
    return;
  }
  const sizes = manifestMachine("esp32/*");
  const state = join(dir, "moddable-state");
  const demo = spawnSync(process.execPath, [join(repoRoot, "bin/iotsafe.js"), "demo", "--state", state, "--messages", "1", "--interval", "200"], { cwd: repoRoot, encoding: "utf8", timeout: 180000 });
  if (demo.status !== 0) throw new Error(`iotsafe demo could not create a state folder:\n${demo.stdout}\n${demo.stderr}`);
  const percent = (fraction: number) => `${(fraction * 100).toFixed(0)}%`;
  const rows: [string, ...string[]][] = [];
  for (const dialect of DIALECTS) {
    const run = await runSimulator(["--state", state, "--dialect", dialect, "--messages", "10", "--memory", "--timeout", "300"], 400000);
    if (run.exitCode !== 0) {
      rows.push([dialect, `failed: ${run.abort ?? run.failed ?? "see run.mjs"}`]);
      continue;
    }
    const { peak, headroom } = memoryHeadroom(run, sizes);
    const where = run.memory as { slotPeakAfter?: string; chunkPeakAfter?: string };
    rows.push([
      dialect,
      String(peak.slots),
      percent(headroom.slots),
      String(peak.chunkBytes),
      percent(headroom.chunks),
      String(peak.stackSlots),
      percent(headroom.stack),
      `${where.slotPeakAfter ?? "?"} / ${where.chunkPeakAfter ?? "?"}`,
    ]);
  }
  table(
    `ESP32 XS machine (${sizes.heapSlots} slots, ${sizes.chunkBytes} chunk bytes, ${sizes.stackSlots} stack slots = ${(machineBytesOn32Bit(sizes) / 1024).toFixed(1)} KiB on 32 bits): ` +
      "live peaks of boot + IoT SAFE + TLS + 10 publishes in the Moddable simulator, and headroom",
    rows,
    ["dialect", "slots", "headroom", "chunk bytes", "headroom", "stack slots", "headroom", "peak after (slots / chunks)"],
  );
  process.stdout.write("(garbage collected every 20 ms and at each device event; chunk bytes from the 64-bit simulator, an upper bound for the ESP32)\n");
}

const dir = mkdtempSync(join(tmpdir(), "iotsafe-bench-"));
const ca = createDevCa({ cn: "bench CA" });
const profilePath = join(dir, "sim.json");
saveProfile(profilePath, (await newDeviceProfile(ca, { cn: "device-bench" })).profile);
const server = issueServerCertificate(ca, { cn: "localhost", dns: ["localhost"], ip: ["127.0.0.1"] });
const cloud = createTlsServer(
  { cert: server.chainPem, key: server.privateKeyPem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" },
  (socket) => socket.once("data", (data) => socket.end(data)),
);
await new Promise<void>((resolve) => cloud.listen(0, "127.0.0.1", resolve));
const cloudPort = (cloud.address() as { port: number }).port;
const modem = await startVirtualModem({ card: await cardFromProfileFile(profilePath) });
const modemUrl = `tcp://127.0.0.1:${modem.port}`;

try {
  const handshakeRows: [string, ...string[]][] = [];
  let simRow: SecureEchoResult["handshakeSim"] | undefined;
  let negotiated = "";
  for (const engine of ["xs", "node"] as Engine[]) {
    const totals: number[] = [];
    const keyExchange: number[] = [];
    const serverAuth: number[] = [];
    const credential: number[] = [];
    let peak = 0;
    let livePeak = 0;
    for (let i = 0; i < RUNS; i++) {
      const net = await connectTcpLink("127.0.0.1", cloudPort);
      const { result, peakHeapCount, peakLiveHeapCount } = await runFirmware<SecureEchoResult & { tlsStats: { handshake: { totalMs: number; keyExchangeMs: number; serverAuthMs: number; credentialMs: number } } }>(
        "secure-echo",
        { network: "direct", host: "127.0.0.1", port: cloudPort, serverName: "localhost", caPem: ca.certificatePem, send: "bench" },
        { engine, modem: modemUrl, links: { net }, measureLiveHeap: engine === "xs" && i === 0 },
      );
      const h = result.tlsStats.handshake;
      totals.push(h.totalMs);
      keyExchange.push(h.keyExchangeMs);
      serverAuth.push(h.serverAuthMs);
      credential.push(h.credentialMs);
      peak = Math.max(peak, peakHeapCount ?? 0);
      livePeak = Math.max(livePeak, peakLiveHeapCount ?? 0);
      simRow = result.handshakeSim;
      negotiated = `${result.info.cipherSuite} / ${result.info.group}`;
    }
    const cpu = totals.map((t, i) => t - credential[i]!);
    handshakeRows.push([
      engine === "xs" ? "XS (xsnap, XS 13.3)" : "Node 20 (V8)",
      median(totals).toFixed(0),
      median(cpu).toFixed(0),
      median(keyExchange).toFixed(0),
      median(serverAuth).toFixed(0),
      median(credential).toFixed(0),
      engine === "xs" ? `${peak} slots` : "-",
      engine === "xs" ? `${livePeak} slots` : "-",
    ]);
  }
  table(
    `One mutual-auth TLS 1.3 handshake against node:tls (${negotiated}, P-256 server chain), median of ${RUNS} runs, ms`,
    handshakeRows,
    ["engine", "handshake", "without SIM wait", "ECDHE", "server auth", "SIM (chain + sign)", "XS heap peak (with garbage)", "XS live heap peak (after GC)"],
  );
  process.stdout.write(
    "(timings of run 1 in XS include a GC after every event, to measure the live heap; the median hides it. Slots: 32 bytes in xsnap on 64-bit, 16 on the ESP32.)\n",
  );
  if (simRow) {
    table("SIM traffic during the handshake (certificate already cached)", [["CertificateVerify", String(simRow.apdus), String(simRow.atCommands), String(simRow.atBytes)]], ["operation", "APDUs", "AT commands", "AT bytes"]);
  }

  const simRows: [string, ...string[]][] = [];
  for (const transport of ["csim", "cgla"]) {
    const message = randomBytes(32);
    const digest = createHash("sha256").update(message).digest("hex");
    const { result } = await runFirmware<ProbeResult>("iotsafe-probe", { transport, digest }, { engine: "xs", modem: modemUrl });
    for (const [label, f] of [["cold", result.cold], ["certificate cached", result.cached]] as const) {
      simRows.push([`${transport === "csim" ? "AT+CSIM" : "AT+CCHO/CGLA"}, ${label}`, String(f.apdus), String(f.apduBytesSent + f.apduBytesReceived), String(f.at.commands), String(f.at.bytesOut + f.at.bytesIn)]);
    }
  }
  table("Read certificate + one signature (firmware in XS, applet already selected)", simRows, ["transport", "APDUs", "APDU bytes", "AT commands", "AT bytes"]);

  // The same handshake through each modem family's own sockets, over a 115200-baud UART model with
  // a realistic SIM (50 ms per APDU) and network (30 ms each way): what a device on a board would see.
  const dialectRows: [string, ...string[]][] = [];
  const realistic = { baud: 115200, simLatencyMs: 50, networkLatencyMs: 30 };
  for (const dialect of DIALECTS) {
    const dialectModem = await startVirtualModem({ card: await cardFromProfileFile(profilePath), dialect, link: realistic });
    try {
      const { result } = await runFirmware<SecureEchoResult & { tlsStats: { handshake: { totalMs: number; credentialMs: number } } }>(
        "secure-echo",
        { network: "modem", dialect, host: "127.0.0.1", port: cloudPort, serverName: "localhost", caPem: ca.certificatePem, send: "bench", resume: true },
        { engine: "xs", modem: `tcp://127.0.0.1:${dialectModem.port}` },
      );
      const again = result.resumedHandshake;
      const p = result.phases;
      dialectRows.push([
        dialect,
        String(p.sim),
        String(p.attach),
        String(p.socket),
        String(p.handshake),
        String(result.tlsStats.handshake.credentialMs.toFixed(0)),
        String(result.handshakeSim.atCommands),
        String(result.handshakeSim.atBytes),
        again?.resumed ? String(again.handshakeMs) : "not resumed",
        again ? String(again.handshakeSim.apdus) : "-",
        again ? String(again.handshakeSim.atBytes) : "-",
      ]);
    } finally {
      await dialectModem.close();
    }
  }
  table(
    "TLS 1.3 through the modem's sockets, firmware in XS, UART model 115200 baud, SIM 50 ms/APDU, network 30 ms (ms, one run each); then a reconnection resuming the session",
    dialectRows,
    ["dialect", "modem+SIM open", "attach", "socket open", "handshake", "of which SIM", "AT cmds in handshake", "AT bytes in handshake", "resumed handshake", "its APDUs", "its AT bytes"],
  );

  await benchEsp32Machine();

  const bundle = await esbuild.build({
    stdin: { contents: 'export { TlsClient } from "./modules/tls/client.js"; export { nobleCrypto } from "./modules/crypto/noble-provider.js";', resolveDir: repoRoot, loader: "ts" },
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    write: false,
    platform: "neutral",
  });
  const code = bundle.outputFiles[0]!.contents;
  table("TLS client bundle (TlsClient + @noble crypto provider), minified", [["esbuild, es2020", `${(code.length / 1024).toFixed(1)} KiB`, `${(gzipSync(code).length / 1024).toFixed(1)} KiB`]], ["bundle", "minified", "gzip"]);
} finally {
  await modem.close();
  await new Promise<void>((resolve) => cloud.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
}
