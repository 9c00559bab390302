/**
 * Object references (ID or label, never both) and the information structures of GET DATA:
 * application info, one object's info (`C1`..`C4`, wrapped or bare) and the object list.
 * Everything is parsed by tag, never by position (iotsafe.md §3.2).
 */
import { bytesToUtf8, fromHex, toHex, utf8ToBytes } from "../bytes/bytes.js";
import { IotSafeArgumentError, TlvError } from "./errors.js";
import { findTlv, parseTlvs, type Tlv, tlvUint } from "./tlv.js";

export type ObjectKind = "privateKey" | "publicKey" | "file" | "secretKey";

/** An object named by its ID (a byte string of any length the applet accepts) or by its label. */
export type ObjectRef = { readonly id: Uint8Array; readonly label?: undefined } | { readonly label: Uint8Array; readonly id?: undefined };

/** Longest ID or label sent: one-byte TLV lengths below 0x80 read the same in simple and BER form. */
export const MAX_REFERENCE_LENGTH = 127;

/** A reference by ID, from bytes or hex ("01", "303031"). */
export function objectId(id: Uint8Array | string): ObjectRef {
  const bytes = typeof id === "string" ? fromHex(id) : id;
  if (bytes.length < 1 || bytes.length > MAX_REFERENCE_LENGTH) throw new IotSafeArgumentError(`object ID of ${bytes.length} bytes (1..${MAX_REFERENCE_LENGTH})`);
  return { id: bytes };
}

/** A reference by label (UTF-8 text or bytes). */
export function objectLabel(label: Uint8Array | string): ObjectRef {
  const bytes = typeof label === "string" ? utf8ToBytes(label) : label;
  if (bytes.length < 1 || bytes.length > MAX_REFERENCE_LENGTH) throw new IotSafeArgumentError(`object label of ${bytes.length} bytes (1..${MAX_REFERENCE_LENGTH})`);
  return { label: bytes };
}

interface KindTags {
  id: number;
  label: number;
  info: number;
  text: string;
}

export const KIND_TAGS: Readonly<Record<ObjectKind, KindTags>> = {
  privateKey: { id: 0x84, label: 0x74, info: 0xc1, text: "private key" },
  publicKey: { id: 0x85, label: 0x75, info: 0xc2, text: "public key" },
  file: { id: 0x83, label: 0x73, info: 0xc3, text: "file" },
  secretKey: { id: 0x86, label: 0x76, info: 0xc4, text: "secret key" },
};

function checkRef(ref: ObjectRef): Uint8Array {
  const hasId = ref.id !== undefined;
  const hasLabel = ref.label !== undefined;
  if (hasId === hasLabel) throw new IotSafeArgumentError("an object is named by its ID or by its label, exactly one of them");
  const bytes = (hasId ? ref.id : ref.label)!;
  if (bytes.length < 1 || bytes.length > MAX_REFERENCE_LENGTH) throw new IotSafeArgumentError(`object reference of ${bytes.length} bytes (1..${MAX_REFERENCE_LENGTH})`);
  return bytes;
}

/** The TLV naming `ref` as an object of `kind`: `84 <id>` / `74 <label>` for a private key, etc. */
export function encodeObjectRef(kind: ObjectKind, ref: ObjectRef): Uint8Array {
  const bytes = checkRef(ref);
  const tag = ref.id !== undefined ? KIND_TAGS[kind].id : KIND_TAGS[kind].label;
  const out = new Uint8Array(2 + bytes.length);
  out[0] = tag;
  out[1] = bytes.length;
  out.set(bytes, 2);
  return out;
}

/** "private key id 01", "file label \"cert\"" (for error messages and logs). */
export function describeObject(kind: ObjectKind, ref: ObjectRef): string {
  const kindText = KIND_TAGS[kind].text;
  if (ref.id !== undefined) return `${kindText} id ${toHex(ref.id).toUpperCase()}`;
  return `${kindText} label ${JSON.stringify(bytesToUtf8(ref.label!))}`;
}

// ---- application info (GET DATA P1 = 00) ----

export interface ApplicationInfo {
  simAllianceVersion?: number;
  proprietaryId?: Uint8Array;
  maxFiles?: number;
  maxPrivateKeys?: number;
  maxPublicKeys?: number;
  maxSecretKeys?: number;
  /** Bit mask: 01 signature, 02 key generation, 04 key agreement, 08 key derivation. */
  cryptoFunctions?: number;
  /** Bit mask: 0001 SHA-256, 0002 SHA-384, 0004 SHA-512 (one byte on some applets). */
  hashAlgorithms?: number;
  /** Bit mask: 01 RSA PKCS#1 v1.5, 02 RSA-PSS, 04 ECDSA. */
  signatureAlgorithms?: number;
  keyAgreementAlgorithms?: number;
  /** Bit mask: 01 TLS 1.2 PRF, 02 HKDF. */
  keyDerivationAlgorithms?: number;
  maxSessions?: number;
  /** Every TLV as received, including unknown ones. */
  tlvs: Tlv[];
}

