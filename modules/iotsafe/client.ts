/**
 * GSMA IoT SAFE applet client: the whole command set of iotsafe.md §2 over a `CardAccess`
 * (AT+CSIM or AT+CCHO/CGLA, or a virtual card). Operations are serialised (one channel, one
 * signature session at a time), measured (APDUs and bytes per operation), and every failing
 * status word becomes a typed error naming the command, the object and the meaning.
 *
 * ```ts
 * const client = new IotSafeClient(createAtCardAccess(at), { platform });
 * const chain = await client.readFile(objectId("02"));
 * const { der } = await client.signDigest(objectId("01"), sha256(transcript));
 * ```
 */
import { concatBytes, toHex, uintToBytesBE } from "../bytes/bytes.js";
import { DerError } from "../crypto/der.js";
import type { LogLevel, Platform } from "../platform/platform.js";
import type { CommandApdu, ResponseApdu } from "../sim/apdu.js";
import type { CardAccess, CardChannel } from "../sim/channel.js";
import { type StatusWord, SW } from "../sim/status.js";
import type { ExchangeOptions } from "../sim/t0.js";
import { type ApduCount, ApduCounters } from "../sim/transport.js";
import {
  DEFAULT_AIDS,
  GET_DATA_P1,
  HASH_ID,
  HASH_LENGTH,
  type HashAlgorithm,
  INS,
  PRF_MODE,
  SESSION_CLOSE,
  SESSION_OPEN,
  SIGNATURE_ALGORITHM,
  SIGNATURE_MODE,
  TAG,
  UPDATE_LAST,
  UPDATE_MORE,
} from "./constants.js";
import { IotSafeArgumentError, IotSafeError, IotSafeResponseError, IotSafeStatusError, statusError, TlvError } from "./errors.js";
import {
  type ApplicationInfo,
  describeObject,
  encodeObjectRef,
  KIND_TAGS,
  type ObjectInfo,
  type ObjectKind,
  type ObjectRef,
  parseApplicationInfo,
  parseObjectInfo,
  parseObjectList,
} from "./objects.js";
import { encodePublicKeyTemplate, findPublicKeyPoint, parsePublicKeyTemplate, checkUncompressedPoint } from "./public-key.js";
import { type EcdsaSignature, encodeSignatureTlv, parseSignatureResponse, type SignatureLengthForm, toRawSignature } from "./signature.js";
import { encodeTlv, findTlv, parseTlvs } from "./tlv.js";

export type ClassStyle = "proprietary" | "interindustry";

export interface IotSafeTimeouts {
  /** Ordinary commands (default 5000 ms). */
  default?: number;
  /** COMPUTE SIGNATURE UPDATE, VERIFY UPDATE (default 15000 ms: seconds on real SIMs). */
  sign?: number;
  /** GENERATE KEY PAIR (default 45000 ms). */
  keyGeneration?: number;
  /** COMPUTE DH / PRF / HKDF (default 15000 ms). */
  keyAgreement?: number;
}

export interface IotSafeClientOptions {
  /** AIDs tried in order (default: GSMA IoT SAFE, then the two Thales applets). */
  aids?: readonly Uint8Array[];
  /** Initial class byte: `8n` (default) or `0n`; a `6E00` answer flips it once, and the working one is kept. */
  classStyle?: ClassStyle;
  /** Session numbers (P2) of the two-phase commands. Default sign 1, verify 2, put public key 2. */
  sessions?: { sign?: number; verify?: number; putPublicKey?: number };
  timeouts?: IotSafeTimeouts;
  /** Le of READ FILE, 1..256 (default 256, sent as 00). Sequans modems need smaller chunks. */
  readChunkLength?: number;
  /** Largest file accepted by readFile (default 16384). */
  maxFileSize?: number;
  /** Close channels left open by an earlier boot before the first open (default true). */
  recoverStaleChannels?: boolean;
  /** Most GET DATA object-list pages (default 16). */
  maxObjectListPages?: number;
  /** Tag-33 length form for VERIFY UPDATE until a signature answer shows the applet's own (default two-byte). */
  signatureLengthForm?: SignatureLengthForm;
  /** GET RESPONSE class: the command's own (default) or interindustry `0n`. */
  getResponseClass?: "same" | "interindustry";
  /** Timing and logs. */
  platform?: Platform;
}

/** APDUs and bytes of one client operation. */
export interface OperationStats extends ApduCount {
  operation: string;
  ok: boolean;
  /** Milliseconds, when the client has a platform clock. */
  durationMs?: number;
}

export interface GeneratedKeyPair {
  /** The private key's ID as the applet reports it (it may differ from the one requested). */
  privateKeyId?: Uint8Array;
  publicKeyId?: Uint8Array;
  /** Uncompressed point 04‖X‖Y. */
  publicKey: Uint8Array;
}

