/**
 * The virtual IoT SAFE SIM: a UICC with logical channels and the GSMA IoT SAFE applet
 * (iotsafe.md §1–§5), holding real P-256 keys. Its state comes from a profile (profile.ts) and
 * every change (generated keys, PUT public keys) is handed to `persist` so it survives restarts.
 *
 * It answers what clients in the field send, not only what our client sends (iotsafe.md §9):
 * SELECT on an unopened channel, CLA 0n and 8n, channels 4..19, P3 with no data, case-1 APDUs,
 * trailing Le, one- and two-byte signature lengths. Profile options reproduce T=0 behaviour
 * (61xx + GET RESPONSE, 6Cxx on a wrong Le) and applet variants, so clients can be tested against them.
 *
 * transmit() never throws: malformed input of any kind is answered with a status word.
 */
import { concatBytes, toHex, utf8ToBytes, asciiToBytes, bytesEqual, fromHex } from "../../../modules/bytes/bytes.js";
import { randomBytes } from "node:crypto";
import { type Card, type CommandApdu, isValidClass, logicalChannelOfClass, parseCommandApdu } from "./card.js";
import {
  type CardOptions,
  type CryptoFunction,
  type ProfileObject,
  type SimProfile,
  DEFAULT_CARD_OPTIONS,
  ProfileError,
  loadProfile,
  saveProfile,
  validateProfile,
} from "./profile.js";
import { TlvFormatError, TlvSet, parseCommandTlvs } from "./command-tlv.js";
import {
  type HashName,
  HASH_BY_CODE,
  HASH_LENGTH,
  ecdhX,
  generateP256,
  hash,
  hkdfExtract,
  isValidP256Point,
  isValidP256Scalar,
  p256PublicKey,
  pskPremaster,
  rawSignatureToDer,
  sha256Resume,
  signDigest,
  tls12Prf,
  verifyDigest,
} from "./card-crypto.js";

// ---- status words (iotsafe.md §4, ISO 7816-4) ----
export const SW = {
  OK: 0x9000,
  MORE_DATA: 0x6300,
  WRONG_LENGTH: 0x6700,
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  INCOMPATIBLE_WITH_FILE: 0x6981,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  INCORRECT_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  NOT_FOUND: 0x6a82,
  INSUFFICIENT_MEMORY: 0x6a84,
  INCORRECT_P1P2: 0x6a86,
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  INS_NOT_SUPPORTED: 0x6d00,
  SIGNATURE_MISMATCH: 0x6d01,
  CLASS_NOT_SUPPORTED: 0x6e00,
  UNKNOWN: 0x6f00,
} as const;

/** Thrown inside command handlers to answer with a status word. */
export class CardStatus extends Error {
  override name = "CardStatus";
  constructor(readonly sw: number, message?: string) {
    super(message ?? `SW ${sw.toString(16).toUpperCase().padStart(4, "0")}`);
  }
}

// ---- instruction codes (iotsafe.md §2) ----
export const INS = {
  GET_RANDOM: 0x84,
  GET_DATA: 0xcb,
  READ_FILE: 0xb0,
  SIGN_INIT: 0x2a,
  SIGN_UPDATE: 0x2b,
  VERIFY_INIT: 0x2c,
  VERIFY_UPDATE: 0x2d,
  GENERATE_KEY_PAIR: 0xb9,
  READ_PUBLIC_KEY: 0xcd,
  PUT_PUBLIC_KEY_INIT: 0x24,
  PUT_PUBLIC_KEY_UPDATE: 0xd8,
  COMPUTE_DH: 0x46,
  COMPUTE_PRF: 0x48,
  COMPUTE_HKDF: 0x4a,
  GET_RESPONSE: 0xc0,
  MANAGE_CHANNEL: 0x70,
  SELECT: 0xa4,
} as const;

/** ISO/UICC UNBLOCK PIN, which shares its code with VERIFY SIGNATURE INIT. */
const INS_UNBLOCK_PIN = 0x2c;

const IOTSAFE_INS = new Set<number>([
  INS.GET_RANDOM, INS.GET_DATA, INS.READ_FILE, INS.SIGN_INIT, INS.SIGN_UPDATE, INS.VERIFY_INIT, INS.VERIFY_UPDATE,
  INS.GENERATE_KEY_PAIR, INS.READ_PUBLIC_KEY, INS.PUT_PUBLIC_KEY_INIT, INS.PUT_PUBLIC_KEY_UPDATE, INS.COMPUTE_DH,
  INS.COMPUTE_PRF, INS.COMPUTE_HKDF,
]);

// ---- value encodings (iotsafe.md §3.3) ----
const FUNCTION_BITS: Record<CryptoFunction, number> = { signature: 0x01, "key-generation": 0x02, "key-agreement": 0x04, "key-derivation": 0x08 };
const KEY_TYPE_CODES = { p256: 0x13, "p256-volatile": 0x14, hmac: 0xa0 } as const;
const KEY_USAGE_CODES = { general: 0x01, "tls12-certificate-verify": 0x02, "tls13-certificate-verify": 0x03 } as const;
const FILE_USAGE_CODES = { general: 0x01, certificate: 0x02 } as const;
const DERIVATION_BITS = { "tls12-prf": 0x01, hkdf: 0x02 } as const;
const SUPPORTED_HASHES = 0x0007; // SHA-256, SHA-384, SHA-512
const SIGNATURE_ECDSA = 0x04;
const KEY_AGREEMENT_ECKA = 0x01;

/** Bound on data accumulated over UPDATE commands (mode 01 full text, mode 02 last block, PUT PUBLIC KEY). */
const MAX_ACCUMULATED = 65536;
const MAX_PUT_DATA = 1024;

/** Ways a command names an object: [ID tag, label tag] per kind (iotsafe.md §3.1). */
const REFERENCE_TAGS = {
  file: [0x83, 0x73],
  "private-key": [0x84, 0x74],
  "public-key": [0x85, 0x75],
  secret: [0x86, 0x76],
} as const;

type Kind = keyof typeof REFERENCE_TAGS;

