// The firmware TLS 1.3 client against Node's TLS server (OpenSSL inside, configured the way a cloud
// endpoint would be): client certificate required, ALPN, server-initiated close_notify, bulk data.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { asciiToBytes, bytesToAscii } from "../../modules/bytes/bytes.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { TlsClient, type TlsClientOptions } from "../../modules/tls/client.js";
import { TlsAlertError } from "../../modules/tls/errors.js";
import { softwareCredentialFromPem } from "../../modules/tls/software-credential.js";
import { connectTcp } from "../../hosts/node/socket-transport.js";
import { nodePlatform } from "../../hosts/node/platform.js";
import { makePki, type Pki } from "./tls-peers.js";

const platform = nodePlatform({ logLevel: "error" });

interface Accepted {
  authorized: boolean;
  authorizationError: string | undefined;
  peerCommonName: string | undefined;
  alpn: string | false | null;
  socket: TLSSocket;
}

describe("TLS 1.3 client against Node's TLS server", function () {
  this.timeout(60000);
  let pki: Pki;
  let server: Server | undefined;

  before(function () {
    this.timeout(120000);
    pki = makePki();
  });
  after(() => pki?.remove());
  afterEach(async () => {
    if (server) {
      server.close();
      server = undefined;
    }
  });

  /** A Node TLS server requiring a client certificate; `onData` answers each chunk. */
  async function startServer(
    certName: string,
    extra: { ALPNProtocols?: string[] } = {},
    onData: (socket: TLSSocket, data: Buffer) => void = (socket, data) => socket.write(Buffer.from(data.toString("latin1").toUpperCase(), "latin1")),
  ): Promise<{ port: number; accepted: Promise<Accepted>; failures: Error[] }> {
    const failures: Error[] = [];
    let resolveAccepted!: (a: Accepted) => void;
    const accepted = new Promise<Accepted>((resolve) => (resolveAccepted = resolve));
    server = createServer(
      {
        key: pki.read(`${certName}.key`),
        cert: pki.read(`${certName}.pem`),
        ca: pki.read("ca.pem"),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: "TLSv1.3",
        ...extra,
      },
      (socket) => {
        const peer = socket.getPeerCertificate();
        resolveAccepted({
          authorized: socket.authorized,
          authorizationError: socket.authorizationError?.message,
          peerCommonName: peer?.subject?.CN as string | undefined,
          alpn: socket.alpnProtocol,
          socket,
        });
        socket.on("data", (data: Buffer) => onData(socket, data));
        socket.on("error", (e) => failures.push(e));
      },
    );
    server.on("tlsClientError", (e) => failures.push(e));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return { port: (server.address() as AddressInfo).port, accepted, failures };
  }

  function options(extra: Partial<TlsClientOptions> = {}): TlsClientOptions {
    return {
      serverName: "localhost",
      platform,
      provider: nobleCrypto,
      trustAnchors: [pki.read("ca.pem"), pki.read("rsa-ca.pem")],
      credential: softwareCredentialFromPem(pki.read("client.key"), pki.read("client.pem")),
      ...extra,
    };
  }

  async function readText(tls: TlsClient, length: number): Promise<string> {
    let text = "";
    while (text.length < length) {
      const chunk = await tls.read();
      if (chunk === null) throw new Error(`closed after ${text.length} of ${length} bytes`);
      text += bytesToAscii(chunk);
    }
    return text;
  }

  it("authenticates both ways (the server sees our certificate as authorized) and exchanges data", async () => {
    const { port, accepted } = await startServer("server");
    const tls = await TlsClient.connect(await connectTcp("127.0.0.1", port), options());
    await tls.write(asciiToBytes("telemetry 21.5C"));
    assert.equal(await readText(tls, 15), "TELEMETRY 21.5C");
    const seen = await accepted;
    assert.equal(seen.authorized, true, seen.authorizationError);
    assert.equal(seen.peerCommonName, "device-001");
    await tls.close();
  });

  it("verifies an ECDSA P-384 server key (ecdsa_secp384r1_sha384)", async () => {
    const { port } = await startServer("p384-server");
    const tls = await TlsClient.connect(await connectTcp("127.0.0.1", port), options());
    assert.equal(tls.info.serverSignatureScheme, "ecdsa_secp384r1_sha384");
    await tls.write(asciiToBytes("p384"));
    assert.equal(await readText(tls, 4), "P384");
    await tls.close();
  });

  it("verifies an RSA-2048 server chain (rsa_pss_rsae_sha256 CertificateVerify, PKCS#1 chain signature)", async () => {
    const { port } = await startServer("rsa-server");
    const tls = await TlsClient.connect(await connectTcp("127.0.0.1", port), options());
    assert.equal(tls.info.serverSignatureScheme, "rsa_pss_rsae_sha256");
    assert.equal(tls.info.serverCertificate.issuer, "CN=Test RSA CA");
    await tls.write(asciiToBytes("rsa"));
    assert.equal(await readText(tls, 3), "RSA");
    await tls.close();
  });

  it("negotiates ALPN", async () => {
    const { port, accepted } = await startServer("server", { ALPNProtocols: ["mqtt", "x-other"] });
    const tls = await TlsClient.connect(await connectTcp("127.0.0.1", port), options({ alpn: ["x-unknown", "mqtt"] }));
    assert.equal(tls.info.alpn, "mqtt");
    assert.equal((await accepted).alpn, "mqtt");
    await tls.close();
  });

  it("reports the server's no_application_protocol alert when no ALPN protocol is shared", async () => {
    const { port } = await startServer("server", { ALPNProtocols: ["h2"] });
    await assert.rejects(
      TlsClient.connect(await connectTcp("127.0.0.1", port), options({ alpn: ["mqtt"] })),
      (e: unknown) => e instanceof TlsAlertError && e.alertName === "no_application_protocol" && /\(120\)/.test(e.message),
    );
  });

  it("receives bulk data in bounded records and ends at the server's close_notify", async () => {
    const bulk = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(2000); // 72 000 bytes
    const { port } = await startServer("server", {}, (socket) => {
      socket.write(bulk);
      socket.end(); // Node sends close_notify
    });
    const tls = await TlsClient.connect(await connectTcp("127.0.0.1", port), options({ recordSizeLimit: 2048 }));
    assert.equal(tls.info.receiveLimit, 2048, "max_fragment_length 2^11 negotiated with OpenSSL inside Node");
    const recordsBefore = tls.stats.recordsReceived;
    await tls.write(asciiToBytes("send"));
    let text = "";
    for (;;) {
      const chunk = await tls.read();
      if (chunk === null) break;
      assert.ok(chunk.length <= 2048, `a record of ${chunk.length} bytes`);
      text += bytesToAscii(chunk);
    }
    assert.equal(text, bulk);
    assert.equal(tls.peerClosed, true);
    assert.ok(tls.stats.recordsReceived - recordsBefore >= bulk.length / 2048);
    await tls.close();
  });
});
