/**
 * The durable outbox: every reading is written to storage before anything tries to send it, and
 * removed only when the broker's PUBACK for it arrives. Link drops, modem resets and reboots lose
 * nothing that was stored; when the outbox is full the oldest readings that are not on their way
 * go first, and the number dropped is kept (in storage too) and reported in every later reading.
 *
 * Storage layout (one KeyValueStore domain, small records that fit ESP32 NVS):
 *   "r<id>"  one reading: [version 1][packet id u16 BE, 0 = not sent yet][sensor name length u8]
 *            [sensor name][payload: the MQTT message, UTF-8 JSON]
 *   "meta"   JSON {"next": next reading id, "dropped": total dropped, "dropping"?: id being dropped}
 * Each write is atomic on its own (modules/platform/storage.ts), and the writes are ordered so that a
 * reboot between any two of them is repaired by open(): ids are never reused, a drop is counted once.
 *
 * Delivery: at least once. A reading whose PUBLISH went out keeps its MQTT packet identifier in
 * storage; after a reboot it is re-sent with DUP set and the same identifier (as after a link drop).
 * Each reading carries an id unique to the device, so the cloud drops repeats by (client, id):
 * exactly-once processing on top of at-least-once delivery.
 */
import { bytesToUtf8, utf8ToBytes } from "../bytes/bytes.js";
import type { KeyValueStore } from "../platform/storage.js";

export class OutboxError extends Error {
  override name = "OutboxError";
}

/** A reading's value: a number, flag or short text, or a flat object of those (e.g. {value, unit}). */
export type SensorValue = number | boolean | string | { readonly [field: string]: number | boolean | string };

/** Largest MQTT payload of one reading. */
export const MAX_READING_PAYLOAD = 1024;
const RECORD_VERSION = 1;
const HEADER_LENGTH = 4;
const META_KEY = "meta";
const RECORD_KEY = /^r([0-9]{1,14})$/;
const SENSOR_NAME = /^[A-Za-z0-9_-]{1,32}$/;

export interface Reading {
  /** Unique on this device, increasing (the cloud dedupes by it). */
  id: number;
  sensor: string;
  /** Wall-clock ms when the sensor was read. */
  time: number;
  value: SensorValue;
  /** Readings dropped (outbox full) before this one was stored, since the outbox was created. */
  dropped: number;
}

/** What the outbox keeps in memory per stored reading (its payload stays in storage). */
export interface OutboxEntry {
  readonly id: number;
  readonly sensor: string;
  /** MQTT packet identifier of its PUBLISH, 0 before it was first sent. */
  readonly packetId: number;
}

export interface OutboxOptions {
  /** Readings kept at most. */
  capacity: number;
  /** Readings that may hold a packet identifier at once (the MQTT in-flight window); below capacity. */
  maxInflight: number;
  log?: (level: "info" | "warn", message: string) => void;
}

export interface OutboxStats {
  /** Readings stored by this run. */
  added: number;
  /** Readings removed after their PUBACK by this run. */
  acknowledged: number;
  /** Readings dropped by this run (full outbox, or unreadable records found at open). */
  droppedThisRun: number;
  /** Storage writes and deletes by this run (a flash-wear measure). */
  storeWrites: number;
}

function isSensorValue(value: unknown): value is SensorValue {
  const scalar = (v: unknown) => (typeof v === "number" && Number.isFinite(v)) || typeof v === "boolean" || (typeof v === "string" && v.length <= 256);
  if (scalar(value)) return true;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const fields = Object.keys(value);
  return fields.length > 0 && fields.length <= 16 && fields.every((f) => f.length <= 32 && scalar((value as Record<string, unknown>)[f]));
}

/** The MQTT payload of a reading (what the cloud receives). */
export function encodeReadingPayload(reading: Reading): Uint8Array {
  return utf8ToBytes(JSON.stringify({ id: reading.id, sensor: reading.sensor, time: reading.time, value: reading.value, dropped: reading.dropped }));
}

