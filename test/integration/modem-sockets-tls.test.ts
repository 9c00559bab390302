// The firmware TLS 1.3 client running over a modem socket (TlsTransport) of each dialect, through
// the virtual modem, to a Node TLS server that requires a client certificate.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:tls";
import { asciiToBytes, bytesToAscii } from "../../modules/bytes/bytes.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { MODEM_DIALECT_NAMES, type ModemDialectName } from "../../modules/modem/index.js";
import { TlsClient } from "../../modules/tls/client.js";
import { softwareCredentialFromPem } from "../../modules/tls/software-credential.js";
import { rig } from "./modem-dialect-harness.test.js";
import { makePki, type Pki } from "./tls-peers.js";

describe("TLS 1.3 over a modem socket (virtual modem, every dialect)", function () {
  this.timeout(60000);
  let pki: Pki;
  let server: Server;
  let port: number;

  before(async function () {
    this.timeout(120000);
    pki = makePki();
    server = createServer(
      { key: pki.read("server.key"), cert: pki.read("server.pem"), ca: pki.read("ca.pem"), requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" },
      (socket) => {
        socket.on("data", (data: Buffer) => socket.write(Buffer.from(data.toString("latin1").toUpperCase(), "latin1")));
        socket.on("error", () => undefined);
      },
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });

  after(async function () {
    server?.close();
    pki?.remove();
  });

  const dialects = MODEM_DIALECT_NAMES.filter((name): name is Exclude<ModemDialectName, "generic"> => name !== "generic");
  for (const dialect of dialects) {
    it(`${dialect}: handshake with client authentication and an echo, over a UART paced at 115200 baud`, async function () {
      const r = await rig(dialect, { link: { baud: 115200, commandLatencyMs: 2, networkLatencyMs: 5 }, hostAliases: { "cloud.iotsafe.test": "127.0.0.1" } });
      try {
        await r.modem.init();
        await r.modem.attach({ apn: "iot.test", registrationTimeoutMs: 5000 });
        // The modem resolves the name through its DNS (an alias of 127.0.0.1 here).
        const socket = await r.modem.openTcp("cloud.iotsafe.test", port);
        const tls = await TlsClient.connect(socket, {
          serverName: "localhost",
          platform: r.platform,
          provider: nobleCrypto,
          trustAnchors: [pki.read("ca.pem")],
          credential: softwareCredentialFromPem(pki.read("client.key"), pki.read("client.pem")),
          recordSizeLimit: 2048,
        });
        const message = "telemetry over " + dialect + " " + "x".repeat(3000);
        await tls.write(asciiToBytes(message));
        let text = "";
        while (text.length < message.length) {
          const chunk = await tls.read();
          if (chunk === null) throw new Error(`closed after ${text.length} bytes`);
          text += bytesToAscii(chunk);
        }
        assert.equal(text, message.toUpperCase());
        await tls.close();
        assert.ok(r.at.counters.commandsSent > 10);
      } finally {
        await r.close();
      }
    });
  }
});