interface StoredObject {
  def: ProfileObject;
  kind: Kind;
  id: Uint8Array;
  label: Uint8Array | undefined;
  /** Private keys: the ID reported in tag 85 (public part). */
  publicId: Uint8Array;
  contents: Uint8Array | undefined;
  read: boolean;
  update: boolean;
  functions: number;
}

type SignMode = 1 | 2 | 3;

interface DigestSession {
  family: "sign" | "verify";
  mode: SignMode;
  hash: HashName;
  key: Uint8Array; // private scalar for sign, public point for verify
  chunks: Uint8Array[];
  accumulated: number;
  digest: Uint8Array | undefined;
  intermediate: Uint8Array | undefined;
  hashedCount: number | undefined;
}

interface PutSession {
  family: "put";
  target: StoredObject;
  chunks: Uint8Array[];
  accumulated: number;
}

type Session = DigestSession | PutSession;

interface Pending {
  data: Uint8Array;
  offset: number;
  sw: number;
}

interface ChannelState {
  selectedAid: string | undefined;
  sessions: Map<string, Session>;
  pending: Pending | undefined;
  objectList: { pages: Uint8Array[]; next: number } | undefined;
}

interface CommandResult {
  data?: Uint8Array;
  sw?: number;
  /** State changes that happen only if the answer is actually delivered (not replaced by 6Cxx). */
  commit?: () => void;
}

export interface IotSafeCardOptions {
  /** Called with the whole updated profile after every change to the store. */
  persist?: (profile: SimProfile) => void;
  /** Observes every exchange (for logs and counters). */
  onExchange?: (command: Uint8Array, response: Uint8Array) => void;
  /** Overrides of the profile's card options (tests). */
  overrides?: Partial<CardOptions>;
}

const EMPTY = new Uint8Array(0);

function sw(code: number): Uint8Array {
  return Uint8Array.of(code >> 8, code & 0xff);
}

function tlv(tag: number, value: Uint8Array): Uint8Array {
  if (value.length > 255) throw new CardStatus(SW.UNKNOWN, `TLV ${tag.toString(16)} too long`);
  return concatBytes(Uint8Array.of(tag, value.length), value);
}

function fail(code: number, message?: string): never {
  throw new CardStatus(code, message);
}

/** `34 45 49 43 86 41 04 X Y` (iotsafe.md §2, READ PUBLIC KEY). */
export function encodePublicKeyTlv(point: Uint8Array): Uint8Array {
  return tlv(0x34, tlv(0x49, tlv(0x86, point)));
}

export class IotSafeCard implements Card {
  readonly iccid: string | undefined;
  readonly imsi: string | undefined;
  readonly options: Readonly<CardOptions>;
  readonly #profile: SimProfile;
  readonly #objects: StoredObject[];
  readonly #persist: ((profile: SimProfile) => void) | undefined;
  readonly #onExchange: ((command: Uint8Array, response: Uint8Array) => void) | undefined;
  readonly #aids: Set<string>;
  #channels = new Map<number, ChannelState>();

