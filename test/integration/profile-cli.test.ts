// `iotsafe profile` end to end: the CLI run as a process, its certificates checked with OpenSSL
// (openssl verify, x509 -text) and node:crypto, its profiles driven through the virtual card.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { X509Certificate, createHash, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cardFromProfileFile } from "../../hosts/sim/card/iotsafe-card.js";
import { loadProfile } from "../../hosts/sim/card/profile.js";
import { transmitHex as send } from "../../hosts/sim/card/hex-transmit.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = join(root, "bin/iotsafe.js");

function cli(args: string[], cwd: string): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8" });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function openssl(args: string[], cwd: string): string {
  return execFileSync("openssl", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`;
}

function fileContents(profilePath: string, id: string): Buffer {
  const object = loadProfile(profilePath).objects.find((o) => o.kind === "file" && o.id === id);
  assert.ok(object?.contents, `file ${id} has contents`);
  return Buffer.from(object.contents, "hex");
}

describe("iotsafe profile (CLI)", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "profile-cli-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("dev-ca writes a P-256 CA (ca.pem, owner-only ca.key) that OpenSSL accepts as a CA", () => {
    const result = cli(["profile", "dev-ca", "--out-dir", "ca", "--cn", "Test Dev CA"], dir);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(statSync(join(dir, "ca/ca.key")).mode & 0o077, 0);
    const text = openssl(["x509", "-in", "ca/ca.pem", "-noout", "-text"], dir);
    assert.match(text, /Subject: .*CN = Test Dev CA/);
    assert.match(text, /CA:TRUE/);
    assert.match(text, /Certificate Sign/);
    assert.match(text, /ASN1 OID: prime256v1/);
    assert.match(openssl(["verify", "-CAfile", "ca/ca.pem", "ca/ca.pem"], dir), /OK/);
    // Not overwritten without --force.
    assert.equal(cli(["profile", "dev-ca", "--out-dir", "ca"], dir).status, 1);
  });

  it("new: key generated in the SIM, client certificate OpenSSL verifies, public key = READ PUBLIC KEY 01, signatures verify", async () => {
    const before = Date.now();
    const result = cli(["profile", "new", "--out", "p.json", "--ca-cert", "ca/ca.pem", "--ca-key", "ca/ca.key", "--cn", "device-42", "--days", "30"], dir);
    assert.equal(result.status, 0, result.stderr);
    const profilePath = join(dir, "p.json");
    assert.equal(statSync(profilePath).mode & 0o077, 0, "profile holds private keys: owner-only");

    const certificateDer = fileContents(profilePath, "02");
    writeFileSync(join(dir, "client.pem"), pem(certificateDer));
    assert.match(openssl(["verify", "-CAfile", "ca/ca.pem", "-purpose", "sslclient", "client.pem"], dir), /client\.pem: OK/);
    const text = openssl(["x509", "-in", "client.pem", "-noout", "-text"], dir);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /Subject: CN = device-42/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, /X509v3 Extended Key Usage: \s*\n\s*TLS Web Client Authentication/);
    assert.match(text, /CA:FALSE/);
    assert.match(text, /ASN1 OID: prime256v1/);

    const certificate = new X509Certificate(certificateDer);
    const ca = new X509Certificate(readFileSync(join(dir, "ca/ca.pem")));
    assert.equal(certificate.issuer, ca.subject);
    assert.ok(certificate.checkIssued(ca));
    assert.ok(certificate.verify(ca.publicKey));
    assert.deepEqual(certificate.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
    assert.ok(/^[0-9A-F]+$/.test(certificate.serialNumber) && certificate.serialNumber.length >= 16, certificate.serialNumber);
    const from = Date.parse(certificate.validFrom);
    const to = Date.parse(certificate.validTo);
    assert.ok(Math.abs(from - (before - 3_600_000)) < 120_000, `notBefore ${certificate.validFrom} is about now − 1 h`);
    assert.ok(Math.abs(to - (before + 30 * 86_400_000)) < 120_000, `notAfter ${certificate.validTo} is about now + 30 days`);
    assert.deepEqual(fileContents(profilePath, "03"), ca.raw, "file 03 is the CA certificate (DER)");

    const card = await cardFromProfileFile(profilePath);
    assert.equal(await send(card, "00A4040007A0000005590010"), "9000");
    const read = await send(card, "80CD000003850101");
    assert.match(read, /^344549438641(04[0-9A-F]{128})9000$/);
    const spki = certificate.publicKey.export({ type: "spki", format: "der" });
    assert.equal(spki.subarray(spki.length - 65).toString("hex").toUpperCase(), read.slice(12, -4));

    const message = Buffer.from("CertificateVerify transcript");
    const digest = createHash("sha256").update(message).digest("hex").toUpperCase();
    assert.equal(await send(card, "802A00010D840101A1010391020001920104"), "9000");
    const signed = await send(card, "802B8001229E20" + digest);
    assert.match(signed, /^330040[0-9A-F]{128}9000$/);
    assert.ok(verify("sha256", message, { key: certificate.publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(signed.slice(6, -4), "hex")));

    // 01 is protected, 04 and 05 are writable containers.
    assert.equal(await send(card, "80B9000003840101"), "6985");
    assert.match(await send(card, "80B9000003840104"), /^840104850104344549438641[0-9A-F]{130}9000$/);
    assert.equal(await send(card, "8024000103850105"), "9000");
    assert.equal(await send(card, "80D8800147" + read.slice(0, -4)), "9000");
    // READ FILE of 02 through the card gives the certificate back.
    let der = "";
    for (let offset = 0; ; ) {
      const chunk = await send(card, `80B0${offset.toString(16).padStart(4, "0")}0383010200`);
      assert.equal(chunk.slice(-4), "9000");
      if (chunk.length === 4) break;
      der += chunk.slice(0, -4);
      offset += (chunk.length - 4) / 2;
    }
    assert.equal(der, certificateDer.toString("hex").toUpperCase());
  });

  it("new refuses to overwrite a profile without --force, and a CA key that does not match the CA", () => {
    assert.equal(cli(["profile", "new", "--out", "p.json", "--ca-cert", "ca/ca.pem", "--ca-key", "ca/ca.key", "--cn", "x"], dir).status, 1);
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "other.key"], dir);
    const mismatch = cli(["profile", "new", "--out", "q.json", "--ca-cert", "ca/ca.pem", "--ca-key", "other.key", "--cn", "x"], dir);
    assert.equal(mismatch.status, 1);
    assert.match(mismatch.stderr, /does not belong/);
  });

  it("new accepts an OpenSSL-made CA with a SEC1 key and with a PKCS#8 key", () => {
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sec1.key"], dir);
    assert.match(readFileSync(join(dir, "sec1.key"), "utf8"), /BEGIN EC PRIVATE KEY/);
    openssl(["pkcs8", "-topk8", "-nocrypt", "-in", "sec1.key", "-out", "pkcs8.key"], dir);
    openssl(
      ["req", "-x509", "-new", "-key", "sec1.key", "-subj", "/O=Elsewhere/CN=OpenSSL CA", "-days", "10", "-out", "oca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
      dir,
    );
    for (const key of ["sec1.key", "pkcs8.key"]) {
      const out = `o-${key}.json`;
      const result = cli(["profile", "new", "--out", out, "--ca-cert", "oca.pem", "--ca-key", key, "--cn", `dev-${key}`], dir);
      assert.equal(result.status, 0, result.stderr);
      writeFileSync(join(dir, "o-client.pem"), pem(fileContents(join(dir, out), "02")));
      assert.match(openssl(["verify", "-CAfile", "oca.pem", "-purpose", "sslclient", "o-client.pem"], dir), /OK/);
    }
  });

  it("import adds a P-256 key, certificate files (PEM and DER) and writable containers the card then uses", async () => {
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "device.key"], dir);
    openssl(["req", "-x509", "-new", "-key", "device.key", "-subj", "/CN=imported", "-days", "5", "-out", "device.pem"], dir);
    openssl(["x509", "-in", "device.pem", "-outform", "der", "-out", "device.der"], dir);
    const result = cli(
      ["profile", "import", "--profile", "i.json", "--private-key", "0A=device.key", "--file", "0B=device.pem", "--file", "0c=device.der",
        "--writable-private", "0D", "--writable-public", "0E"],
      dir,
    );
    assert.equal(result.status, 0, result.stderr);
    const certificate = new X509Certificate(readFileSync(join(dir, "device.pem")));
    const card = await cardFromProfileFile(join(dir, "i.json"));
    assert.equal(await send(card, "00A4040007A0000005590010"), "9000");
    const spki = certificate.publicKey.export({ type: "spki", format: "der" });
    assert.equal(await send(card, "00CD00000385010A"), "344549438641" + spki.subarray(spki.length - 65).toString("hex").toUpperCase() + "9000");
    for (const id of ["0B", "0C"]) {
      const info = await send(card, `00CBC300038301${id}`);
      assert.ok(info.includes("210102"), `file ${id} is marked as a certificate: ${info}`);
      assert.ok(info.includes("2002" + certificate.raw.length.toString(16).toUpperCase().padStart(4, "0")), "size");
    }
    assert.match(await send(card, "00B900000384010D"), /^84010D85010D/);
    assert.equal(await send(card, "002400010385010E"), "9000");
    // A second import into the same profile keeps what is there.
    assert.equal(cli(["profile", "import", "--profile", "i.json", "--writable-public", "0F"], dir).status, 0);
    assert.equal(loadProfile(join(dir, "i.json")).objects.length, 6);
  });

  it("import refuses non-P-256 keys and malformed arguments", () => {
    openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "rsa.key"], dir);
    const rsa = cli(["profile", "import", "--profile", "r.json", "--private-key", "01=rsa.key"], dir);
    assert.equal(rsa.status, 1);
    assert.match(rsa.stderr, /P-256/);
    assert.equal(cli(["profile", "import", "--profile", "r.json", "--file", "nothing"], dir).status, 2);
    assert.equal(cli(["profile", "import", "--profile", "r.json", "--writable-public", "zz"], dir).status, 1);
    assert.equal(cli(["profile", "new", "--out", "z.json", "--ca-cert", "ca/ca.pem", "--ca-key", "ca/ca.key"], dir).status, 2);
    assert.equal(cli(["profile", "new", "--out", "z.json", "--ca-cert", "ca/ca.pem", "--ca-key", "ca/ca.key", "--cn", "a", "--days", "0"], dir).status, 2);
    assert.equal(cli(["profile", "frobnicate"], dir).status, 2);
  });

  it("show lists the objects", () => {
    const result = cli(["profile", "show", "--profile", "p.json"], dir);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /private-key +01 +r- .*32 bytes/);
    assert.match(result.stdout, /file +02 .*certificate CN=device-42/);
    assert.match(result.stdout, /public-key +05 +rw .*65 bytes/, "the peer key PUT through the card was saved");
  });
});