function encodeRecord(sensor: string, packetId: number, payload: Uint8Array): Uint8Array {
  const name = utf8ToBytes(sensor);
  const record = new Uint8Array(HEADER_LENGTH + name.length + payload.length);
  record[0] = RECORD_VERSION;
  record[1] = packetId >> 8;
  record[2] = packetId & 0xff;
  record[3] = name.length;
  record.set(name, HEADER_LENGTH);
  record.set(payload, HEADER_LENGTH + name.length);
  return record;
}

interface DecodedRecord {
  sensor: string;
  packetId: number;
  payload: Uint8Array;
}

function decodeRecord(bytes: Uint8Array): DecodedRecord {
  if (bytes.length < HEADER_LENGTH) throw new OutboxError(`record of ${bytes.length} bytes is shorter than its header`);
  if (bytes[0] !== RECORD_VERSION) throw new OutboxError(`record version ${bytes[0]} is not ${RECORD_VERSION}`);
  const nameLength = bytes[3]!;
  if (HEADER_LENGTH + nameLength > bytes.length) throw new OutboxError("record's sensor name runs past its end");
  const sensor = bytesToUtf8(bytes.subarray(HEADER_LENGTH, HEADER_LENGTH + nameLength));
  if (!SENSOR_NAME.test(sensor)) throw new OutboxError(`record's sensor name ${JSON.stringify(sensor)} is not valid`);
  const payload = bytes.slice(HEADER_LENGTH + nameLength);
  if (payload.length === 0 || payload.length > MAX_READING_PAYLOAD) throw new OutboxError(`record's payload has ${payload.length} bytes`);
  return { sensor, packetId: (bytes[1]! << 8) | bytes[2]!, payload };
}

interface Meta {
  next: number;
  dropped: number;
  dropping?: number;
}

function parseMeta(bytes: Uint8Array | undefined): Meta | undefined {
  if (!bytes) return undefined;
  try {
    const meta = JSON.parse(bytesToUtf8(bytes)) as Partial<Meta>;
    const count = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
    if (!count(meta.next) || !count(meta.dropped)) return undefined;
    return { next: meta.next!, dropped: meta.dropped!, ...(count(meta.dropping) ? { dropping: meta.dropping! } : {}) };
  } catch {
    return undefined;
  }
}

function recordKey(id: number): string {
  return `r${id}`;
}

export class Outbox {
  readonly capacity: number;
  readonly maxInflight: number;
  readonly stats: OutboxStats = { added: 0, acknowledged: 0, droppedThisRun: 0, storeWrites: 0 };
  /** Called after every change (a reading added, acknowledged or dropped): wakes the sender. */
  onChange: (() => void) | undefined;
  /** Called when readings are dropped, with how many and the new total. */
  onDrop: ((count: number, total: number) => void) | undefined;

  readonly #store: KeyValueStore;
  readonly #log: NonNullable<OutboxOptions["log"]>;
  /** Stored readings, oldest first. */
  #entries: OutboxEntry[] = [];
  #next = 1;
  #dropped = 0;

  private constructor(store: KeyValueStore, options: OutboxOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new OutboxError(`capacity must be a positive integer, not ${options.capacity}`);
    if (!Number.isInteger(options.maxInflight) || options.maxInflight < 1 || options.maxInflight >= options.capacity) {
      throw new OutboxError(`maxInflight must be 1..capacity-1 (${options.capacity - 1}), not ${options.maxInflight}`);
    }
    this.#store = store;
    this.capacity = options.capacity;
    this.maxInflight = options.maxInflight;
    this.#log = options.log ?? (() => undefined);
  }

  /**
   * Loads the outbox from `store`: finishes a drop a reboot interrupted, deletes (and counts as
   * dropped) records that cannot be read, trims to capacity, and forgets packet identifiers beyond
   * the in-flight window (those readings are then sent as new).
   */
  static open(store: KeyValueStore, options: OutboxOptions): Outbox {
    const outbox = new Outbox(store, options);
    outbox.#load();
    return outbox;
  }

