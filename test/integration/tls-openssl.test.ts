// The firmware TLS 1.3 client against `openssl s_server` (software nobody on this team wrote):
// every cipher suite, P-256 and RSA-2048 server chains, HelloRetryRequest, client authentication
// with the software credential, and the ways a connection must fail closed.
import assert from "node:assert/strict";
import { bytesToAscii, asciiToBytes } from "../../modules/bytes/bytes.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { TlsClient, type TlsClientOptions } from "../../modules/tls/client.js";
import { CipherSuite, NamedGroup } from "../../modules/tls/constants.js";
import { TlsAlertError, TlsCertificateError, TlsClosedError } from "../../modules/tls/errors.js";
import { softwareCredentialFromPem } from "../../modules/tls/software-credential.js";
import { countingCredential } from "../lib/portable/counting-credential.js";
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

  /** Polls `condition` every 10 ms (at most 10 s): for events only visible through the client's counters. */
  async function until(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(condition(), "condition not reached within 10 s");
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
    assert.equal(tls.info.helloRetryRequest, false);
    assert.equal(tls.info.serverCertificate.commonName, "localhost");
    assert.equal(tls.info.serverSignatureScheme, "ecdsa_secp256r1_sha256");
    assert.equal(tls.info.clientCertificateRequested, true);
    assert.equal(tls.info.clientSignatureScheme, "ecdsa_secp256r1_sha256");
    await proveWithEcho(tls);
    // s_server verified our certificate chain (it prints the client's subject at depth 0).
    assert.match(server.output(), /depth=0 CN = device-001/);
    await tls.close();
  });

  for (const [chain, key, scheme] of [
    ["server.pem", "server.key", "ecdsa_secp256r1_sha256"],
    ["rsa-server.pem", "rsa-server.key", "rsa_pss_rsae_sha256"],
  ] as const) {
    for (const suite of ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]) {
      it(`negotiates ${suite} with the ${chain.startsWith("rsa") ? "RSA-2048" : "P-256"} server chain`, async () => {
        server = await startSServer(pki.dir, sServerArgs(chain, key, ["-ciphersuites", suite]));
        const tls = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options());
        assert.equal(tls.info.cipherSuite, suite);
        assert.equal(tls.info.serverSignatureScheme, scheme);
        await proveWithEcho(tls, `${suite} over ${chain}`);
        await tls.close();
      });
    }
  }

  it("gets its own suite preference from a server that follows the client, and the server's with -serverpref", async () => {
    server = await startSServer(pki.dir, sServerArgs("server.pem", "server.key"));
    const chachaFirst = [CipherSuite.TLS_CHACHA20_POLY1305_SHA256, CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384];
    let tls = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options({ cipherSuites: chachaFirst }));
    assert.equal(tls.info.cipherSuite, "TLS_CHACHA20_POLY1305_SHA256");
    await proveWithEcho(tls);
    await tls.close();
    await server.stop();
    // OpenSSL's own order puts AES-256-GCM first.
    server = await startSServer(pki.dir, sServerArgs("server.pem", "server.key", ["-serverpref"]));
    tls = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options({ cipherSuites: chachaFirst }));
    assert.equal(tls.info.cipherSuite, "TLS_AES_256_GCM_SHA384");
    await proveWithEcho(tls);
    await tls.close();
  });

  it("answers a HelloRetryRequest for x25519 when it offered a P-256 share first", async () => {
    server = await startSServer(pki.dir, sServerArgs("server.pem", "server.key", ["-groups", "X25519"]));
    const tls = await TlsClient.connect(
      await connectTcp("127.0.0.1", server.port),
      options({ groups: [NamedGroup.secp256r1, NamedGroup.x25519], keyShareGroups: [NamedGroup.secp256r1] }),
    );
    assert.equal(tls.info.helloRetryRequest, true);
    assert.equal(tls.info.group, "x25519");
    await proveWithEcho(tls);
    await tls.close();
  });

  it("answers a HelloRetryRequest for P-256 when it offered an x25519 share first", async () => {
    server = await startSServer(pki.dir, sServerArgs("rsa-server.pem", "rsa-server.key", ["-groups", "P-256", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"]));
    const tls = await TlsClient.connect(
      await connectTcp("127.0.0.1", server.port),
      options({ groups: [NamedGroup.x25519, NamedGroup.secp256r1], keyShareGroups: [NamedGroup.x25519] }),
    );
    assert.equal(tls.info.helloRetryRequest, true);
    assert.equal(tls.info.group, "secp256r1");
    assert.equal(tls.info.cipherSuite, "TLS_CHACHA20_POLY1305_SHA256");
    await proveWithEcho(tls);
    await tls.close();
  });

  it("works without middlebox compatibility mode and with a small record limit, over many records", async () => {
    server = await startSServer(pki.dir, sServerArgs("server.pem", "server.key"));
    const tls = await TlsClient.connect(
      await connectTcp("127.0.0.1", server.port),
      options({ middleboxCompatibility: false, recordSizeLimit: 1024 }),
    );
    // OpenSSL does not implement record_size_limit but honours max_fragment_length (2^10 here).
    assert.equal(tls.info.peerRecordSizeLimit, undefined);
    assert.equal(tls.info.maxFragmentLength, 1024);
    const line = "0123456789abcdef".repeat(300); // 4800 bytes: five records each way
    const recordsBefore = tls.stats.recordsSent;
    await proveWithEcho(tls, line);
    assert.ok(tls.stats.recordsSent - recordsBefore >= 5, `sent ${tls.stats.recordsSent - recordsBefore} records`);
    await tls.close();
  });

  it("keeps the server's session tickets", async () => {
    server = await startSServer(pki.dir, sServerArgs("server.pem", "server.key"));
    const tls = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options());
    await proveWithEcho(tls);
    // OpenSSL sends two tickets after the handshake (they arrive before the echo).
    assert.equal(tls.stats.ticketsReceived, 2);
    assert.equal(tls.tickets.length, 2);
    for (const ticket of tls.tickets) {
      assert.ok(ticket.ticket.length > 0);
      assert.equal(ticket.psk.length, 32); // TLS_AES_128_GCM_SHA256 (our first choice): a SHA-256-sized PSK
      assert.equal(ticket.cipherSuite, CipherSuite.TLS_AES_128_GCM_SHA256);
      assert.ok(ticket.lifetimeSeconds > 0 && ticket.lifetimeSeconds <= 604800);
    }
    await tls.close();
  });

  it("resumes with its ticket on the next connection: no certificates, no client signature, the same client identity", async () => {
    server = await startSServer(pki.dir, [...sServerArgs("server.pem", "server.key"), "-naccept", "2"]);
    const first = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options());
    await proveWithEcho(first);
    assert.equal(first.info.resumed, false);
    const ticket = first.tickets[0]!;
    await first.close();

    const counting = countingCredential(softwareCredentialFromPem(pki.read("client.key"), pki.read("client.pem")));
    const second = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options({ resumption: ticket, credential: counting }));
    assert.equal(second.info.resumed, true);
    assert.equal(second.info.serverSignatureScheme, undefined);
    assert.equal(second.info.serverCertificate.commonName, "localhost");
    assert.equal(counting.signatures, 0, "the client key signed nothing");
    await proveWithEcho(second, "resumed without the client key");
    // The server's view: the second connection still knows the client's certificate (from the
    // session), but received no client signature this time (s_server prints no "Signature type").
    await server.waitFor(/CONNECTION ESTABLISHED[\s\S]*CONNECTION ESTABLISHED[\s\S]*Supported groups/);
    const blocks = server.output().split("CONNECTION ESTABLISHED").slice(1);
    assert.equal(blocks.length, 2, server.output());
    assert.match(blocks[0]!, /Signature type: ECDSA/);
    assert.match(blocks[1]!, /Peer certificate: CN = device-001/);
    assert.doesNotMatch(blocks[1]!, /Signature type/);
    assert.ok(second.stats.handshake!.bytesReceived < first.stats.handshake!.bytesReceived / 2, `resumed handshake received ${second.stats.handshake!.bytesReceived} bytes, the full one ${first.stats.handshake!.bytesReceived}`);
    await second.close();
  });

  describe("KeyUpdate and close_notify (s_server interactive mode)", () => {
    /** s_server without -rev: what we send is printed, what is typed on its stdin is sent to us; "K" sends a KeyUpdate requesting one, "Q" quits. */
    async function interactive(): Promise<{ tls: TlsClient; type: (line: string) => void }> {
      server = await startSServer(pki.dir, ["-tls1_3", "-cert", "server.pem", "-key", "server.key", "-CAfile", "ca.pem", "-Verify", "1", "-verify_return_error", "-naccept", "1"]);
      const tls = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options());
      const stdin = server.process.stdin!;
      return { tls, type: (line) => stdin.write(line + "\n") };
    }

    it("sends a KeyUpdate that the server follows, and follows the server's answer", async () => {
      const { tls, type } = await interactive();
      await tls.requestKeyUpdate(true);
      await tls.write(asciiToBytes("after our key update\n"));
      await server!.waitFor(/after our key update/);
      type("reply under new keys");
      assert.equal((await readLine(tls)).trim(), "reply under new keys");
      assert.equal(tls.stats.keyUpdatesSent, 1);
      // The server answered update_requested with its own KeyUpdate before the reply.
      assert.equal(tls.stats.keyUpdatesReceived, 1);
      await tls.close();
    });

    it("answers a server KeyUpdate that requests one, and keeps talking", async () => {
      const { tls, type } = await interactive();
      await tls.write(asciiToBytes("ready\n"));
      await server!.waitFor(/ready/);
      // s_server drops whatever follows "K" in the same stdin read, so type the next line only once
      // the KeyUpdate has reached us (read() processes it while waiting for data).
      const reply = readLine(tls);
      type("K");
      await until(() => tls.stats.keyUpdatesReceived === 1);
      type("after the server's key update");
      assert.equal((await reply).trim(), "after the server's key update");
      assert.equal(tls.stats.keyUpdatesReceived, 1);
      assert.equal(tls.stats.keyUpdatesSent, 1, "our answering KeyUpdate");
      // The server can still read us, so it switched to our new keys too.
      await tls.write(asciiToBytes("still here\n"));
      await server!.waitFor(/still here/);
      await tls.close();
    });

    it("reports a server that drops the connection without close_notify as a possible truncation", async () => {
      const { tls, type } = await interactive();
      await tls.write(asciiToBytes("bye\n"));
      await server!.waitFor(/bye/);
      type("Q"); // s_server closes its socket without sending close_notify
      await assert.rejects(tls.read(), (e: unknown) => e instanceof TlsClosedError && /without close_notify/.test(e.message));
      await assert.rejects(tls.write(asciiToBytes("x")), TlsClosedError);
    });
  });

  describe("fails closed", () => {
    it("rejects a server chain from a CA it does not trust (unknown_ca)", async () => {
      server = await startSServer(pki.dir, sServerArgs("rogue-server.pem", "rogue-server.key"));
      const error = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options()).then(
        () => assert.fail("connected to an untrusted server"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof TlsCertificateError, String(error));
      assert.equal(error.alert, 48);
      assert.match(error.message, /untrusted/);
      assert.match(error.message, /Rogue CA/);
      await server.waitFor(/alert unknown ca|unknown ca/i);
    });

    it("rejects an expired server certificate (certificate_expired)", async () => {
      server = await startSServer(pki.dir, sServerArgs("expired-server.pem", "expired-server.key"));
      const error = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options()).then(
        () => assert.fail("accepted an expired certificate"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof TlsCertificateError, String(error));
      assert.equal(error.alert, 45);
      assert.match(error.message, /expired at 2020-02-01/);
      await server.waitFor(/certificate expired/i);
    });

    it("rejects a certificate that does not name the server (hostname mismatch)", async () => {
      server = await startSServer(pki.dir, sServerArgs("server.pem", "server.key"));
      const error = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options({ serverName: "cloud.example.com" })).then(
        () => assert.fail("accepted a certificate for another name"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof TlsCertificateError, String(error));
      assert.equal(error.alert, 42);
      assert.match(error.message, /not valid for "cloud\.example\.com"/);
    });

    it("reports the server's decrypt_error when the client key does not match its certificate", async () => {
      server = await startSServer(pki.dir, sServerArgs("server.pem", "server.key"));
      const mismatched = softwareCredentialFromPem(pki.read("other-client.key"), pki.read("client.pem"));
      // TLS 1.3: our Finished leaves before the server checks our CertificateVerify, so connect()
      // succeeds and the server's verdict arrives on the next read.
      const tls = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options({ credential: mismatched }));
      await tls.write(asciiToBytes("are we in?\n")).catch(() => undefined);
      const error = await tls.read().then(
        () => assert.fail("read succeeded with a forged CertificateVerify"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof TlsAlertError, String(error));
      assert.equal(error.description, 51);
      assert.equal(error.message, "server sent alert decrypt_error (51)");
      await server.waitFor(/bad signature/);
    });

    it("reports the server's certificate_required when it has no credential to send", async () => {
      server = await startSServer(pki.dir, sServerArgs("server.pem", "server.key"));
      const tls = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options({ credential: undefined }));
      assert.equal(tls.info.clientSignatureScheme, undefined);
      const error = await tls.read().then(
        () => assert.fail("read succeeded without a client certificate"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof TlsAlertError, String(error));
      assert.equal(error.alertName, "certificate_required");
      assert.match(error.message, /no credential is configured/);
    });

    it("refuses a server that will not speak TLS 1.3 (-tls1_2)", async () => {
      server = await startSServer(pki.dir, ["-tls1_2", "-cert", "server.pem", "-key", "server.key", "-rev", "-naccept", "1"]);
      const error = await TlsClient.connect(await connectTcp("127.0.0.1", server.port), options()).then(
        () => assert.fail("connected to a TLS 1.2-only server"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof TlsAlertError, String(error));
      assert.equal(error.alertName, "protocol_version");
      assert.match(error.message, /does not accept TLS 1\.3/);
    });
  });
});