  constructor(profile: SimProfile, options: IotSafeCardOptions = {}) {
    // Validate (and copy) so that the card never works on malformed or shared data.
    this.#profile = validateProfile(JSON.parse(JSON.stringify(profile)));
    this.options = Object.freeze({ ...DEFAULT_CARD_OPTIONS, ...this.#profile.options, ...options.overrides });
    this.#aids = new Set(this.options.aids.map((a) => a.toLowerCase()));
    this.#objects = this.#profile.objects.map((def) => storedObject(def));
    this.#persist = options.persist;
    this.#onExchange = options.onExchange;
    this.iccid = this.#profile.iccid;
    this.imsi = this.#profile.imsi;
    this.reset();
  }

  /** A copy of the current profile (what `persist` receives). */
  get profile(): SimProfile {
    return JSON.parse(JSON.stringify(this.#profile)) as SimProfile;
  }

  /** Open logical channels other than the basic one, ascending. */
  get openChannels(): number[] {
    return [...this.#channels.keys()].filter((c) => c !== 0).sort((a, b) => a - b);
  }

  /** Cold reset: only the basic channel stays, nothing selected, no sessions, no pending answers. */
  reset(): void {
    this.#channels = new Map([[0, newChannel()]]);
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    let response: Uint8Array;
    try {
      response = this.#process(apdu);
    } catch (error) {
      response = sw(error instanceof CardStatus ? error.sw : error instanceof TlvFormatError ? SW.INCORRECT_DATA : SW.UNKNOWN);
    }
    this.#onExchange?.(apdu, response);
    return response;
  }

  // ---- dispatch ----

  #process(bytes: Uint8Array): Uint8Array {
    let command: CommandApdu;
    try {
      command = parseCommandApdu(bytes);
    } catch {
      return sw(SW.WRONG_LENGTH);
    }
    // All IoT SAFE APDUs are short (iotsafe.md §2).
    if (command.extended) return sw(SW.WRONG_LENGTH);
    const cla = command.cla;
    if (!isValidClass(cla)) return sw(SW.CLASS_NOT_SUPPORTED);
    // No secure messaging and no command chaining (iotsafe.md §6.3).
    const unsupportedBits = (cla & 0x40) === 0 ? 0x3c : 0x30;
    if (cla & unsupportedBits) return sw(SW.CLASS_NOT_SUPPORTED);
    const proprietary = (cla & 0x80) !== 0;
    const channelNumber = logicalChannelOfClass(cla);
    let channel = this.#channels.get(channelNumber);
    if (!channel) {
      // wolfSSL SELECTs on channel 1 without MANAGE CHANNEL (iotsafe.md §1.3); some UICCs allow it.
      const implicit = command.ins === INS.SELECT && !proprietary && this.options.implicitChannelOpen && channelNumber <= this.options.maxChannels;
      if (!implicit) return sw(SW.LOGICAL_CHANNEL_NOT_SUPPORTED);
      channel = newChannel();
      this.#channels.set(channelNumber, channel);
    }
    if (command.ins === INS.GET_RESPONSE) return this.#getResponse(channel, command);
    channel.pending = undefined;

    if (command.ins === INS.MANAGE_CHANNEL || command.ins === INS.SELECT) {
      // Interindustry commands: every client sends them with CLA 0n (iotsafe.md §1.4).
      if (proprietary) return sw(SW.CLASS_NOT_SUPPORTED);
      if (command.ins === INS.MANAGE_CHANNEL) return this.#manageChannel(channelNumber, command);
      return this.#deliver(channel, command, this.#select(channel, command));
    }
    if (channel.selectedAid === undefined && command.ins === INS_UNBLOCK_PIN && !proprietary) return this.#unblockPin(command);
    if (!IOTSAFE_INS.has(command.ins)) return sw(SW.INS_NOT_SUPPORTED);
    const classMode = this.options.commandClass;
    if ((classMode === "proprietary" && !proprietary) || (classMode === "interindustry" && proprietary)) return sw(SW.CLASS_NOT_SUPPORTED);
    // Without the applet selected on this channel, its instructions are unknown (iotsafe.md §9.1).
    if (channel.selectedAid === undefined) return sw(SW.INS_NOT_SUPPORTED);
    if (command.ins !== INS.GET_DATA) channel.objectList = undefined;
    return this.#deliver(channel, command, this.#applet(channel, command));
  }

  #applet(channel: ChannelState, c: CommandApdu): CommandResult {
    switch (c.ins) {
      case INS.GET_RANDOM: return this.#getRandom(c);
      case INS.GET_DATA: return this.#getData(channel, c);
      case INS.READ_FILE: return this.#readFile(c);
      case INS.SIGN_INIT: return this.#digestInit(channel, c, "sign");
      case INS.SIGN_UPDATE: return this.#digestUpdate(channel, c, "sign");
      case INS.VERIFY_INIT: return this.#digestInit(channel, c, "verify");
      case INS.VERIFY_UPDATE: return this.#digestUpdate(channel, c, "verify");
      case INS.GENERATE_KEY_PAIR: return this.#generateKeyPair(c);
      case INS.READ_PUBLIC_KEY: return this.#readPublicKey(c);
      case INS.PUT_PUBLIC_KEY_INIT: return this.#putInit(channel, c);
      case INS.PUT_PUBLIC_KEY_UPDATE: return this.#putUpdate(channel, c);
      case INS.COMPUTE_DH: return this.#computeDh(c);
      case INS.COMPUTE_PRF: return this.#computePrf(c);
      case INS.COMPUTE_HKDF: return this.#computeHkdf(c);
      default: return fail(SW.INS_NOT_SUPPORTED);
    }
  }

  /**
   * Turns a handler's result into the response APDU, applying T=0 rules:
   * - case 2 (no data, Le): an Le shorter than the answer gets 6Cxx; with wrongLe "6C" any other Le does too;
   * - responseDelivery "get-response": data is held and announced with 61xx, unless a case-2 Le asked for exactly it;
   * - case 4 Le is not passed on by T=0, so it does not matter here (READ FILE uses it as its chunk size).
   */
  #deliver(channel: ChannelState, c: CommandApdu, result: CommandResult): Uint8Array {
    const data = result.data ?? EMPTY;
    const status = result.sw ?? SW.OK;
    if (data.length > 256) return sw(SW.UNKNOWN);
    if (data.length === 0) {
      result.commit?.();
      return sw(status);
    }
    const caseTwo = c.data.length === 0 && c.le !== undefined;
    if (caseTwo && c.le !== data.length && (c.le! < data.length || this.options.wrongLe === "6C")) {
      return sw(0x6c00 | (data.length & 0xff));
    }
    result.commit?.();
    if (this.options.responseDelivery === "get-response" && !(caseTwo && c.le === data.length)) {
      channel.pending = { data, offset: 0, sw: status };
      return sw(0x6100 | (data.length & 0xff));
    }
    return concatBytes(data, sw(status));
  }

  #getResponse(channel: ChannelState, c: CommandApdu): Uint8Array {
    if (c.p1 !== 0 || c.p2 !== 0) return sw(SW.INCORRECT_P1P2);
    const pending = channel.pending;
    if (!pending) return sw(SW.CONDITIONS_NOT_SATISFIED);
    const remaining = pending.data.length - pending.offset;
    const want = c.le ?? 256;
    if (want > remaining && want !== 256) return sw(0x6c00 | (remaining & 0xff));
    const take = Math.min(want, remaining);
    const chunk = pending.data.subarray(pending.offset, pending.offset + take);
    pending.offset += take;
    const left = pending.data.length - pending.offset;
    if (left > 0) return concatBytes(chunk, sw(0x6100 | (left & 0xff)));
    channel.pending = undefined;
    return concatBytes(chunk, sw(pending.sw));
  }

  // ---- ISO commands ----

  #manageChannel(current: number, c: CommandApdu): Uint8Array {
    if (c.data.length !== 0) return sw(SW.WRONG_LENGTH);
    if (c.p1 === 0x00) {
      const okStatus = this.options.proactiveOnOpen ? 0x9110 : SW.OK;
      if (c.p2 === 0x00) {
        const free = this.#lowestFreeChannel();
        if (free === undefined) return sw(SW.FUNCTION_NOT_SUPPORTED);
        this.#channels.set(free, newChannel());
        // Answered directly whatever the Le: the ZARIOT SIM gives 019000 to Le 00 (iotsafe.md §1.3).
        return concatBytes(Uint8Array.of(free), sw(okStatus));
      }
      if (c.p2 > this.options.maxChannels) return sw(SW.INCORRECT_P1P2);
      if (this.#channels.has(c.p2)) return sw(SW.FUNCTION_NOT_SUPPORTED);
      this.#channels.set(c.p2, newChannel());
      return sw(okStatus);
    }
    if (c.p1 === 0x80) {
      const target = c.p2 === 0 ? current : c.p2;
      if (target === 0 || target > 19) return sw(SW.INCORRECT_P1P2);
      if (!this.#channels.has(target)) return sw(SW.REFERENCED_DATA_NOT_FOUND);
      this.#channels.delete(target);
      return sw(SW.OK);
    }
    return sw(SW.INCORRECT_P1P2);
  }

  #select(channel: ChannelState, c: CommandApdu): CommandResult {
    // Selection by file ID or path: this UICC has no file system, so no file is ever found.
    if ([0x00, 0x01, 0x02, 0x03, 0x08, 0x09].includes(c.p1)) fail(SW.NOT_FOUND);
    if (c.p1 !== 0x04 || (c.p2 & 0xf3) !== 0) fail(SW.INCORRECT_P1P2);
    if (c.data.length === 0 || c.data.length > 16) fail(SW.WRONG_LENGTH);
    const aid = toHex(c.data);
    if (!this.#aids.has(aid)) fail(SW.NOT_FOUND);
    channel.selectedAid = aid;
    channel.sessions.clear();
    channel.objectList = undefined;
    // FCI only when asked for (Le) or configured; real SIMs answer a plain 9000 here (iotsafe.md §5.1, ZARIOT).
    const wantsFci = c.p2 !== 0x0c && (c.le !== undefined || this.options.selectFci);
    return wantsFci ? { data: tlv(0x6f, tlv(0x84, c.data)) } : {};
  }

  /**
   * Without the applet, INS 2C reaches the UICC itself, where it is UNBLOCK PIN (TS 102 221 §11.1.13):
   * that is why the 1NCE trace (iotsafe.md §10) shows 6A86 / 6700 for VERIFY INIT rather than 6D00.
   * This UICC has no PIN to unblock.
   */
  #unblockPin(c: CommandApdu): Uint8Array {
    if (c.p1 !== 0x00) return sw(SW.INCORRECT_P1P2);
    if (c.data.length !== 0 && c.data.length !== 16) return sw(SW.WRONG_LENGTH);
    return sw(SW.REFERENCED_DATA_NOT_FOUND);
  }

  #lowestFreeChannel(): number | undefined {
    for (let n = 1; n <= this.options.maxChannels; n++) if (!this.#channels.has(n)) return n;
    return undefined;
  }

  // ---- object references ----

  #find(kind: Kind, tlvs: TlvSet, required = true): StoredObject | undefined {
    const [idTag, labelTag] = REFERENCE_TAGS[kind];
    const id = tlvs.get(idTag);
    const label = tlvs.get(labelTag);
    // By ID or by label, never both (iotsafe.md §1.1).
    if (id && label) fail(SW.INCORRECT_DATA, "object named by both ID and label");
    if (!id && !label) return required ? fail(SW.INCORRECT_DATA, "no object reference") : undefined;
    const found = this.#objects.find((o) => o.kind === kind && (id ? bytesEqual(o.id, id) : o.label !== undefined && bytesEqual(o.label, label!)));
    return found ?? fail(SW.NOT_FOUND);
  }

