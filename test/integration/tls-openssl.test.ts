// The firmware TLS 1.3 client against `openssl s_server` (software nobody on this team wrote):
// every cipher suite, P-256 and RSA-2048 server chains, HelloRetryRequest, client authentication
// with the software credential, and the ways a connection must fail closed.
import assert from "node:assert/strict";
import { bytesToAscii, asciiToBytes } from "../../modules/bytes/bytes.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { pemToCertificates } from "../../modules/crypto/x509.js";
import { TlsClient, type TlsClientOptions } from "../../modules/tls/client.js";
import { CipherSuite, NamedGroup } from "../../modules/tls/constants.js";
import { TlsAlertError, TlsCertificateError, TlsProtocolVersionError } from "../../modules/tls/errors.js";
import { softwareCredentialFromPem } from "../../modules/tls/software-credential.js";
import { connectTcp } from "../../hosts/node/socket-transport.js";
import { nodePlatform } from "../../hosts/node/platform.js";
import { makePki, sServerArgs, startSServer, type Pki, type SServer } from "./tls-peers.js";

const platform = nodePlatform({ logLevel: "error" });

describe("TLS 1.3 client against openssl s_server", function () {
  this.timeout(60000);
  let pki: Pki;
  let server: SServer | undefined;

  before(function () {
    this.timeout(120000);
    pki = makePki();
  });
  after(() => pki?.remove());
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

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

  /** Reads until a full line arrives (s_server -rev answers line by line). */
  async function readLine(tls: TlsClient): Promise<string> {
    let text = "";
    while (!text.includes("\n")) {
      const chunk = await tls.read();
      if (chunk === null) throw new Error(`connection closed after ${JSON.stringify(text)}`);
      text += bytesToAscii(chunk);
    }
    return text;
  }

  /** Sends a line and expects it back reversed: proof that the server accepted our whole handshake. */
  async function proveWithEcho(tls: TlsClient, line = "hello from the firmware"): Promise<void> {
    await tls.write(asciiToBytes(line + "\n"));
    const reply = await readLine(tls);
    assert.equal(reply.trim(), line.split("").reverse().join(""));
  }

  it("completes a P-256 handshake with AES-128-GCM and client authentication, proven by the -rev echo", async () => {
    server = await startSServer(pki.dir, sServerArgs("server.pem", "server.key", ["-ciphersuites", "TLS_AES_128_GCM_SHA256"]));
    const tls = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options());
    assert.equal(tls.info.cipherSuite, "TLS_AES_128_GCM_SHA256");
    assert.equal(tls.info.group, "secp256r1");
    assert.equal(tls.info.serverCertificate.commonName, "localhost");
    assert.equal(tls.info.clientCertificateRequested, true);
    assert.equal(tls.info.clientSignatureScheme, "ecdsa_secp256r1_sha256");
    await proveWithEcho(tls);
    await tls.close();
  });
});
