// The firmware inside the real XS engine (and on Node) with its key in the virtual SIM behind the
// virtual modem, reached only through AT commands: certificate read, signatures checked by
// node:crypto, a CSR checked by openssl, and TLS 1.3 to real servers (openssl s_server, node:tls).
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { describeFigures, type ProbeResult, verifyProbe } from "../../hosts/cli/commands/probe.js";
import type { SecureEchoResult } from "../../hosts/cli/commands/connect.js";
import { type Engine, runFirmware } from "../../hosts/cli/firmware-host.js";
import { connectTcpLink } from "../../hosts/node/links.js";
import { cliPath, type SimWorld, startSimWorld } from "../lib/sim-world.js";
import { makePki, type Pki, type SServer, sServerArgs, startSServer } from "./tls-peers.js";

const ENGINES: Engine[] = ["xs", "node"];

describe("end to end: firmware + AT engine + virtual modem + virtual IoT SAFE SIM", function () {
  this.timeout(60000);
  let pki: Pki;
  let world: SimWorld;

  before(async function () {
    pki = makePki();
    world = await startSimWorld({ caCert: pki.path("ca.pem"), caKey: pki.path("ca.key") });
  });
  after(async function () {
    await world?.close();
    pki?.remove();
  });

  for (const engine of ENGINES) {
    for (const transport of ["csim", "cgla"] as const) {
      it(`${engine}: reads the certificate and signs in the SIM through ${transport === "csim" ? "AT+CSIM" : "AT+CCHO/AT+CGLA"}; node:crypto verifies`, async function () {
        const message = randomBytes(40);
        const digest = createHash("sha256").update(message).digest("hex");
        const { result } = await runFirmware<ProbeResult>("iotsafe-probe", { transport, digest }, { engine, modem: world.modemUrl });
        assert.match(result.transport, transport === "csim" ? /AT\+CSIM/ : /AT\+CCHO/);
        const leaf = verifyProbe(result, message);
        assert.equal(leaf.subject, "CN=device-001");
        assert.ok(leaf.checkIssued(new X509Certificate(pki.read("ca.pem"))), "the certificate read from the SIM is the one the CA issued");
        // The second run used the cached certificate: fewer APDUs than the cold one.
        assert.ok(result.cached.apdus < result.cold.apdus, `cold: ${describeFigures(result.cold)}; cached: ${describeFigures(result.cached)}`);
      });
    }
  }

  it("xs: builds a CSR signed by the SIM key that openssl req -verify accepts", async function () {
    const { result } = await runFirmware<{ pem: string }>("csr", { cn: "device-002", dns: "device-002.example" }, { engine: "xs", modem: world.modemUrl });
    const path = join(world.dir, "device.csr");
    writeFileSync(path, result.pem);
    const text = execFileSync("openssl", ["req", "-in", path, "-verify", "-noout", "-text"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    assert.match(text, /Subject: CN ?= ?device-002/);
    assert.match(text, /DNS:device-002\.example/);
    // The CSR carries the SIM's key: the same public key as the SIM's certificate.
    const csrKey = execFileSync("openssl", ["req", "-in", path, "-pubkey", "-noout"], { encoding: "utf8" });
    const probe = await runFirmware<ProbeResult>("iotsafe-probe", { digest: "00".repeat(32) }, { engine: "node", modem: world.modemUrl });
    const certKey = new X509Certificate(Buffer.from(probe.result.certificates[0]!, "hex")).publicKey.export({ type: "spki", format: "pem" });
    assert.equal(csrKey.trim(), String(certKey).trim());
  });

  describe("TLS 1.3 with the client key in the SIM, against openssl s_server", function () {
    async function connect(engine: Engine, port: number, extra: Record<string, unknown> = {}, caFile = "ca.pem") {
      const net = await connectTcpLink("127.0.0.1", port);
      return runFirmware<SecureEchoResult>(
        "secure-echo",
        { network: "direct", host: "127.0.0.1", port, serverName: "localhost", caPem: pki.read(caFile), send: "hello IoT SAFE", ...extra },
        { engine, modem: world.modemUrl, links: { net } },
      );
    }

    const cases: { name: string; cert: string; key: string; trust: string; extra?: string[]; suite?: RegExp; hrr?: boolean }[] = [
      { name: "P-256 server chain, AES-128-GCM", cert: "server.pem", key: "server.key", trust: "ca.pem", extra: ["-ciphersuites", "TLS_AES_128_GCM_SHA256"], suite: /AES_128_GCM/ },
      { name: "P-256 server chain, AES-256-GCM", cert: "server.pem", key: "server.key", trust: "ca.pem", extra: ["-ciphersuites", "TLS_AES_256_GCM_SHA384"], suite: /AES_256_GCM/ },
      { name: "P-256 server chain, ChaCha20-Poly1305", cert: "server.pem", key: "server.key", trust: "ca.pem", extra: ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"], suite: /CHACHA20/ },
      { name: "RSA-2048 server chain", cert: "rsa-server.pem", key: "rsa-server.key", trust: "rsa-ca.pem" },
      { name: "HelloRetryRequest forced by the server's groups (X25519 only)", cert: "server.pem", key: "server.key", trust: "ca.pem", extra: ["-groups", "X25519"], hrr: true },
    ];
    for (const engine of ENGINES) {
      for (const c of cases) {
        it(`${engine}: ${c.name}: the server sees the SIM's certificate and answers`, async function () {
          const server = await startSServer(pki.dir, sServerArgs(c.cert, c.key, c.extra ?? []));
          try {
            const { result } = await connect(engine, server.port, {}, c.trust);
            // s_server -rev answers with the line reversed: proof that it accepted our CertificateVerify.
            assert.equal(result.reply, "EFAS ToI olleh");
            assert.equal(result.info.clientSignatureScheme, "ecdsa_secp256r1_sha256");
            if (c.suite) assert.match(result.info.cipherSuite, c.suite);
            assert.equal(result.info.helloRetryRequest, c.hrr === true);
            assert.ok(result.handshakeSim.apdus > 0, "the CertificateVerify was signed through APDUs");
            await server.waitFor(/CN ?= ?device-001/);
          } finally {
            await server.stop();
          }
        });
      }
    }

    const failures: { name: string; cert: string; key: string; serverName?: string; extra?: string[]; error: RegExp }[] = [
      { name: "a server chain from an untrusted CA", cert: "rogue-server.pem", key: "rogue-server.key", error: /untrusted|not trusted|no trust/i },
      { name: "an expired server certificate", cert: "expired-server.pem", key: "expired-server.key", error: /expired/i },
      { name: "a hostname mismatch", cert: "server.pem", key: "server.key", serverName: "wrong.example", error: /host ?name|wrong\.example/i },
      { name: "a server that will not speak TLS 1.3", cert: "server.pem", key: "server.key", extra: ["-no_tls1_3"], error: /protocol_version|TLS 1\.3|version/i },
    ];
    for (const f of failures) {
      it(`xs: fails closed with a clear error on ${f.name}`, async function () {
        const args = sServerArgs(f.cert, f.key, f.extra ?? []).filter((a) => !(f.extra?.includes("-no_tls1_3") && a === "-tls1_3"));
        const server = await startSServer(pki.dir, args);
        try {
          await assert.rejects(connect("xs", server.port, f.serverName ? { serverName: f.serverName } : {}), (error: Error) => {
            assert.match(error.message, f.error);
            return true;
          });
        } finally {
          await server.stop();
        }
      });
    }
  });

  it("xs: a SIM key that does not match its certificate is rejected by the server, and the client reports the server's alert", async function () {
    const pem = pki.read("client.pem"); // a certificate for some other key
    const mismatched = await startSimWorld({
      caCert: pki.path("ca.pem"),
      caKey: pki.path("ca.key"),
      extraProfileArgs: [["import", "--profile", "{profile}", "--file", `02=${pki.path("client.pem")}`]],
    });
    try {
      assert.ok(pem.includes("BEGIN CERTIFICATE"));
      const server = await startSServer(pki.dir, sServerArgs("server.pem", "server.key"));
      try {
        const net = await connectTcpLink("127.0.0.1", server.port);
        await assert.rejects(
          runFirmware<SecureEchoResult>(
            "secure-echo",
            { network: "direct", host: "127.0.0.1", port: server.port, serverName: "localhost", caPem: pki.read("ca.pem"), send: "x" },
            { engine: "xs", modem: mismatched.modemUrl, links: { net } },
          ),
          (error: Error) => {
            // The server's alert, or — when the alert lost the race with our write — the explanation of the hang-up.
            assert.match(error.message, /server sent alert (decrypt_error|bad_certificate)|rejected our client certificate or CertificateVerify/);
            return true;
          },
        );
        await server.waitFor(/bad signature|verify|error/i).catch(() => undefined);
      } finally {
        await server.stop();
      }
    } finally {
      await mismatched.close();
    }
  });

  /** A virtual modem of `dialect` with a fresh SIM, and s_server taking `accepts` connections, for `body`; both stopped after. */
  async function withModemAndSServer(dialect: string, accepts: number, body: (modemUrl: string, server: SServer) => Promise<void>): Promise<void> {
    const modemWorld = await startSimWorld({ caCert: pki.path("ca.pem"), caKey: pki.path("ca.key"), dialect });
    const server = await startSServer(pki.dir, [...sServerArgs("server.pem", "server.key"), "-naccept", String(accepts)]);
    try {
      await body(modemWorld.modemUrl, server);
    } finally {
      await server.stop();
      await modemWorld.close();
    }
  }

  describe("TLS 1.3 through the modem's own sockets (--transport modem), key in the SIM, against openssl s_server", function () {
    for (const dialect of ["quectel-bg95", "simcom-sim7080", "ublox-sara-r5", "sequans-gm02s", "nordic-slm"]) {
      it(`xs: ${dialect}: the server sees the SIM's certificate and answers through the virtual modem's socket`, async function () {
        await withModemAndSServer(dialect, 1, async (modemUrl, server) => {
          const { result } = await runFirmware<SecureEchoResult>(
            "secure-echo",
            { network: "modem", dialect, host: "127.0.0.1", port: server.port, serverName: "localhost", caPem: pki.read("ca.pem"), send: "hello IoT SAFE" },
            { engine: "xs", modem: modemUrl },
          );
          assert.equal(result.reply, "EFAS ToI olleh");
          assert.ok("attach" in result.phases && "socket" in result.phases, `phases: ${JSON.stringify(result.phases)}`);
          await server.waitFor(/CN ?= ?device-001/);
        });
      });
    }
  });

  it("xs: reconnects through the modem by resuming the session: no APDU, the server still sees the SIM's certificate", async function () {
    await withModemAndSServer("quectel-bg95", 2, async (modemUrl, server) => {
      const { result } = await runFirmware<SecureEchoResult>(
        "secure-echo",
        { network: "modem", dialect: "quectel-bg95", host: "127.0.0.1", port: server.port, serverName: "localhost", caPem: pki.read("ca.pem"), send: "once more", resume: true },
        { engine: "xs", modem: modemUrl },
      );
      assert.equal(result.handshakeSim.apdus, 4, "the full handshake: the SIM signs (certificate cached)");
      const again = result.resumedHandshake!;
      assert.equal(again.resumed, true);
      assert.equal(again.reply, "erom ecno");
      assert.equal(again.handshakeSim.apdus, 0, "the resumed handshake sends the SIM nothing");
      assert.ok(again.handshakeSim.atBytes < result.handshakeSim.atBytes, `AT bytes: resumed ${again.handshakeSim.atBytes}, full ${result.handshakeSim.atBytes}`);
      await server.waitFor(/CONNECTION ESTABLISHED[\s\S]*CONNECTION ESTABLISHED[\s\S]*Peer certificate: CN ?= ?device-001/);
    });
  });

  it("iotsafe connect --transport modem --resume: two replies, and the second handshake resumed with 0 APDUs", async function () {
    await withModemAndSServer("simcom-sim7080", 2, async (modemUrl, server) => {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        [cliPath, "connect", "--modem", modemUrl, "--transport", "modem", "--dialect", "simcom-sim7080", "--host", "127.0.0.1", "--port", String(server.port), "--servername", "localhost", "--ca", pki.path("ca.pem"), "--send", "abc", "--resume"],
        { encoding: "utf8", timeout: 120000 },
      );
      assert.deepEqual(stdout.trim().split("\n"), ["cba", "cba"]);
      assert.match(stderr, /full handshake: \d+ ms, 4 APDUs, \d+ AT bytes; resumed: \d+ ms, 0 APDUs, \d+ AT bytes/);
    });
  });

  describe("TLS 1.3 with the client key in the SIM, against node:tls", function () {
    let server: TlsServer;
    let port = 0;
    const clients: string[] = [];
    before(async function () {
      server = createTlsServer(
        { cert: pki.read("server.pem"), key: pki.read("server.key"), ca: pki.read("ca.pem"), requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" },
        (socket) => {
          clients.push(String(socket.getPeerCertificate().subject?.CN ?? "?"));
          socket.once("data", (data) => socket.end(`node saw ${data.toString().trim()}\n`));
        },
      );
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as { port: number }).port;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("xs: node:tls with requestCert + rejectUnauthorized accepts the SIM-held identity", async function () {
      const net = await connectTcpLink("127.0.0.1", port);
      const { result } = await runFirmware<SecureEchoResult>(
        "secure-echo",
        { network: "direct", host: "127.0.0.1", port, serverName: "localhost", caPem: pki.read("ca.pem"), send: "hi" },
        { engine: "xs", modem: world.modemUrl, links: { net } },
      );
      assert.equal(result.reply, "node saw hi");
      assert.deepEqual(clients, ["device-001"]);
    });
  });
});