  /**
   * A public key named by tag 85/75: a public-key container, else the public part of a key pair
   * whose public ID (or label) matches; or by tag 84/74: a key pair's public part.
   */
  #findPublicPoint(tlvs: TlvSet, allowPrivateReference = true): { point: Uint8Array | undefined; container: StoredObject } {
    if (allowPrivateReference && (tlvs.has(0x84) || tlvs.has(0x74))) {
      if (tlvs.has(0x85) || tlvs.has(0x75)) fail(SW.INCORRECT_DATA);
      const pair = this.#find("private-key", tlvs)!;
      return { point: pair.contents && p256PublicKey(pair.contents), container: pair };
    }
    const id = tlvs.get(0x85);
    const label = tlvs.get(0x75);
    if (id && label) fail(SW.INCORRECT_DATA);
    if (!id && !label) fail(SW.INCORRECT_DATA);
    const matches = (o: StoredObject, byPublicId: boolean) =>
      id ? bytesEqual(byPublicId ? o.publicId : o.id, id) : o.label !== undefined && bytesEqual(o.label, label!);
    const container = this.#objects.find((o) => o.kind === "public-key" && matches(o, false));
    if (container) return { point: container.contents, container };
    const pair = this.#objects.find((o) => o.kind === "private-key" && matches(o, true));
    if (pair) return { point: pair.contents && p256PublicKey(pair.contents), container: pair };
    return fail(SW.NOT_FOUND);
  }

  #save(): void {
    this.#profile.objects = this.#objects.map((o) => o.def);
    if (!this.#persist) return;
    try {
      this.#persist(this.profile);
    } catch (error) {
      throw new CardStatus(SW.UNKNOWN, `persisting the profile failed: ${(error as Error).message}`);
    }
  }

  #setContents(object: StoredObject, contents: Uint8Array): void {
    object.contents = contents;
    object.def.contents = toHex(contents);
  }

  // ---- IoT SAFE commands ----

  #getRandom(c: CommandApdu): CommandResult {
    if (c.p1 !== 0 || c.p2 !== 0) fail(SW.INCORRECT_P1P2);
    if (c.data.length !== 0 || c.le === undefined) fail(SW.WRONG_LENGTH);
    return { data: new Uint8Array(randomBytes(c.le)) };
  }

  #getData(channel: ChannelState, c: CommandApdu): CommandResult {
    if (c.p1 === 0x00) {
      if (c.p2 !== 0) fail(SW.INCORRECT_P1P2);
      channel.objectList = undefined;
      return { data: this.#applicationInfo() };
    }
    if (c.p1 === 0x01) return this.#objectList(channel, c);
    channel.objectList = undefined;
    const kinds: Record<number, Kind> = { 0xc1: "private-key", 0xc2: "public-key", 0xc3: "file", 0xc4: "secret" };
    const kind = kinds[c.p1];
    if (!kind || c.p2 !== 0) fail(SW.INCORRECT_P1P2);
    const object = this.#find(kind, TlvSet.parse(c.data))!;
    const body = this.#objectInfo(object);
    return { data: this.options.objectInfo === "wrapped" ? tlv(c.p1, body) : body };
  }

  /** 68 bytes: 10, 11, B1..B4, 90, 91, 92, 93, 94, B7 (iotsafe.md §3.2). */
  #applicationInfo(): Uint8Array {
    const count = (kind: Kind) => Math.min(255, this.#objects.filter((o) => o.kind === kind).length);
    const identifier = new Uint8Array(32);
    identifier.set(asciiToBytes(this.options.appletIdentifier));
    return concatBytes(
      tlv(0x10, Uint8Array.of(0x01)),
      tlv(0x11, identifier),
      tlv(0xb1, Uint8Array.of(count("file"))),
      tlv(0xb2, Uint8Array.of(count("private-key"))),
      tlv(0xb3, Uint8Array.of(count("public-key"))),
      tlv(0xb4, Uint8Array.of(count("secret"))),
      tlv(0x90, Uint8Array.of(0x0f)),
      tlv(0x91, Uint8Array.of(SUPPORTED_HASHES >> 8, SUPPORTED_HASHES & 0xff)),
      tlv(0x92, Uint8Array.of(SIGNATURE_ECDSA)),
      tlv(0x93, Uint8Array.of(KEY_AGREEMENT_ECKA)),
      tlv(0x94, Uint8Array.of(DERIVATION_BITS["tls12-prf"] | DERIVATION_BITS.hkdf)),
      tlv(0xb7, Uint8Array.of(this.options.maxSessions)),
    );
  }

  #objectInfo(o: StoredObject): Uint8Array {
    const [idTag, labelTag] = REFERENCE_TAGS[o.kind];
    const parts: Uint8Array[] = [];
    if (o.label) parts.push(tlv(labelTag, o.label));
    parts.push(tlv(idTag, o.id));
    parts.push(tlv(0x60, Uint8Array.of((o.read ? 0x01 : 0) | (o.update ? 0x02 : 0))));
    parts.push(tlv(0x4a, Uint8Array.of(o.contents ? 0x01 : 0x00)));
    if (o.kind === "file") {
      const size = o.contents?.length ?? 0;
      parts.push(tlv(0x21, Uint8Array.of(FILE_USAGE_CODES[(o.def.usage as keyof typeof FILE_USAGE_CODES | undefined) ?? "general"])));
      parts.push(tlv(0x20, Uint8Array.of(size >> 8, size & 0xff)));
    } else if (o.kind === "secret") {
      parts.push(tlv(0x4b, Uint8Array.of(KEY_TYPE_CODES.hmac)));
      parts.push(tlv(0x61, Uint8Array.of(o.functions)));
      parts.push(tlv(0x94, Uint8Array.of(derivationBits(o.def))));
    } else {
      parts.push(tlv(0x4b, Uint8Array.of(KEY_TYPE_CODES[(o.def.keyType as "p256" | "p256-volatile" | undefined) ?? "p256"])));
      parts.push(tlv(0x4e, Uint8Array.of(KEY_USAGE_CODES[(o.def.usage as keyof typeof KEY_USAGE_CODES | undefined) ?? "general"])));
      parts.push(tlv(0x61, Uint8Array.of(o.functions)));
      parts.push(tlv(0x92, Uint8Array.of(SIGNATURE_ECDSA)));
      parts.push(tlv(0x91, Uint8Array.of(SUPPORTED_HASHES >> 8, SUPPORTED_HASHES & 0xff)));
      if (o.functions & FUNCTION_BITS["key-agreement"]) parts.push(tlv(0x6f, Uint8Array.of(KEY_AGREEMENT_ECKA)));
    }
    return concatBytes(...parts);
  }

  /** P2 00: from the start; P2 01: the next part. 6300 while more parts follow (iotsafe.md §2). */
  #objectList(channel: ChannelState, c: CommandApdu): CommandResult {
    let pages: Uint8Array[];
    let index: number;
    if (c.p2 === 0x00) {
      pages = this.#objectListPages();
      index = 0;
    } else if (c.p2 === 0x01) {
      if (!channel.objectList) fail(SW.CONDITIONS_NOT_SATISFIED, "no object list in progress");
      pages = channel.objectList.pages;
      index = channel.objectList.next;
    } else {
      return fail(SW.INCORRECT_P1P2);
    }
    const page = pages[index] ?? EMPTY;
    const more = index + 1 < pages.length;
    return {
      data: page,
      sw: more ? SW.MORE_DATA : SW.OK,
      commit: () => {
        channel.objectList = more ? { pages, next: index + 1 } : undefined;
      },
    };
  }

  /** One Cx TLV per object (private keys, public keys, secrets, files), packed whole into pages. */
  #objectListPages(): Uint8Array[] {
    const order: [Kind, number][] = [["private-key", 0xc1], ["public-key", 0xc2], ["secret", 0xc4], ["file", 0xc3]];
    const entries: Uint8Array[] = [];
    for (const [kind, tag] of order) for (const o of this.#objects) if (o.kind === kind) entries.push(tlv(tag, this.#objectInfo(o)));
    const pages: Uint8Array[] = [];
    let current: Uint8Array[] = [];
    let size = 0;
    for (const entry of entries) {
      if (size + entry.length > this.options.objectListPage && current.length > 0) {
        pages.push(concatBytes(...current));
        current = [];
        size = 0;
      }
      current.push(entry);
      size += entry.length;
    }
    if (current.length > 0) pages.push(concatBytes(...current));
    return pages;
  }

  #readFile(c: CommandApdu): CommandResult {
    const file = this.#find("file", TlvSet.parse(c.data))!;
    if (!file.read) fail(SW.CONDITIONS_NOT_SATISFIED, "file is not readable");
    const contents = file.contents ?? EMPTY;
    const offset = (c.p1 << 8) | c.p2;
    if (offset > contents.length) fail(SW.INCORRECT_P1P2, "offset beyond the end of the file");
    // At most readFileChunk (240) per answer, fewer if Le asks for fewer (Orange reads 50 at a time).
    const limit = Math.min(this.options.readFileChunk, c.le ?? 256);
    return { data: contents.subarray(offset, Math.min(contents.length, offset + limit)) };
  }

  #sessionNumber(c: CommandApdu): number {
    if (c.p2 >= this.options.maxSessions) fail(SW.INCORRECT_P1P2, `session ${c.p2} outside 0..${this.options.maxSessions - 1}`);
    return c.p2;
  }

  #openSession(channel: ChannelState, key: string, session: Session): void {
    if (channel.sessions.has(key) && this.options.reopenSession === "reject") fail(SW.CONDITIONS_NOT_SATISFIED, "session already open");
    channel.sessions.set(key, session);
  }

  #closeSession(channel: ChannelState, key: string): CommandResult {
    // Closing a session that is not open: 6A86, as seen on a real SIM (iotsafe.md §4).
    if (!channel.sessions.delete(key)) fail(SW.INCORRECT_P1P2, "session not open");
    return {};
  }

  /** COMPUTE / VERIFY SIGNATURE INIT: P1 00 opens session P2, P1 01 closes it. */
  #digestInit(channel: ChannelState, c: CommandApdu, family: "sign" | "verify"): CommandResult {
    const sid = this.#sessionNumber(c);
    const key = `${family}/${sid}`;
    if (c.p1 === 0x01) return this.#closeSession(channel, key);
    if (c.p1 !== 0x00) fail(SW.INCORRECT_P1P2);
    const tlvs = TlvSet.parse(c.data);
    let keyBytes: Uint8Array;
    if (family === "sign") {
      const object = this.#find("private-key", tlvs)!;
      if (!object.contents) fail(SW.CONDITIONS_NOT_SATISFIED, "private key container is empty");
      if (!(object.functions & FUNCTION_BITS.signature)) fail(SW.CONDITIONS_NOT_SATISFIED, "key not usable for signatures");
      keyBytes = object.contents;
    } else {
      const { point, container } = this.#findPublicPoint(tlvs);
      if (!point) fail(SW.CONDITIONS_NOT_SATISFIED, "public key container is empty");
      if (!(container.functions & FUNCTION_BITS.signature)) fail(SW.CONDITIONS_NOT_SATISFIED, "key not usable for signatures");
      keyBytes = point;
    }
    const modeValue = tlvs.get(0xa1);
    if (!modeValue || modeValue.length !== 1 || modeValue[0]! < 1 || modeValue[0]! > 3) fail(SW.INCORRECT_DATA, "bad mode of operation (A1)");
    const mode = modeValue[0] as SignMode;
    const hashName = parseHashTlv(tlvs.get(0x91));
    const algorithm = tlvs.get(0x92);
    if (algorithm && (algorithm.length !== 1 || algorithm[0] !== SIGNATURE_ECDSA)) fail(SW.INCORRECT_DATA, "only ECDSA (92 01 04) is supported");
    if (mode === 2 && hashName !== "sha256") fail(SW.INCORRECT_DATA, "mode 02 is implemented for SHA-256 only");
    this.#openSession(channel, key, {
      family, mode, hash: hashName, key: keyBytes, chunks: [], accumulated: 0, digest: undefined, intermediate: undefined, hashedCount: undefined,
    });
    return {};
  }

  /** COMPUTE / VERIFY SIGNATURE UPDATE: P1 00 more data, 80 last block. */
  #digestUpdate(channel: ChannelState, c: CommandApdu, family: "sign" | "verify"): CommandResult {
    if (c.p1 !== 0x00 && c.p1 !== 0x80) fail(SW.INCORRECT_P1P2);
    const sid = this.#sessionNumber(c);
    const session = channel.sessions.get(`${family}/${sid}`) as DigestSession | undefined;
    if (!session) fail(SW.CONDITIONS_NOT_SATISFIED, "no open session");
    const last = c.p1 === 0x80;
    const tlvs = TlvSet.parse(c.data);
    // The data tag must match the mode chosen at INIT (iotsafe.md §9.20).
    const tagsOfOtherModes: Record<SignMode, number[]> = { 1: [0x9a, 0x9c, 0x9d, 0x9e], 2: [0x9b, 0x9e], 3: [0x9a, 0x9b, 0x9c, 0x9d] };
    if (tagsOfOtherModes[session.mode].some((t) => tlvs.has(t))) fail(SW.CONDITIONS_NOT_SATISFIED, "data tag does not match the mode");
    const signature = tlvs.get(0x33);
    if (signature && (family === "sign" || !last)) fail(SW.INCORRECT_DATA, "unexpected signature tag");

    // Stage the changes; the session is updated only when the answer is delivered.
    const chunks = [...session.chunks];
    let accumulated = session.accumulated;
    let { digest, intermediate, hashedCount } = session;
    const append = (tag: number) => {
      const part = tlvs.get(tag);
      if (!part) return;
      accumulated += part.length;
      if (accumulated > MAX_ACCUMULATED) fail(SW.INSUFFICIENT_MEMORY, "too much data for one signature");
      chunks.push(part);
    };
    if (session.mode === 1) {
      if (!tlvs.has(0x9b) && !last) fail(SW.INCORRECT_DATA, "mode 01 needs tag 9B");
      append(0x9b);
    } else if (session.mode === 2) {
      append(0x9a);
      const ih = tlvs.get(0x9c);
      if (ih) {
        if (ih.length !== HASH_LENGTH[session.hash]) fail(SW.INCORRECT_DATA, "intermediate hash (9C) has the wrong length");
        intermediate = ih;
      }
      const count = tlvs.get(0x9d);
      if (count) {
        if (count.length !== 4) fail(SW.INCORRECT_DATA, "9D must be 4 bytes");
        const n = ((count[0]! << 24) >>> 0) + (count[1]! << 16) + (count[2]! << 8) + count[3]!;
        if (n % 64 !== 0) fail(SW.INCORRECT_DATA, "bytes already hashed (9D) is not a whole number of blocks");
        hashedCount = n;
      }
    } else {
      const given = tlvs.get(0x9e);
      if (given) {
        if (given.length !== HASH_LENGTH[session.hash]) fail(SW.INCORRECT_DATA, `digest (9E) must be ${HASH_LENGTH[session.hash]} bytes`);
        digest = given;
      }
    }
    const commitPartial = () => {
      session.chunks = chunks;
      session.accumulated = accumulated;
      session.digest = digest;
      session.intermediate = intermediate;
      session.hashedCount = hashedCount;
    };
    if (!last) return { commit: commitPartial };

    // Last block: compute the digest the mode describes, then sign or verify.
    let finalDigest: Uint8Array;
    if (session.mode === 1) finalDigest = hash(session.hash, ...chunks);
    else if (session.mode === 2) {
      if (!intermediate || hashedCount === undefined) fail(SW.INCORRECT_DATA, "mode 02 needs 9C and 9D");
      finalDigest = sha256Resume(intermediate, hashedCount, concatBytes(...chunks));
    } else {
      if (!digest) fail(SW.INCORRECT_DATA, "mode 03 needs the digest (9E)");
      finalDigest = digest;
    }
    const reset = () => {
      session.chunks = [];
      session.accumulated = 0;
      session.digest = undefined;
      session.intermediate = undefined;
      session.hashedCount = undefined;
    };
    if (family === "sign") {
      const raw = signDigest(session.key, finalDigest);
      const value = this.options.signatureFormat === "der" ? rawSignatureToDer(raw) : raw;
      const header = this.options.signatureLength === "two-byte" ? Uint8Array.of(0x33, 0x00, value.length) : Uint8Array.of(0x33, value.length);
      return { data: concatBytes(header, value), commit: reset };
    }
    if (!signature) fail(SW.INCORRECT_DATA, "VERIFY UPDATE needs the signature (33)");
    if (signature.length !== 64 && signature[0] !== 0x30) fail(SW.INCORRECT_DATA, "signature is neither raw r‖s nor DER");
    reset();
    return { sw: verifyDigest(session.key, finalDigest, signature) ? SW.OK : SW.SIGNATURE_MISMATCH };
  }

  #generateKeyPair(c: CommandApdu): CommandResult {
    if (c.p1 !== 0 || c.p2 !== 0) fail(SW.INCORRECT_P1P2);
    const object = this.#find("private-key", TlvSet.parse(c.data))!;
    if (!object.update) fail(SW.CONDITIONS_NOT_SATISFIED, "private key container is not writable");
    if (!(object.functions & FUNCTION_BITS["key-generation"])) fail(SW.CONDITIONS_NOT_SATISFIED, "container does not allow key generation");
    const { privateKey, publicKey } = generateP256();
    const data = concatBytes(tlv(0x84, object.id), tlv(0x85, object.publicId), encodePublicKeyTlv(publicKey));
    return {
      data,
      commit: () => {
        this.#setContents(object, privateKey);
        // A separate public-key container for this pair, if the profile has one, follows the pair.
        const publicContainer = this.#objects.find((o) => o.kind === "public-key" && bytesEqual(o.id, object.publicId));
        if (publicContainer) this.#setContents(publicContainer, publicKey);
        this.#save();
      },
    };
  }

  #readPublicKey(c: CommandApdu): CommandResult {
    if (c.p1 !== 0 || c.p2 !== 0) fail(SW.INCORRECT_P1P2);
    const { point, container } = this.#findPublicPoint(TlvSet.parse(c.data));
    if (container.kind === "public-key" && !container.read) fail(SW.CONDITIONS_NOT_SATISFIED, "public key is not readable");
    if (!point) fail(SW.CONDITIONS_NOT_SATISFIED, "key container is empty");
    return { data: encodePublicKeyTlv(point) };
  }

  #putInit(channel: ChannelState, c: CommandApdu): CommandResult {
    const sid = this.#sessionNumber(c);
    const key = `put/${sid}`;
    if (c.p1 === 0x01) return this.#closeSession(channel, key);
    if (c.p1 !== 0x00) fail(SW.INCORRECT_P1P2);
    const target = this.#find("public-key", TlvSet.parse(c.data))!;
    if (!target.update) fail(SW.CONDITIONS_NOT_SATISFIED, "public key container is not writable");
    this.#openSession(channel, key, { family: "put", target, chunks: [], accumulated: 0 });
    return {};
  }

  #putUpdate(channel: ChannelState, c: CommandApdu): CommandResult {
    if (c.p1 !== 0x00 && c.p1 !== 0x80) fail(SW.INCORRECT_P1P2);
    const sid = this.#sessionNumber(c);
    const session = channel.sessions.get(`put/${sid}`) as PutSession | undefined;
    if (!session) fail(SW.CONDITIONS_NOT_SATISFIED, "no open PUT PUBLIC KEY session");
    if (session.accumulated + c.data.length > MAX_PUT_DATA) fail(SW.INSUFFICIENT_MEMORY);
    session.chunks.push(c.data);
    session.accumulated += c.data.length;
    if (c.p1 === 0x00) return {};
    const data = concatBytes(...session.chunks);
    session.chunks = [];
    session.accumulated = 0;
    const point = parsePublicKeyData(data);
    if (!isValidP256Point(point)) fail(SW.INCORRECT_DATA, "not a P-256 point");
    this.#setContents(session.target, point);
    this.#save();
    return {};
  }

  #computeDh(c: CommandApdu): CommandResult {
    if (c.p1 !== 0 || c.p2 !== 0) fail(SW.INCORRECT_P1P2);
    const tlvs = TlvSet.parse(c.data);
    const own = this.#find("private-key", tlvs)!;
    if (!(tlvs.has(0x85) || tlvs.has(0x75))) fail(SW.INCORRECT_DATA, "no public key reference");
    const peer = this.#findPublicPoint(tlvs, false);
    if (!own.contents) fail(SW.CONDITIONS_NOT_SATISFIED, "private key container is empty");
    if (!(own.functions & FUNCTION_BITS["key-agreement"])) fail(SW.CONDITIONS_NOT_SATISFIED, "key not usable for key agreement");
    // PUT PUBLIC KEY must come first (iotsafe.md §2.5, §9.11).
    if (!peer.point) fail(SW.CONDITIONS_NOT_SATISFIED, "no peer public key: PUT PUBLIC KEY first");
    return { data: ecdhX(own.contents, peer.point) };
  }

  #computePrf(c: CommandApdu): CommandResult {
    if (c.p1 > 0x02 || c.p2 !== 0) fail(SW.INCORRECT_P1P2);
    const tlvs = TlvSet.parse(c.data);
    const labelAndSeed = tlvs.get(0xd2);
    const lengthValue = tlvs.get(0xd3);
    if (!labelAndSeed || labelAndSeed.length === 0) fail(SW.INCORRECT_DATA, "PRF needs label and seed (D2)");
    if (!lengthValue || lengthValue.length !== 1 || lengthValue[0] === 0) fail(SW.INCORRECT_DATA, "PRF needs an output length (D3 01 nn)");
    let secret: Uint8Array;
    if (c.p1 === 0x00) {
      const given = tlvs.get(0xd1);
      if (!given || given.length === 0) fail(SW.INCORRECT_DATA, "mode 00 needs the secret (D1)");
      secret = given;
    } else {
      const psk = this.#usableSecret(tlvs, "tls12-prf");
      // Mode 01: plain PSK pre-master (RFC 4279); mode 02: ECDHE-PSK pre-master (RFC 5489) [inferred].
      if (c.p1 === 0x01) secret = pskPremaster(new Uint8Array(psk.length), psk);
      else {
        const ecdhe = tlvs.get(0xd4);
        if (!ecdhe || ecdhe.length === 0) fail(SW.INCORRECT_DATA, "mode 02 needs the ECDHE pre-master (D4)");
        secret = pskPremaster(ecdhe, psk);
      }
    }
    return { data: tls12Prf(secret, labelAndSeed, lengthValue[0]!) };
  }

  #usableSecret(tlvs: TlvSet, derivation: "tls12-prf" | "hkdf"): Uint8Array {
    const object = this.#find("secret", tlvs)!;
    if (!object.contents) fail(SW.CONDITIONS_NOT_SATISFIED, "secret key container is empty");
    if (!(object.functions & FUNCTION_BITS["key-derivation"]) || !(derivationBits(object.def) & DERIVATION_BITS[derivation])) {
      fail(SW.CONDITIONS_NOT_SATISFIED, `secret not usable for ${derivation}`);
    }
    return object.contents;
  }

  /** HKDF-Extract (iotsafe.md §2, §9.12): empty salt or IKM is refused, as the Thales applet does. */
  #computeHkdf(c: CommandApdu): CommandResult {
    if (c.p1 !== 0 || c.p2 !== 0) fail(SW.INCORRECT_P1P2);
    const tlvs = TlvSet.parse(c.data);
    const ikm = tlvs.get(0xd1);
    const salt = tlvs.get(0xd5);
    if (!ikm || ikm.length === 0) fail(SW.INCORRECT_DATA, "HKDF needs a non-empty IKM (D1)");
    if (!salt || salt.length === 0) fail(SW.INCORRECT_DATA, "HKDF needs a non-empty salt (D5)");
    return { data: hkdfExtract(parseHashTlv(tlvs.get(0x91)), salt, ikm) };
  }
}

