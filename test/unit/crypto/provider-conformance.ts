// The conformance suite every crypto provider passes: published test vectors (FIPS 180 examples,
// RFC 4231, RFC 7748, SEC 2 generators, and a Wycheproof selection). provider.test.ts runs it on the
// noble provider; native-provider.test.ts on the Moddable-native one; hosts/moddable-sim runs it
// inside the Moddable simulator on the SDK's real crypt module. Runs on Node and inside XS.
import { asciiToBytes, concatBytes, fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { decodeOne } from "../../../modules/crypto/der.js";
import { AeadAuthError, CryptoError, TLS_SIGNATURE_SCHEMES, type AeadName, type CryptoProvider, type HashName, type PublicKey } from "../../../modules/crypto/provider.js";
import { parseSubjectPublicKeyInfo } from "../../../modules/crypto/x509.js";
import * as assert from "../../lib/portable/assert.js";
import * as W from "./wycheproof-selection.js";

const empty = new Uint8Array(0);

function throwsCrypto(fn: () => unknown, reason: CryptoError["reason"]): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CryptoError, `expected CryptoError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return;
  }
  throw new Error(`expected CryptoError(${reason}), nothing thrown`);
}

export function describeProviderConformance(label: string, c: CryptoProvider): void {
  describe(`crypto provider (${label})`, () => {
    describe("hashes (FIPS 180-4 examples)", () => {
      const abc = asciiToBytes("abc");
      const twoBlocks = asciiToBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
      it("SHA-256, SHA-384, SHA-512 of 'abc' and SHA-256 of '' and of a two-block message", () => {
        assert.equal(toHex(c.hash("sha256", abc)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert.equal(toHex(c.hash("sha384", abc)), "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
        assert.equal(
          toHex(c.hash("sha512", abc)),
          "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        );
        assert.equal(toHex(c.hash("sha256", empty)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert.equal(toHex(c.hash("sha256", twoBlocks)), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
      });

      it("incremental hashing in pieces equals the one-shot hash, and clone() forks the running state", () => {
        for (const algorithm of ["sha256", "sha384"] as HashName[]) {
          const running = c.createHash(algorithm);
          assert.equal(running.outputLength, algorithm === "sha256" ? 32 : 48);
          assert.equal(running.blockLength, algorithm === "sha256" ? 64 : 128);
          for (let i = 0; i < twoBlocks.length; i += 7) running.update(twoBlocks.subarray(i, i + 7));
          const fork = running.clone();
          const snapshot = running.clone().digest();
          assert.deepEqual(snapshot, c.hash(algorithm, twoBlocks), `${algorithm} snapshot`);
          running.update(abc);
          fork.update(twoBlocks);
          assert.deepEqual(running.digest(), c.hash(algorithm, concatBytes(twoBlocks, abc)), `${algorithm} original continued`);
          assert.deepEqual(fork.digest(), c.hash(algorithm, concatBytes(twoBlocks, twoBlocks)), `${algorithm} fork continued`);
        }
      });

      it("refuses use after digest()", () => {
        const h = c.createHash("sha256").update(asciiToBytes("x"));
        h.digest();
        throwsCrypto(() => h.update(asciiToBytes("y")), "invalid-argument");
        throwsCrypto(() => h.digest(), "invalid-argument");
        throwsCrypto(() => h.clone(), "invalid-argument");
      });
    });

    describe("HMAC and HKDF", () => {
      it("RFC 4231 test case 2 (key 'Jefe') for SHA-256/384/512", () => {
        const key = asciiToBytes("Jefe");
        const data = asciiToBytes("what do ya want for nothing?");
        assert.equal(toHex(c.hmac("sha256", key, data)), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert.equal(toHex(c.hmac("sha384", key, data)), "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
        assert.equal(
          toHex(c.hmac("sha512", key, data)),
          "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        );
      });

      it("Wycheproof HMAC-SHA-256: valid tags match, flipped tags do not", () => {
        for (const t of W.hmac256) {
          const matches = toHex(c.hmac("sha256", fromHex(t.key), fromHex(t.msg))) === t.tag;
          assert.equal(matches, t.result === "valid", `tcId ${t.tcId} ${t.comment}`);
        }
      });

      it("Wycheproof HKDF-SHA-256/384 (RFC 5869 cases among them)", () => {
        for (const [algorithm, cases] of [
          ["sha256", W.hkdf256],
          ["sha384", W.hkdf384],
        ] as const) {
          for (const t of cases) {
            const prk = c.hkdfExtract(algorithm, fromHex(t.salt), fromHex(t.ikm));
            assert.equal(toHex(c.hkdfExpand(algorithm, prk, fromHex(t.info), t.size)), t.okm, `${algorithm} tcId ${t.tcId}`);
          }
        }
      });

      it("HKDF-Expand refuses more than 255 × HashLen bytes", () => {
        const prk = new Uint8Array(32);
        assert.equal(c.hkdfExpand("sha256", prk, empty, 255 * 32).length, 255 * 32);
        throwsCrypto(() => c.hkdfExpand("sha256", prk, empty, 255 * 32 + 1), "invalid-argument");
        throwsCrypto(() => c.hkdfExpand("sha256", prk, empty, -1), "invalid-argument");
      });
    });

    describe("AEAD", () => {
      const cases: Array<[AeadName | undefined, typeof W.aesGcm]> = [
        [undefined, W.aesGcm],
        ["chacha20-poly1305", W.chacha],
      ];
      it("Wycheproof AES-GCM and ChaCha20-Poly1305: seal reproduces ct‖tag, open refuses flipped tags with AeadAuthError", () => {
        for (const [fixed, vectors] of cases) {
          for (const t of vectors) {
            const key = fromHex(t.key);
            const algorithm: AeadName = fixed ?? (key.length === 16 ? "aes-128-gcm" : "aes-256-gcm");
            const sealed = concatBytes(fromHex(t.ct), fromHex(t.tag));
            if (t.result === "valid") {
              assert.equal(toHex(c.aeadSeal(algorithm, key, fromHex(t.iv), fromHex(t.msg), fromHex(t.aad))), toHex(sealed), `${algorithm} tcId ${t.tcId}`);
              assert.equal(toHex(c.aeadOpen(algorithm, key, fromHex(t.iv), sealed, fromHex(t.aad))), t.msg, `${algorithm} tcId ${t.tcId}`);
            } else {
              assert.throws(() => c.aeadOpen(algorithm, key, fromHex(t.iv), sealed, fromHex(t.aad)), AeadAuthError);
            }
          }
        }
      });

      it("open refuses a changed AAD, a changed ciphertext and input shorter than the tag", () => {
        for (const algorithm of ["aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"] as AeadName[]) {
          const key = new Uint8Array(algorithm === "aes-128-gcm" ? 16 : 32).fill(7);
          const nonce = new Uint8Array(12).fill(1);
          const aad = asciiToBytes("header");
          const sealed = c.aeadSeal(algorithm, key, nonce, asciiToBytes("hello"), aad);
          assert.equal(sealed.length, 5 + 16);
          assert.throws(() => c.aeadOpen(algorithm, key, nonce, sealed, asciiToBytes("headeR")), AeadAuthError);
          const changed = Uint8Array.from(sealed);
          changed[0]! ^= 1;
          assert.throws(() => c.aeadOpen(algorithm, key, nonce, changed, aad), AeadAuthError);
          assert.throws(() => c.aeadOpen(algorithm, key, nonce, sealed.subarray(0, 15), aad), AeadAuthError);
          const error = (() => {
            try {
              c.aeadOpen(algorithm, key, nonce, changed, aad);
            } catch (e) {
              return e;
            }
            return undefined;
          })();
          assert.ok(error instanceof CryptoError && error.reason === "auth-failed", "AeadAuthError is a CryptoError with reason auth-failed");
        }
      });

      it("refuses wrong key and nonce sizes", () => {
        throwsCrypto(() => c.aeadSeal("aes-128-gcm", new Uint8Array(32), new Uint8Array(12), empty, empty), "invalid-key");
        throwsCrypto(() => c.aeadSeal("chacha20-poly1305", new Uint8Array(32), new Uint8Array(8), empty, empty), "invalid-argument");
        throwsCrypto(() => c.aeadOpen("aes-256-gcm", new Uint8Array(32), new Uint8Array(16), new Uint8Array(16), empty), "invalid-argument");
      });
    });

    describe("ECDH", () => {
      // SEC 2 §2.4.2 / §2.5.1 base points.
      const P256_G = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
      const P384_G =
        "04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab73617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f";

      it("RFC 7748 §6.1 X25519: both key pairs from their private keys, and the shared secret", () => {
        const alice = c.ecdhKeyPair("x25519", fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        const bob = c.ecdhKeyPair("x25519", fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
        assert.equal(toHex(alice.publicKey), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert.equal(toHex(bob.publicKey), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
        assert.equal(toHex(c.ecdhSharedSecret("x25519", alice.privateKey, bob.publicKey)), shared);
        assert.equal(toHex(c.ecdhSharedSecret("x25519", bob.privateKey, alice.publicKey)), shared);
      });

      it("Wycheproof X25519 cases, and all-zero shared secrets (low-order points) refused", () => {
        for (const t of W.x25519) assert.equal(toHex(c.ecdhSharedSecret("x25519", fromHex(t.private), fromHex(t.public))), t.shared, `tcId ${t.tcId}`);
        assert.ok(W.x25519zero.length > 0);
        for (const t of W.x25519zero) throwsCrypto(() => c.ecdhSharedSecret("x25519", fromHex(t.private), fromHex(t.public)), "invalid-point");
      });

      it("NIST key generation reduces the seed as FIPS 186-5 A.2.1 (seed 0 → d = 1 → Q = G)", () => {
        assert.equal(c.ecdhSeedLength("secp256r1"), 48);
        assert.equal(c.ecdhSeedLength("secp384r1"), 72);
        assert.equal(c.ecdhSeedLength("x25519"), 32);
        const p256 = c.ecdhKeyPair("secp256r1", new Uint8Array(48));
        assert.equal(toHex(p256.privateKey), "00".repeat(31) + "01");
        assert.equal(toHex(p256.publicKey), P256_G);
        const p384 = c.ecdhKeyPair("secp384r1", () => new Uint8Array(72));
        assert.equal(toHex(p384.publicKey), P384_G);
        // d = 1 times the base point is the base point: the shared secret is G's x-coordinate.
        assert.equal(toHex(c.ecdhSharedSecret("secp256r1", p256.privateKey, fromHex(P256_G))), P256_G.slice(2, 66));
        throwsCrypto(() => c.ecdhKeyPair("secp256r1", new Uint8Array(32)), "invalid-argument");
        throwsCrypto(() => c.ecdhKeyPair("x25519", () => new Uint8Array(31)), "invalid-argument");
      });

      it("two generated key pairs agree on the secret (P-256, P-384, X25519)", () => {
        let counter = 1;
        const random = (n: number) => Uint8Array.from({ length: n }, () => (counter = (counter * 197 + 11) & 0xff));
        for (const group of ["secp256r1", "secp384r1", "x25519"] as const) {
          const a = c.ecdhKeyPair(group, random);
          const b = c.ecdhKeyPair(group, random);
          assert.deepEqual(c.ecdhSharedSecret(group, a.privateKey, b.publicKey), c.ecdhSharedSecret(group, b.privateKey, a.publicKey), group);
          assert.equal(a.publicKey.length, group === "x25519" ? 32 : group === "secp256r1" ? 65 : 97);
        }
      });

      it("Wycheproof ECDH secp256r1: valid shares agree, invalid points are refused", () => {
        for (const t of W.ecdh256) {
          let shared: string | undefined;
          try {
            const key = parseSubjectPublicKeyInfo(decodeOne(fromHex(t.public))).key;
            if (key && key.kind === "ec" && key.curve === "secp256r1") {
              const priv = fromHex(t.private);
              shared = toHex(c.ecdhSharedSecret("secp256r1", priv.length > 32 ? priv.subarray(priv.length - 32) : priv, key.point));
            }
          } catch (error) {
            assert.ok(error instanceof Error && (error.name === "CryptoError" || error.name === "DerError" || error.name === "CertificateError"), `tcId ${t.tcId}: ${String(error)}`);
          }
          if (t.result === "valid") assert.equal(shared, t.shared, `tcId ${t.tcId} ${t.comment}`);
          else assert.equal(shared, undefined, `tcId ${t.tcId} ${t.comment} must be refused`);
        }
      });

      it("refuses compressed, truncated, off-curve and identity peer shares", () => {
        const d = c.ecdhKeyPair("secp256r1", new Uint8Array(48).fill(9)).privateKey;
        throwsCrypto(() => c.ecdhSharedSecret("secp256r1", d, fromHex("02" + P256_G.slice(2, 66))), "invalid-point");
        throwsCrypto(() => c.ecdhSharedSecret("secp256r1", d, fromHex(P256_G).subarray(0, 64)), "invalid-point");
        const offCurve = fromHex(P256_G);
        offCurve[64]! ^= 1;
        throwsCrypto(() => c.ecdhSharedSecret("secp256r1", d, offCurve), "invalid-point");
        throwsCrypto(() => c.ecdhSharedSecret("secp256r1", d, new Uint8Array(65)), "invalid-point");
        throwsCrypto(() => c.ecdhSharedSecret("secp384r1", d, fromHex(P256_G)), "invalid-point");
        throwsCrypto(() => c.ecdhSharedSecret("x25519", new Uint8Array(32).fill(1), new Uint8Array(33)), "invalid-point");
      });
    });

    describe("signature verification", () => {
      it("Wycheproof ECDSA P-256/SHA-256 and P-384/SHA-384 (DER; BER and out-of-range values refused)", () => {
        for (const [curve, set] of [
          ["secp256r1", W.ecdsa256],
          ["secp384r1", W.ecdsa384],
        ] as const) {
          const hash: HashName = set.sha === "SHA-256" ? "sha256" : "sha384";
          for (const t of set.tests) {
            const key: PublicKey = { kind: "ec", curve, point: fromHex(t.publicKey) };
            const verdict = c.verify({ kind: "ecdsa", hash }, key, fromHex(t.msg), fromHex(t.sig));
            assert.equal(verdict, t.result === "valid", `${curve} tcId ${t.tcId} ${t.flags}: ${t.comment}`);
          }
        }
      });

      it("an ECDSA signature does not verify under another hash or message", () => {
        const t = W.ecdsa256.tests.find((x) => x.result === "valid" && x.msg.length > 0)!;
        const key: PublicKey = { kind: "ec", curve: "secp256r1", point: fromHex(t.publicKey) };
        assert.equal(c.verify({ kind: "ecdsa", hash: "sha256" }, key, fromHex(t.msg), fromHex(t.sig)), true);
        assert.equal(c.verify({ kind: "ecdsa", hash: "sha384" }, key, fromHex(t.msg), fromHex(t.sig)), false);
        assert.equal(c.verify({ kind: "ecdsa", hash: "sha256" }, key, concatBytes(fromHex(t.msg), Uint8Array.of(0)), fromHex(t.sig)), false);
      });

      it("Wycheproof RSA PKCS#1 v1.5 SHA-256 (2048): DigestInfo compared by re-encoding", () => {
        const key: PublicKey = { kind: "rsa", modulus: stripZeros(fromHex(W.rsaPkcs1.modulus)), exponent: stripZeros(fromHex(W.rsaPkcs1.publicExponent)) };
        for (const t of W.rsaPkcs1.tests) {
          assert.equal(c.verify({ kind: "rsa-pkcs1", hash: "sha256" }, key, fromHex(t.msg), fromHex(t.sig)), t.result === "valid", `tcId ${t.tcId}: ${t.comment}`);
        }
      });

      it("Wycheproof RSA-PSS SHA-256 MGF1-SHA-256 salt 32 (2048)", () => {
        const key: PublicKey = { kind: "rsa", modulus: stripZeros(fromHex(W.rsaPss.modulus)), exponent: stripZeros(fromHex(W.rsaPss.publicExponent)) };
        for (const t of W.rsaPss.tests) {
          assert.equal(c.verify({ kind: "rsa-pss", hash: "sha256" }, key, fromHex(t.msg), fromHex(t.sig)), t.result === "valid", `tcId ${t.tcId}: ${t.comment}`);
        }
        // A valid PSS signature is not a valid PKCS#1 v1.5 one, nor PSS with another hash.
        const valid = W.rsaPss.tests.find((t) => t.result === "valid")!;
        assert.equal(c.verify({ kind: "rsa-pkcs1", hash: "sha256" }, key, fromHex(valid.msg), fromHex(valid.sig)), false);
        assert.equal(c.verify({ kind: "rsa-pss", hash: "sha384" }, key, fromHex(valid.msg), fromHex(valid.sig)), false);
        // A signature one byte short or long is refused, not padded.
        assert.equal(c.verify({ kind: "rsa-pss", hash: "sha256" }, key, fromHex(valid.msg), fromHex(valid.sig).subarray(1)), false);
        assert.equal(c.verify({ kind: "rsa-pss", hash: "sha256" }, key, fromHex(valid.msg), concatBytes(Uint8Array.of(0), fromHex(valid.sig))), false);
      });

      it("refuses weak RSA keys and mismatched key kinds", () => {
        const small = new Uint8Array(128).fill(0xff); // a 1024-bit odd modulus
        throwsCrypto(() => c.verify({ kind: "rsa-pkcs1", hash: "sha256" }, { kind: "rsa", modulus: small, exponent: Uint8Array.of(1, 0, 1) }, empty, new Uint8Array(128)), "invalid-key");
        const modulus = stripZeros(fromHex(W.rsaPkcs1.modulus));
        throwsCrypto(() => c.verify({ kind: "rsa-pkcs1", hash: "sha256" }, { kind: "rsa", modulus, exponent: Uint8Array.of(1) }, empty, new Uint8Array(256)), "invalid-key");
        throwsCrypto(() => c.verify({ kind: "rsa-pkcs1", hash: "sha256" }, { kind: "rsa", modulus, exponent: Uint8Array.of(2) }, empty, new Uint8Array(256)), "invalid-key");
        throwsCrypto(() => c.verify({ kind: "ecdsa", hash: "sha256" }, { kind: "rsa", modulus, exponent: Uint8Array.of(3) }, empty, empty), "unsupported");
        const p = W.ecdsa256.tests[0]!.publicKey;
        throwsCrypto(() => c.verify({ kind: "rsa-pss", hash: "sha256" }, { kind: "ec", curve: "secp256r1", point: fromHex(p) }, empty, empty), "unsupported");
        const offCurve = fromHex(p);
        offCurve[64]! ^= 1;
        throwsCrypto(() => c.verify({ kind: "ecdsa", hash: "sha256" }, { kind: "ec", curve: "secp256r1", point: offCurve }, empty, empty), "invalid-point");
      });

      it("maps TLS 1.3 SignatureScheme code points (RFC 8446 §4.2.3)", () => {
        assert.deepEqual(TLS_SIGNATURE_SCHEMES[0x0403]!.algorithm, { kind: "ecdsa", hash: "sha256" });
        assert.equal(TLS_SIGNATURE_SCHEMES[0x0403]!.curve, "secp256r1");
        assert.deepEqual(TLS_SIGNATURE_SCHEMES[0x0804]!.algorithm, { kind: "rsa-pss", hash: "sha256" });
        assert.deepEqual(TLS_SIGNATURE_SCHEMES[0x0601]!.algorithm, { kind: "rsa-pkcs1", hash: "sha512" });
        assert.equal(TLS_SIGNATURE_SCHEMES[0x0807], undefined, "ed25519 is not offered");
      });
    });
  });
}

function stripZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}
