// Seeded fast-check fuzzing of everything in modules/crypto that reads hostile bytes: DER, X.509,
// PEM/base64, path validation, signature decoding, host names. Only typed errors may escape, and
// every run is bounded in time. (fast-check is Node-side; a deterministic mutation loop runs in XS
// from test/unit/crypto/der.test.ts.)
import assert from "node:assert/strict";
import fc from "fast-check";
import { children, DerError, decodeOne, encodeElement, readElement, TAG, type DerElement } from "../../modules/crypto/der.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { matchesHostname, parseIpAddress, TrustStore, verifyCertificateChain } from "../../modules/crypto/path.js";
import { CryptoError } from "../../modules/crypto/provider.js";
import { CertificateError, decodeBase64, decodePem, parseCertificate, pemToCertificates } from "../../modules/crypto/x509.js";
import * as T from "../unit/crypto/test-certificates.js";

const typed = (error: unknown) => error instanceof DerError || error instanceof CertificateError || error instanceof CryptoError;

function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!typed(error)) throw error;
  }
}

/** Walks a DER tree the way the X.509 parser does, bounded by the input size. */
function walk(element: DerElement, depth: number): number {
  let count = 1;
  if (depth < 40 && (element.tag & 0x20) !== 0) for (const child of children(element)) count += walk(child, depth + 1);
  return count;
}

const der = (pem: string) => pemToCertificates(pem)[0]!;
const realCertificates = [T.rootPem, T.interPem, T.leafPem, T.critPem, T.rsaRootPem, T.pssPem].map(der);
const store = new TrustStore([T.rootPem, T.rsaRootPem]);
const NOW = Date.UTC(2030, 0, 1);

/** A mutated copy of a real certificate: byte overwrites, insertions, deletions, truncation. */
const mutatedCertificate = fc
  .record({
    index: fc.nat({ max: realCertificates.length - 1 }),
    edits: fc.array(fc.record({ kind: fc.constantFrom("set", "insert", "delete"), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ index, edits, cut }) => {
    const bytes = Array.from(realCertificates[index]!);
    for (const e of edits) {
      const at = e.at % (bytes.length + 1);
      if (e.kind === "set" && at < bytes.length) bytes[at] = e.value;
      else if (e.kind === "insert") bytes.splice(at, 0, e.value);
      else if (e.kind === "delete" && at < bytes.length) bytes.splice(at, 1);
    }
    const out = Uint8Array.from(bytes);
    return cut === undefined ? out : out.subarray(0, cut % (out.length + 1));
  });

/** Well-formed DER trees of random shape (to reach deep into the parsers). */
const derTree: fc.Arbitrary<Uint8Array> = fc.letrec<{ node: Uint8Array }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.tuple(fc.constantFrom(TAG.INTEGER, TAG.OID, TAG.BOOLEAN, TAG.UTF8_STRING, TAG.BIT_STRING, TAG.UTC_TIME, 0x80, 0x82, 0x87), fc.uint8Array({ maxLength: 40 })).map(([tag, v]) => encodeElement(tag, v)),
    fc.tuple(fc.constantFrom(TAG.SEQUENCE, TAG.SET, 0xa0, 0xa3), fc.array(tie("node"), { maxLength: 5 })).map(([tag, items]) => encodeElement(tag, ...items)),
  ),
})).node;

