// The development PKI (hosts/sim/pki): CA, server certificates with SAN + serverAuth (for the
// virtual cloud) and client certificates, checked by OpenSSL and by real node:tls handshakes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate, createECDH, createPrivateKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import type { AddressInfo } from "node:net";
import { CertificateBuildError, ipAddressBytes } from "../../hosts/sim/pki/certificate.js";
import { createDevCa, issueClientCertificate, issueServerCertificate, loadDevCa, randomSerial } from "../../hosts/sim/pki/dev-ca.js";
import { pemDecodeAll, pemEncode, derFromPemOrDer, PemError } from "../../hosts/sim/pki/pem.js";

function opensslText(pemText: string): string {
  return execFileSync("openssl", ["x509", "-noout", "-text"], { input: pemText, encoding: "utf8" });
}

describe("dev PKI", function () {
  this.timeout(30_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "pki-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("createDevCa: a self-signed P-256 CA that node:crypto and OpenSSL accept", () => {
    const ca = createDevCa({ cn: "Unit CA", days: 10 });
    const x509 = new X509Certificate(ca.certificatePem);
    assert.ok(x509.ca);
    assert.ok(x509.checkIssued(x509));
    assert.ok(x509.verify(x509.publicKey));
    assert.match(x509.subject, /CN=Unit CA/);
    const text = opensslText(ca.certificatePem);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
  });

  it("issueServerCertificate: SAN DNS/IP names, serverAuth, a chain OpenSSL verifies for sslserver", () => {
    const ca = createDevCa();
    const server = issueServerCertificate(ca, { cn: "cloud", dns: ["localhost", "cloud.test"], ip: ["127.0.0.1", "::1"] });
    const x509 = new X509Certificate(server.certificatePem);
    assert.equal(x509.checkHost("cloud.test"), "cloud.test");
    assert.equal(x509.checkHost("other.test"), undefined);
    assert.equal(x509.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(x509.checkIP("::1"), "::1");
    assert.deepEqual(x509.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
    assert.ok(x509.checkIssued(new X509Certificate(ca.certificatePem)));
    assert.ok(x509.checkPrivateKey(server.privateKey));
    writeFileSync(join(dir, "ca.pem"), ca.certificatePem);
    writeFileSync(join(dir, "server.pem"), server.certificatePem);
    const out = execFileSync("openssl", ["verify", "-CAfile", "ca.pem", "-purpose", "sslserver", "server.pem"], { cwd: dir, encoding: "utf8" });
    assert.match(out, /server\.pem: OK/);
    assert.match(opensslText(server.certificatePem), /DNS:localhost, DNS:cloud\.test, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
    assert.equal(pemDecodeAll(server.chainPem).length, 2);
  });

  it("a real mutual-TLS handshake: server certificate for 127.0.0.1, client certificate for a P-256 key held elsewhere", async () => {
    const ca = createDevCa();
    const server = issueServerCertificate(ca, { cn: "cloud", dns: ["localhost"], ip: ["127.0.0.1"] });
    // The client key stands in for the SIM's: the certificate is made from its public point only.
    const device = createECDH("prime256v1");
    const point = device.generateKeys();
    const clientDer = issueClientCertificate(ca, { cn: "device-7", publicKey: new Uint8Array(point) });
    const clientKey = createPrivateKey({
      key: { kty: "EC", crv: "P-256", d: device.getPrivateKey().toString("base64url"), x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") },
      format: "jwk",
    });
    const tlsServer = tls.createServer({ key: server.privateKeyPem, cert: server.certificatePem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: true });
    const seen = new Promise<string>((resolve) => {
      tlsServer.on("secureConnection", (socket) => {
        resolve((socket.getPeerCertificate() as { subject: { CN: string } }).subject.CN);
        socket.end("hello");
      });
    });
    tlsServer.listen(0, "127.0.0.1");
    await once(tlsServer, "listening");
    try {
      const port = (tlsServer.address() as AddressInfo).port;
      const client = tls.connect({ host: "127.0.0.1", port, ca: ca.certificatePem, cert: pemEncode("CERTIFICATE", clientDer), key: clientKey.export({ type: "pkcs8", format: "pem" }), minVersion: "TLSv1.2" });
      await once(client, "secureConnect");
      assert.ok(client.authorized, String(client.authorizationError));
      assert.equal(await seen, "device-7");
      client.destroy();
    } finally {
      tlsServer.close();
    }
  });

  it("loadDevCa refuses a key that is not the CA's and a certificate that is not a CA", () => {
    const ca = createDevCa();
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    assert.throws(() => loadDevCa(ca.certificatePem, other), (e: unknown) => e instanceof CertificateBuildError && /does not belong/.test(e.message));
    const leaf = issueServerCertificate(ca, { cn: "leaf", dns: ["x.test"] });
    assert.throws(() => loadDevCa(leaf.certificatePem, leaf.privateKeyPem), (e: unknown) => e instanceof CertificateBuildError && /not a CA/.test(e.message));
    assert.throws(() => loadDevCa("not a certificate", ca.privateKeyPem), CertificateBuildError);
  });

  it("an RSA CA signs with sha256WithRSAEncryption", () => {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-subj", "/CN=RSA CA", "-days", "2", "-out", "rsa.pem",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"], { cwd: dir, stdio: "pipe" });
    const ca = loadDevCa(new Uint8Array(readFileSync(join(dir, "rsa.pem"))), readFileSync(join(dir, "rsa.key"), "utf8"));
    const server = issueServerCertificate(ca, { cn: "rsa-leaf", dns: ["rsa.test"] });
    assert.match(opensslText(server.certificatePem), /Signature Algorithm: sha256WithRSAEncryption/);
    assert.ok(new X509Certificate(server.certificatePem).verify(new X509Certificate(ca.certificatePem).publicKey));
  });

  it("IP address text to bytes (IPv4, IPv6 with ::, embedded IPv4); other text is refused", () => {
    assert.deepEqual([...ipAddressBytes("10.0.0.255")], [10, 0, 0, 255]);
    assert.equal(Buffer.from(ipAddressBytes("::1")).toString("hex"), "00000000000000000000000000000001");
    assert.equal(Buffer.from(ipAddressBytes("fe80::1:2")).toString("hex"), "fe800000000000000000000000010002");
    assert.equal(Buffer.from(ipAddressBytes("2001:db8::")).toString("hex"), "20010db8000000000000000000000000");
    assert.equal(Buffer.from(ipAddressBytes("::ffff:1.2.3.4")).toString("hex"), "00000000000000000000ffff01020304");
    assert.throws(() => ipAddressBytes("localhost"), CertificateBuildError);
  });

  it("serials are positive, 16 bytes, and differ; validity must be positive", () => {
    const a = randomSerial();
    const b = randomSerial();
    assert.equal(a.length, 16);
    assert.equal(a[0]! & 0x80, 0);
    assert.notDeepEqual(a, b);
    assert.throws(() => createDevCa({ days: 0 }), CertificateBuildError);
  });

  it("PEM: round trip, chains concatenate, bad base64 is PemError, binary passes through", () => {
    const der = Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x05]);
    const text = pemEncode("CERTIFICATE", der) + pemEncode("CERTIFICATE", der);
    assert.deepEqual(pemDecodeAll(text).map((b) => [...b.der]), [[...der], [...der]]);
    assert.deepEqual([...derFromPemOrDer(Buffer.from(text))], [...der, ...der]);
    assert.deepEqual(derFromPemOrDer(der), der);
    assert.throws(() => pemDecodeAll("-----BEGIN X-----\n!!!\n-----END X-----"), PemError);
  });
});

