// The Moddable-native crypto provider: the same conformance suite as the noble provider, run over an
// emulation of the SDK's `crypt` module (the real module is exercised inside the Moddable simulator:
// test/integration/moddable-crypto.test.ts), plus checks that the native classes do the work.
import { asciiToBytes, concatBytes, fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { createNativeProvider, type ModdableCrypt } from "../../../modules/crypto/native-provider.js";
import { nobleCrypto } from "../../../modules/crypto/noble-provider.js";
import type { AeadName, HashName, PublicKey } from "../../../modules/crypto/provider.js";
import * as assert from "../../lib/portable/assert.js";
import { emulatedModdableCrypt } from "./moddable-crypt-emulation.js";
import { describeProviderConformance } from "./provider-conformance.js";
import * as W from "./wycheproof-selection.js";

describeProviderConformance("moddable-native over an emulation of the SDK's crypt and ec modules", createNativeProvider(emulatedModdableCrypt()));
// Without the SDK's `ec` module the provider leaves ECDH and ECDSA's point arithmetic to noble.
const withoutEc = (): ModdableCrypt => {
  const { Digest, BlockCipher, Mode, GHASH } = emulatedModdableCrypt();
  return { Digest, BlockCipher, Mode, GHASH };
};
describeProviderConformance("moddable-native over an emulation of the SDK's crypt module alone", createNativeProvider(withoutEc()));

describe("crypto provider (moddable-native) specifics", () => {
  /** A deterministic byte pattern of any length. */
  const pattern = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 17 + 5) & 0xff);

  it("hashes, HMAC and HKDF run on the native Digest; the fallback is not consulted", () => {
    const crypt = emulatedModdableCrypt();
    const refuse = (): never => {
      throw new Error("the fallback provider was used");
    };
    const refusing = { ...nobleCrypto, hash: refuse, hmac: refuse, hkdfExtract: refuse, hkdfExpand: refuse, createHash: refuse, verify: refuse };
    const native = createNativeProvider(crypt, refusing);
    assert.equal(native.name, "moddable-native");
    // RFC 4231 test case 1: key 0x0b × 20, "Hi There".
    assert.equal(toHex(native.hmac("sha256", new Uint8Array(20).fill(0x0b), asciiToBytes("Hi There"))), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert.ok(crypt.counters.digests >= 2 && crypt.counters.digestBytes >= 64 + 8, "HMAC ran through native digests");
    const before = crypt.counters.digests;
    native.hkdfExpand("sha384", native.hkdfExtract("sha384", new Uint8Array(0), pattern(48, 1)), asciiToBytes("info"), 100);
    assert.ok(crypt.counters.digests > before, "HKDF ran through native digests");
  });

  it("HMAC keys longer than the block are hashed first (RFC 4231 test case 6, 131-byte key)", () => {
    const native = createNativeProvider(emulatedModdableCrypt());
    const key = new Uint8Array(131).fill(0xaa);
    const data = asciiToBytes("Test Using Larger Than Block-Size Key - Hash Key First");
    assert.equal(toHex(native.hmac("sha256", key, data)), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    assert.equal(
      toHex(native.hmac("sha512", key, data)),
      "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
    );
  });

  it("AES-GCM uses the native block cipher, CTR and GHASH, for every length around the block size", () => {
    const crypt = emulatedModdableCrypt();
    const native = createNativeProvider(crypt);
    for (const algorithm of ["aes-128-gcm", "aes-256-gcm"] as AeadName[]) {
      const key = pattern(algorithm === "aes-128-gcm" ? 16 : 32, 3);
      for (let length = 0; length <= 49; length++) {
        const nonce = pattern(12, length);
        const aad = pattern(length % 21, 9);
        const plaintext = pattern(length, 7);
        const sealed = native.aeadSeal(algorithm, key, nonce, plaintext, aad);
        assert.equal(toHex(sealed), toHex(nobleCrypto.aeadSeal(algorithm, key, nonce, plaintext, aad)), `${algorithm} seal of ${length} bytes`);
        assert.deepEqual(native.aeadOpen(algorithm, key, nonce, sealed, aad), plaintext, `${algorithm} open of ${length} bytes`);
      }
    }
    assert.ok(crypt.counters.blockCiphers > 0 && crypt.counters.ctrBytes > 0 && crypt.counters.ghashBytes > 0, JSON.stringify(crypt.counters));
  });

  it("AES-GCM reads inputs that are views into larger buffers, and never changes them", () => {
    const native = createNativeProvider(emulatedModdableCrypt());
    const backing = pattern(96, 2);
    const key = backing.subarray(3, 19);
    const nonce = backing.subarray(20, 32);
    const plaintext = backing.subarray(33, 70);
    const aad = backing.subarray(71, 80);
    const copy = backing.slice();
    const sealed = native.aeadSeal("aes-128-gcm", key, nonce, plaintext, aad);
    assert.deepEqual(backing, copy, "inputs unchanged");
    assert.deepEqual(sealed, nobleCrypto.aeadSeal("aes-128-gcm", key.slice(), nonce.slice(), plaintext.slice(), aad.slice()));
    const inside = concatBytes(new Uint8Array(5), sealed).subarray(5);
    assert.deepEqual(native.aeadOpen("aes-128-gcm", key, nonce, inside, aad), plaintext);
  });

  it("only ChaCha20-Poly1305 goes to the fallback provider; P-256 ECDH and ECDSA use the native curve code", () => {
    const used: string[] = [];
    const spy = new Proxy(nobleCrypto, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === "function" ? (...args: unknown[]) => (used.push(String(property)), (value as (...a: unknown[]) => unknown)(...args)) : value;
      },
    });
    const crypt = emulatedModdableCrypt();
    const native = createNativeProvider(crypt, spy);
    native.aeadSeal("chacha20-poly1305", new Uint8Array(32), new Uint8Array(12), new Uint8Array(3), new Uint8Array(0));
    native.ecdhKeyPair("x25519", new Uint8Array(32).fill(1));
    const multiplications = crypt.counters.ecMultiplications;
    const pair = native.ecdhKeyPair("secp256r1", new Uint8Array(48).fill(1));
    native.ecdhSharedSecret("secp256r1", pair.privateKey, pair.publicKey);
    assert.equal(crypt.counters.ecMultiplications - multiplications, 2, "key generation and the shared secret multiplied natively");
    native.aeadSeal("aes-128-gcm", new Uint8Array(16), new Uint8Array(12), new Uint8Array(3), new Uint8Array(0));
    const digestsBefore = crypt.counters.digestBytes;
    const t = W.ecdsa256.tests.find((x) => x.result === "valid" && x.msg.length > 0)!;
    const key: PublicKey = { kind: "ec", curve: "secp256r1", point: fromHex(t.publicKey) };
    assert.equal(native.verify({ kind: "ecdsa", hash: "sha256" }, key, fromHex(t.msg), fromHex(t.sig)), true);
    assert.equal(crypt.counters.digestBytes - digestsBefore, t.msg.length / 2, "the message went through the native digest");
    assert.deepEqual(used, ["aeadSeal"], "only ChaCha20-Poly1305 reached the fallback");
  });

  it("a running hash forks: the digest-so-far comes from the native state, other forks replay the input", () => {
    for (const algorithm of ["sha256", "sha384", "sha512"] as HashName[]) {
      const crypt = emulatedModdableCrypt();
      const native = createNativeProvider(crypt);
      const running = native.createHash(algorithm);
      running.update(pattern(100, 1)).update(pattern(3, 2));
      // The TLS transcript's pattern: clone().digest() while the original goes on.
      assert.deepEqual(running.clone().digest(), nobleCrypto.hash(algorithm, concatBytes(pattern(100, 1), pattern(3, 2))), `${algorithm} snapshot`);
      assert.equal(crypt.counters.keptStateCloses, 1, "snapshot taken from the native state");
      const fork = running.clone();
      running.update(pattern(5, 3));
      fork.update(pattern(7, 4));
      assert.deepEqual(fork.digest(), nobleCrypto.hash(algorithm, concatBytes(pattern(100, 1), pattern(3, 2), pattern(7, 4))), `${algorithm} fork`);
      // A fork taken before the original moved on replays the input instead of reading the moved state.
      const stale = running.clone();
      running.update(pattern(9, 5));
      assert.deepEqual(stale.digest(), nobleCrypto.hash(algorithm, concatBytes(pattern(100, 1), pattern(3, 2), pattern(5, 3))), `${algorithm} stale fork`);
      assert.deepEqual(running.digest(), nobleCrypto.hash(algorithm, concatBytes(pattern(100, 1), pattern(3, 2), pattern(5, 3), pattern(9, 5))), `${algorithm} original`);
    }
  });

  it("forks share the remembered input without disturbing each other or the original", () => {
    const native = createNativeProvider(emulatedModdableCrypt());
    const original = native.createHash("sha256").update(pattern(70, 1));
    const a = original.clone();
    const b = original.clone();
    a.update(pattern(300, 2)); // grows past the shared buffer
    b.update(pattern(5, 3));
    original.update(pattern(9, 4)); // appends in place where the forks' input ended
    const c = b.clone().update(pattern(1, 5));
    assert.deepEqual(a.digest(), nobleCrypto.hash("sha256", concatBytes(pattern(70, 1), pattern(300, 2))), "fork a");
    assert.deepEqual(b.digest(), nobleCrypto.hash("sha256", concatBytes(pattern(70, 1), pattern(5, 3))), "fork b");
    assert.deepEqual(c.digest(), nobleCrypto.hash("sha256", concatBytes(pattern(70, 1), pattern(5, 3), pattern(1, 5))), "fork of fork b");
    assert.deepEqual(original.digest(), nobleCrypto.hash("sha256", concatBytes(pattern(70, 1), pattern(9, 4))), "original");
  });

  it("a fork of a fork, and a fork of a finished hash's clone, give the right digests", () => {
    const native = createNativeProvider(emulatedModdableCrypt());
    const a = native.createHash("sha256").update(asciiToBytes("abc"));
    const b = a.clone();
    const c = b.clone();
    a.digest();
    assert.equal(toHex(c.digest()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(toHex(b.update(asciiToBytes("")).digest()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(toHex(native.createHash("sha256").clone().digest()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("a tampered GCM tag is refused before any decryption", () => {
    const crypt = emulatedModdableCrypt();
    const native = createNativeProvider(crypt);
    const sealed = native.aeadSeal("aes-256-gcm", new Uint8Array(32).fill(1), new Uint8Array(12), pattern(40, 1), new Uint8Array(0));
    sealed[sealed.length - 1]! ^= 0x80;
    const ctrBefore = crypt.counters.ctrBytes;
    assert.throws(() => native.aeadOpen("aes-256-gcm", new Uint8Array(32).fill(1), new Uint8Array(12), sealed, new Uint8Array(0)), Error, /authentication failed/);
    assert.equal(crypt.counters.ctrBytes, ctrBefore, "no plaintext produced");
  });
});