// ---- helpers ----

function newChannel(): ChannelState {
  return { selectedAid: undefined, sessions: new Map(), pending: undefined, objectList: undefined };
}

function derivationBits(def: ProfileObject): number {
  const list = def.keyDerivation ?? ["tls12-prf", "hkdf"];
  return list.reduce((bits, d) => bits | DERIVATION_BITS[d], 0);
}

const DEFAULT_FUNCTIONS: Record<Kind, CryptoFunction[]> = {
  "private-key": ["signature", "key-generation", "key-agreement"],
  "public-key": ["signature", "key-agreement"],
  secret: ["key-derivation"],
  file: [],
};

function storedObject(def: ProfileObject): StoredObject {
  const id = fromHex(def.id);
  const contents = def.contents ? fromHex(def.contents) : undefined;
  if (contents && def.kind === "private-key" && !isValidP256Scalar(contents)) throw new ProfileError(`private key ${def.id} is not a valid P-256 scalar`);
  if (contents && def.kind === "public-key" && !isValidP256Point(contents)) throw new ProfileError(`public key ${def.id} is not a P-256 point`);
  return {
    def,
    kind: def.kind,
    id,
    label: def.label === undefined ? undefined : utf8ToBytes(def.label),
    publicId: def.publicId ? fromHex(def.publicId) : id,
    contents,
    read: def.access?.read ?? def.kind !== "secret",
    update: def.access?.update ?? false,
    functions: (def.functions ?? DEFAULT_FUNCTIONS[def.kind]).reduce((bits, f) => bits | FUNCTION_BITS[f], 0),
  };
}