export type PrfInput =
  | { mode: "secret"; secret: Uint8Array; labelAndSeed: Uint8Array; length: number }
  | { mode: "psk"; secretKey: ObjectRef; labelAndSeed: Uint8Array; length: number }
  | { mode: "psk-ecdhe"; secretKey: ObjectRef; preMasterSecret: Uint8Array; labelAndSeed: Uint8Array; length: number };

interface Call {
  name: string;
  object?: string;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  le?: number;
  timeoutMs?: number;
  /** Status words taken as success besides 9000 / 91xx / 63CF. */
  accept?: readonly number[];
}

/** Status words that say "this applet has no such GET DATA" (the READ FILE size falls back to the DER header). */
const NO_FILE_INFO = [SW.INVALID_INSTRUCTION, SW.INCORRECT_P1P2, SW.WRONG_P1P2, SW.FUNCTION_NOT_SUPPORTED, SW.INCORRECT_DATA, SW.WRONG_LENGTH];
/** READ FILE: "end of file reached before Le bytes" still carries data. */
const SW_END_OF_FILE = 0x6282;
const MAX_RANDOM_PER_COMMAND = 256;
/** Data chunk of mode-01 signing: one-byte lengths under 0x80 read the same in every length form. */
const MESSAGE_CHUNK = 127;

function hashForDigest(digest: Uint8Array, hash: HashAlgorithm | undefined): HashAlgorithm {
  const chosen = hash ?? (digest.length === 32 ? "sha256" : digest.length === 48 ? "sha384" : digest.length === 64 ? "sha512" : undefined);
  if (!chosen || HASH_LENGTH[chosen] !== digest.length) {
    throw new IotSafeArgumentError(`digest of ${digest.length} bytes does not fit ${hash ?? "any supported hash"}`);
  }
  return chosen;
}

function checkSession(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xff) throw new IotSafeArgumentError(`${what} session ${n} is not a byte`);
  return n;
}

function hashTlv(hash: HashAlgorithm): Uint8Array {
  return encodeTlv(TAG.HASH_ALGORITHM, uintToBytesBE(HASH_ID[hash], 2));
}

export class IotSafeClient {
  readonly #access: CardAccess;
  readonly #options: IotSafeClientOptions;
  #channel: CardChannel | undefined;
  /** A channel given up after a transport failure: closed (best effort) before the next open. */
  #staleChannel: CardChannel | undefined;
  #proprietary: boolean;
  #recovered = false;
  #queue: Promise<void> = Promise.resolve();
  #signatureForm: SignatureLengthForm;
  #storeGeneration = 0;
  /** Every APDU this client sent, including channel management. */
  readonly counters = new ApduCounters();
  /** Totals per operation name. */
  readonly totals: Record<string, { count: number } & ApduCount> = {};
  lastOperation: OperationStats | undefined;
  /** Called after each operation with its counts (benchmarks, logs). */
  onOperation: ((stats: OperationStats) => void) | undefined;

  constructor(access: CardAccess, options: IotSafeClientOptions = {}) {
    this.#access = access;
    this.#options = options;
    this.#proprietary = (options.classStyle ?? "proprietary") === "proprietary";
    this.#signatureForm = options.signatureLengthForm ?? "two-byte";
  }

  /** The class-byte form in use (learned from `6E00` answers). */
  get classStyle(): ClassStyle {
    return this.#proprietary ? "proprietary" : "interindustry";
  }

  /** The selected applet's AID, once open. */
  get selectedAid(): Uint8Array | undefined {
    return this.#channel?.aid;
  }

  /** Increments whenever the applet reports a completed remote-admin session (`63CF`): cached objects may be stale. */
  get storeGeneration(): number {
    return this.#storeGeneration;
  }

  get isOpen(): boolean {
    return this.#channel?.isOpen ?? false;
  }

