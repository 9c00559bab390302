// `iotsafe demo` (what `npm start` runs): the whole device in the simulator, end to end.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { parseArgs } from "node:util";
import { cardFromProfileFile } from "../../sim/card/iotsafe-card.js";
import { saveProfile } from "../../sim/card/profile.js";
import { newDeviceProfile } from "../../sim/card/profile-tools.js";
import { createDevCa, issueServerCertificate, loadDevCaFiles, writeDevCa } from "../../sim/pki/dev-ca.js";
import { startVirtualModem } from "../../sim/modem/index.js";
import { connectTcpLink } from "../../node/links.js";
import { type Engine, runFirmware } from "../firmware-host.js";
import { registerCommand } from "../registry.js";
import type { SecureEchoResult } from "./connect.js";

const USAGE = `usage: iotsafe demo [--state DIR] [--engine xs|node] [--cn NAME]

Runs the whole device in the simulator: a development CA and a virtual SIM profile (created once in
the state folder, reused later), a TLS 1.3 server that requires client certificates from that CA,
the virtual modem with the SIM behind AT+CSIM, and the firmware (inside XS by default) doing
modem → SIM → certificate → TLS 1.3 with the key in the SIM → one exchange.`;

interface DemoState {
  dir: string;
  caPem: string;
  profilePath: string;
  serverCertPem: string;
  serverKeyPem: string;
  created: boolean;
}

/** Creates the development CA, SIM profile and server certificate once; reuses them later. */
async function prepareState(dir: string, cn: string): Promise<DemoState> {
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
    created,
  };
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
        help: { type: "boolean" },
      },
    });
    if (values.help) {
      process.stdout.write(USAGE + "\n");
      return 0;
    }
    const engine = values.engine as Engine;
    const say = (text: string) => process.stdout.write(text + "\n");
    const state = await prepareState(values.state!, values.cn!);
    say(`state: ${relative(process.cwd(), state.dir) || "."}/ (${state.created ? "created: development CA, SIM profile, server certificate" : "reused"})`);

    const identities: string[] = [];
    const cloud = createTlsServer(
      { cert: state.serverCertPem, key: state.serverKeyPem, ca: state.caPem, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" },
      (socket) => {
        const cn = String(socket.getPeerCertificate().subject?.CN ?? "?");
        identities.push(cn);
        socket.once("data", (data) => {
          say(`[cloud]  client ${cn} (identity from its certificate) sent ${JSON.stringify(data.toString("utf8").trim())}`);
          socket.end(`hello ${cn}, your key never left the SIM\n`);
        });
      },
    );
    await new Promise<void>((resolve) => cloud.listen(0, "127.0.0.1", resolve));
    const cloudPort = (cloud.address() as { port: number }).port;
    say(`[cloud]  TLS 1.3 server on 127.0.0.1:${cloudPort}, client certificates required from the development CA`);

    const modem = await startVirtualModem({ card: await cardFromProfileFile(state.profilePath) });
    const modemUrl = `tcp://127.0.0.1:${modem.port}`;
    say(`[modem]  virtual modem on ${modemUrl}, SIM profile ${relative(process.cwd(), state.profilePath)} behind AT+CSIM/AT+CGLA`);
    say(`[device] firmware running ${engine === "xs" ? "inside the XS engine (xsnap-worker)" : "on Node"}`);
    try {
      const net = await connectTcpLink("127.0.0.1", cloudPort);
      const { result, peakHeapCount, wallMs } = await runFirmware<SecureEchoResult>(
        "secure-echo",
        { network: "direct", host: "127.0.0.1", port: cloudPort, serverName: "localhost", caPem: state.caPem, send: "hello from the device" },
        { engine, modem: modemUrl, links: { net } },
      );
      const p = result.phases;
      say(`[device] modem + SIM   ${String(p.sim).padStart(5)} ms  modem init, identity, IoT SAFE applet opened via ${result.simTransport}`);
      say(`[device] certificate   ${String(p.certificate).padStart(5)} ms  client certificate read from the SIM`);
      say(
        `[device] TLS 1.3       ${String(p.handshake).padStart(5)} ms  ${result.info.cipherSuite}, ${result.info.group}; CertificateVerify signed in the SIM ` +
          `(${result.handshakeSim.apdus} APDUs, ${result.handshakeSim.atCommands} AT commands, ${result.handshakeSim.atBytes} AT bytes)`,
      );
      say(`[device] exchange      ${String(p.exchange).padStart(5)} ms  reply: ${JSON.stringify(result.reply)}`);
      say(`done in ${Math.round(wallMs)} ms${peakHeapCount ? `; XS peak heap ${peakHeapCount} slots` : ""}. The cloud saw: ${identities.join(", ")}.`);
      say(`Not yet in this demo: TLS through the modem's own sockets, MQTT telemetry (coming with the modem and device issues).`);
      return identities.length === 1 ? 0 : 1;
    } finally {
      await modem.close();
      await new Promise<void>((resolve) => cloud.close(() => resolve()));
    }
  },
});
