/**
 * The virtual IoT SAFE SIM's profile: its options and its object store, as a JSON file.
 * Keys are kept in clear (hex scalars): this is a *virtual* SIM for development, never a vault.
 *
 * Loading validates everything (hex, lengths, duplicates, known names) and fails with ProfileError
 * naming the offending field, so a hand-edited profile cannot crash the card later.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { fromHex, toHex, utf8ToBytes } from "../../../modules/bytes/bytes.js";

export class ProfileError extends Error {
  override name = "ProfileError";
}

export const PROFILE_FORMAT = "iotsafe-sim-profile/1";

/** GSMA IoT SAFE and the two Thales applet AIDs (iotsafe.md §1.2). */
export const IOTSAFE_AIDS = {
  gsma: "a0000005590010",
  thales: "a0000002480400",
  thalesMvp: "a00000003053f12401770101495341",
} as const;

export type ObjectKind = "private-key" | "public-key" | "file" | "secret";
export type KeyUsage = "general" | "tls12-certificate-verify" | "tls13-certificate-verify";
export type FileUsage = "general" | "certificate";
export type KeyType = "p256" | "p256-volatile" | "hmac";
export type CryptoFunction = "signature" | "key-generation" | "key-agreement" | "key-derivation";
export type KeyDerivation = "tls12-prf" | "hkdf";

/** One object of the store, as written in the profile file. */
export interface ProfileObject {
  kind: ObjectKind;
  /** Object ID, hex (1..64 bytes). IDs are unique per kind. */
  id: string;
  /** Optional label (UTF-8, up to 60 bytes), unique per kind. */
  label?: string;
  /** Private keys: the ID GENERATE KEY PAIR reports in tag 85 (default: the private key's own ID). */
  publicId?: string;
  /** Access conditions (tag 60). Defaults: read true, update false (secrets: read false). */
  access?: { read?: boolean; update?: boolean };
  /** Keys: tag 4E; files: tag 21. */
  usage?: KeyUsage | FileUsage;
  /** Keys: tag 4B. Default "p256" for key pairs and public keys, "hmac" for secrets. */
  keyType?: KeyType;
  /** Tag 61. Defaults: private keys all three key functions, public keys signature + key agreement, secrets key derivation. */
  functions?: CryptoFunction[];
  /** Secrets: tag 94. Default both. */
  keyDerivation?: KeyDerivation[];
  /**
   * Hex contents; absent or "" means an empty container.
   * private-key: the 32-byte P-256 scalar; public-key: the 65-byte uncompressed point (04 X Y);
   * file: the file bytes; secret: the secret bytes.
   */
  contents?: string;
}

/** Behaviour switches, mostly to reproduce what real SIMs and modems do (iotsafe.md §6.3, §9). */
export interface CardOptions {
  /** AIDs (hex) SELECT accepts. Default: the GSMA AID and both Thales AIDs. */
  aids: string[];
  /** Highest logical channel MANAGE CHANNEL hands out (1..19). Default 3. */
  maxChannels: number;
  /** SELECT on a logical channel that was never opened opens it (the wolfSSL flow). Default true. */
  implicitChannelOpen: boolean;
  /** Class forms accepted for the IoT SAFE INS codes: `8n`, `0n`, or both (else 6E00). Default "both". */
  commandClass: "both" | "proprietary" | "interindustry";
  /** Length field of tag 33 in the signature answer: `33 00 40` (default) or `33 40`. */
  signatureLength: "two-byte" | "one-byte";
  /** Signature value in tag 33: raw r‖s (default) or ASN.1 DER (some applets, iotsafe.md §2.2). */
  signatureFormat: "raw" | "der";
  /** "get-response": answers carrying data come as 61xx and must be fetched with GET RESPONSE (T=0 via some modems). */
  responseDelivery: "direct" | "get-response";
  /** "6C": a case-2 command whose Le differs from the exact answer length gets 6Cxx (T=0). "lenient": Le is an upper bound. */
  wrongLe: "lenient" | "6C";
  /** Signature/verify/put sessions per kind and channel; session numbers 0..maxSessions-1 (tag B7). Default 4. */
  maxSessions: number;
  /** INIT on a session that is already open: "replace" it (default; Thales never closes after sign) or "reject" with 6985. */
  reopenSession: "replace" | "reject";
  /** GET DATA for one object: the info TLVs wrapped in C1..C4 (default) or bare (iotsafe.md §9.8). */
  objectInfo: "wrapped" | "bare";
  /** Largest READ FILE answer (1..240). Default 240. */
  readFileChunk: number;
  /** Largest GET DATA object-list answer before "more data" 6300 (32..240). Default 240. */
  objectListPage: number;
  /** SELECT answers with FCI (`6F 84 AID`) even without Le (so 61xx in get-response mode). Default false: FCI only when Le asks. */
  selectFci: boolean;
  /** MANAGE CHANNEL open answers 91xx (proactive command pending) instead of 9000. Default false. */
  proactiveOnOpen: boolean;
  /** Applet proprietary identifier (tag 11), ASCII, at most 32 bytes. */
  appletIdentifier: string;
}

