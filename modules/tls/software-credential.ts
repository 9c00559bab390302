/**
 * A ClientCredential whose EC private key sits in RAM (signing with @noble/curves): for tests and
 * for devices without an IoT SAFE SIM. Same interface as the SIM-backed credential, so the TLS
 * client cannot tell them apart.
 */
import { p256, p384 } from "@noble/curves/nist.js";
import { DerReader, decodeOid, decodeOne, decodeSmallInteger, TAG } from "../crypto/der.js";
import { decodePem, pemToCertificates } from "../crypto/x509.js";
import { SignatureScheme } from "./constants.js";
import type { ClientCredential } from "./credential.js";

export type SoftwareCurve = "secp256r1" | "secp384r1";

export class SoftwareCredentialError extends Error {
  override name = "SoftwareCredentialError";
}

const CURVES = {
  secp256r1: { ecdsa: p256, scalarLength: 32, scheme: SignatureScheme.ecdsa_secp256r1_sha256, oid: "1.2.840.10045.3.1.7" },
  secp384r1: { ecdsa: p384, scalarLength: 48, scheme: SignatureScheme.ecdsa_secp384r1_sha384, oid: "1.3.132.0.34" },
} as const;

export interface SoftwareCredentialOptions {
  /** The private scalar, big-endian (32 bytes for P-256, 48 for P-384). */
  privateKey: Uint8Array;
  /** DER certificates, leaf first. */
  certificateChain: Uint8Array[];
  /** Default: from the private key length. */
  curve?: SoftwareCurve;
}

export class SoftwareCredential implements ClientCredential {
  readonly schemes: readonly number[];
  readonly curve: SoftwareCurve;
  readonly #privateKey: Uint8Array;
  readonly #chain: Uint8Array[];

  constructor(options: SoftwareCredentialOptions) {
    this.curve = options.curve ?? (options.privateKey.length === 48 ? "secp384r1" : "secp256r1");
    const info = CURVES[this.curve];
    if (options.privateKey.length !== info.scalarLength) {
      throw new SoftwareCredentialError(`${this.curve} private key must be ${info.scalarLength} bytes, got ${options.privateKey.length}`);
    }
    if (!info.ecdsa.utils.isValidSecretKey(options.privateKey)) throw new SoftwareCredentialError(`invalid ${this.curve} private key`);
    if (options.certificateChain.length === 0) throw new SoftwareCredentialError("certificate chain is empty");
    this.#privateKey = options.privateKey.slice();
    this.#chain = options.certificateChain.map((c) => c.slice());
    this.schemes = [info.scheme];
  }

  /** The public key (uncompressed SEC1 point), e.g. to compare with the certificate. */
  get publicKey(): Uint8Array {
    return CURVES[this.curve].ecdsa.getPublicKey(this.#privateKey, false);
  }

  async certificateChain(): Promise<Uint8Array[]> {
    return this.#chain.map((c) => c.slice());
  }

  async sign(scheme: number, digest: Uint8Array): Promise<Uint8Array> {
    const info = CURVES[this.curve];
    if (scheme !== info.scheme) throw new SoftwareCredentialError(`a ${this.curve} key cannot sign with scheme 0x${scheme.toString(16).padStart(4, "0")}`);
    if (digest.length !== info.scalarLength) throw new SoftwareCredentialError(`digest of ${digest.length} bytes for a ${this.curve} signature`);
    return info.ecdsa.sign(digest, this.#privateKey, { prehash: false, format: "der" });
  }
}

/**
 * The private scalar and curve from a DER EC private key: SEC1 `ECPrivateKey` (openssl ecparam
 * -genkey) or PKCS#8 `PrivateKeyInfo` wrapping one (openssl genpkey).
 */
export function parseEcPrivateKey(der: Uint8Array): { privateKey: Uint8Array; curve: SoftwareCurve } {
  try {
    const outer = new DerReader(decodeOne(der, TAG.SEQUENCE), "EC private key");
    const version = decodeSmallInteger(outer.next(TAG.INTEGER, "version").value);
    if (version === 0) {
      // PKCS#8: AlgorithmIdentifier { id-ecPublicKey, namedCurve }, then OCTET STRING { ECPrivateKey }.
      const algorithm = new DerReader(outer.next(TAG.SEQUENCE, "privateKeyAlgorithm"), "privateKeyAlgorithm");
      const keyOid = decodeOid(algorithm.next(TAG.OID, "algorithm").value);
      if (keyOid !== "1.2.840.10045.2.1") throw new SoftwareCredentialError(`PKCS#8 key algorithm ${keyOid} is not an EC key`);
      const curveOid = decodeOid(algorithm.next(TAG.OID, "namedCurve").value);
      const inner = parseEcPrivateKey(outer.next(TAG.OCTET_STRING, "privateKey").value);
      return { privateKey: inner.privateKey, curve: curveFromOid(curveOid) };
    }
    if (version !== 1) throw new SoftwareCredentialError(`EC private key version ${version}`);
    const scalar = outer.next(TAG.OCTET_STRING, "privateKey").value;
    const params = outer.optional(0xa0);
    let curve: SoftwareCurve | undefined;
    if (params) curve = curveFromOid(decodeOid(decodeOne(params.value, TAG.OID).value));
    curve ??= scalar.length === 48 ? "secp384r1" : "secp256r1";
    return { privateKey: scalar.slice(), curve };
  } catch (error) {
    if (error instanceof SoftwareCredentialError) throw error;
    throw new SoftwareCredentialError(`malformed EC private key: ${(error as Error).message}`);
  }
}

function curveFromOid(oid: string): SoftwareCurve {
  for (const [name, info] of Object.entries(CURVES)) if (info.oid === oid) return name as SoftwareCurve;
  throw new SoftwareCredentialError(`unsupported EC curve ${oid} (P-256 and P-384 only)`);
}

/** A software credential from PEM text: an EC private key block and one or more CERTIFICATE blocks. */
export function softwareCredentialFromPem(keyPem: string, chainPem: string): SoftwareCredential {
  const keyBlock = decodePem(keyPem).find((b) => b.label === "EC PRIVATE KEY" || b.label === "PRIVATE KEY");
  if (!keyBlock) throw new SoftwareCredentialError("no EC PRIVATE KEY or PRIVATE KEY block in the key PEM");
  const { privateKey, curve } = parseEcPrivateKey(keyBlock.der);
  return new SoftwareCredential({ privateKey, curve, certificateChain: pemToCertificates(chainPem) });
}
