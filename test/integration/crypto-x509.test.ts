// X.509 parsing and path validation against certificates made by openssl (a peer we did not write),
// with parsed fields cross-checked against node:crypto's X509Certificate.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../modules/bytes/bytes.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { TrustStore, verifyCertificateChain, type VerifyOptions } from "../../modules/crypto/path.js";
import { CertificateError, parseCertificate, pemToCertificates, type Certificate, type CertificateErrorReason } from "../../modules/crypto/x509.js";

interface Issued {
  name: string;
  keyFile: string;
  pemFile: string;
  der: Uint8Array;
  pem: string;
}

type KeyType = "p256" | "p384" | "rsa2048";

class Pki {
  readonly dir = mkdtempSync(join(tmpdir(), "iotsafe-x509-"));
  #serial = 1;
  readonly keys = new Map<KeyType, string>();

  run(args: string[]): string {
    return execFileSync("openssl", args, { cwd: this.dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  /** One key per type is enough (reused by several certificates), which keeps RSA key generation cheap. */
  key(type: KeyType, fresh = false): string {
    const existing = this.keys.get(type);
    if (existing && !fresh) return existing;
    const file = `key-${type}-${this.#serial++}.pem`;
    const opts =
      type === "rsa2048"
        ? ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        : ["-algorithm", "EC", "-pkeyopt", `ec_paramgen_curve:${type === "p256" ? "P-256" : "P-384"}`];
    this.run(["genpkey", ...opts, "-out", file]);
    if (!existing) this.keys.set(type, file);
    return file;
  }

  /**
   * Issues a certificate. `issuer` undefined = self-signed. `extensions` are openssl config lines.
   * `sigopt` passes -sigopt options (RSA-PSS). `days` negative is not possible in openssl 3.0, so
   * expiry is tested by moving the verification clock instead.
   */
  issue(name: string, opts: { key: string; issuer?: Issued; extensions: string[]; md?: string; sigopt?: string[]; days?: number; subject?: string }): Issued {
    const conf = `${name}.cnf`;
    writeFileSync(join(this.dir, conf), `[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=${name}\n[ext]\n${opts.extensions.join("\n")}\n`);
    const pemFile = `${name}.pem`;
    const subject = opts.subject ?? `/CN=${name}`;
    const md = `-${opts.md ?? "sha256"}`;
    const sigopt = (opts.sigopt ?? []).flatMap((o) => ["-sigopt", o]);
    const days = String(opts.days ?? 365);
    const serial = String(this.#serial++ * 1000 + 7);
    if (!opts.issuer) {
      this.run(["req", "-x509", "-new", "-key", opts.key, "-subj", subject, "-config", conf, "-extensions", "ext", md, ...sigopt, "-days", days, "-set_serial", serial, "-out", pemFile]);
    } else {
      this.run(["req", "-new", "-key", opts.key, "-subj", subject, "-config", conf, "-out", `${name}.csr`]);
      this.run(["x509", "-req", "-in", `${name}.csr`, "-CA", opts.issuer.pemFile, "-CAkey", opts.issuer.keyFile, "-set_serial", serial, "-days", days, md, ...sigopt, "-extfile", conf, "-extensions", "ext", "-out", pemFile]);
    }
    const pem = readFileSync(join(this.dir, pemFile), "utf8");
    return { name, keyFile: opts.key, pemFile, pem, der: pemToCertificates(pem)[0]! };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const CA_EXT = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign", "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"];
const leafExt = (san: string, more: string[] = []) => [
  "basicConstraints=critical,CA:FALSE",
  "keyUsage=critical,digitalSignature",
  "extendedKeyUsage=serverAuth",
  `subjectAltName=${san}`,
  "authorityKeyIdentifier=keyid",
  ...more,
];
const DAY = 86400000;

describe("crypto: X.509 and path validation against openssl-made certificates", function () {
  this.timeout(60000);
  const pki = new Pki();
  const c: Record<string, Issued> = {};
  let now = 0;

  before(function () {
    try {
      pki.run(["version"]);
    } catch {
      console.warn("    openssl not found: skipping");
      this.skip();
    }
    const p256 = pki.key("p256");
    const root = (c.root = pki.issue("Test Root CA", { key: p256, extensions: CA_EXT, days: 3650 }));
    const interKey = pki.key("p256", true);
    const inter = (c.inter = pki.issue("Test Intermediate CA", { key: interKey, issuer: root, extensions: ["basicConstraints=critical,CA:TRUE,pathlen:0", "keyUsage=critical,keyCertSign", "extendedKeyUsage=serverAuth,clientAuth", "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"] }));
    const leafKey = pki.key("p256", true);
    c.leaf = pki.issue("device.example.com", { key: leafKey, issuer: inter, extensions: leafExt("DNS:device.example.com,DNS:*.wild.example.com,IP:127.0.0.1,IP:::1") });
    c.expiringSoon = pki.issue("short.example.com", { key: leafKey, issuer: inter, days: 1, extensions: leafExt("DNS:short.example.com") });
    c.cnOnly = pki.issue("cn-only.example.com", { key: leafKey, issuer: inter, extensions: leafExt("email:a@b.example").filter((e) => !e.startsWith("subjectAltName")) });
    c.twoLabelWildcard = pki.issue("two-label", { key: leafKey, issuer: inter, extensions: leafExt("DNS:*.com") });
    c.partialWildcard = pki.issue("partial", { key: leafKey, issuer: inter, extensions: leafExt("DNS:f*.example.com") });
    c.criticalUnknown = pki.issue("critical.example.com", { key: leafKey, issuer: inter, extensions: leafExt("DNS:critical.example.com", ["1.3.6.1.4.1.99999.1=critical,ASN1:UTF8String:must-understand"]) });
    c.nonCriticalUnknown = pki.issue("noncritical.example.com", { key: leafKey, issuer: inter, extensions: leafExt("DNS:noncritical.example.com", ["1.3.6.1.4.1.99999.2=ASN1:UTF8String:may-ignore"]) });
    c.clientOnly = pki.issue("client-only", { key: leafKey, issuer: inter, extensions: leafExt("DNS:device.example.com").map((e) => (e.startsWith("extendedKeyUsage") ? "extendedKeyUsage=clientAuth" : e)) });
    c.keyEnciphermentOnly = pki.issue("kenc-only", { key: leafKey, issuer: inter, extensions: leafExt("DNS:device.example.com").map((e) => (e.startsWith("keyUsage") ? "keyUsage=critical,keyEncipherment" : e)) });
    // A CA whose keyUsage lacks keyCertSign, and a "CA" that is not one.
    const badCaKey = pki.key("p256", true);
    c.caNoCertSign = pki.issue("CA without keyCertSign", { key: badCaKey, issuer: root, extensions: ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,digitalSignature,cRLSign", "subjectKeyIdentifier=hash"] });
    c.leafUnderNoCertSign = pki.issue("under-no-certsign.example.com", { key: leafKey, issuer: c.caNoCertSign, extensions: leafExt("DNS:under-no-certsign.example.com") });
    c.notCa = pki.issue("Not a CA", { key: badCaKey, issuer: root, extensions: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyCertSign", "subjectKeyIdentifier=hash"] });
    c.leafUnderNotCa = pki.issue("under-not-ca.example.com", { key: leafKey, issuer: c.notCa, extensions: leafExt("DNS:under-not-ca.example.com") });
    // pathlen:0 intermediate issuing another CA.
    c.subCa = pki.issue("Sub CA under pathlen 0", { key: badCaKey, issuer: inter, extensions: CA_EXT });
    c.leafUnderSubCa = pki.issue("deep.example.com", { key: leafKey, issuer: c.subCa, extensions: leafExt("DNS:deep.example.com") });
    // Another root the chain does not lead to.
    c.otherRoot = pki.issue("Other Root CA", { key: pki.key("p256", true), extensions: CA_EXT, days: 3650 });
    // RSA-2048 chain (PKCS#1 v1.5 SHA-256, a SHA-384 and a SHA-512 leaf, a PSS leaf).
    const rsa = pki.key("rsa2048");
    c.rsaRoot = pki.issue("RSA Root CA", { key: rsa, extensions: CA_EXT, days: 3650 });
    const rsaLeafKey = pki.key("rsa2048", true);
    c.rsaLeaf = pki.issue("rsa.example.com", { key: rsaLeafKey, issuer: c.rsaRoot, extensions: leafExt("DNS:rsa.example.com") });
    c.rsaLeaf384 = pki.issue("rsa384.example.com", { key: rsaLeafKey, issuer: c.rsaRoot, md: "sha384", extensions: leafExt("DNS:rsa384.example.com") });
    c.rsaLeaf512 = pki.issue("rsa512.example.com", { key: rsaLeafKey, issuer: c.rsaRoot, md: "sha512", extensions: leafExt("DNS:rsa512.example.com") });
    c.rsaPssLeaf = pki.issue("pss.example.com", { key: leafKey, issuer: c.rsaRoot, sigopt: ["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"], extensions: leafExt("DNS:pss.example.com") });
    c.rsaPssLeaf384 = pki.issue("pss384.example.com", { key: leafKey, issuer: c.rsaRoot, md: "sha384", sigopt: ["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"], extensions: leafExt("DNS:pss384.example.com") });
    c.rsaPssMaxSalt = pki.issue("pss-maxsalt.example.com", { key: leafKey, issuer: c.rsaRoot, sigopt: ["rsa_padding_mode:pss", "rsa_pss_saltlen:max"], extensions: leafExt("DNS:pss-maxsalt.example.com") });
    c.sha1Leaf = pki.issue("sha1.example.com", { key: leafKey, issuer: c.rsaRoot, md: "sha1", extensions: leafExt("DNS:sha1.example.com") });
    // P-384 root signing with SHA-384, and an RSA leaf under an EC CA.
    c.p384Root = pki.issue("P-384 Root CA", { key: pki.key("p384"), md: "sha384", extensions: CA_EXT, days: 3650 });
    c.p384Leaf = pki.issue("p384.example.com", { key: rsaLeafKey, issuer: c.p384Root, md: "sha384", extensions: leafExt("DNS:p384.example.com") });
    // A minute after issuance: every certificate above starts at its issuance second.
    now = Date.now() + 60000;
  });
  after(() => pki.cleanup());

  const options = (anchors: Issued[], hostname: string | null, extra: Partial<VerifyOptions> = {}): VerifyOptions => ({
    provider: nobleCrypto,
    trustStore: new TrustStore(anchors.map((a) => a.pem)),
    time: now,
    hostname,
    ...extra,
  });

  function expectReason(fn: () => unknown, reason: CertificateErrorReason, nameInMessage?: string): CertificateError {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof CertificateError, `expected CertificateError, got ${String(error)}`);
      assert.equal(error.reason, reason, error.message);
      if (nameInMessage) assert.ok(error.message.includes(nameInMessage), `message names ${nameInMessage}: ${error.message}`);
      return error;
    }
    assert.fail(`expected CertificateError(${reason}), nothing was thrown`);
  }

  describe("parsed fields agree with node:crypto X509Certificate", () => {
    it("for every certificate made", () => {
      for (const [label, issued] of Object.entries(c)) {
        const ours = parseCertificate(issued.der);
        const node = new X509Certificate(issued.pem);
        const what = `${label}: `;
        assert.equal(BigInt("0x" + toHex(ours.serialNumber)), BigInt("0x" + node.serialNumber), what + "serial");
        assert.equal(ours.subject.text.split(", ").join("\n"), node.subject, what + "subject");
        assert.equal(ours.issuer.text.split(", ").join("\n"), node.issuer, what + "issuer");
        assert.equal(ours.subject.commonName, issued.name, what + "CN");
        assert.equal(ours.notBefore, Date.parse(node.validFrom), what + "notBefore");
        assert.equal(ours.notAfter, Date.parse(node.validTo), what + "notAfter");
        // node's `ca` is OpenSSL's X509_check_ca: cA set and, when keyUsage is present, keyCertSign in it.
        const oursCa = (ours.basicConstraints?.ca ?? false) && (!ours.keyUsage || ours.keyUsage.has("keyCertSign"));
        assert.equal(oursCa, node.ca, what + "CA");
        assert.equal(ours.version, 3);
        // The TBS and signature are the pieces of the DER the signer produced.
        assert.equal(toHex(ours.der), toHex(new Uint8Array(node.raw)));
        assert.ok(ours.tbs.byteOffset > ours.der.byteOffset && ours.tbs.buffer === ours.der.buffer, "tbs is a view");
        const spki = new Uint8Array(node.publicKey.export({ format: "der", type: "spki" }));
        assert.equal(toHex(ours.subjectPublicKeyInfo.der), toHex(spki), what + "SPKI bytes");
        const jwk = node.publicKey.export({ format: "jwk" });
        const key = ours.subjectPublicKeyInfo.key;
        assert.ok(key, what + "key parsed");
        if (jwk.kty === "EC") {
          assert.equal(key.kind, "ec");
          if (key.kind === "ec") {
            assert.equal(key.curve, jwk.crv === "P-256" ? "secp256r1" : "secp384r1");
            assert.equal(toHex(key.point), "04" + Buffer.from(jwk.x!, "base64url").toString("hex") + Buffer.from(jwk.y!, "base64url").toString("hex"));
          }
        } else {
          assert.equal(key.kind, "rsa");
          if (key.kind === "rsa") {
            assert.equal(toHex(key.modulus), Buffer.from(jwk.n!, "base64url").toString("hex"));
            assert.equal(toHex(key.exponent), Buffer.from(jwk.e!, "base64url").toString("hex"));
          }
        }
        // node lists SANs as "DNS:a, IP Address:b"; compare the DNS names and IPs we extracted.
        const nodeSan = node.subjectAltName ? node.subjectAltName.split(", ") : [];
        const nodeDns = nodeSan.filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4));
        const nodeIps = nodeSan.filter((s) => s.startsWith("IP Address:")).map((s) => s.slice(11).toLowerCase());
        assert.deepEqual(ours.subjectAltName?.dnsNames ?? [], nodeDns, what + "dNSNames");
        assert.deepEqual((ours.subjectAltName?.ipAddresses ?? []).map(ipText), nodeIps.map(normalizeIpText), what + "iPAddresses");
        assert.deepEqual(ours.extendedKeyUsage ?? [], node.keyUsage ?? [], what + "extendedKeyUsage (node calls it keyUsage)");
        // node verifies the signature too: agree on it for the ones node can check.
        const issuerPem = findIssuer(ours, c);
        if (issuerPem) assert.equal(node.verify(new X509Certificate(issuerPem).publicKey), true, what + "node verifies");
      }
    });

    it("keyUsage bits, critical flags and unknown extensions kept", () => {
      const leaf = parseCertificate(c.leaf!.der);
      assert.deepEqual([...leaf.keyUsage!], ["digitalSignature"]);
      assert.deepEqual(leaf.extensions.filter((e) => e.critical).map((e) => e.oid).sort(), ["2.5.29.15", "2.5.29.19"]);
      const root = parseCertificate(c.root!.der);
      assert.deepEqual([...root.keyUsage!].sort(), ["cRLSign", "keyCertSign"]);
      assert.ok(root.subjectKeyIdentifier && root.subjectKeyIdentifier.length === 20, "SKI = SHA-1 of the key (openssl 'hash')");
      const inter = parseCertificate(c.inter!.der);
      assert.deepEqual(inter.basicConstraints, { ca: true, pathLength: 0 });
      assert.equal(toHex(inter.authorityKeyIdentifier!), toHex(root.subjectKeyIdentifier));
      const unknown = parseCertificate(c.criticalUnknown!.der).extensions.find((e) => e.oid === "1.3.6.1.4.1.99999.1");
      assert.ok(unknown && unknown.critical && !unknown.understood);
      assert.equal(toHex(unknown.value), "0c0f" + Buffer.from("must-understand").toString("hex"));
    });

    it("signature algorithms: ECDSA, PKCS#1 v1.5 and PSS parameters", () => {
      assert.deepEqual(parseCertificate(c.leaf!.der).signatureAlgorithm.algorithm, { kind: "ecdsa", hash: "sha256" });
      assert.deepEqual(parseCertificate(c.p384Leaf!.der).signatureAlgorithm.algorithm, { kind: "ecdsa", hash: "sha384" });
      assert.deepEqual(parseCertificate(c.rsaLeaf512!.der).signatureAlgorithm.algorithm, { kind: "rsa-pkcs1", hash: "sha512" });
      assert.deepEqual(parseCertificate(c.rsaPssLeaf384!.der).signatureAlgorithm.algorithm, { kind: "rsa-pss", hash: "sha384" });
      const maxSalt = parseCertificate(c.rsaPssMaxSalt!.der).signatureAlgorithm;
      assert.equal(maxSalt.algorithm, undefined);
      assert.match(maxSalt.unsupportedReason!, /salt length/);
      assert.equal(parseCertificate(c.sha1Leaf!.der).signatureAlgorithm.name, "sha1WithRSAEncryption");
    });
  });

  describe("verdicts", () => {
    const chain = () => [c.leaf!.der, c.inter!.der];

    it("accepts a P-256 chain leaf → intermediate → root for its DNS name", () => {
      const result = verifyCertificateChain(chain(), options([c.root!], "device.example.com"));
      assert.deepEqual(result.path.map((p) => p.subject.commonName), ["device.example.com", "Test Intermediate CA", "Test Root CA"]);
      // Case and a trailing dot do not matter for DNS names.
      verifyCertificateChain(chain(), options([c.root!], "DEVICE.Example.com."));
    });

    it("agrees with openssl verify on the good chain", () => {
      const out = pki.run(["verify", "-CAfile", c.root!.pemFile, "-untrusted", c.inter!.pemFile, "-verify_hostname", "device.example.com", c.leaf!.pemFile]);
      assert.match(out, /OK/);
    });

    it("accepts the chain sent unordered and with the root included", () => {
      verifyCertificateChain([c.leaf!.der, c.root!.der, c.otherRoot!.der, c.inter!.der], options([c.root!], "device.example.com"));
    });

    it("refuses a chain to an anchor that is not configured (untrusted), naming the certificate", () => {
      expectReason(() => verifyCertificateChain(chain(), options([c.otherRoot!], "device.example.com")), "untrusted", "Test Intermediate CA");
      expectReason(() => verifyCertificateChain([c.leaf!.der], options([c.root!], "device.example.com")), "untrusted", "device.example.com");
      expectReason(() => verifyCertificateChain([c.root!.der], options([c.otherRoot!], null)), "untrusted", "Test Root CA");
    });

    it("refuses a wrong host name", () => {
      const error = expectReason(() => verifyCertificateChain(chain(), options([c.root!], "other.example.com")), "hostname-mismatch", "device.example.com");
      assert.equal(error.certificate, "device.example.com");
      expectReason(() => verifyCertificateChain(chain(), options([c.root!], "example.com")), "hostname-mismatch");
      expectReason(() => verifyCertificateChain(chain(), options([c.root!], "device.example.com.evil")), "hostname-mismatch");
    });

    it("wildcards: one whole leftmost label only", () => {
      verifyCertificateChain(chain(), options([c.root!], "a.wild.example.com"));
      verifyCertificateChain(chain(), options([c.root!], "xn--80ak6aa92e.wild.example.com"));
      expectReason(() => verifyCertificateChain(chain(), options([c.root!], "b.a.wild.example.com")), "hostname-mismatch");
      expectReason(() => verifyCertificateChain(chain(), options([c.root!], "wild.example.com")), "hostname-mismatch");
      expectReason(() => verifyCertificateChain(chain(), options([c.root!], ".wild.example.com")), "hostname-mismatch");
      expectReason(() => verifyCertificateChain([c.twoLabelWildcard!.der, c.inter!.der], options([c.root!], "foo.com")), "hostname-mismatch");
      expectReason(() => verifyCertificateChain([c.partialWildcard!.der, c.inter!.der], options([c.root!], "foo.example.com")), "hostname-mismatch");
    });

    it("IP addresses match iPAddress SANs only (IPv4 and IPv6)", () => {
      for (const ip of ["127.0.0.1", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::0.0.0.1"]) verifyCertificateChain(chain(), options([c.root!], ip));
      for (const ip of ["127.0.0.2", "::2", "127.000.000.001", "::1%lo"]) expectReason(() => verifyCertificateChain(chain(), options([c.root!], ip)), "hostname-mismatch");
    });

    it("never falls back to the CN", () => {
      expectReason(() => verifyCertificateChain([c.cnOnly!.der, c.inter!.der], options([c.root!], "cn-only.example.com")), "hostname-mismatch", "none");
    });

    it("checks validity against the given clock", () => {
      const leaf = parseCertificate(c.expiringSoon!.der);
      verifyCertificateChain([c.expiringSoon!.der, c.inter!.der], options([c.root!], "short.example.com"));
      expectReason(() => verifyCertificateChain([c.expiringSoon!.der, c.inter!.der], options([c.root!], "short.example.com", { time: leaf.notAfter + 1000 })), "expired", "short.example.com");
      expectReason(() => verifyCertificateChain(chain(), options([c.root!], "device.example.com", { time: now - 2 * DAY })), "not-yet-valid");
      // An intermediate past its end date: the error names the intermediate, not the leaf.
      const inter = parseCertificate(c.inter!.der);
      expectReason(() => verifyCertificateChain(chain(), options([c.root!], "device.example.com", { time: inter.notAfter + DAY })), "expired", "Test Intermediate CA");
      assert.throws(() => verifyCertificateChain(chain(), options([c.root!], "device.example.com", { time: NaN })), RangeError);
    });

    it("refuses a CA without keyCertSign and a CA:FALSE issuer", () => {
      expectReason(() => verifyCertificateChain([c.leafUnderNoCertSign!.der, c.caNoCertSign!.der], options([c.root!], "under-no-certsign.example.com")), "bad-key-usage", "CA without keyCertSign");
      expectReason(() => verifyCertificateChain([c.leafUnderNotCa!.der, c.notCa!.der], options([c.root!], "under-not-ca.example.com")), "not-a-ca", "Not a CA");
    });

    it("enforces pathLenConstraint", () => {
      expectReason(() => verifyCertificateChain([c.leafUnderSubCa!.der, c.subCa!.der, c.inter!.der], options([c.root!], "deep.example.com")), "path-too-long", "Test Intermediate CA");
    });

    it("refuses an unknown critical extension, keeps going past a non-critical one", () => {
      expectReason(() => verifyCertificateChain([c.criticalUnknown!.der, c.inter!.der], options([c.root!], "critical.example.com")), "unsupported-critical-extension", "1.3.6.1.4.1.99999.1");
      verifyCertificateChain([c.nonCriticalUnknown!.der, c.inter!.der], options([c.root!], "noncritical.example.com"));
    });

    it("checks the leaf's EKU for the purpose asked and its keyUsage", () => {
      expectReason(() => verifyCertificateChain([c.clientOnly!.der, c.inter!.der], options([c.root!], "device.example.com")), "bad-eku", "client-only");
      verifyCertificateChain([c.clientOnly!.der, c.inter!.der], options([c.root!], null, { purpose: "clientAuth" }));
      expectReason(() => verifyCertificateChain([c.leaf!.der, c.inter!.der], options([c.root!], null, { purpose: "clientAuth" })), "bad-eku");
      expectReason(() => verifyCertificateChain([c.keyEnciphermentOnly!.der, c.inter!.der], options([c.root!], "device.example.com")), "bad-key-usage", "digitalSignature");
    });

    it("refuses tampered signatures and tampered contents", () => {
      const sigFlip = Uint8Array.from(c.leaf!.der);
      sigFlip[sigFlip.length - 1]! ^= 0x01;
      expectReason(() => verifyCertificateChain([sigFlip, c.inter!.der], options([c.root!], "device.example.com")), "bad-signature", "device.example.com");
      // Change one letter of the subject CN inside the TBS ("device" → "devicf").
      const tbsFlip = Uint8Array.from(c.leaf!.der);
      const at = Buffer.from(tbsFlip).indexOf(Buffer.from("device.example.com"));
      tbsFlip[at + 5] = "f".charCodeAt(0);
      expectReason(() => verifyCertificateChain([tbsFlip, c.inter!.der], options([c.root!], "devicf.example.com")), "bad-signature");
      // A certificate whose issuer name matches but whose key did not sign it.
      // Without key identifiers the name alone chains it, and the signature check catches it.
      const impostorKey = pki.key("p256", true);
      const impostor = pki.issue("Test Intermediate CA", { key: impostorKey, issuer: c.root!, extensions: [...CA_EXT.filter((e) => !e.includes("KeyIdentifier")), "subjectKeyIdentifier=none", "authorityKeyIdentifier=none"] });
      assert.equal(parseCertificate(impostor.der).subjectKeyIdentifier, undefined);
      expectReason(() => verifyCertificateChain([c.leaf!.der, impostor.der], options([c.root!], "device.example.com")), "bad-signature", "device.example.com");
      // With a subject key identifier that differs from the leaf's authority key identifier, it is not even a candidate.
      const impostorWithSki = pki.issue("Test Intermediate CA", { key: impostorKey, issuer: c.root!, extensions: CA_EXT });
      expectReason(() => verifyCertificateChain([c.leaf!.der, impostorWithSki.der], options([c.root!], "device.example.com")), "untrusted");
    });

    it("RSA-2048 chains: PKCS#1 v1.5 with SHA-256/384/512 and PSS with SHA-256/384", () => {
      for (const [leaf, host] of [
        [c.rsaLeaf!, "rsa.example.com"],
        [c.rsaLeaf384!, "rsa384.example.com"],
        [c.rsaLeaf512!, "rsa512.example.com"],
        [c.rsaPssLeaf!, "pss.example.com"],
        [c.rsaPssLeaf384!, "pss384.example.com"],
      ] as const) {
        verifyCertificateChain([leaf.der], options([c.rsaRoot!], host));
      }
      const flipped = Uint8Array.from(c.rsaPssLeaf!.der);
      flipped[flipped.length - 9]! ^= 0x40;
      expectReason(() => verifyCertificateChain([flipped], options([c.rsaRoot!], "pss.example.com")), "bad-signature");
    });

    it("refuses algorithms it cannot verify with a clear reason", () => {
      expectReason(() => verifyCertificateChain([c.sha1Leaf!.der], options([c.rsaRoot!], "sha1.example.com")), "unsupported-algorithm", "sha1WithRSAEncryption");
      expectReason(() => verifyCertificateChain([c.rsaPssMaxSalt!.der], options([c.rsaRoot!], "pss-maxsalt.example.com")), "unsupported-algorithm", "salt length");
    });

    it("P-384 root with SHA-384 over an RSA leaf key", () => {
      verifyCertificateChain([c.p384Leaf!.der], options([c.p384Root!], "p384.example.com"));
    });

    it("pins the leaf certificate or its SPKI (SHA-256)", () => {
      const node = new X509Certificate(c.leaf!.pem);
      const spkiPin = new Uint8Array(createHash("sha256").update(node.publicKey.export({ format: "der", type: "spki" })).digest());
      const certPin = new Uint8Array(createHash("sha256").update(node.raw).digest());
      verifyCertificateChain(chain(), options([c.root!], "device.example.com", { pins: { spkiSha256: [spkiPin] } }));
      verifyCertificateChain(chain(), options([c.root!], "device.example.com", { pins: { certificateSha256: [new Uint8Array(32), certPin] } }));
      expectReason(() => verifyCertificateChain(chain(), options([c.root!], "device.example.com", { pins: { spkiSha256: [certPin] } })), "pin-mismatch", "device.example.com");
      expectReason(() => verifyCertificateChain(chain(), options([c.root!], "device.example.com", { pins: {} })), "pin-mismatch");
      // Pinning adds to chain validation; it does not replace it.
      expectReason(() => verifyCertificateChain(chain(), options([c.otherRoot!], "device.example.com", { pins: { spkiSha256: [spkiPin] } })), "untrusted");
    });

    it("a leaf configured as the trust anchor itself is accepted, with the leaf rules still applied", () => {
      verifyCertificateChain([c.leaf!.der], options([c.leaf!], "device.example.com"));
      expectReason(() => verifyCertificateChain([c.leaf!.der], options([c.leaf!], "nope.example.com")), "hostname-mismatch");
    });

    it("reports malformed chain entries with their index", () => {
      const truncated = c.inter!.der.subarray(0, 100);
      expectReason(() => verifyCertificateChain([c.leaf!.der, truncated], options([c.root!], "device.example.com")), "malformed", "certificate 1");
    });

    it("trust anchors load from a PEM bundle (several blocks, text around them)", () => {
      const bundle = `# bundle\n${c.otherRoot!.pem}\nsome text\n${c.root!.pem}`;
      const store = new TrustStore([bundle]);
      assert.equal(store.anchors.length, 2);
      verifyCertificateChain(chain(), { provider: nobleCrypto, trustStore: store, time: now, hostname: "device.example.com" });
    });
  });
});

function ipText(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(":");
}

/** node prints IPv6 SANs fully expanded with leading zeros dropped ("0:0:0:0:0:0:0:1"). */
function normalizeIpText(text: string): string {
  return text.includes(":") ? text.split(":").map((g) => g.replace(/^0+(?=.)/, "")).join(":") : text;
}

function findIssuer(cert: Certificate, all: Record<string, Issued>): string | undefined {
  for (const issued of Object.values(all)) {
    const candidate = parseCertificate(issued.der);
    if (toHex(candidate.subject.der) === toHex(cert.issuer.der) && candidate.subjectKeyIdentifier && cert.authorityKeyIdentifier && toHex(candidate.subjectKeyIdentifier) === toHex(cert.authorityKeyIdentifier)) return issued.pem;
  }
  return undefined;
}