/** Tag 91 in commands: two bytes, one bit (iotsafe.md §9.7); absent means SHA-256. */
function parseHashTlv(value: Uint8Array | undefined): HashName {
  if (!value) return "sha256";
  if (value.length !== 2) fail(SW.INCORRECT_DATA, "hash algorithm (91) must be 2 bytes");
  const name = HASH_BY_CODE[(value[0]! << 8) | value[1]!];
  return name ?? fail(SW.INCORRECT_DATA, "unsupported hash algorithm");
}

/** PUT PUBLIC KEY data: `34 45 49 43 86 41 04…`, or `49 43 86 41 04…` (Thales), or `86 41 04…`. */
function parsePublicKeyData(data: Uint8Array): Uint8Array {
  let tlvs = new TlvSet(parseCommandTlvs(data));
  const wrapper = tlvs.get(0x34);
  if (wrapper) tlvs = TlvSet.parse(wrapper);
  const template = tlvs.get(0x49);
  if (template) tlvs = TlvSet.parse(template);
  return tlvs.get(0x86) ?? fail(SW.INCORRECT_DATA, "no EC point (86)");
}

/** The card for a profile file; changes are written back to the same file. */
export async function cardFromProfileFile(path: string, options: Omit<IotSafeCardOptions, "persist"> = {}): Promise<IotSafeCard> {
  const profile = loadProfile(path);
  return new IotSafeCard(profile, { ...options, persist: (updated) => saveProfile(path, updated) });
}

export { loadProfile, saveProfile } from "./profile.js";
export type { SimProfile, CardOptions, ProfileObject } from "./profile.js";
