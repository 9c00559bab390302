// Path validation and identity matching on embedded openssl-made chains (see test-certificates.ts).
// Runs on Node and inside XS. The wider set of verdicts (expired, wrong CA flags, RSA chains...) is
// exercised against freshly made openssl certificates in test/integration/crypto-x509.test.ts.
import { fromHex } from "../../../modules/bytes/bytes.js";
import { nobleCrypto } from "../../../modules/crypto/noble-provider.js";
import { dnsNameMatches, parseIpAddress, TrustStore, verifyCertificateChain, type VerifyOptions } from "../../../modules/crypto/path.js";
import { CertificateError, pemToCertificates, type CertificateErrorReason } from "../../../modules/crypto/x509.js";
import * as assert from "../../lib/portable/assert.js";
import * as T from "./test-certificates.js";

const der = (pem: string) => pemToCertificates(pem)[0]!;
const NOW = Date.UTC(2030, 0, 1);
const chain = () => [der(T.leafPem), der(T.interPem)];
const opts = (extra: Partial<VerifyOptions> = {}): VerifyOptions => ({
  provider: nobleCrypto,
  trustStore: new TrustStore([T.rootPem]),
  time: NOW,
  hostname: "device.example.com",
  ...extra,
});

function expectReason(fn: () => unknown, reason: CertificateErrorReason, mention?: string): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CertificateError, `expected CertificateError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    if (mention) assert.ok(error.message.indexOf(mention) >= 0, `"${error.message}" should mention ${mention}`);
    return;
  }
  throw new Error(`expected CertificateError(${reason}), nothing thrown`);
}

describe("certificate path validation", () => {
  it("accepts leaf → intermediate → root (ECDSA P-256) and returns the path", () => {
    const result = verifyCertificateChain(chain(), opts());
    assert.deepEqual(
      result.path.map((c) => c.subject.commonName),
      ["device.example.com", "Test Intermediate P-256", "Test Root P-256"],
    );
    assert.equal(result.anchor.subject.commonName, "Test Root P-256");
  });

  it("accepts an RSA root signing with RSASSA-PSS", () => {
    verifyCertificateChain([der(T.pssPem)], opts({ trustStore: new TrustStore([der(T.rsaRootPem)]), hostname: "rsa-pss.example.com" }));
  });

  it("refuses without the right anchor, or without the intermediate", () => {
    expectReason(() => verifyCertificateChain(chain(), opts({ trustStore: new TrustStore([T.rsaRootPem]) })), "untrusted", "Test Intermediate P-256");
    expectReason(() => verifyCertificateChain([der(T.leafPem)], opts()), "untrusted", "device.example.com");
    expectReason(() => verifyCertificateChain([], opts()), "untrusted");
  });

  it("checks validity at the given time, naming the certificate at fault", () => {
    expectReason(() => verifyCertificateChain(chain(), opts({ time: Date.UTC(2026, 10, 27, 1, 43, 11) })), "not-yet-valid", "Test Intermediate P-256");
    verifyCertificateChain(chain(), opts({ time: Date.UTC(2045, 9, 18, 1, 43, 12) }));
    expectReason(() => verifyCertificateChain(chain(), opts({ time: Date.UTC(2045, 9, 18, 1, 43, 13) })), "expired", "device.example.com");
    expectReason(() => verifyCertificateChain(chain(), opts({ time: Date.UTC(2046, 0, 26, 1, 43, 13) })), "expired", "Test Intermediate P-256");
  });

  it("matches the host name against dNSName / iPAddress SANs only", () => {
    for (const host of ["device.example.com", "Device.Example.COM", "sensor-7.iot.example.com", "192.0.2.7", "2001:db8::7", "[2001:DB8:0:0::7]"]) {
      verifyCertificateChain(chain(), opts({ hostname: host }));
    }
    for (const host of ["example.com", "a.b.iot.example.com", "iot.example.com", "192.0.2.8", "2001:db8::8", "device.example.com.attacker", "Test Intermediate P-256", ""]) {
      expectReason(() => verifyCertificateChain(chain(), opts({ hostname: host })), "hostname-mismatch", "device.example.com");
    }
    verifyCertificateChain(chain(), opts({ hostname: null }));
  });

  it("refuses an unknown critical extension", () => {
    expectReason(() => verifyCertificateChain([der(T.critPem), der(T.interPem)], opts({ hostname: "critical.example.com" })), "unsupported-critical-extension", "1.3.6.1.4.1.99999.1");
  });

  it("refuses a tampered signature or a tampered TBS", () => {
    const sig = der(T.leafPem);
    sig[sig.length - 2]! ^= 0x10;
    expectReason(() => verifyCertificateChain([sig, der(T.interPem)], opts()), "bad-signature", "device.example.com");
    // Change one byte of the leaf's public key inside the TBS: still well formed, no longer what was signed.
    const tbs = der(T.leafPem);
    const point = fromHex(T.LEAF_POINT);
    let at = -1;
    for (let i = 0; at < 0 && i + point.length <= tbs.length; i++) if (point.every((b, k) => tbs[i + k] === b)) at = i;
    assert.ok(at > 0, "the leaf's point is in its DER");
    tbs[at + 10]! ^= 0x01;
    expectReason(() => verifyCertificateChain([tbs, der(T.interPem)], opts({ hostname: null })), "bad-signature");
  });

  it("checks pins on top of the chain", () => {
    verifyCertificateChain(chain(), opts({ pins: { spkiSha256: [fromHex(T.LEAF_SPKI_SHA256)] } }));
    verifyCertificateChain(chain(), opts({ pins: { certificateSha256: [fromHex(T.LEAF_SHA256)] } }));
    expectReason(() => verifyCertificateChain(chain(), opts({ pins: { certificateSha256: [fromHex(T.LEAF_SPKI_SHA256)] } })), "pin-mismatch");
  });

  it("asks for explicit time and hostname arguments", () => {
    assert.throws(() => verifyCertificateChain(chain(), opts({ time: Number.NaN })), RangeError);
    const withoutHost = opts() as Partial<VerifyOptions>;
    delete withoutHost.hostname;
    assert.throws(() => verifyCertificateChain(chain(), withoutHost as VerifyOptions), TypeError);
  });

  it("refuses chains longer than the limit", () => {
    const long = Array.from({ length: 11 }, () => der(T.interPem));
    expectReason(() => verifyCertificateChain([der(T.leafPem), ...long], opts()), "path-too-long");
  });
});

describe("RFC 6125 name matching helpers", () => {
  it("wildcards: whole leftmost label, one label deep, not over two-label names", () => {
    assert.equal(dnsNameMatches("*.example.com", "a.example.com"), true);
    assert.equal(dnsNameMatches("*.Example.com.", "a.example.com"), true);
    assert.equal(dnsNameMatches("*.example.com", "example.com"), false);
    assert.equal(dnsNameMatches("*.example.com", "a.b.example.com"), false);
    assert.equal(dnsNameMatches("*.com", "example.com"), false);
    assert.equal(dnsNameMatches("*", "localhost"), false);
    assert.equal(dnsNameMatches("f*.example.com", "foo.example.com"), false);
    assert.equal(dnsNameMatches("*o.example.com", "foo.example.com"), false);
    assert.equal(dnsNameMatches("a.*.example.com", "a.b.example.com"), false);
    assert.equal(dnsNameMatches("*.*.example.com", "a.b.example.com"), false);
    assert.equal(dnsNameMatches("*.example.com", "*.example.com"), false);
    assert.equal(dnsNameMatches("a..example.com", "a..example.com"), false);
  });

  it("parses IPv4 and IPv6 literals strictly", () => {
    assert.deepEqual(parseIpAddress("192.0.2.7"), fromHex("c0000207"));
    assert.deepEqual(parseIpAddress("::"), new Uint8Array(16));
    assert.deepEqual(parseIpAddress("::1"), fromHex("00000000000000000000000000000001"));
    assert.deepEqual(parseIpAddress("2001:db8::"), fromHex("20010db8000000000000000000000000"));
    assert.deepEqual(parseIpAddress("::ffff:192.0.2.7"), fromHex("00000000000000000000ffffc0000207"));
    assert.deepEqual(parseIpAddress("[fe80::1]"), fromHex("fe800000000000000000000000000001"));
    assert.deepEqual(parseIpAddress("1:2:3:4:5:6:7:8"), fromHex("00010002000300040005000600070008"));
    for (const bad of ["1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1:2", "12345::", "fe80::1%eth0", "1:2:3:4:5:6:7::8", "1.2.3.4::", "[::1", "g::1", "localhost"]) {
      assert.equal(parseIpAddress(bad), undefined, bad);
    }
  });
});
