/**
 * The client's identity for TLS client authentication, with the key operation behind an
 * asynchronous interface: the key may live in a SIM (GSMA IoT SAFE) where one signature takes a
 * second or more over AT+CSIM. The TLS client never sees the private key.
 */

export interface ClientCredential {
  /** The certificate chain, DER, leaf first (read once from wherever it lives, then cached). */
  certificateChain(): Promise<Uint8Array[]>;
  /**
   * Signs `digest`, the hash (with the scheme's hash function) of the CertificateVerify content
   * (64 × 0x20 ‖ context string ‖ 0x00 ‖ transcript hash). Returns a DER ECDSA signature.
   */
  sign(scheme: number, digest: Uint8Array): Promise<Uint8Array>;
  /**
   * TLS SignatureScheme code points this credential can produce, in preference order
   * (e.g. [0x0403] ecdsa_secp256r1_sha256 for a P-256 key). The client picks the first one the
   * server's CertificateRequest allows.
   */
  readonly schemes: readonly number[];
}
