// X.509 parsing and PEM decoding on embedded openssl-made certificates (expected values from openssl's
// own printout, see test-certificates.ts). Runs on Node and inside XS.
import { asciiToBytes, fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { encodeElement, encodeExplicit, encodeOid, encodeSequence, TAG } from "../../../modules/crypto/der.js";
import {
  CertificateError,
  certificateLabel,
  certificateToPem,
  decodeBase64,
  decodePem,
  parseCertificate,
  pemToCertificates,
  type Certificate,
} from "../../../modules/crypto/x509.js";
import * as assert from "../../lib/portable/assert.js";
import * as T from "./test-certificates.js";

const parse = (pem: string): Certificate => parseCertificate(pemToCertificates(pem)[0]!);

function throwsMalformed(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, CertificateError, pattern);
  try {
    fn();
  } catch (error) {
    assert.equal((error as CertificateError).reason, "malformed");
  }
}

describe("X.509 parsing", () => {
  it("reads the leaf's fields as openssl printed them", () => {
    const leaf = parse(T.leafPem);
    assert.equal(leaf.version, 3);
    assert.equal(toHex(leaf.serialNumber), "c0ffee");
    assert.equal(leaf.subject.text, "O=IoT SAFE Test, OU=Devices, CN=device.example.com");
    assert.equal(leaf.subject.commonName, "device.example.com");
    assert.equal(leaf.issuer.text, "C=FR, O=IoT SAFE Test, CN=Test Intermediate P-256");
    assert.equal(leaf.notBefore, Date.UTC(2026, 10, 27, 1, 43, 12));
    assert.equal(leaf.notAfter, Date.UTC(2045, 9, 18, 1, 43, 12));
    assert.deepEqual(leaf.signatureAlgorithm.algorithm, { kind: "ecdsa", hash: "sha256" });
    assert.equal(leaf.signatureAlgorithm.name, "ecdsa-with-SHA256");
    const key = leaf.subjectPublicKeyInfo.key;
    assert.ok(key && key.kind === "ec");
    assert.equal(key.curve, "secp256r1");
    assert.equal(toHex(key.point), T.LEAF_POINT);
    assert.deepEqual(leaf.basicConstraints, { ca: false });
    assert.deepEqual(leaf.keyUsage && [...leaf.keyUsage], ["digitalSignature"]);
    assert.deepEqual(leaf.extendedKeyUsage, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    assert.deepEqual(leaf.subjectAltName?.dnsNames, ["device.example.com", "*.iot.example.com"]);
    assert.deepEqual(leaf.subjectAltName?.ipAddresses, [fromHex("c0000207"), fromHex("20010db8000000000000000000000007")]);
    assert.equal(toHex(leaf.authorityKeyIdentifier!), T.INTER_SKI);
    assert.equal(certificateLabel(leaf), "device.example.com");
  });

  it("keeps critical flags and every extension in order, understood or not", () => {
    const leaf = parse(T.leafPem);
    assert.deepEqual(
      leaf.extensions.map((e) => [e.oid, e.critical, e.understood]),
      [
        ["2.5.29.19", true, true],
        ["2.5.29.15", true, true],
        ["2.5.29.37", false, true],
        ["2.5.29.17", false, true],
        ["2.5.29.35", false, true],
        // openssl 3 adds a subjectKeyIdentifier by itself.
        ["2.5.29.14", false, true],
      ],
    );
    const crit = parse(T.critPem);
    const unknown = crit.extensions.find((e) => e.oid === "1.3.6.1.4.1.99999.1");
    assert.ok(unknown && unknown.critical && !unknown.understood);
    assert.equal(toHex(unknown.value), "0c0178"); // UTF8String "x"
  });

  it("reads CA fields: basicConstraints with pathLen, keyUsage bits, key identifiers", () => {
    const root = parse(T.rootPem);
    assert.deepEqual(root.basicConstraints, { ca: true });
    assert.deepEqual(root.keyUsage && [...root.keyUsage], ["keyCertSign", "cRLSign"]);
    assert.equal(toHex(root.serialNumber), "1001");
    assert.equal(root.subject.text, "C=FR, O=IoT SAFE Test, CN=Test Root P-256");
    assert.deepEqual(root.subject.der, root.issuer.der);
    const inter = parse(T.interPem);
    assert.deepEqual(inter.basicConstraints, { ca: true, pathLength: 0 });
    assert.equal(toHex(inter.subjectKeyIdentifier!), T.INTER_SKI);
    assert.deepEqual(inter.issuer.der, root.subject.der);
  });

  it("reads an RSA key and RSASSA-PSS parameters", () => {
    const rsaRoot = parse(T.rsaRootPem);
    const key = rsaRoot.subjectPublicKeyInfo.key;
    assert.ok(key && key.kind === "rsa");
    assert.equal(key.modulus.length, 256);
    assert.equal(toHex(key.modulus.subarray(0, 16)), "e3762e3fe1fc01f2c5323a24e0998da8");
    assert.equal(toHex(key.exponent), "010001");
    assert.deepEqual(rsaRoot.signatureAlgorithm.algorithm, { kind: "rsa-pkcs1", hash: "sha256" });
    const pss = parse(T.pssPem);
    assert.deepEqual(pss.signatureAlgorithm.algorithm, { kind: "rsa-pss", hash: "sha256" });
  });

  it("gives views into the DER, not copies", () => {
    const der = pemToCertificates(T.leafPem)[0]!;
    const leaf = parseCertificate(der);
    for (const view of [leaf.tbs, leaf.serialNumber, leaf.subject.der, leaf.signature, leaf.subjectPublicKeyInfo.der]) {
      assert.ok(view.buffer === der.buffer, "shares the input buffer");
    }
    assert.equal(leaf.tbs.byteOffset, der.byteOffset + 4, "TBS follows the 4-byte outer header");
  });

  it("refuses truncated, padded and altered certificates with CertificateError('malformed')", () => {
    const der = pemToCertificates(T.leafPem)[0]!;
    throwsMalformed(() => parseCertificate(der.subarray(0, der.length - 1)));
    throwsMalformed(() => parseCertificate(new Uint8Array([...der, 0])), /trailing/);
    throwsMalformed(() => parseCertificate(new Uint8Array(0)));
    throwsMalformed(() => parseCertificate(new Uint8Array(20000)), /exceeds/);
    // Outer signatureAlgorithm differing from the TBS copy: change ecdsa-with-SHA256 (…04 03 02) to SHA384 in the outer one.
    const altered = Uint8Array.from(der);
    const oid = fromHex("2a8648ce3d040302");
    let last = -1;
    for (let i = 0; i + oid.length <= altered.length; i++) if (oid.every((b, k) => altered[i + k] === b)) last = i;
    altered[last + 7] = 3;
    throwsMalformed(() => parseCertificate(altered), /differs/);
  });

  it("refuses duplicate extensions, bad BOOLEANs and extensions in a v1 certificate", () => {
    const name = encodeSequence(encodeElement(TAG.SET, encodeSequence(encodeOid("2.5.4.3"), encodeElement(TAG.UTF8_STRING, asciiToBytes("x")))));
    const algorithm = encodeSequence(encodeOid("1.2.840.10045.4.3.2"));
    const time = encodeElement(TAG.UTC_TIME, asciiToBytes("250101000000Z"));
    const spki = encodeSequence(encodeSequence(encodeOid("1.2.840.10045.2.1"), encodeOid("1.2.840.10045.3.1.7")), encodeElement(TAG.BIT_STRING, Uint8Array.of(0), fromHex(T.LEAF_POINT)));
    const ext = (oid: string, critical: Uint8Array | undefined, value: Uint8Array) =>
      encodeSequence(encodeOid(oid), ...(critical ? [encodeElement(TAG.BOOLEAN, critical)] : []), encodeElement(TAG.OCTET_STRING, value));
    const basic = encodeSequence(encodeElement(TAG.BOOLEAN, Uint8Array.of(0xff)));
    const cert = (version: number | undefined, extensions: Uint8Array[] | undefined) => {
      const tbs = encodeSequence(
        ...(version === undefined ? [] : [encodeExplicit(0, encodeElement(TAG.INTEGER, Uint8Array.of(version)))]),
        encodeElement(TAG.INTEGER, Uint8Array.of(1)),
        algorithm,
        name,
        encodeSequence(time, time),
        name,
        spki,
        ...(extensions ? [encodeExplicit(3, encodeSequence(...extensions))] : []),
      );
      return encodeSequence(tbs, algorithm, encodeElement(TAG.BIT_STRING, Uint8Array.of(0), Uint8Array.of(0x30, 0)));
    };
    // The hand-built shape parses when well formed...
    const good = parseCertificate(cert(2, [ext("2.5.29.19", Uint8Array.of(0xff), basic)]));
    assert.deepEqual(good.basicConstraints, { ca: true });
    assert.equal(parseCertificate(cert(undefined, undefined)).version, 1);
    // ...and each defect is refused.
    throwsMalformed(() => parseCertificate(cert(2, [ext("2.5.29.19", undefined, basic), ext("2.5.29.19", undefined, basic)])), /twice/);
    throwsMalformed(() => parseCertificate(cert(2, [ext("2.5.29.19", Uint8Array.of(0x01), basic)])), /BOOLEAN/);
    throwsMalformed(() => parseCertificate(cert(undefined, [ext("2.5.29.19", undefined, basic)])), /v1/);
    throwsMalformed(() => parseCertificate(cert(2, [])), /empty extensions/);
    throwsMalformed(() => parseCertificate(cert(7, undefined)), /version/);
    throwsMalformed(() => parseCertificate(cert(2, [ext("2.5.29.17", undefined, encodeSequence(encodeElement(0x87, Uint8Array.of(1, 2, 3))))])), /iPAddress/);
  });
});

describe("PEM and base64", () => {
  it("decodes RFC 4648 test vectors and refuses non-canonical input", () => {
    const cases: Array<[string, string]> = [
      ["", ""],
      ["Zg==", "f"],
      ["Zm8=", "fo"],
      ["Zm9v", "foo"],
      ["Zm9vYg==", "foob"],
      ["Zm9vYmE=", "fooba"],
      ["Zm9vYmFy", "foobar"],
      ["Zm9v\r\nYmFy\n", "foobar"],
    ];
    for (const [b64, text] of cases) assert.deepEqual(decodeBase64(b64), asciiToBytes(text), JSON.stringify(b64));
    for (const bad of ["Zg=", "Z", "Zm9v=", "Zg==Zg==", "Zh==", "Zm9vY*==", "Zg===", "Zm9\u00e9"]) {
      throwsMalformed(() => decodeBase64(bad));
    }
  });

  it("finds every block of a bundle and ignores the text around them", () => {
    const bundle = `Root:\n${T.rootPem}\n# comment\n${T.interPem}\n-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n`;
    const blocks = decodePem(bundle);
    assert.deepEqual(
      blocks.map((b) => b.label),
      ["CERTIFICATE", "CERTIFICATE", "EC PRIVATE KEY"],
    );
    assert.equal(pemToCertificates(bundle).length, 2);
    assert.equal(parseCertificate(blocks[1]!.der).subject.commonName, "Test Intermediate P-256");
  });

  it("round-trips DER through certificateToPem", () => {
    const der = pemToCertificates(T.leafPem)[0]!;
    const pem = certificateToPem(der);
    assert.deepEqual(pemToCertificates(pem)[0], der);
    assert.equal(pem.trim(), T.leafPem.trim());
  });

  it("refuses broken PEM: no END line, bad label, headers, no certificate, oversized", () => {
    throwsMalformed(() => decodePem("-----BEGIN CERTIFICATE-----\nZm9v\n"), /END/);
    throwsMalformed(() => decodePem("-----BEGIN cert-----\nZm9v\n-----END cert-----"), /label/);
    throwsMalformed(() => decodePem("-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\nZm9v\n-----END CERTIFICATE-----"), /headers/);
    throwsMalformed(() => pemToCertificates("nothing here"), /no CERTIFICATE/);
    throwsMalformed(() => decodePem("A".repeat(262145)), /exceeds/);
  });
});