  /** Readings stored now. */
  get size(): number {
    return this.#entries.length;
  }
  /** Readings dropped since the outbox was created (kept across reboots). */
  get dropped(): number {
    return this.#dropped;
  }
  /** The id the next reading gets. */
  get nextId(): number {
    return this.#next;
  }
  /** Stored readings, oldest first. */
  get entries(): readonly OutboxEntry[] {
    return this.#entries.slice();
  }
  /** Stored readings that were sent and await their PUBACK (they hold a packet identifier). */
  get inflight(): readonly OutboxEntry[] {
    return this.#entries.filter((e) => e.packetId !== 0);
  }

  /** The oldest reading not sent yet. */
  nextUnsent(): OutboxEntry | undefined {
    return this.#entries.find((e) => e.packetId === 0);
  }

  /**
   * Stores a reading and returns it with its id. When the outbox is full, the oldest reading that
   * holds no packet identifier is dropped. Throws the storage's error if the reading could not be
   * stored (it is then lost, and nothing else changed).
   */
  add(sensor: string, value: SensorValue, time: number): Reading {
    if (!SENSOR_NAME.test(sensor)) throw new OutboxError(`sensor name ${JSON.stringify(sensor)} must be 1..32 letters, digits, '_' or '-'`);
    if (!isSensorValue(value)) throw new OutboxError(`reading of ${sensor} is not a finite number, flag, text or flat object of those: ${String(value)}`);
    const reading: Reading = { id: this.#next, sensor, time, value, dropped: this.#dropped };
    const payload = encodeReadingPayload(reading);
    if (payload.length > MAX_READING_PAYLOAD) throw new OutboxError(`reading of ${sensor} encodes to ${payload.length} bytes, more than ${MAX_READING_PAYLOAD}`);
    // 1. The reading itself. A reboot right after it: open() sees the record and moves `next` past it.
    this.#write(recordKey(reading.id), encodeRecord(sensor, 0, payload));
    this.#entries.push({ id: reading.id, sensor, packetId: 0 });
    this.#next = reading.id + 1;
    this.stats.added++;
    let victim: OutboxEntry | undefined;
    if (this.#entries.length > this.capacity) {
      // maxInflight < capacity: there is always an older reading without a packet identifier.
      victim = this.#entries.find((e) => e.packetId === 0);
    }
    if (victim) {
      // 2. The count, naming the victim; 3. the victim. A reboot between them: open() deletes it uncounted.
      this.#dropped++;
      this.#writeMeta(victim.id);
      this.#delete(recordKey(victim.id));
      this.#entries = this.#entries.filter((e) => e !== victim);
      this.stats.droppedThisRun++;
      this.#log("warn", `outbox full (${this.capacity}): dropped reading ${victim.id} of ${victim.sensor}; ${this.#dropped} dropped in all`);
      this.onDrop?.(1, this.#dropped);
    } else {
      this.#writeMeta();
    }
    this.onChange?.();
    return reading;
  }

  /** The MQTT payload of a stored reading (read from storage). */
  payload(id: number): Uint8Array {
    const bytes = this.#store.get(recordKey(id));
    if (!bytes) throw new OutboxError(`reading ${id} is not in the outbox`);
    return decodeRecord(bytes).payload;
  }

  /** Notes (in storage) the packet identifier a reading's PUBLISH went out with. */
  markSent(id: number, packetId: number): void {
    if (!Number.isInteger(packetId) || packetId < 1 || packetId > 0xffff) throw new OutboxError(`packet identifier ${packetId} is not 1..65535`);
    const index = this.#entries.findIndex((e) => e.id === id);
    const entry = this.#entries[index];
    if (!entry) throw new OutboxError(`reading ${id} is not in the outbox`);
    this.#write(recordKey(id), encodeRecord(entry.sensor, packetId, this.payload(id)));
    this.#entries[index] = { ...entry, packetId };
  }

  /** Removes a reading whose PUBACK arrived; false if it was not (or no longer) stored. */
  acknowledge(id: number): boolean {
    const entry = this.#entries.find((e) => e.id === id);
    if (!entry) return false;
    this.#delete(recordKey(id));
    this.#entries = this.#entries.filter((e) => e !== entry);
    this.stats.acknowledged++;
    this.onChange?.();
    return true;
  }

  /** The reading that went out with `packetId`, if one is stored. */
  byPacketId(packetId: number): OutboxEntry | undefined {
    return this.#entries.find((e) => e.packetId === packetId);
  }

  #write(key: string, value: Uint8Array): void {
    this.#store.set(key, value);
    this.stats.storeWrites++;
  }

  #delete(key: string): void {
    this.#store.delete(key);
    this.stats.storeWrites++;
  }

