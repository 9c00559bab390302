/**
 * The two TLS identities of provisioning, both with the private key in the SIM: the claim (bootstrap)
 * credential — key and certificate as the SIM vendor shipped them — and the operational credential —
 * the key the SIM generated, with the certificate the cloud issued for it (kept in flash or a SIM file).
 */
import { ECDSA_SECP256R1_SHA256 } from "../iotsafe/credential.js";
import type { GeneratedKeyPair } from "../iotsafe/client.js";
import type { ObjectRef } from "../iotsafe/objects.js";
import type { ClientCredential } from "../tls/credential.js";
import { TlsCredentialError } from "../tls/errors.js";

/** What provisioning uses of the IoT SAFE applet (modules/iotsafe IotSafeClient has this shape). */
export interface ProvisioningSim {
  generateKeyPair(privateKey: ObjectRef): Promise<GeneratedKeyPair>;
  /** The uncompressed point of a key (a key pair's public half when given the private key's ID). */
  readPublicKey(ref: ObjectRef): Promise<Uint8Array>;
  signDigest(key: ObjectRef, digest: Uint8Array, options?: { hash?: "sha256"; scalarLength?: number }): Promise<{ der: Uint8Array }>;
  readFile(ref: ObjectRef): Promise<Uint8Array>;
}

/** A ClientCredential whose key is a SIM container and whose chain comes from `loadChain` (read once, cached). */
export class SimKeyCredential implements ClientCredential {
  readonly schemes: readonly number[] = [ECDSA_SECP256R1_SHA256];
  readonly #sim: ProvisioningSim;
  readonly #key: ObjectRef;
  readonly #loadChain: () => Promise<Uint8Array[]>;
  #chain: Uint8Array[] | undefined;

  constructor(sim: ProvisioningSim, key: ObjectRef, loadChain: () => Promise<Uint8Array[]>) {
    this.#sim = sim;
    this.#key = key;
    this.#loadChain = loadChain;
  }

  async certificateChain(): Promise<Uint8Array[]> {
    this.#chain ??= await this.#loadChain();
    return this.#chain.map((c) => c.slice());
  }

  async sign(scheme: number, digest: Uint8Array): Promise<Uint8Array> {
    if (scheme !== ECDSA_SECP256R1_SHA256 || digest.length !== 32) {
      throw new TlsCredentialError(`the SIM key signs SHA-256 digests with ecdsa_secp256r1_sha256 only (asked scheme 0x${scheme.toString(16)}, ${digest.length}-byte digest)`);
    }
    return (await this.#sim.signDigest(this.#key, digest, { hash: "sha256", scalarLength: 32 })).der;
  }
}
