/** GSMA IoT SAFE (IoT.05) codes: AIDs, instructions, TLV tags, algorithm identifiers (iotsafe.md §1–§3). */
import { fromHex } from "../bytes/bytes.js";

/** Applet identifiers, in the order tried by default: the GSMA one first, then the Thales applets. */
export const AID = {
  GSMA_IOT_SAFE: fromHex("A0000005590010"),
  THALES_LEGACY: fromHex("A0000002480400"),
  THALES_MVP: fromHex("A00000003053F12401770101495341"),
} as const;

export const DEFAULT_AIDS: readonly Uint8Array[] = [AID.GSMA_IOT_SAFE, AID.THALES_LEGACY, AID.THALES_MVP];

export const INS = {
  GET_RANDOM: 0x84,
  GET_DATA: 0xcb,
  READ_FILE: 0xb0,
  COMPUTE_SIGNATURE_INIT: 0x2a,
  COMPUTE_SIGNATURE_UPDATE: 0x2b,
  VERIFY_SIGNATURE_INIT: 0x2c,
  VERIFY_SIGNATURE_UPDATE: 0x2d,
  GENERATE_KEY_PAIR: 0xb9,
  READ_PUBLIC_KEY: 0xcd,
  PUT_PUBLIC_KEY_INIT: 0x24,
  PUT_PUBLIC_KEY_UPDATE: 0xd8,
  COMPUTE_DH: 0x46,
  COMPUTE_PRF: 0x48,
  COMPUTE_HKDF: 0x4a,
} as const;

/** GET DATA P1 values. */
export const GET_DATA_P1 = {
  APPLICATION_INFO: 0x00,
  OBJECT_LIST: 0x01,
  PRIVATE_KEY_INFO: 0xc1,
  PUBLIC_KEY_INFO: 0xc2,
  FILE_INFO: 0xc3,
  SECRET_KEY_INFO: 0xc4,
} as const;

/** P1 of the two-phase commands' INIT (open/close a session) and UPDATE (more/last block). */
export const SESSION_OPEN = 0x00;
export const SESSION_CLOSE = 0x01;
export const UPDATE_MORE = 0x00;
export const UPDATE_LAST = 0x80;

export const TAG = {
  SIM_ALLIANCE_VERSION: 0x10,
  APPLET_PROPRIETARY_ID: 0x11,
  FILE_SIZE: 0x20,
  FILE_USAGE: 0x21,
  SIGNATURE: 0x33,
  PUBLIC_KEY_DATA: 0x34,
  ECC_PUBLIC_KEY: 0x49,
  OBJECT_STATE: 0x4a,
  KEY_TYPE: 0x4b,
  KEY_USAGE: 0x4e,
  ACCESS_CONDITIONS: 0x60,
  CRYPTO_FUNCTIONS: 0x61,
  KEY_AGREEMENT_ALGORITHMS: 0x6f,
  FILE_LABEL: 0x73,
  PRIVATE_KEY_LABEL: 0x74,
  PUBLIC_KEY_LABEL: 0x75,
  SECRET_KEY_LABEL: 0x76,
  FILE_ID: 0x83,
  PRIVATE_KEY_ID: 0x84,
  PUBLIC_KEY_ID: 0x85,
  /** Secret-key ID; inside tag 49 the same number carries the EC point. */
  SECRET_KEY_ID: 0x86,
  EC_POINT: 0x86,
  APP_CRYPTO_FUNCTIONS: 0x90,
  HASH_ALGORITHM: 0x91,
  SIGNATURE_ALGORITHM: 0x92,
  APP_KEY_AGREEMENT: 0x93,
  KEY_DERIVATION: 0x94,
  LAST_BLOCK: 0x9a,
  DATA_TO_SIGN: 0x9b,
  INTERMEDIATE_HASH: 0x9c,
  HASHED_LENGTH: 0x9d,
  FINAL_HASH: 0x9e,
  MODE: 0xa1,
  MAX_FILES: 0xb1,
  MAX_PRIVATE_KEYS: 0xb2,
  MAX_PUBLIC_KEYS: 0xb3,
  MAX_SECRET_KEYS: 0xb4,
  MAX_SESSIONS: 0xb7,
  PRIVATE_KEY_INFO: 0xc1,
  PUBLIC_KEY_INFO: 0xc2,
  FILE_INFO: 0xc3,
  SECRET_KEY_INFO: 0xc4,
  SECRET: 0xd1,
  LABEL_AND_SEED: 0xd2,
  PRF_OUTPUT_LENGTH: 0xd3,
  PRE_MASTER_SECRET: 0xd4,
  SALT: 0xd5,
} as const;

export type HashAlgorithm = "sha256" | "sha384" | "sha512";

/** Hash identifiers (tag 91, two bytes, big-endian in commands). */
export const HASH_ID: Readonly<Record<HashAlgorithm, number>> = { sha256: 0x0001, sha384: 0x0002, sha512: 0x0004 };
export const HASH_LENGTH: Readonly<Record<HashAlgorithm, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/** Signature algorithm identifiers (tag 92). */
export const SIGNATURE_ALGORITHM = { RSA_PKCS1: 0x01, RSA_PSS: 0x02, ECDSA: 0x04 } as const;

/** Signature modes of operation (tag A1). */
export const SIGNATURE_MODE = { FULL_TEXT: 0x01, LAST_BLOCK: 0x02, PAD_AND_SIGN: 0x03 } as const;

/** COMPUTE PRF modes (P1). */
export const PRF_MODE = { SECRET_GIVEN: 0x00, PSK_IN_STORE: 0x01, PSK_WITH_ECDHE: 0x02 } as const;

/** Key types (tag 4B). */
export const KEY_TYPE = {
  RSA_2048: 0x03,
  P256_PERSISTENT: 0x13,
  P256_VOLATILE: 0x14,
  BRAINPOOL_P256_PERSISTENT: 0x23,
  BRAINPOOL_P256_VOLATILE: 0x24,
  HMAC: 0xa0,
} as const;