export const DEFAULT_CARD_OPTIONS: Readonly<CardOptions> = Object.freeze({
  aids: [IOTSAFE_AIDS.gsma, IOTSAFE_AIDS.thales, IOTSAFE_AIDS.thalesMvp],
  maxChannels: 3,
  implicitChannelOpen: true,
  commandClass: "both",
  signatureLength: "two-byte",
  signatureFormat: "raw",
  responseDelivery: "direct",
  wrongLe: "lenient",
  maxSessions: 4,
  reopenSession: "replace",
  objectInfo: "wrapped",
  readFileChunk: 240,
  objectListPage: 240,
  selectFci: false,
  proactiveOnOpen: false,
  appletIdentifier: "iotsafe-xs virtual applet",
});

export interface SimProfile {
  format: typeof PROFILE_FORMAT;
  /** Free text for people reading the file. */
  description?: string;
  /** ICCID digits the modem reports (AT+CCID), if set. */
  iccid?: string;
  /** IMSI digits the modem reports (AT+CIMI), if set. */
  imsi?: string;
  /** Only the options that differ from {@link DEFAULT_CARD_OPTIONS}. */
  options?: Partial<CardOptions>;
  objects: ProfileObject[];
}

export const MAX_ID_BYTES = 64;
export const MAX_LABEL_BYTES = 60;
export const MAX_FILE_BYTES = 32768;
export const MAX_SECRET_BYTES = 128;

