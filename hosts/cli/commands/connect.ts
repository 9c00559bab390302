// `iotsafe connect`: a mutual-auth TLS 1.3 exchange whose client key stays in the SIM.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { ByteLink } from "../../../modules/platform/platform.js";
import type { TlsConnectionInfo } from "../../../modules/tls/client.js";
import { connectTcpLink } from "../../node/links.js";
import { type Engine, runFirmware } from "../firmware-host.js";
import { registerCommand } from "../registry.js";

const USAGE = `usage: iotsafe connect --modem tcp://HOST:PORT --host H --port P --ca CA.pem [--servername N]
                      [--transport direct|modem] [--engine xs|node] [--send TEXT]
                      [--sim-transport csim|cgla|auto] [--key-id 01] [--cert-ids 02[,03]]
                      [--dialect NAME] [--apn APN] [--resume]

Runs the firmware (in XS by default) with the SIM reached through the AT modem at --modem: opens
IoT SAFE, reads the client certificate, performs the TLS 1.3 handshake with the CertificateVerify
signed inside the SIM, sends TEXT plus a newline, prints the first line that comes back, exits 0.
--transport direct carries TLS over a TCP connection made by this host (a gateway with a wired
network and a cellular modem for the SIM); --transport modem through the modem's own sockets
(--dialect quectel-bg95 by default: the modem family, as in \`iotsafe sim --dialect\`).
--resume (with --transport modem) then connects again, resuming the session with the server's ticket:
no certificates, nothing signed in the SIM; prints that reply and compares the two handshakes.`;

export interface SecureEchoResult {
  reply: string;
  info: TlsConnectionInfo;
  simTransport: string;
  handshakeSim: { apdus: number; apduBytes: number; atCommands: number; atBytes: number };
  phases: Record<string, number>;
  tlsStats: { handshake?: { totalMs: number; credentialMs: number; bytesSent: number; bytesReceived: number } };
  /** With `resume`: the second connection, resuming the first one's session. */
  resumedHandshake?: {
    reply: string;
    resumed: boolean;
    handshakeMs: number;
    tlsStats: { handshake?: { totalMs: number; bytesSent: number; bytesReceived: number } };
    handshakeSim: { apdus: number; apduBytes: number; atCommands: number; atBytes: number };
  };
}

registerCommand("connect", {
  summary: "TLS 1.3 to a server with the client key in the SIM; send a line, print the reply",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        modem: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        ca: { type: "string" },
        servername: { type: "string" },
        transport: { type: "string", default: "direct" },
        engine: { type: "string", default: "xs" },
        send: { type: "string", default: "hello from the SIM" },
        "sim-transport": { type: "string", default: "auto" },
        "key-id": { type: "string", default: "01" },
        "cert-ids": { type: "string", default: "02" },
        dialect: { type: "string" },
        apn: { type: "string", default: "internet" },
        verbose: { type: "boolean" },
        resume: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
    if (values.help || !values.modem || !values.host || !values.port || !values.ca) {
      process.stderr.write(USAGE + "\n");
      return values.help ? 0 : 2;
    }
    if (values.engine !== "xs" && values.engine !== "node") throw new Error(`--engine must be xs or node`);
    if (values.transport !== "direct" && values.transport !== "modem") throw new Error(`--transport must be direct or modem`);
    if (values.resume && values.transport !== "modem") throw new Error("--resume needs --transport modem (it opens a second connection through the modem)");
    const caPem = readFileSync(values.ca, "utf8");
    const port = Number(values.port);
    const links: Record<string, ByteLink> = values.transport === "direct" ? { net: await connectTcpLink(values.host, port) } : {};
    const { result, peakHeapCount } = await runFirmware<SecureEchoResult>(
      "secure-echo",
      {
        network: values.transport,
        host: values.host,
        port,
        serverName: values.servername ?? values.host,
        caPem,
        send: values.send,
        simTransport: values["sim-transport"],
        keyId: values["key-id"],
        certificateIds: values["cert-ids"],
        ...(values.dialect ? { dialect: values.dialect } : {}),
        apn: values.apn,
        ...(values.resume ? { resume: true } : {}),
      },
      { engine: values.engine as Engine, modem: values.modem, links, logLevel: values.verbose ? "info" : "warn" },
    );
    process.stdout.write(result.reply + "\n");
    const again = result.resumedHandshake;
    if (again) {
      process.stdout.write(again.reply + "\n");
      const full = `${result.tlsStats.handshake?.totalMs.toFixed(0) ?? "?"} ms, ${result.handshakeSim.apdus} APDUs, ${result.handshakeSim.atBytes} AT bytes`;
      const resumed = `${again.handshakeMs} ms, ${again.handshakeSim.apdus} APDUs, ${again.handshakeSim.atBytes} AT bytes`;
      process.stderr.write(again.resumed ? `full handshake: ${full}; resumed: ${resumed}\n` : `the server declined the session ticket: the second handshake was a full one (${resumed})\n`);
    }
    if (values.verbose) {
      const i = result.info;
      process.stderr.write(
        `${i.version} ${i.cipherSuite} ${i.group}${i.helloRetryRequest ? " (after HelloRetryRequest)" : ""}; server ${i.serverCertificate.subject}; ` +
          `client signature ${i.clientSignatureScheme ?? "none"} made in the SIM via ${result.simTransport}; ` +
          `during the handshake: ${result.handshakeSim.apdus} APDUs to the SIM, ${result.handshakeSim.atCommands} AT commands (${result.handshakeSim.atBytes} bytes) on the modem link; ` +
          `phases (ms): ${JSON.stringify(result.phases)}${peakHeapCount ? `; XS peak heap ${peakHeapCount} slots` : ""}\n`,
      );
    }
    return 0;
  },
});