  #log(level: LogLevel, message: string): void {
    this.#options.platform?.log(level, "iotsafe", message);
  }

  #timeout(kind: keyof IotSafeTimeouts): number {
    const t = this.#options.timeouts ?? {};
    const defaults: Required<IotSafeTimeouts> = { default: 5000, sign: 15000, keyGeneration: 45000, keyAgreement: 15000 };
    return t[kind] ?? defaults[kind];
  }

  #exchangeOptions(timeoutMs?: number): ExchangeOptions {
    const options: ExchangeOptions = { trace: (command, response) => this.counters.record(command.length, response.length) };
    if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
    if (this.#options.getResponseClass) options.getResponseClass = this.#options.getResponseClass;
    return options;
  }

  // ---- operation plumbing ----

  /** Runs `body` after every earlier operation, with the applet open, and records its counts. */
  #run<T>(operation: string, body: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(() => this.#measure(operation, body));
    this.#queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async #measure<T>(operation: string, body: () => Promise<T>): Promise<T> {
    const start = this.counters.snapshot();
    const platform = this.#options.platform;
    const startedAt = platform?.now();
    let ok = false;
    try {
      const value = await body();
      ok = true;
      return value;
    } catch (error) {
      // A transport failure (timeout, closed link, modem refusal) leaves the channel state unknown:
      // forget it, so the next operation opens a fresh one.
      if (!(error instanceof IotSafeError) && this.#channel) {
        this.#log("warn", `${operation}: ${(error as Error).message}; the channel will be reopened`);
        this.#staleChannel = this.#channel;
        this.#channel = undefined;
      }
      throw error;
    } finally {
      const stats: OperationStats = { operation, ok, ...this.counters.since(start) };
      if (platform && startedAt !== undefined) stats.durationMs = platform.now() - startedAt;
      const total = (this.totals[operation] ??= { count: 0, apdus: 0, bytesSent: 0, bytesReceived: 0 });
      total.count++;
      total.apdus += stats.apdus;
      total.bytesSent += stats.bytesSent;
      total.bytesReceived += stats.bytesReceived;
      this.lastOperation = stats;
      this.onOperation?.(stats);
    }
  }

  async #ensureOpen(): Promise<CardChannel> {
    if (this.#channel?.isOpen) return this.#channel;
    const stale = this.#staleChannel;
    if (stale) {
      // Give back the channel (or CCHO session) the failed operation held, so failures do not leak channels.
      this.#staleChannel = undefined;
      try {
        await stale.close();
      } catch (error) {
        this.#log("debug", `closing the channel left by a failure: ${(error as Error).message}`);
      }
    }
    if (!this.#recovered && this.#options.recoverStaleChannels !== false) {
      this.#recovered = true;
      await this.#access.recover();
    }
    const channel = await this.#access.openApplication(this.#options.aids ?? DEFAULT_AIDS, this.#exchangeOptions(this.#timeout("default")));
    this.#channel = channel;
    this.#log("info", `IoT SAFE applet ${toHex(channel.aid).toUpperCase()} selected on ${channel.description}`);
    return channel;
  }

  /** Sends one applet command; on `6E00` retries once with the other class byte and keeps the one that works. */
  async #send(call: Call): Promise<ResponseApdu> {
    const channel = await this.#ensureOpen();
    const options = this.#exchangeOptions(call.timeoutMs ?? this.#timeout("default"));
    const command = (proprietary: boolean): CommandApdu => {
      const apdu: CommandApdu = { cla: proprietary ? 0x80 : 0x00, ins: call.ins, p1: call.p1, p2: call.p2 };
      if (call.data && call.data.length > 0) apdu.data = call.data;
      if (call.le !== undefined) apdu.le = call.le;
      return apdu;
    };
    let response = await channel.transmit(command(this.#proprietary), options);
    if (response.status.value === SW.INVALID_CLASS) {
      const retry = await channel.transmit(command(!this.#proprietary), options);
      if (retry.status.value !== SW.INVALID_CLASS) {
        this.#proprietary = !this.#proprietary;
        this.#log("info", `${call.name}: 6E00 with the other class byte; using ${this.classStyle} class from now on`);
      }
      response = retry;
    }
    if (response.status.value === SW.REMOTE_ADMIN_COMPLETED) {
      this.#storeGeneration++;
      this.#log("info", `${call.name}: remote-admin session completed (63CF); cached objects may be stale`);
    }
    return response;
  }

  #isOk(status: StatusWord, call: Call): boolean {
    return status.isSuccess || status.value === SW.REMOTE_ADMIN_COMPLETED || (call.accept?.includes(status.value) ?? false);
  }

  /** Sends and throws the typed error of a failing status word. */
  async #expect(call: Call): Promise<ResponseApdu> {
    const response = await this.#send(call);
    if (!this.#isOk(response.status, call)) throw statusError(call.name, call.object, response.status);
    return response;
  }

  /** Parses with `parse`, turning TLV/DER errors into an IotSafeResponseError naming the command. */
  #parse<T>(call: { name: string; object?: string }, parse: () => T): T {
    try {
      return parse();
    } catch (error) {
      if (error instanceof TlvError || error instanceof DerError) throw new IotSafeResponseError(call.name, call.object, error.message);
      throw error;
    }
  }

  /** Closes session `sid` of a two-phase command; card errors are logged, never thrown. */
  async #closeSession(ins: number, sid: number, name: string): Promise<void> {
    try {
      const response = await this.#send({ name, ins, p1: SESSION_CLOSE, p2: sid });
      if (!response.status.isSuccess) this.#log("debug", `${name}: ${response.status.toString()}`);
    } catch (error) {
      if (error instanceof IotSafeError) this.#log("debug", `${name}: ${error.message}`);
      else throw error;
    }
  }

  /**
   * Runs a two-phase session: closes a stale session first (a crashed run may have left it),
   * runs `body`, and always closes afterwards; a close failure never hides `body`'s result or error.
   */
  async #session<T>(ins: number, sid: number, label: string, body: () => Promise<T>): Promise<T> {
    await this.#closeSession(ins, sid, `${label} close (stale)`);
    let failed = false;
    try {
      return await body();
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      try {
        await this.#closeSession(ins, sid, `${label} close`);
      } catch (closeError) {
        if (!failed) throw closeError;
        this.#log("debug", `${label} close after an error: ${(closeError as Error).message}`);
      }
    }
  }

  // ---- channel ----

  /** Opens the channel and selects the applet (done implicitly by every operation). */
  open(): Promise<void> {
    return this.#run("open", async () => {
      await this.#ensureOpen();
    });
  }

  /** Closes the channel (MANAGE CHANNEL close / AT+CCHC). The next operation reopens it. */
  close(): Promise<void> {
    return this.#run("close", async () => {
      const channel = this.#channel;
      this.#channel = undefined;
      if (channel?.isOpen) await channel.close();
    });
  }

  // ---- GET DATA ----

  getApplicationInfo(): Promise<ApplicationInfo> {
    return this.#run("getApplicationInfo", async () => {
      const call: Call = { name: "GET DATA application info", ins: INS.GET_DATA, p1: GET_DATA_P1.APPLICATION_INFO, p2: 0, le: 0x44 };
      const response = await this.#expect(call);
      return this.#parse(call, () => parseApplicationInfo(response.data));
    });
  }

  /** Every object in the store, following `6300` "more data" pages. */
  listObjects(): Promise<ObjectInfo[]> {
    return this.#run("listObjects", async () => {
      const pages: Uint8Array[] = [];
      const maxPages = this.#options.maxObjectListPages ?? 16;
      for (let page = 0; ; page++) {
        if (page >= maxPages) throw new IotSafeResponseError("GET DATA object list", undefined, `still more data after ${maxPages} pages`);
        const call: Call = { name: "GET DATA object list", ins: INS.GET_DATA, p1: GET_DATA_P1.OBJECT_LIST, p2: page === 0 ? 0 : 1, le: 256, accept: [SW.MORE_DATA] };
        const response = await this.#expect(call);
        pages.push(response.data);
        if (response.status.value !== SW.MORE_DATA) break;
      }
      return this.#parse({ name: "GET DATA object list" }, () => parseObjectList(concatBytes(...pages)));
    });
  }

  #objectInfoCall(kind: ObjectKind, ref: ObjectRef): Call {
    const text = KIND_TAGS[kind].text;
    return { name: `GET DATA ${text} info`, object: describeObject(kind, ref), ins: INS.GET_DATA, p1: KIND_TAGS[kind].info, p2: 0, data: encodeObjectRef(kind, ref) };
  }

  async #objectInfo(kind: ObjectKind, ref: ObjectRef): Promise<ObjectInfo> {
    const call = this.#objectInfoCall(kind, ref);
    const response = await this.#expect(call);
    return this.#parse(call, () => parseObjectInfo(kind, response.data));
  }

  /** One object's information structure (GET DATA `C1`..`C4`). */
  getObjectInfo(kind: ObjectKind, ref: ObjectRef): Promise<ObjectInfo> {
    return this.#run("getObjectInfo", () => this.#objectInfo(kind, ref));
  }

  // ---- READ FILE ----

  /**
   * Reads a whole file. The size comes from GET DATA file info (tag 20); when the applet has no
   * such GET DATA, from the DER header of the first chunk, then from the object list. The offset
   * advances by the bytes each answer actually carried.
   */
  readFile(ref: ObjectRef): Promise<Uint8Array> {
    return this.#run("readFile", async () => {
      const object = describeObject("file", ref);
      const maxSize = this.#options.maxFileSize ?? 16384;
      let size: number | undefined;
      try {
        size = (await this.#objectInfo("file", ref)).fileSize;
        if (size === undefined) this.#log("debug", `GET DATA file info for ${object} has no size (tag 20)`);
      } catch (error) {
        const noFileInfo = error instanceof IotSafeStatusError && NO_FILE_INFO.some((sw) => error.status.value === sw);
        if (!noFileInfo && !(error instanceof IotSafeResponseError)) throw error;
        this.#log("debug", `no usable GET DATA file info for ${object} (${(error as Error).message}); using the DER header`);
      }
      if (size !== undefined && size > maxSize) throw new IotSafeResponseError("READ FILE", object, `file of ${size} bytes exceeds the limit of ${maxSize}`);
      const chunks: Uint8Array[] = [];
      let offset = 0;
      const first = size === 0 ? new Uint8Array(0) : await this.#readChunk(ref, object, 0);
      if (size === undefined) size = await this.#sizeWithoutFileInfo(ref, first, maxSize);
      const take = (chunk: Uint8Array) => {
        const part = chunk.length > size! - offset ? chunk.subarray(0, size! - offset) : chunk;
        chunks.push(part);
        offset += part.length;
      };
      take(first);
      while (offset < size) {
        if (offset > 0xffff) throw new IotSafeResponseError("READ FILE", object, `offset ${offset} does not fit P1P2`);
        const chunk = await this.#readChunk(ref, object, offset);
        if (chunk.length === 0) throw new IotSafeResponseError("READ FILE", object, `file ended at ${offset} of ${size} bytes`);
        take(chunk);
      }
      return concatBytes(...chunks);
    });
  }

  async #readChunk(ref: ObjectRef, object: string, offset: number): Promise<Uint8Array> {
    const le = this.#options.readChunkLength ?? 256;
    if (!Number.isInteger(le) || le < 1 || le > 256) throw new IotSafeArgumentError(`READ FILE chunk length ${le} is outside 1..256`);
    const call: Call = {
      name: "READ FILE",
      object: `${object} at offset ${offset}`,
      ins: INS.READ_FILE,
      p1: offset >> 8,
      p2: offset & 0xff,
      data: encodeObjectRef("file", ref),
      le,
      accept: [SW_END_OF_FILE],
    };
    return (await this.#expect(call)).data;
  }

  /** The size of a file whose applet gives no file info: the DER header, else the object list. */
  async #sizeWithoutFileInfo(ref: ObjectRef, first: Uint8Array, maxSize: number): Promise<number> {
    const object = describeObject("file", ref);
    const der = derTotalLength(first);
    if (der !== undefined) {
      if (der > maxSize) throw new IotSafeResponseError("READ FILE", object, `DER object of ${der} bytes exceeds the limit of ${maxSize}`);
      return der;
    }
    try {
      const listCall: Call = { name: "GET DATA object list", ins: INS.GET_DATA, p1: GET_DATA_P1.OBJECT_LIST, p2: 0, le: 256, accept: [SW.MORE_DATA] };
      const pages: Uint8Array[] = [];
      for (let page = 0; page < (this.#options.maxObjectListPages ?? 16); page++) {
        const response = await this.#expect({ ...listCall, p2: page === 0 ? 0 : 1 });
        pages.push(response.data);
        if (response.status.value !== SW.MORE_DATA) break;
      }
      const list = parseObjectList(concatBytes(...pages));
      const match = list.find((o) => o.kind === "file" && sameRef(o, ref));
      if (match?.fileSize !== undefined) {
        if (match.fileSize > maxSize) throw new IotSafeResponseError("READ FILE", object, `file of ${match.fileSize} bytes exceeds the limit of ${maxSize}`);
        return match.fileSize;
      }
    } catch (error) {
      if (!(error instanceof IotSafeError)) throw error;
      this.#log("debug", `object list for the size of ${object}: ${error.message}`);
    }
    throw new IotSafeResponseError("READ FILE", object, "cannot determine the file size (no file info, not DER, not in the object list)");
  }

  // ---- GET RANDOM ----

  /** `count` random bytes from the SIM (several commands when count > 256). */
  getRandom(count: number): Promise<Uint8Array> {
    return this.#run("getRandom", async () => {
      if (!Number.isInteger(count) || count < 1 || count > 4096) throw new IotSafeArgumentError(`GET RANDOM of ${count} bytes (1..4096)`);
      const parts: Uint8Array[] = [];
      let have = 0;
      while (have < count) {
        const want = Math.min(count - have, MAX_RANDOM_PER_COMMAND);
        const call: Call = { name: "GET RANDOM", ins: INS.GET_RANDOM, p1: 0, p2: 0, le: want, accept: [SW.MORE_DATA] };
        const response = await this.#expect(call);
        if (response.data.length === 0 || response.data.length > want) {
          throw new IotSafeResponseError("GET RANDOM", undefined, `asked for ${want} bytes, got ${response.data.length}`);
        }
        parts.push(response.data);
        have += response.data.length;
      }
      return concatBytes(...parts);
    });
  }

  // ---- COMPUTE SIGNATURE ----

  /**
   * Signs a host-computed digest with a private key, mode 03 "pad and sign". The result holds raw
   * r‖s and DER. `scalarLength` is 32 for P-256 (the default).
   */
  async signDigest(key: ObjectRef, digest: Uint8Array, options: { hash?: HashAlgorithm; scalarLength?: number } = {}): Promise<EcdsaSignature> {
    const hash = hashForDigest(digest, options.hash);
    return this.#run("sign", () =>
      this.#sign(key, SIGNATURE_MODE.PAD_AND_SIGN, hash, [encodeTlv(TAG.FINAL_HASH, digest)], options.scalarLength ?? 32),
    );
  }

  /** Signs a whole message, mode 01 "full text": the applet hashes it. */
  async signMessage(key: ObjectRef, message: Uint8Array, options: { hash?: HashAlgorithm; scalarLength?: number } = {}): Promise<EcdsaSignature> {
    const hash = options.hash ?? "sha256";
    const blocks: Uint8Array[] = [];
    for (let at = 0; at < message.length || blocks.length === 0; at += MESSAGE_CHUNK) {
      blocks.push(encodeTlv(TAG.DATA_TO_SIGN, message.subarray(at, Math.min(message.length, at + MESSAGE_CHUNK))));
    }
    if (blocks.length > 512) throw new IotSafeArgumentError(`message of ${message.length} bytes is too long to sign on the SIM`);
    return this.#run("sign", () => this.#sign(key, SIGNATURE_MODE.FULL_TEXT, hash, blocks, options.scalarLength ?? 32));
  }

  async #sign(key: ObjectRef, mode: number, hash: HashAlgorithm, blocks: Uint8Array[], scalarLength: number): Promise<EcdsaSignature> {
    const sid = checkSession(this.#options.sessions?.sign ?? 1, "sign");
    const object = describeObject("privateKey", key);
    return this.#session(INS.COMPUTE_SIGNATURE_INIT, sid, "COMPUTE SIGNATURE", async () => {
      await this.#expect({
        name: "COMPUTE SIGNATURE INIT",
        object,
        ins: INS.COMPUTE_SIGNATURE_INIT,
        p1: SESSION_OPEN,
        p2: sid,
        data: concatBytes(encodeObjectRef("privateKey", key), encodeTlv(TAG.MODE, Uint8Array.of(mode)), hashTlv(hash), encodeTlv(TAG.SIGNATURE_ALGORITHM, Uint8Array.of(SIGNATURE_ALGORITHM.ECDSA))),
      });
      let last: ResponseApdu | undefined;
      for (let i = 0; i < blocks.length; i++) {
        const isLast = i === blocks.length - 1;
        last = await this.#expect({
          name: "COMPUTE SIGNATURE UPDATE",
          object,
          ins: INS.COMPUTE_SIGNATURE_UPDATE,
          p1: isLast ? UPDATE_LAST : UPDATE_MORE,
          p2: sid,
          data: blocks[i]!,
          timeoutMs: this.#timeout("sign"),
        });
      }
      const call = { name: "COMPUTE SIGNATURE UPDATE", object };
      const signature = this.#parse(call, () => parseSignatureResponse(last!.data, scalarLength));
      if (signature.lengthForm) this.#signatureForm = signature.lengthForm;
      return signature;
    });
  }

  // ---- VERIFY SIGNATURE ----

  /**
   * Verifies a signature (DER or raw r‖s) with a public key in the store. Resolves true on `9000`,
   * false on `6D01`; any other status word throws. Give `digest` (mode 03) or `message` (mode 01).
   */
  async verifySignature(
    publicKey: ObjectRef,
    input: { digest: Uint8Array; message?: undefined } | { message: Uint8Array; digest?: undefined },
    signature: Uint8Array,
    options: { hash?: HashAlgorithm; scalarLength?: number } = {},
  ): Promise<boolean> {
    const scalarLength = options.scalarLength ?? 32;
    const raw = this.#parse({ name: "VERIFY SIGNATURE" }, () => toRawSignature(signature, scalarLength));
    const useDigest = input.digest !== undefined;
    const hash = useDigest ? hashForDigest(input.digest!, options.hash) : (options.hash ?? "sha256");
    return this.#run("verify", async () => {
      const sigTlv = encodeSignatureTlv(raw, this.#signatureForm);
      const blocks: Uint8Array[] = [];
      if (useDigest) {
        blocks.push(concatBytes(encodeTlv(TAG.FINAL_HASH, input.digest!), sigTlv));
      } else {
        const message = input.message!;
        const lastRoom = Math.min(MESSAGE_CHUNK, 255 - 2 - sigTlv.length);
        let at = 0;
        while (message.length - at > lastRoom) {
          blocks.push(encodeTlv(TAG.DATA_TO_SIGN, message.subarray(at, at + MESSAGE_CHUNK)));
          at += MESSAGE_CHUNK;
        }
        blocks.push(concatBytes(encodeTlv(TAG.DATA_TO_SIGN, message.subarray(at)), sigTlv));
        if (blocks.length > 512) throw new IotSafeArgumentError(`message of ${message.length} bytes is too long to verify on the SIM`);
      }
      const sid = checkSession(this.#options.sessions?.verify ?? 2, "verify");
      const object = describeObject("publicKey", publicKey);
      const mode = useDigest ? SIGNATURE_MODE.PAD_AND_SIGN : SIGNATURE_MODE.FULL_TEXT;
      return this.#session(INS.VERIFY_SIGNATURE_INIT, sid, "VERIFY SIGNATURE", async () => {
        await this.#expect({
          name: "VERIFY SIGNATURE INIT",
          object,
          ins: INS.VERIFY_SIGNATURE_INIT,
          p1: SESSION_OPEN,
          p2: sid,
          data: concatBytes(encodeObjectRef("publicKey", publicKey), encodeTlv(TAG.MODE, Uint8Array.of(mode)), hashTlv(hash), encodeTlv(TAG.SIGNATURE_ALGORITHM, Uint8Array.of(SIGNATURE_ALGORITHM.ECDSA))),
        });
        for (let i = 0; i < blocks.length; i++) {
          const isLast = i === blocks.length - 1;
          const call: Call = {
            name: "VERIFY SIGNATURE UPDATE",
            object,
            ins: INS.VERIFY_SIGNATURE_UPDATE,
            p1: isLast ? UPDATE_LAST : UPDATE_MORE,
            p2: sid,
            data: blocks[i]!,
            timeoutMs: this.#timeout("sign"),
          };
          if (!isLast) {
            await this.#expect(call);
            continue;
          }
          const response = await this.#send(call);
          if (response.status.value === SW.SIGNATURE_MISMATCH) return false;
          if (!this.#isOk(response.status, call)) throw statusError(call.name, object, response.status);
        }
        return true;
      });
    });
  }

  // ---- keys ----

  /** Generates a key pair in a private-key container; the applet may assign new IDs, which are returned. */
  generateKeyPair(privateKey: ObjectRef): Promise<GeneratedKeyPair> {
    return this.#run("generateKeyPair", async () => {
      const call: Call = {
        name: "GENERATE KEY PAIR",
        object: describeObject("privateKey", privateKey),
        ins: INS.GENERATE_KEY_PAIR,
        p1: 0,
        p2: 0,
        data: encodeObjectRef("privateKey", privateKey),
        timeoutMs: this.#timeout("keyGeneration"),
      };
      const response = await this.#expect(call);
      const parsed = this.#parse(call, () => {
        const tlvs = parseTlvs(response.data, "GENERATE KEY PAIR answer");
        const out: { privateKeyId?: Uint8Array; publicKeyId?: Uint8Array; publicKey?: Uint8Array } = {};
        const priv = findTlv(tlvs, TAG.PRIVATE_KEY_ID);
        const pub = findTlv(tlvs, TAG.PUBLIC_KEY_ID);
        if (priv) out.privateKeyId = priv.value.slice();
        if (pub) out.publicKeyId = pub.value.slice();
        const point = findPublicKeyPoint(tlvs, "GENERATE KEY PAIR answer");
        if (point) out.publicKey = point;
        return out;
      });
      if (parsed.publicKey) return parsed as GeneratedKeyPair;
      // Some applets answer without the key (m33mu): read it back, from the public ID if one came.
      const readRef: ObjectRef = parsed.publicKeyId ? { id: parsed.publicKeyId } : privateKey;
      this.#log("debug", "GENERATE KEY PAIR answered without a public key; reading it back");
      return { ...parsed, publicKey: await this.#readPublicKey(readRef) };
    });
  }

  async #readPublicKey(ref: ObjectRef): Promise<Uint8Array> {
    const call: Call = { name: "READ PUBLIC KEY", object: describeObject("publicKey", ref), ins: INS.READ_PUBLIC_KEY, p1: 0, p2: 0, data: encodeObjectRef("publicKey", ref) };
    const response = await this.#expect(call);
    return this.#parse(call, () => parsePublicKeyTemplate(response.data));
  }

  /** The uncompressed point 04‖X‖Y of a public key (or of a key pair's public half). */
  readPublicKey(ref: ObjectRef): Promise<Uint8Array> {
    return this.#run("readPublicKey", () => this.#readPublicKey(ref));
  }

  /** Writes a public key (uncompressed point) into a writable public-key container. */
  putPublicKey(ref: ObjectRef, point: Uint8Array): Promise<void> {
    return this.#run("putPublicKey", () => this.#putPublicKey(ref, point));
  }

  async #putPublicKey(ref: ObjectRef, point: Uint8Array): Promise<void> {
    checkUncompressedPoint(point, "public key to put");
    const template = encodePublicKeyTemplate(point);
    const sid = checkSession(this.#options.sessions?.putPublicKey ?? 2, "put public key");
    const object = describeObject("publicKey", ref);
    await this.#session(INS.PUT_PUBLIC_KEY_INIT, sid, "PUT PUBLIC KEY", async () => {
      await this.#expect({ name: "PUT PUBLIC KEY INIT", object, ins: INS.PUT_PUBLIC_KEY_INIT, p1: SESSION_OPEN, p2: sid, data: encodeObjectRef("publicKey", ref) });
      await this.#expect({ name: "PUT PUBLIC KEY UPDATE", object, ins: INS.PUT_PUBLIC_KEY_UPDATE, p1: UPDATE_LAST, p2: sid, data: template });
    });
  }

  // ---- key agreement and derivation ----

  /** ECDH (ECKA) between a private key and a public key in the store: the raw shared x-coordinate. */
  computeDh(privateKey: ObjectRef, publicKey: ObjectRef): Promise<Uint8Array> {
    return this.#run("computeDh", () => this.#computeDh(privateKey, publicKey));
  }

  /** PUT PUBLIC KEY of the peer's point into `peerSlot`, then COMPUTE DH (the order the applet requires). */
  computeDhWithPeer(privateKey: ObjectRef, peerSlot: ObjectRef, peerPoint: Uint8Array): Promise<Uint8Array> {
    return this.#run("computeDh", async () => {
      await this.#putPublicKey(peerSlot, peerPoint);
      return this.#computeDh(privateKey, peerSlot);
    });
  }

  async #computeDh(privateKey: ObjectRef, publicKey: ObjectRef): Promise<Uint8Array> {
    const call: Call = {
      name: "COMPUTE DH",
      object: `${describeObject("privateKey", privateKey)} with ${describeObject("publicKey", publicKey)}`,
      ins: INS.COMPUTE_DH,
      p1: 0,
      p2: 0,
      data: concatBytes(encodeObjectRef("privateKey", privateKey), encodeObjectRef("publicKey", publicKey)),
      timeoutMs: this.#timeout("keyAgreement"),
    };
    const response = await this.#expect(call);
    if (response.data.length < 16 || response.data.length > 66) {
      throw new IotSafeResponseError(call.name, call.object, `shared secret of ${response.data.length} bytes`);
    }
    return response.data;
  }

  /** TLS 1.2 PRF (P_SHA256) on the SIM; resolves with exactly `length` bytes (1..255). */
  computePrf(input: PrfInput): Promise<Uint8Array> {
    return this.#run("computePrf", async () => {
      if (!Number.isInteger(input.length) || input.length < 1 || input.length > 255) throw new IotSafeArgumentError(`PRF output length ${input.length} (1..255)`);
      const parts: Uint8Array[] = [];
      let mode: number;
      let object: string | undefined;
      if (input.mode === "secret") {
        mode = PRF_MODE.SECRET_GIVEN;
        parts.push(encodeTlv(TAG.SECRET, input.secret));
      } else {
        mode = input.mode === "psk" ? PRF_MODE.PSK_IN_STORE : PRF_MODE.PSK_WITH_ECDHE;
        object = describeObject("secretKey", input.secretKey);
        parts.push(encodeObjectRef("secretKey", input.secretKey));
        if (input.mode === "psk-ecdhe") parts.push(encodeTlv(TAG.PRE_MASTER_SECRET, input.preMasterSecret));
      }
      parts.push(encodeTlv(TAG.LABEL_AND_SEED, input.labelAndSeed), encodeTlv(TAG.PRF_OUTPUT_LENGTH, Uint8Array.of(input.length)));
      const data = concatBytes(...parts);
      if (data.length > 255) throw new IotSafeArgumentError(`COMPUTE PRF data of ${data.length} bytes exceeds one APDU`);
      const call: Call = { name: "COMPUTE PRF", ins: INS.COMPUTE_PRF, p1: mode, p2: 0, data, timeoutMs: this.#timeout("keyAgreement") };
      if (object) call.object = object;
      const response = await this.#expect(call);
      if (response.data.length !== input.length) throw new IotSafeResponseError(call.name, object, `asked for ${input.length} bytes, got ${response.data.length}`);
      return response.data;
    });
  }

  /**
   * HKDF-Extract on the SIM: PRK = HMAC-Hash(salt, IKM). An empty salt or IKM is sent as HashLen
   * zero bytes (the same value per RFC 5869; some applets refuse empty TLVs).
   */
  computeHkdfExtract(input: { ikm: Uint8Array; salt: Uint8Array; hash?: HashAlgorithm }): Promise<Uint8Array> {
    return this.#run("computeHkdf", async () => {
      const hash = input.hash ?? "sha256";
      const length = HASH_LENGTH[hash];
      const ikm = input.ikm.length > 0 ? input.ikm : new Uint8Array(length);
      const salt = input.salt.length > 0 ? input.salt : new Uint8Array(length);
      const data = concatBytes(encodeTlv(TAG.SECRET, ikm), encodeTlv(TAG.SALT, salt), hashTlv(hash));
      if (data.length > 255) throw new IotSafeArgumentError(`COMPUTE HKDF data of ${data.length} bytes exceeds one APDU`);
      const call: Call = { name: "COMPUTE HKDF", ins: INS.COMPUTE_HKDF, p1: 0, p2: 0, data, timeoutMs: this.#timeout("keyAgreement") };
      const response = await this.#expect(call);
      if (response.data.length !== length) throw new IotSafeResponseError(call.name, undefined, `PRK of ${response.data.length} bytes, expected ${length} for ${hash}`);
      return response.data;
    });
  }
}

/** Total length of a DER element from its header (first bytes of a file), or undefined if it is not one. */
export function derTotalLength(head: Uint8Array): number | undefined {
  if (head.length < 2 || head[0] !== 0x30) return undefined;
  const first = head[1]!;
  if (first < 0x80) return 2 + first;
  const octets = first & 0x7f;
  if (octets < 1 || octets > 3 || head.length < 2 + octets) return undefined;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + head[2 + i]!;
  return 2 + octets + length;
}

function sameRef(info: ObjectInfo, ref: ObjectRef): boolean {
  const a = ref.id ?? ref.label;
  const b = ref.id !== undefined ? info.id : info.label;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