const KINDS: readonly ObjectKind[] = ["private-key", "public-key", "file", "secret"];
const KEY_USAGES: readonly string[] = ["general", "tls12-certificate-verify", "tls13-certificate-verify"];
const FILE_USAGES: readonly string[] = ["general", "certificate"];
const KEY_TYPES: readonly string[] = ["p256", "p256-volatile", "hmac"];
const FUNCTIONS: readonly string[] = ["signature", "key-generation", "key-agreement", "key-derivation"];
const DERIVATIONS: readonly string[] = ["tls12-prf", "hkdf"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hexField(value: unknown, where: string, minBytes: number, maxBytes: number): Uint8Array {
  if (typeof value !== "string") throw new ProfileError(`${where}: expected a hex string`);
  let bytes: Uint8Array;
  try {
    bytes = fromHex(value);
  } catch (error) {
    throw new ProfileError(`${where}: ${(error as Error).message}`);
  }
  if (bytes.length < minBytes || bytes.length > maxBytes) {
    throw new ProfileError(`${where}: ${bytes.length} bytes, expected ${minBytes}..${maxBytes}`);
  }
  return bytes;
}

function oneOf<T extends string>(value: unknown, allowed: readonly string[], where: string): T {
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw new ProfileError(`${where}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function listOf<T extends string>(value: unknown, allowed: readonly string[], where: string): T[] {
  if (!Array.isArray(value)) throw new ProfileError(`${where}: expected an array`);
  return value.map((v, i) => oneOf<T>(v, allowed, `${where}[${i}]`));
}

function validateObject(raw: unknown, where: string): ProfileObject {
  if (!isRecord(raw)) throw new ProfileError(`${where}: expected an object`);
  const known = ["kind", "id", "label", "publicId", "access", "usage", "keyType", "functions", "keyDerivation", "contents"];
  for (const key of Object.keys(raw)) if (!known.includes(key)) throw new ProfileError(`${where}: unknown field ${JSON.stringify(key)}`);
  const kind = oneOf<ObjectKind>(raw.kind, KINDS, `${where}.kind`);
  const out: ProfileObject = { kind, id: toHex(hexField(raw.id, `${where}.id`, 1, MAX_ID_BYTES)) };
  if (raw.label !== undefined) {
    if (typeof raw.label !== "string") throw new ProfileError(`${where}.label: expected a string`);
    const length = utf8ToBytes(raw.label).length;
    if (length < 1 || length > MAX_LABEL_BYTES) throw new ProfileError(`${where}.label: ${length} bytes, expected 1..${MAX_LABEL_BYTES}`);
    out.label = raw.label;
  }
  if (raw.publicId !== undefined) {
    if (kind !== "private-key") throw new ProfileError(`${where}.publicId: only private keys have one`);
    out.publicId = toHex(hexField(raw.publicId, `${where}.publicId`, 1, MAX_ID_BYTES));
  }
  if (raw.access !== undefined) {
    if (!isRecord(raw.access)) throw new ProfileError(`${where}.access: expected an object`);
    const access: { read?: boolean; update?: boolean } = {};
    for (const [key, value] of Object.entries(raw.access)) {
      if ((key !== "read" && key !== "update") || typeof value !== "boolean") {
        throw new ProfileError(`${where}.access.${key}: expected read/update booleans`);
      }
      access[key] = value;
    }
    out.access = access;
  }
  if (raw.usage !== undefined) {
    out.usage = oneOf<KeyUsage | FileUsage>(raw.usage, kind === "file" ? FILE_USAGES : KEY_USAGES, `${where}.usage`);
    if (kind === "secret") throw new ProfileError(`${where}.usage: secrets have no usage field`);
  }
  if (raw.keyType !== undefined) {
    if (kind === "file") throw new ProfileError(`${where}.keyType: files have no key type`);
    const keyType = oneOf<KeyType>(raw.keyType, KEY_TYPES, `${where}.keyType`);
    if ((kind === "secret") !== (keyType === "hmac")) throw new ProfileError(`${where}.keyType: ${keyType} does not fit a ${kind}`);
    out.keyType = keyType;
  }
  if (raw.functions !== undefined) {
    if (kind === "file") throw new ProfileError(`${where}.functions: files have no functions`);
    out.functions = listOf<CryptoFunction>(raw.functions, FUNCTIONS, `${where}.functions`);
  }
  if (raw.keyDerivation !== undefined) {
    if (kind !== "secret") throw new ProfileError(`${where}.keyDerivation: only secrets have one`);
    out.keyDerivation = listOf<KeyDerivation>(raw.keyDerivation, DERIVATIONS, `${where}.keyDerivation`);
  }
  if (raw.contents !== undefined && raw.contents !== "") {
    const limits: Record<ObjectKind, [number, number]> = {
      "private-key": [32, 32],
      "public-key": [65, 65],
      file: [1, MAX_FILE_BYTES],
      secret: [1, MAX_SECRET_BYTES],
    };
    const [min, max] = limits[kind];
    out.contents = toHex(hexField(raw.contents, `${where}.contents`, min, max));
  }
  return out;
}

function validateOptions(raw: unknown): Partial<CardOptions> {
  if (!isRecord(raw)) throw new ProfileError("options: expected an object");
  const out: Partial<CardOptions> = {};
  const enums: Record<string, readonly string[]> = {
    commandClass: ["both", "proprietary", "interindustry"],
    signatureLength: ["two-byte", "one-byte"],
    signatureFormat: ["raw", "der"],
    responseDelivery: ["direct", "get-response"],
    wrongLe: ["lenient", "6C"],
    reopenSession: ["replace", "reject"],
    objectInfo: ["wrapped", "bare"],
  };
  const ranges: Record<string, [number, number]> = {
    maxChannels: [1, 19],
    maxSessions: [1, 16],
    readFileChunk: [1, 240],
    objectListPage: [32, 240],
  };
  const target = out as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw)) {
    const where = `options.${key}`;
    if (enums[key]) target[key] = oneOf(value, enums[key]!, where);
    else if (ranges[key]) {
      const [min, max] = ranges[key]!;
      if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        throw new ProfileError(`${where}: expected an integer ${min}..${max}`);
      }
      target[key] = value;
    } else if (key === "implicitChannelOpen" || key === "proactiveOnOpen" || key === "selectFci") {
      if (typeof value !== "boolean") throw new ProfileError(`${where}: expected a boolean`);
      target[key] = value;
    } else if (key === "aids") {
      if (!Array.isArray(value) || value.length === 0) throw new ProfileError(`${where}: expected a non-empty array of hex AIDs`);
      out.aids = value.map((aid, i) => toHex(hexField(aid, `${where}[${i}]`, 5, 16)));
    } else if (key === "appletIdentifier") {
      if (typeof value !== "string" || !/^[\x20-\x7e]{0,32}$/.test(value)) throw new ProfileError(`${where}: expected printable ASCII, at most 32 characters`);
      out.appletIdentifier = value;
    } else {
      throw new ProfileError(`${where}: unknown option`);
    }
  }
  return out;
}

/** Checks a parsed JSON value and returns a normalised profile (hex lower-cased). Throws ProfileError. */
export function validateProfile(raw: unknown): SimProfile {
  if (!isRecord(raw)) throw new ProfileError("profile: expected a JSON object");
  if (raw.format !== PROFILE_FORMAT) throw new ProfileError(`profile: format must be ${JSON.stringify(PROFILE_FORMAT)}, got ${JSON.stringify(raw.format)}`);
  for (const key of Object.keys(raw)) {
    if (!["format", "description", "iccid", "imsi", "options", "objects"].includes(key)) throw new ProfileError(`profile: unknown field ${JSON.stringify(key)}`);
  }
  if (!Array.isArray(raw.objects)) throw new ProfileError("profile.objects: expected an array");
  if (raw.objects.length > 200) throw new ProfileError("profile.objects: more than 200 objects");
  const objects = raw.objects.map((o, i) => validateObject(o, `objects[${i}]`));
  const seen = new Set<string>();
  objects.forEach((o, i) => {
    const idKey = `${o.kind} id ${o.id}`;
    if (seen.has(idKey)) throw new ProfileError(`objects[${i}]: duplicate ${idKey}`);
    seen.add(idKey);
    if (o.label !== undefined) {
      const labelKey = `${o.kind} label ${JSON.stringify(o.label)}`;
      if (seen.has(labelKey)) throw new ProfileError(`objects[${i}]: duplicate ${labelKey}`);
      seen.add(labelKey);
    }
  });
  const profile: SimProfile = { format: PROFILE_FORMAT, objects };
  if (raw.description !== undefined) {
    if (typeof raw.description !== "string") throw new ProfileError("profile.description: expected a string");
    profile.description = raw.description;
  }
  if (raw.iccid !== undefined) {
    if (typeof raw.iccid !== "string" || !/^\d{18,20}F?$/i.test(raw.iccid)) throw new ProfileError("profile.iccid: expected 18..20 digits");
    profile.iccid = raw.iccid;
  }
  if (raw.imsi !== undefined) {
    if (typeof raw.imsi !== "string" || !/^\d{6,15}$/.test(raw.imsi)) throw new ProfileError("profile.imsi: expected 6..15 digits");
    profile.imsi = raw.imsi;
  }
  if (raw.options !== undefined) profile.options = validateOptions(raw.options);
  return profile;
}

/** Reads and validates a profile file. */
export function loadProfile(path: string): SimProfile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ProfileError(`cannot read profile ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ProfileError(`profile ${path} is not JSON: ${(error as Error).message}`);
  }
  try {
    return validateProfile(json);
  } catch (error) {
    if (error instanceof ProfileError) throw new ProfileError(`profile ${path}: ${error.message}`);
    throw error;
  }
}

/** Writes a profile atomically (temporary file, then rename), readable by the owner only: it holds private keys. */
export function saveProfile(path: string, profile: SimProfile): void {
  const checked = validateProfile(profile);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(checked, null, 2) + "\n", { mode: 0o600 });
  renameSync(temporary, path);
}

