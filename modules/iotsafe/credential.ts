/**
 * A TLS ClientCredential whose private key stays in the SIM (architecture.md §5): the certificate
 * chain is read from SIM files once and cached; CertificateVerify digests are signed on the SIM
 * (COMPUTE SIGNATURE, mode 03 "pad and sign") and returned as DER.
 */
import type { ClientCredential } from "../tls/credential.js";
import type { IotSafeClient } from "./client.js";
import { IotSafeArgumentError } from "./errors.js";
import type { ObjectRef } from "./objects.js";

/** TLS SignatureScheme ecdsa_secp256r1_sha256: the only scheme a P-256 SIM key with SHA-256 serves. */
export const ECDSA_SECP256R1_SHA256 = 0x0403;

export interface SimCredentialOptions {
  /** The private key container that signs. */
  privateKey: ObjectRef;
  /** Files holding the DER certificates, leaf first (e.g. the client certificate, then intermediates). */
  certificates: readonly ObjectRef[];
}

export class SimClientCredential implements ClientCredential {
  readonly schemes: readonly number[] = [ECDSA_SECP256R1_SHA256];
  readonly #client: IotSafeClient;
  readonly #options: SimCredentialOptions;
  #chain: Promise<Uint8Array[]> | undefined;
  #chainGeneration = -1;

  constructor(client: IotSafeClient, options: SimCredentialOptions) {
    if (options.certificates.length === 0) throw new IotSafeArgumentError("a SIM credential needs at least one certificate file");
    this.#client = client;
    this.#options = { privateKey: options.privateKey, certificates: [...options.certificates] };
  }

  /** DER certificates, leaf first: read from the SIM on first use; read again only after a remote-admin update (63CF). */
  async certificateChain(): Promise<Uint8Array[]> {
    if (!this.#chain || this.#chainGeneration !== this.#client.storeGeneration) {
      this.#chainGeneration = this.#client.storeGeneration;
      const reading = this.#readChain();
      this.#chain = reading;
      // A failed read is not cached: the next handshake tries again.
      reading.catch(() => {
        if (this.#chain === reading) this.#chain = undefined;
      });
    }
    const chain = await this.#chain;
    return chain.map((c) => c.slice());
  }

  async #readChain(): Promise<Uint8Array[]> {
    const chain: Uint8Array[] = [];
    for (const ref of this.#options.certificates) chain.push(await this.#client.readFile(ref));
    return chain;
  }

  /** Signs a host-computed SHA-256 digest on the SIM; DER `Ecdsa-Sig-Value`. */
  async sign(scheme: number, digest: Uint8Array): Promise<Uint8Array> {
    if (scheme !== ECDSA_SECP256R1_SHA256) {
      throw new IotSafeArgumentError(`the SIM key signs with ecdsa_secp256r1_sha256 (0x0403) only, not 0x${scheme.toString(16).padStart(4, "0")}`);
    }
    if (digest.length !== 32) throw new IotSafeArgumentError(`digest of ${digest.length} bytes for ecdsa_secp256r1_sha256 (32 expected)`);
    const signature = await this.#client.signDigest(this.#options.privateKey, digest, { hash: "sha256", scalarLength: 32 });
    return signature.der;
  }
}