export function parseApplicationInfo(data: Uint8Array): ApplicationInfo {
  const what = "application info";
  const tlvs = parseTlvs(data, what);
  const info: ApplicationInfo = { tlvs };
  const num = (tag: number) => {
    const t = findTlv(tlvs, tag);
    return t ? tlvUint(t, what) : undefined;
  };
  const set = <K extends keyof ApplicationInfo>(key: K, value: ApplicationInfo[K] | undefined) => {
    if (value !== undefined) info[key] = value;
  };
  set("simAllianceVersion", num(0x10));
  const proprietary = findTlv(tlvs, 0x11);
  if (proprietary) info.proprietaryId = proprietary.value.slice();
  set("maxFiles", num(0xb1));
  set("maxPrivateKeys", num(0xb2));
  set("maxPublicKeys", num(0xb3));
  set("maxSecretKeys", num(0xb4));
  set("cryptoFunctions", num(0x90));
  set("hashAlgorithms", num(0x91));
  set("signatureAlgorithms", num(0x92));
  set("keyAgreementAlgorithms", num(0x93));
  set("keyDerivationAlgorithms", num(0x94));
  set("maxSessions", num(0xb7));
  return info;
}

// ---- object information (C1..C4) ----

export interface ObjectInfo {
  kind: ObjectKind;
  id?: Uint8Array;
  label?: Uint8Array;
  /** Bits: 01 read, 02 update. */
  accessConditions?: number;
  /** 01 activated (filled), 00 deactivated. */
  state?: number;
  keyType?: number;
  keyUsage?: number;
  cryptoFunctions?: number;
  signatureAlgorithms?: number;
  hashAlgorithms?: number;
  keyAgreementAlgorithms?: number;
  keyDerivationAlgorithms?: number;
  /** 01 general, 02 X.509v3 certificate. */
  fileUsage?: number;
  fileSize?: number;
  tlvs: Tlv[];
}

const KIND_BY_INFO_TAG: { readonly [tag: number]: ObjectKind } = { 0xc1: "privateKey", 0xc2: "publicKey", 0xc3: "file", 0xc4: "secretKey" };

function objectFromTlvs(kind: ObjectKind, tlvs: Tlv[], what: string): ObjectInfo {
  const tags = KIND_TAGS[kind];
  const info: ObjectInfo = { kind, tlvs };
  const num = (tag: number) => {
    const t = findTlv(tlvs, tag);
    return t ? tlvUint(t, what) : undefined;
  };
  const id = findTlv(tlvs, tags.id);
  if (id) info.id = id.value.slice();
  const label = findTlv(tlvs, tags.label);
  if (label) info.label = label.value.slice();
  const fields: [keyof ObjectInfo, number][] = [
    ["accessConditions", 0x60],
    ["state", 0x4a],
    ["keyType", 0x4b],
    ["keyUsage", 0x4e],
    ["cryptoFunctions", 0x61],
    ["signatureAlgorithms", 0x92],
    ["hashAlgorithms", 0x91],
    ["keyAgreementAlgorithms", 0x6f],
    ["keyDerivationAlgorithms", 0x94],
    ["fileUsage", 0x21],
    ["fileSize", 0x20],
  ];
  for (const [key, tag] of fields) {
    const value = num(tag);
    if (value !== undefined) (info as unknown as Record<string, number>)[key] = value;
  }
  return info;
}

/**
 * Splits the TLVs of one `Cx` group into objects: some applets put several objects in one group,
 * so a new object starts at a label when the current one already has a label or an ID, and at
 * an ID when the current one already has an ID.
 */
function splitObjects(kind: ObjectKind, tlvs: Tlv[], what: string): ObjectInfo[] {
  const tags = KIND_TAGS[kind];
  const groups: Tlv[][] = [];
  let current: Tlv[] = [];
  let hasId = false;
  let hasLabel = false;
  for (const tlv of tlvs) {
    const startsNew = (tlv.tag === tags.label && (hasLabel || hasId)) || (tlv.tag === tags.id && hasId);
    if (startsNew) {
      groups.push(current);
      current = [];
      hasId = false;
      hasLabel = false;
    }
    if (tlv.tag === tags.id) hasId = true;
    if (tlv.tag === tags.label) hasLabel = true;
    current.push(tlv);
  }
  if (current.length > 0) groups.push(current);
  return groups.map((g) => objectFromTlvs(kind, g, what));
}

/** One object's info from GET DATA `C1`..`C4`: the answer may or may not be wrapped in the `Cx` tag. */
export function parseObjectInfo(kind: ObjectKind, data: Uint8Array): ObjectInfo {
  const what = `${KIND_TAGS[kind].text} info`;
  let tlvs = parseTlvs(data, what);
  if (tlvs.length === 1 && tlvs[0]!.tag === KIND_TAGS[kind].info) tlvs = parseTlvs(tlvs[0]!.value, what);
  if (tlvs.length === 0) throw new TlvError(`${what}: empty`);
  return objectFromTlvs(kind, tlvs, what);
}

/** The object list (GET DATA P1 = 01, all pages concatenated): `C1`/`C2`/`C3`/`C4` groups. */
export function parseObjectList(data: Uint8Array): ObjectInfo[] {
  const what = "object list";
  const out: ObjectInfo[] = [];
  for (const group of parseTlvs(data, what)) {
    const kind = KIND_BY_INFO_TAG[group.tag];
    if (!kind) throw new TlvError(`${what}: unexpected tag ${toHex(Uint8Array.of(group.tag)).toUpperCase()} where C1..C4 belong`);
    out.push(...splitObjects(kind, parseTlvs(group.value, what), what));
  }
  return out;
}

/** The reference to use for a listed object: its ID if it has one, else its label. */
export function refOf(info: ObjectInfo): ObjectRef {
  if (info.id && info.id.length > 0) return { id: info.id };
  if (info.label && info.label.length > 0) return { label: info.label };
  throw new IotSafeArgumentError(`listed ${KIND_TAGS[info.kind].text} has neither an ID nor a label`);
}