describe("crypto: fuzzing the DER / X.509 / PEM readers (fast-check, seeded)", function () {
  this.timeout(60000);

  it("random bytes: the DER reader returns or throws DerError, never reads past its input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          const { element, next } = readElement(bytes);
          assert.ok(next <= bytes.length && element.value.byteOffset + element.value.length <= bytes.byteOffset + bytes.length);
          walk(element, 0);
        } catch (error) {
          if (!(error instanceof DerError)) throw error;
        }
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  it("random bytes and random DER trees as certificates: only CertificateError", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), derTree, derTree.map((t) => encodeElement(TAG.SEQUENCE, t, t))), (bytes) => {
        try {
          parseCertificate(bytes);
        } catch (error) {
          if (!(error instanceof CertificateError)) throw error;
          assert.equal(error.reason, "malformed");
        }
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  it("well-formed trees read back exactly (writer/reader agree)", () => {
    fc.assert(
      fc.property(derTree, (bytes) => {
        const element = decodeOne(bytes);
        assert.equal(element.raw.length, bytes.length);
        assert.ok(walk(element, 0) >= 1);
      }),
      { seed: 42, numRuns: 1000 },
    );
  });

  it("mutated real certificates: parse and full path validation only raise typed errors, quickly", () => {
    const started = Date.now();
    let parsed = 0;
    fc.assert(
      fc.property(mutatedCertificate, (bytes) => {
        onlyTypedErrors(() => {
          parseCertificate(bytes);
          parsed++;
        });
        onlyTypedErrors(() => verifyCertificateChain([bytes, realCertificates[1]!], { provider: nobleCrypto, trustStore: store, time: NOW, hostname: "device.example.com" }));
      }),
      { seed: 42, numRuns: 600 },
    );
    assert.ok(parsed > 0, "some mutations keep the structure");
    assert.ok(Date.now() - started < 30000, "bounded time");
  });

  it("mutated chains: a mutated intermediate never lets a chain through", () => {
    const leaf = realCertificates[2]!;
    fc.assert(
      fc.property(
        mutatedCertificate.filter((b) => b.length > 0),
        (inter) => {
          // Mutations that leave the intermediate byte-identical are not mutations.
          if (inter.length === realCertificates[1]!.length && inter.every((b, i) => b === realCertificates[1]![i])) return;
          try {
            verifyCertificateChain([leaf, inter], { provider: nobleCrypto, trustStore: store, time: NOW, hostname: "device.example.com" });
          } catch (error) {
            if (!typed(error)) throw error;
            return;
          }
          // Every byte of a certificate is either signed or part of the (strict DER) signature, so no
          // mutation may be accepted.
          assert.fail("a mutated intermediate was accepted");
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it("PEM and base64 text: only CertificateError", () => {
    const pemish = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.tuple(fc.string({ maxLength: 20 }), fc.base64String({ maxLength: 200 }), fc.string({ maxLength: 20 })).map(([a, b, c]) => `${a}-----BEGIN CERTIFICATE-----\n${b}\n-----END CERTIFICATE-----${c}`),
      fc.nat({ max: T.leafPem.length }).map((cut) => T.leafPem.slice(0, cut)),
    );
    fc.assert(
      fc.property(pemish, (text) => {
        onlyTypedErrors(() => decodePem(text).forEach((b) => parseCertificate(b.der)));
        onlyTypedErrors(() => decodeBase64(text));
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it("base64 decoding agrees with Node's on canonical input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        assert.deepEqual(decodeBase64(Buffer.from(bytes).toString("base64")), bytes);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it("host names and IP literals: matching never throws", () => {
    const leaf = parseCertificate(realCertificates[2]!);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.ipV4(), fc.ipV6(), fc.domain()), (host) => {
        parseIpAddress(host);
        matchesHostname(leaf, host);
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  it("fast-check IP generators parse to the same bytes as Node's", async () => {
    const { BlockList } = await import("node:net");
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const ours = parseIpAddress(ip);
        assert.ok(ours && ours.length === 16, ip);
        // Node's BlockList compares addresses by value: our bytes, written out in full, must be the same address.
        const groups: string[] = [];
        for (let i = 0; i < 16; i += 2) groups.push(((ours[i]! << 8) | ours[i + 1]!).toString(16));
        const list = new BlockList();
        list.addAddress(ip, "ipv6");
        assert.ok(list.check(groups.join(":"), "ipv6"), `${ip} → ${groups.join(":")}`);
      }),
      { seed: 42, numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        assert.deepEqual(parseIpAddress(ip), Uint8Array.from(ip.split(".").map(Number)));
      }),
      { seed: 42, numRuns: 1000 },
    );
  });

  it("random signatures and keys through the provider: false or CryptoError", () => {
    const leafKey = parseCertificate(realCertificates[2]!).subjectPublicKeyInfo.key!;
    const rsaKey = parseCertificate(realCertificates[4]!).subjectPublicKeyInfo.key!;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 100 }), (sig, point) => {
        assert.equal(nobleCrypto.verify({ kind: "ecdsa", hash: "sha256" }, leafKey, sig, sig), false);
        assert.equal(nobleCrypto.verify({ kind: "rsa-pss", hash: "sha256" }, rsaKey, sig, sig), false);
        assert.equal(nobleCrypto.verify({ kind: "rsa-pkcs1", hash: "sha256" }, rsaKey, sig, sig), false);
        onlyTypedErrors(() => nobleCrypto.verify({ kind: "ecdsa", hash: "sha256" }, { kind: "ec", curve: "secp256r1", point }, sig, sig));
        onlyTypedErrors(() => nobleCrypto.ecdhSharedSecret("secp256r1", new Uint8Array(32).fill(3), point));
        onlyTypedErrors(() => nobleCrypto.ecdhSharedSecret("x25519", new Uint8Array(32).fill(3), point));
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