/** A profile with no objects, for tools that build one step by step. */
export function emptyProfile(description?: string): SimProfile {
  const profile: SimProfile = { format: PROFILE_FORMAT, objects: [] };
  if (description !== undefined) profile.description = description;
  return profile;
}

/**
 * The usual store (wolfSSL/Thales numbering, iotsafe.md §7.1, §7.3): 01 the client key pair (filled by
 * GENERATE KEY PAIR), 02 the client certificate, 03 the CA certificate, 04 a writable key-pair
 * container (ephemeral ECDH), 05 a writable public-key container (peer key). All empty.
 */
export function standardProfileSkeleton(description?: string): SimProfile {
  const profile = emptyProfile(description);
  profile.objects = [
    { kind: "private-key", id: "01", label: "client-key", access: { read: true, update: true }, usage: "general" },
    { kind: "file", id: "02", label: "client-certificate", usage: "certificate" },
    { kind: "file", id: "03", label: "ca-certificate", usage: "certificate" },
    { kind: "private-key", id: "04", label: "ecdh-key", access: { read: true, update: true }, functions: ["key-generation", "key-agreement"] },
    { kind: "public-key", id: "05", label: "peer-key", access: { read: true, update: true }, functions: ["signature", "key-agreement"] },
  ];
  return profile;
}
