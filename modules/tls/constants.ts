/**
 * TLS 1.3 code points (RFC 8446 §B, RFC 8449, RFC 6066, RFC 7301) and the tables that give
 * them names and parameters. Only what this client implements or must recognise.
 */
import type { AeadName, EcdhGroup, HashName } from "../crypto/provider.js";

export const ContentType = {
  change_cipher_spec: 20,
  alert: 21,
  handshake: 22,
  application_data: 23,
} as const;

export const HandshakeType = {
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  end_of_early_data: 5,
  encrypted_extensions: 8,
  certificate: 11,
  certificate_request: 13,
  certificate_verify: 15,
  finished: 20,
  key_update: 24,
  message_hash: 254,
} as const;

const HANDSHAKE_NAMES: Record<number, string> = {};
for (const [name, code] of Object.entries(HandshakeType)) HANDSHAKE_NAMES[code] = name;

export function handshakeName(type: number): string {
  return HANDSHAKE_NAMES[type] ?? `handshake type ${type}`;
}

export function contentTypeName(type: number): string {
  for (const [name, code] of Object.entries(ContentType)) if (code === type) return name;
  return `content type ${type}`;
}

export const ExtensionType = {
  server_name: 0,
  max_fragment_length: 1,
  status_request: 5,
  supported_groups: 10,
  signature_algorithms: 13,
  use_srtp: 14,
  heartbeat: 15,
  application_layer_protocol_negotiation: 16,
  signed_certificate_timestamp: 18,
  client_certificate_type: 19,
  server_certificate_type: 20,
  padding: 21,
  record_size_limit: 28,
  pre_shared_key: 41,
  early_data: 42,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  certificate_authorities: 47,
  oid_filters: 48,
  post_handshake_auth: 49,
  signature_algorithms_cert: 50,
  key_share: 51,
} as const;

export function extensionName(type: number): string {
  for (const [name, code] of Object.entries(ExtensionType)) if (code === type) return name;
  return `extension ${type}`;
}

export const TLS13_VERSION = 0x0304;
export const TLS12_VERSION = 0x0303;

/** ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3). */
export const HELLO_RETRY_REQUEST_RANDOM = Uint8Array.of(
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
);

/** Last 8 bytes of ServerHello.random from a TLS 1.3 server negotiating TLS 1.2 / TLS 1.1 or below (RFC 8446 §4.1.3). */
export const DOWNGRADE_TLS12 = Uint8Array.of(0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01);
export const DOWNGRADE_TLS11 = Uint8Array.of(0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x00);

export interface CipherSuiteInfo {
  readonly code: number;
  readonly name: string;
  readonly aead: AeadName;
  readonly hash: HashName;
  readonly keyLength: number;
  readonly hashLength: number;
}

export const CipherSuite = {
  TLS_AES_128_GCM_SHA256: 0x1301,
  TLS_AES_256_GCM_SHA384: 0x1302,
  TLS_CHACHA20_POLY1305_SHA256: 0x1303,
} as const;

export const CIPHER_SUITES: Readonly<Record<number, CipherSuiteInfo>> = {
  0x1301: { code: 0x1301, name: "TLS_AES_128_GCM_SHA256", aead: "aes-128-gcm", hash: "sha256", keyLength: 16, hashLength: 32 },
  0x1302: { code: 0x1302, name: "TLS_AES_256_GCM_SHA384", aead: "aes-256-gcm", hash: "sha384", keyLength: 32, hashLength: 48 },
  0x1303: { code: 0x1303, name: "TLS_CHACHA20_POLY1305_SHA256", aead: "chacha20-poly1305", hash: "sha256", keyLength: 32, hashLength: 32 },
};

export const NamedGroup = {
  secp256r1: 0x0017,
  secp384r1: 0x0018,
  x25519: 0x001d,
} as const;

export const GROUPS: Readonly<Record<number, { name: EcdhGroup; shareLength: number }>> = {
  0x0017: { name: "secp256r1", shareLength: 65 },
  0x0018: { name: "secp384r1", shareLength: 97 },
  0x001d: { name: "x25519", shareLength: 32 },
};

export function groupName(code: number): string {
  return GROUPS[code]?.name ?? `group 0x${code.toString(16).padStart(4, "0")}`;
}

export const SignatureScheme = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
} as const;

/** Schemes we accept in CertificateVerify (signature_algorithms). */
export const DEFAULT_SIGNATURE_ALGORITHMS: readonly number[] = [
  SignatureScheme.ecdsa_secp256r1_sha256,
  SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.rsa_pss_rsae_sha256,
  SignatureScheme.rsa_pss_rsae_sha384,
  SignatureScheme.rsa_pss_rsae_sha512,
];

/** Schemes we accept in certificate signatures (signature_algorithms_cert): the above plus PKCS#1 v1.5. */
export const DEFAULT_SIGNATURE_ALGORITHMS_CERT: readonly number[] = [
  ...DEFAULT_SIGNATURE_ALGORITHMS,
  SignatureScheme.rsa_pkcs1_sha256,
  SignatureScheme.rsa_pkcs1_sha384,
  SignatureScheme.rsa_pkcs1_sha512,
];

export function signatureSchemeName(code: number): string {
  for (const [name, value] of Object.entries(SignatureScheme)) if (value === code) return name;
  return `signature scheme 0x${code.toString(16).padStart(4, "0")}`;
}

export const AlertLevel = { warning: 1, fatal: 2 } as const;

export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120,
} as const;

export type AlertName = keyof typeof AlertDescription;

const ALERT_NAMES: Record<number, string> = {};
for (const [name, code] of Object.entries(AlertDescription)) ALERT_NAMES[code] = name;

export function alertName(code: number): string {
  return ALERT_NAMES[code] ?? "unknown_alert";
}

/** RFC 8446 §5.1: TLSPlaintext.length and TLSInnerPlaintext content at most 2^14. */
export const MAX_PLAINTEXT = 16384;
/** RFC 8446 §5.2: TLSCiphertext.length at most 2^14 + 256. */
export const MAX_CIPHERTEXT = 16384 + 256;
/** RFC 8449 §4: the smallest record_size_limit an endpoint may advertise. */
export const MIN_RECORD_SIZE_LIMIT = 64;
export const RECORD_HEADER_LENGTH = 5;