  #writeMeta(dropping?: number): void {
    const meta: Meta = { next: this.#next, dropped: this.#dropped, ...(dropping !== undefined ? { dropping } : {}) };
    this.#write(META_KEY, utf8ToBytes(JSON.stringify(meta)));
  }

  #load(): void {
    const meta = parseMeta(this.#store.get(META_KEY));
    this.#next = meta?.next ?? 1;
    this.#dropped = meta?.dropped ?? 0;
    let changed = false;
    const ids: number[] = [];
    for (const key of this.#store.keys()) {
      const match = RECORD_KEY.exec(key);
      if (match) ids.push(Number(match[1]));
    }
    ids.sort((a, b) => a - b);
    // Ids are never reused, even those of records found unreadable below.
    const highest = ids.length > 0 ? ids[ids.length - 1]! : 0;
    if (highest >= this.#next) {
      this.#next = highest + 1;
      changed = true;
    }
    if (meta?.dropping !== undefined && ids.includes(meta.dropping)) {
      // A reboot between counting a drop and deleting the reading: finish it, already counted.
      this.#delete(recordKey(meta.dropping));
      ids.splice(ids.indexOf(meta.dropping), 1);
      changed = true;
    }
    for (const id of ids) {
      let record: DecodedRecord | undefined;
      try {
        record = decodeRecord(this.#store.get(recordKey(id)) ?? new Uint8Array(0));
      } catch (error) {
        this.#log("warn", `outbox: reading ${id} is unreadable (${(error as Error).message}); dropped`);
        this.#delete(recordKey(id));
        this.#dropped++;
        this.stats.droppedThisRun++;
        changed = true;
        continue;
      }
      this.#entries.push({ id, sensor: record.sensor, packetId: record.packetId });
    }
    // Packet identifiers must be unique among those in flight, and no more than the window.
    const seen = new Set<number>();
    let inflight = 0;
    for (let i = 0; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      if (entry.packetId === 0) continue;
      if (seen.has(entry.packetId) || inflight >= this.maxInflight) {
        this.#write(recordKey(entry.id), encodeRecord(entry.sensor, 0, this.payload(entry.id)));
        this.#entries[i] = { ...entry, packetId: 0 };
        continue;
      }
      seen.add(entry.packetId);
      inflight++;
    }
    while (this.#entries.length > this.capacity) {
      const victim = this.#entries.find((e) => e.packetId === 0) ?? this.#entries[0]!;
      this.#dropped++;
      this.stats.droppedThisRun++;
      this.#writeMeta(victim.id);
      this.#delete(recordKey(victim.id));
      this.#entries = this.#entries.filter((e) => e !== victim);
      this.#log("warn", `outbox over capacity (${this.capacity}) at start: dropped reading ${victim.id}`);
      changed = true;
    }
    if (changed || !meta) this.#writeMeta();
    if (this.#entries.length > 0) {
      this.#log("info", `outbox: ${this.#entries.length} readings waiting from an earlier run (${this.inflight.length} sent, awaiting PUBACK); next id ${this.#next}; ${this.#dropped} dropped in all`);
    }
  }
}
