// The portable crypto provider against the full Wycheproof vector files (Node only: the files are big).
// Every "valid" case must pass, every "invalid" case must be refused; "acceptable" cases may go
// either way but must never throw anything but CryptoError.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fromHex, toHex } from "../../modules/bytes/bytes.js";
import { decodeOne, DerError } from "../../modules/crypto/der.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { AeadAuthError, CryptoError, type AeadName, type HashName, type PublicKey } from "../../modules/crypto/provider.js";
import { CertificateError, parseSubjectPublicKeyInfo } from "../../modules/crypto/x509.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const vectorDir = resolve(repoRoot, "../shared/vectors/wycheproof");
const crypto = nobleCrypto;

interface TestCase {
  tcId: number;
  comment: string;
  flags: string[];
  result: "valid" | "invalid" | "acceptable";
  [field: string]: unknown;
}
interface TestGroup {
  tests: TestCase[];
  [field: string]: unknown;
}

function load(file: string): TestGroup[] {
  return (JSON.parse(readFileSync(join(vectorDir, file), "utf8")) as { testGroups: TestGroup[] }).testGroups;
}

const hashName = (wycheproof: string): HashName => {
  const map: Record<string, HashName> = { "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
  const name = map[wycheproof];
  if (!name) throw new Error(`unexpected hash ${wycheproof}`);
  return name;
};

/** Runs every case; returns counts so each suite can assert it really exercised valid and invalid cases. */
function runCases(groups: TestGroup[], check: (group: TestGroup, test: TestCase) => boolean): { valid: number; invalid: number; acceptable: number } {
  const counts = { valid: 0, invalid: 0, acceptable: 0 };
  const failures: string[] = [];
  for (const group of groups) {
    for (const test of group.tests) {
      let accepted: boolean;
      try {
        accepted = check(group, test);
      } catch (error) {
        if (!(error instanceof CryptoError || error instanceof DerError || error instanceof CertificateError)) {
          failures.push(`tcId ${test.tcId} (${test.comment}): threw ${(error as Error).name}: ${(error as Error).message}`);
          continue;
        }
        accepted = false;
      }
      counts[test.result]++;
      if (test.result === "valid" && !accepted) failures.push(`tcId ${test.tcId} (${test.comment}) is valid but was refused`);
      if (test.result === "invalid" && accepted) failures.push(`tcId ${test.tcId} (${test.comment}) is invalid but was accepted`);
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(counts.valid > 0, "no valid cases ran");
  return counts;
}

describe("crypto: Wycheproof vectors (noble provider)", function () {
  this.timeout(120000);
  before(function () {
    if (!existsSync(vectorDir)) {
      console.warn(`    Wycheproof vectors not found at ${vectorDir} (expected ../shared beside the repo): skipping`);
      this.skip();
    }
  });

  for (const [file, name] of [
    ["aes_gcm_test.json", "AES-GCM"],
    ["chacha20_poly1305_test.json", "ChaCha20-Poly1305"],
  ] as const) {
    it(`${name}: seal and open`, () => {
      const counts = runCases(load(file), (group, t) => {
        const keyBits = group.keySize as number;
        const algorithm: AeadName = file.startsWith("chacha") ? "chacha20-poly1305" : keyBits === 128 ? "aes-128-gcm" : keyBits === 256 ? "aes-256-gcm" : ("aes-192-gcm" as AeadName);
        const [key, iv, aad, msg, ct, tag] = (["key", "iv", "aad", "msg", "ct", "tag"] as const).map((f) => fromHex(t[f] as string));
        try {
          const opened = crypto.aeadOpen(algorithm, key!, iv!, new Uint8Array([...ct!, ...tag!]), aad!);
          assert.equal(toHex(opened), toHex(msg!), `tcId ${t.tcId}: plaintext`);
          assert.equal(toHex(crypto.aeadSeal(algorithm, key!, iv!, msg!, aad!)), toHex(ct!) + toHex(tag!), `tcId ${t.tcId}: seal`);
          return true;
        } catch (error) {
          // Only 12-byte nonces and 128/256-bit AES keys are offered (TLS 1.3 uses nothing else):
          // those cases must be refused with a typed error, and we then count them as refusals.
          if (error instanceof AeadAuthError) return false;
          if (error instanceof CryptoError && (iv!.length !== 12 || keyBits === 192)) {
            if (t.result === "valid") t.result = "acceptable"; // unsupported parameters, not a wrong answer
            return false;
          }
          throw error;
        }
      });
      assert.ok(counts.invalid > 0);
    });
  }

  for (const file of ["hkdf_sha256_test.json", "hkdf_sha384_test.json"]) {
    it(`HKDF (${file})`, () => {
      const algorithm: HashName = file.includes("384") ? "sha384" : "sha256";
      runCases(load(file), (_group, t) => {
        const prk = crypto.hkdfExtract(algorithm, fromHex(t.salt as string), fromHex(t.ikm as string));
        const okm = crypto.hkdfExpand(algorithm, prk, fromHex(t.info as string), t.size as number);
        return toHex(okm) === t.okm;
      });
    });
  }

  it("HMAC-SHA-256 (full and truncated tags)", () => {
    const counts = runCases(load("hmac_sha256_test.json"), (group, t) => {
      const mac = crypto.hmac("sha256", fromHex(t.key as string), fromHex(t.msg as string));
      return toHex(mac.subarray(0, (group.tagSize as number) / 8)) === t.tag;
    });
    assert.ok(counts.invalid > 0);
  });

  it("ECDH secp256r1 (peer key as SubjectPublicKeyInfo; uncompressed points only)", () => {
    const counts = runCases(load("ecdh_secp256r1_test.json"), (_group, t) => {
      const spki = parseSubjectPublicKeyInfo(decodeOne(fromHex(t.public as string)));
      const key = spki.key;
      if (!key || key.kind !== "ec" || key.curve !== "secp256r1") return false;
      let priv = fromHex(t.private as string);
      if (priv.length > 32) priv = priv.subarray(priv.length - 32); // Wycheproof writes a sign octet
      const scalar = new Uint8Array(32);
      scalar.set(priv, 32 - priv.length);
      return toHex(crypto.ecdhSharedSecret("secp256r1", scalar, key.point)) === t.shared;
    });
    assert.ok(counts.invalid > 10);
  });

  it("X25519 (low-order peer points refused)", () => {
    const counts = runCases(load("x25519_test.json"), (_group, t) => {
      const shared = crypto.ecdhSharedSecret("x25519", fromHex(t.private as string), fromHex(t.public as string));
      return toHex(shared) === t.shared;
    });
    assert.ok(counts.valid > 100);
  });

  it("X25519: the all-zero shared secret cases are refused (RFC 8446 §7.4.2)", () => {
    let refused = 0;
    for (const group of load("x25519_test.json")) {
      for (const t of group.tests) {
        if (t.shared !== "0".repeat(64)) continue;
        assert.throws(() => crypto.ecdhSharedSecret("x25519", fromHex(t.private as string), fromHex(t.public as string)), (e: unknown) => e instanceof CryptoError && e.reason === "invalid-point");
        refused++;
      }
    }
    assert.ok(refused > 0, "the file has zero-shared-secret cases");
  });

  for (const [file, curve] of [
    ["ecdsa_secp256r1_sha256_test.json", "secp256r1"],
    ["ecdsa_secp384r1_sha384_test.json", "secp384r1"],
  ] as const) {
    it(`ECDSA ${file} (DER signatures, strict DER)`, () => {
      const counts = runCases(load(file), (group, t) => {
        const pk = group.publicKey as { uncompressed: string };
        const key: PublicKey = { kind: "ec", curve, point: fromHex(pk.uncompressed) };
        return crypto.verify({ kind: "ecdsa", hash: hashName(group.sha as string) }, key, fromHex(t.msg as string), fromHex(t.sig as string));
      });
      assert.ok(counts.invalid > 100);
    });
  }

  it("ECDSA P-256 P1363 vectors, through the provider after converting r||s to DER", async () => {
    const { ecdsaRawToDer } = await import("../../modules/crypto/der.js");
    runCases(load("ecdsa_secp256r1_sha256_p1363_test.json"), (group, t) => {
      const sig = fromHex(t.sig as string);
      if (sig.length !== 64) return false; // P1363 requires exactly 2 × 32 bytes
      const pk = group.publicKey as { uncompressed: string };
      return crypto.verify({ kind: "ecdsa", hash: "sha256" }, { kind: "ec", curve: "secp256r1", point: fromHex(pk.uncompressed) }, fromHex(t.msg as string), ecdsaRawToDer(sig));
    });
  });

  for (const file of ["rsa_signature_2048_sha256_test.json", "rsa_signature_3072_sha384_test.json"]) {
    it(`RSA PKCS#1 v1.5 ${file}`, () => {
      const counts = runCases(load(file), (group, t) => {
        const pk = group.publicKey as { modulus: string; publicExponent: string };
        const key: PublicKey = { kind: "rsa", modulus: stripZeros(fromHex(pk.modulus)), exponent: stripZeros(fromHex(pk.publicExponent)) };
        return crypto.verify({ kind: "rsa-pkcs1", hash: hashName(group.sha as string) }, key, fromHex(t.msg as string), fromHex(t.sig as string));
      });
      assert.ok(counts.invalid > 200);
    });
  }

  for (const file of ["rsa_pss_2048_sha256_mgf1_32_test.json", "rsa_pss_3072_sha256_mgf1_32_test.json"]) {
    it(`RSA-PSS ${file} (MGF1-SHA-256, salt 32)`, () => {
      const counts = runCases(load(file), (group, t) => {
        assert.equal(group.sLen, 32);
        assert.equal(group.mgfSha, group.sha);
        const pk = group.publicKey as { modulus: string; publicExponent: string };
        const key: PublicKey = { kind: "rsa", modulus: stripZeros(fromHex(pk.modulus)), exponent: stripZeros(fromHex(pk.publicExponent)) };
        return crypto.verify({ kind: "rsa-pss", hash: hashName(group.sha as string) }, key, fromHex(t.msg as string), fromHex(t.sig as string));
      });
      assert.ok(counts.invalid > 20);
    });
  }
});

function stripZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}
