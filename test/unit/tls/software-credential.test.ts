// The software ClientCredential: private keys in the forms openssl writes (SEC1 `ec`, PKCS#8
// `pkcs8 -topk8`), DER ECDSA signatures that verify with the certificate's public key.
import { fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { nobleCrypto as provider } from "../../../modules/crypto/noble-provider.js";
import { parseCertificate } from "../../../modules/crypto/x509.js";
import { SignatureScheme } from "../../../modules/tls/constants.js";
import { parseEcPrivateKey, SoftwareCredential, SoftwareCredentialError } from "../../../modules/tls/software-credential.js";
import * as assert from "../../lib/portable/assert.js";
import { CLIENT_DER, CLIENT_KEY } from "./fixtures.js";

// `openssl ec -in client.key -outform DER` and `openssl pkcs8 -topk8 -nocrypt -in client.key -outform DER`.
const CLIENT_SEC1 = fromHex(
  "30770201010420077bcaf718381fd4b378aab2b67160f497c16bd824c7d00f22148c693fd54bf1a00a06082a8648ce3d030107a144034200046fe2577fe779a6a547734e36b648f68ee350777f6c518661dd055992594beac2677dccb2db6ef03babb0f36653103ed2128dd6ce86298d90dd028bf33164f37f",
);
const CLIENT_PKCS8 = fromHex(
  "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420077bcaf718381fd4b378aab2b67160f497c16bd824c7d00f22148c693fd54bf1a144034200046fe2577fe779a6a547734e36b648f68ee350777f6c518661dd055992594beac2677dccb2db6ef03babb0f36653103ed2128dd6ce86298d90dd028bf33164f37f",
);
// A P-384 key in PKCS#8 and its public point as `openssl ec -text` prints it.
const P384_PKCS8 = fromHex(
  "3081b6020100301006072a8648ce3d020106052b8104002204819e30819b0201010430ff5d1249df585f8aa25648da1a6980fb3bb476baf42558030b1586b45eb68a56b452e74b06d50e4a53efc6a6a39c3da7a16403620004007ced41ac67bfa9edf9afaf3b3723559a5bc460507786c8b9cf172deac26b2f5e0fed836c6d9dbc67a2e87d8041e496f1d2373ab6cf7ab0e25f5a2ce86a12948b698773aaedd67b4f360c66fe34bf533141824f6fa49df304485363348dfb77",
);
const P384_PUBLIC =
  "04007ced41ac67bfa9edf9afaf3b3723559a5bc460507786c8b9cf172deac26b2f5e0fed836c6d9dbc67a2e87d8041e496f1d2373ab6cf7ab0e25f5a2ce86a12948b698773aaedd67b4f360c66fe34bf533141824f6fa49df304485363348dfb77";

describe("TLS software credential", () => {
  it("reads the private scalar from SEC1 and PKCS#8 DER", () => {
    assert.deepEqual(parseEcPrivateKey(CLIENT_SEC1), { privateKey: CLIENT_KEY, curve: "secp256r1" });
    assert.deepEqual(parseEcPrivateKey(CLIENT_PKCS8), { privateKey: CLIENT_KEY, curve: "secp256r1" });
    const p384 = parseEcPrivateKey(P384_PKCS8);
    assert.equal(p384.curve, "secp384r1");
    const credential = new SoftwareCredential({ ...p384, certificateChain: [CLIENT_DER] });
    assert.equal(toHex(credential.publicKey), P384_PUBLIC);
    assert.deepEqual(credential.schemes, [SignatureScheme.ecdsa_secp384r1_sha384]);
  });

  it("refuses malformed or unsupported keys with SoftwareCredentialError", () => {
    assert.throws(() => parseEcPrivateKey(CLIENT_SEC1.subarray(0, 20)), SoftwareCredentialError, /malformed EC private key/);
    const rsaAlgorithm = CLIENT_PKCS8.slice();
    rsaAlgorithm[13] = 0x2b; // break the id-ecPublicKey OID
    assert.throws(() => parseEcPrivateKey(rsaAlgorithm), SoftwareCredentialError, /not an EC key/);
    assert.throws(() => new SoftwareCredential({ privateKey: new Uint8Array(32), certificateChain: [CLIENT_DER] }), SoftwareCredentialError, /invalid secp256r1 private key/);
    assert.throws(() => new SoftwareCredential({ privateKey: CLIENT_KEY, certificateChain: [] }), SoftwareCredentialError, /chain is empty/);
  });

  it("signs a digest with a DER signature that verifies with the certificate's key", async () => {
    const credential = new SoftwareCredential({ privateKey: CLIENT_KEY, certificateChain: [CLIENT_DER] });
    assert.deepEqual(credential.schemes, [SignatureScheme.ecdsa_secp256r1_sha256]);
    const message = fromHex("54657374206d657373616765");
    const signature = await credential.sign(SignatureScheme.ecdsa_secp256r1_sha256, provider.hash("sha256", message));
    assert.equal(signature[0], 0x30, "DER SEQUENCE");
    const key = parseCertificate(CLIENT_DER).subjectPublicKeyInfo.key!;
    assert.ok(provider.verify({ kind: "ecdsa", hash: "sha256" }, key, message, signature));
    assert.ok(!provider.verify({ kind: "ecdsa", hash: "sha256" }, key, fromHex("00"), signature));
    await assert.rejects(credential.sign(SignatureScheme.rsa_pss_rsae_sha256, new Uint8Array(32)), SoftwareCredentialError, /cannot sign with scheme 0x0804/);
    await assert.rejects(credential.sign(SignatureScheme.ecdsa_secp256r1_sha256, new Uint8Array(20)), SoftwareCredentialError, /digest of 20 bytes/);
  });
});
