/**
 * A TLS client credential that counts the signatures it makes: the work a SIM would do. Tests of
 * session resumption use it to show that a resumed handshake signs nothing.
 */
import type { ClientCredential } from "../../../modules/tls/credential.js";

export function countingCredential(inner: ClientCredential): ClientCredential & { readonly signatures: number } {
  let signatures = 0;
  return {
    schemes: inner.schemes,
    certificateChain: () => inner.certificateChain(),
    sign: (scheme, digest) => {
      signatures++;
      return inner.sign(scheme, digest);
    },
    get signatures() {
      return signatures;
    },
  };
}
