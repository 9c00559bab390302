/**
 * The device application: boot the modem, reach the SIM's IoT SAFE applet, read the device's
 * certificate, open TLS with the key that stays in the SIM, connect MQTT, and publish what the
 * sensors read — for as long as the device runs.
 *
 *   power-on → init → attach → IoT SAFE → certificate → TLS → MQTT → telemetry
 *
 * Each phase is timed and reported with the AT commands and APDUs it took. Readings are stored in
 * the durable outbox (outbox.ts) from the moment the device starts, connected or not. Any failure
 * (a phase that fails or times out, a dropped connection, a modem that stops answering) closes
 * what was open, runs the modem's recovery ladder, waits with exponential backoff and jitter, and
 * tries again; if the ladder cannot bring the modem back, the next attempt boots it from scratch.
 * The device never gives up on a fault and every wait has a time limit; only a configuration it
 * cannot work with (a dialect without sockets, a certificate CN that cannot name a topic, a
 * one-shot "direct" network used up) ends run() with that error.
 */
import type { AtCounters } from "../at/engine.js";
import { toHex } from "../bytes/bytes.js";
import { AtEngine } from "../at/index.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { nobleCrypto } from "../crypto/noble-provider.js";
import { parseCertificate } from "../crypto/x509.js";
import { IotSafeClient, objectId, SimClientCredential } from "../iotsafe/index.js";
import { atEngineOptions, createModem, type BoardHooks, type Modem, type ModemIdentity, ModemUnsupportedError } from "../modem/index.js";
import { MqttClient } from "../mqtt/client.js";
import type { ByteLink, Platform, TimerHandle } from "../platform/platform.js";
import type { KeyValueStore } from "../platform/storage.js";
import { tlsMqttConnector } from "../provisioning/connect.js";
import { type ProvisioningEvent, Provisioner } from "../provisioning/provisioner.js";
import type { ClientCredential } from "../tls/credential.js";
import { TimeoutError, withTimeout } from "../platform/time.js";
import { createAtCardAccess } from "../sim/index.js";
import { type SessionTicket, TlsClient } from "../tls/client.js";
import { byteLinkTransport, type TlsTransport } from "../tls/transport.js";
import { Backoff } from "./backoff.js";
import { aidBytes, type DeviceConfig, DeviceIdentityError, expandTopic } from "./config.js";
import { Outbox, type OutboxEntry } from "./outbox.js";
import { type SensorDefinition, SensorHub } from "./sensors.js";
import { OutboxSession, pumpOutbox } from "./telemetry.js";

export type DevicePhase = "power-on" | "init" | "attach" | "iotsafe" | "certificate" | "tls" | "mqtt";

/** AT traffic and SIM traffic of a span of time. */
export interface TrafficCount {
  atCommands: number;
  atBytes: number;
  apdus: number;
  apduBytes: number;
}

/** What the device reports as it runs (the demo prints these; tests watch them). */
export type DeviceEvent =
  | { type: "phase"; phase: DevicePhase; ms: number; traffic: TrafficCount; detail: string; attempt: number }
  | { type: "stored"; id: number; sensor: string; outboxSize: number }
  | { type: "acknowledged"; id: number; sensor: string; acknowledged: number; outboxSize: number }
  | { type: "dropped"; total: number; outboxSize: number }
  | { type: "connection-lost"; error: string; attempt: number }
  | { type: "recovered"; step: string; ms: number }
  | { type: "recovery-failed"; error: string }
  | { type: "backoff"; ms: number; failures: number }
  | { type: "stopping"; reason: string }
  /** A step of touchless provisioning (config.provisioning), during the certificate phase. */
  | { type: "provisioning"; event: ProvisioningEvent }
  /** The operational certificate entered its renewal window while connected: the device reconnects to renew it. */
  | { type: "renewal-due"; notAfter: number };

export class DeviceStoppedError extends Error {
  override name = "DeviceStoppedError";
}

export class DirectNetworkError extends Error {
  override name = "DirectNetworkError";
}

/** The byte link to the modem closed (a host's TCP link to a virtual modem, a removed USB modem): nothing left to drive. */
export class ModemLinkLostError extends Error {
  override name = "ModemLinkLostError";
}

export interface DeviceOptions {
  config: DeviceConfig;
  platform: Platform;
  /** The modem's UART (or the virtual modem's TCP link). */
  modemLink: ByteLink;
  /** Network "direct" only: the host's byte link to the broker (one connection per run). */
  netLink?: () => ByteLink;
  /** Where the outbox lives (a storage domain of its own). */
  outboxStore: KeyValueStore;
  /** Where touchless provisioning keeps its state and the issued certificate (a domain of its own; needed with config.provisioning). */
  provisioningStore?: KeyValueStore;
  sensors: readonly SensorDefinition[];
  /** The board's modem power key and reset pin. */
  board?: BoardHooks;
  onEvent?: (event: DeviceEvent) => void;
  /** Stop (MQTT DISCONNECT, socket closed) once this many readings were acknowledged in this run. */
  stopAfterAcknowledged?: number;
  provider?: CryptoProvider;
}

export interface DeviceSummary {
  clientId: string | undefined;
  modem: ModemIdentity | undefined;
  /** Duration of each phase the first time it completed. */
  bootPhases: Partial<Record<DevicePhase, number>>;
  /** Traffic from power-on to the first CONNACK. */
  bootTraffic: TrafficCount | undefined;
  /** Traffic while connected (publishing), and per acknowledged reading. */
  telemetryTraffic: TrafficCount;
  perAcknowledged: { atCommands: number; atBytes: number } | undefined;
  /** Readings acknowledged in this run. */
  acknowledged: number;
  /** MQTT connections established in this run. */
  connections: number;
  /** Failures recovered from (connection lost, phase failed). */
  failures: number;
  recoveries: Record<string, number>;
  outbox: { size: number; dropped: number; droppedThisRun: number; added: number; storeWrites: number; nextId: number };
  /** The last TLS connection's parameters; `resumptions`: connections that resumed a session (no SIM signature). */
  tls: { cipherSuite: string; group: string; resumed: boolean; resumptions: number } | undefined;
  mqtt: { packetsSent: number; packetsReceived: number; bytesSent: number; bytesReceived: number; resent: number };
  wallMs: number;
}

interface Stack {
  modem: Modem;
  /** init() succeeded: the recovery ladder applies. */
  initialised: boolean;
  attached: boolean;
  sim: IotSafeClient | undefined;
  credential: ClientCredential | undefined;
  trustAnchors: (Uint8Array | string)[] | undefined;
}

/** Last-resort limit on one run of the modem's recovery ladder (its own steps are bounded already). */
const RECOVERY_WATCHDOG_MS = 600000;

/** A renewal that failed is tried again after this long (the current certificate is still valid). */
const RENEWAL_RETRY_MS = 3_600_000;

/** The renewal timer waits in steps of at most a day (timers on small devices take 32-bit delays). */
const MAX_RENEWAL_TIMER_MS = 86_400_000;

/** Before this the device's clock has not been set (2024-01-01). */
const CLOCK_SANITY_MS = 1704067200000;

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function ignore(): void {}

export class Device {
  readonly #options: DeviceOptions;
  readonly #config: DeviceConfig;
  readonly #platform: Platform;
  readonly #outbox: Outbox;
  readonly #hub: SensorHub;
  readonly #backoff: Backoff;
  readonly #provider: CryptoProvider;
  #at: AtEngine | undefined;
  #stack: Stack | undefined;
  #clientId: string | undefined;
  #identity: ModemIdentity | undefined;
  #session: OutboxSession | undefined;
  #client: MqttClient | undefined;
  #transport: TlsTransport | undefined;
  #tls: TlsClient | undefined;
  /** The broker's newest session ticket, offered by the next connection (config.broker.resumeSessions). */
  #ticket: SessionTicket | undefined;
  /** SHA-256 (hex) of the client certificate in use: a ticket is only good for the identity it was issued to. */
  #certificateId: string | undefined;
  /** Wall-clock ms when the operational certificate is due for renewal (touchless provisioning only). */
  #renewalDueAt: number | undefined;
  #operationalNotAfter = 0;
  /** Set by the renewal timer: the connection ended so that the certificate phase renews. */
  #renewalDue = false;
  #stopReason: string | undefined;
  #stopWaiters: (() => void)[] = [];
  #attempt = 0;
  #directUsed = false;
  /** Wall-clock correction from the network's time, when the platform's clock is unset. */
  #clockOffset = 0;
  readonly #summary: DeviceSummary;
  #startedAt = 0;
  #telemetryTraffic: TrafficCount = { atCommands: 0, atBytes: 0, apdus: 0, apduBytes: 0 };

  constructor(options: DeviceOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#platform = options.platform;
    this.#provider = options.provider ?? nobleCrypto;
    this.#backoff = new Backoff(options.config.backoff, options.platform);
    this.#outbox = Outbox.open(options.outboxStore, {
      capacity: options.config.outbox.capacity,
      maxInflight: Math.min(options.config.outbox.inflight, options.config.outbox.capacity - 1),
      log: (level, message) => options.platform.log(level, "outbox", message),
    });
    this.#outbox.onDrop = (_count, total) => this.#emit({ type: "dropped", total, outboxSize: this.#outbox.size });
    this.#hub = new SensorHub(options.platform, {
      defaultIntervalMs: options.config.publishIntervalMs,
      clock: () => this.#wallClock(),
      onReading: (sensor, value, time) => {
        const reading = this.#outbox.add(sensor, value, time);
        this.#emit({ type: "stored", id: reading.id, sensor, outboxSize: this.#outbox.size });
      },
    });
    for (const sensor of options.sensors) this.#hub.register(sensor);
    this.#summary = {
      clientId: undefined,
      modem: undefined,
      bootPhases: {},
      bootTraffic: undefined,
      telemetryTraffic: this.#telemetryTraffic,
      perAcknowledged: undefined,
      acknowledged: 0,
      connections: 0,
      failures: 0,
      recoveries: {},
      outbox: { size: 0, dropped: 0, droppedThisRun: 0, added: 0, storeWrites: 0, nextId: 0 },
      tls: undefined,
      mqtt: { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0, resent: 0 },
      wallMs: 0,
    };
  }

  get outbox(): Outbox {
    return this.#outbox;
  }

  /** The device's MQTT client ID: the CN of the certificate in the SIM (once read). */
  get clientId(): string | undefined {
    return this.#clientId;
  }

  /** Asks the device to stop: it disconnects cleanly if connected and run() resolves. */
  stop(reason = "stop requested"): void {
    if (this.#stopReason !== undefined) return;
    this.#stopReason = reason;
    this.#emit({ type: "stopping", reason });
    for (const wake of this.#stopWaiters.splice(0)) wake();
    // A pump waiting for the next reading notices at once.
    this.#outbox.onChange?.();
  }

  /** Runs until stop() or stopAfterAcknowledged; resolves with what happened. */
  async run(): Promise<DeviceSummary> {
    this.#startedAt = this.#platform.now();
    this.#hub.start();
    try {
      while (!this.#stopped()) {
        this.#attempt++;
        try {
          if (!this.#readyToConnect()) await this.#bringUp();
          await this.#connectAndPublish();
          if (this.#stopped()) break;
          if (this.#renewalDue) {
            // Not a failure: close cleanly and run the certificate phase again, which renews.
            this.#renewalDue = false;
            await this.#closeConnection(true);
            if (this.#stack) this.#stack.credential = undefined;
            continue;
          }
          throw new Error("the connection closed");
        } catch (error) {
          if (this.#stopped()) break;
          // Configuration errors: retrying cannot help, so they end the run with their message.
          if (error instanceof DirectNetworkError || error instanceof ModemUnsupportedError || error instanceof DeviceIdentityError) throw error;
          if (this.#at?.isClosed) throw new ModemLinkLostError(`the link to the modem closed (${describe(error)})`);
          this.#summary.failures++;
          this.#platform.log("warn", "device", `attempt ${this.#attempt} failed: ${describe(error)}`);
          this.#emit({ type: "connection-lost", error: describe(error), attempt: this.#attempt });
          await this.#closeConnection();
          await this.#recover(describe(error));
          if (this.#stopped()) break;
          const pause = this.#backoff.fail();
          this.#emit({ type: "backoff", ms: pause, failures: this.#backoff.failures });
          await this.#sleep(pause);
        }
      }
    } finally {
      this.#hub.stop();
      await this.#closeConnection(true);
      this.#disposeStack();
      this.#at?.close();
    }
    return this.summary();
  }

  summary(): DeviceSummary {
    const s = this.#summary;
    const stats = this.#outbox.stats;
    s.clientId = this.#clientId;
    s.modem = this.#identity;
    s.acknowledged = stats.acknowledged;
    s.outbox = { size: this.#outbox.size, dropped: this.#outbox.dropped, droppedThisRun: stats.droppedThisRun, added: stats.added, storeWrites: stats.storeWrites, nextId: this.#outbox.nextId };
    s.perAcknowledged =
      stats.acknowledged > 0 ? { atCommands: round1(this.#telemetryTraffic.atCommands / stats.acknowledged), atBytes: Math.round(this.#telemetryTraffic.atBytes / stats.acknowledged) } : undefined;
    s.wallMs = Math.round(this.#platform.now() - this.#startedAt);
    return JSON.parse(JSON.stringify(s)) as DeviceSummary;
  }

  // ---- boot ----

  #readyToConnect(): boolean {
    const s = this.#stack;
    return !!s && s.initialised && s.attached && !!s.credential && !!s.trustAnchors && this.#clientId !== undefined;
  }

  async #bringUp(): Promise<void> {
    const config = this.#config;
    let stack = this.#stack;
    if (!stack) {
      // One AT engine for the whole run (closing it would close the link); a fresh driver per boot.
      this.#at ??= new AtEngine(this.#options.modemLink, this.#platform, atEngineOptions(config.modem.dialect));
      const modem = createModem(config.modem.dialect, this.#at, this.#platform, { ...(this.#options.board ? { hooks: this.#options.board } : {}), recovery: { rounds: 2 } });
      stack = { modem, initialised: false, attached: false, sim: undefined, credential: undefined, trustAnchors: undefined };
      this.#stack = stack;
      modem.afterReset(async () => {
        // The modem's reset closed the SIM's logical channels: the applet is reopened on next use.
        await this.#stack?.sim?.close().catch(ignore);
      });
      modem.onEvent((event) => {
        if (event.type === "reset" || event.type === "data-context-lost") this.#platform.log("warn", "device", `modem: ${event.type} (${event.reason})`);
      });
      await this.#phase("power-on", stack, async () => {
        await stack!.modem.powerOn();
        return this.#options.board?.powerOn ? "power key pulsed" : "no power control on this board";
      });
    }
    const s = stack;
    if (!s.initialised) {
      await this.#phase("init", s, async () => {
        await s.modem.init(config.modem.pin !== undefined ? { pin: config.modem.pin } : {});
        this.#identity = await s.modem.identity();
        s.initialised = true;
        return `${this.#identity.manufacturer} ${this.#identity.model} (${s.modem.dialect}), IMEI ${this.#identity.imei}, ICCID ${this.#identity.iccid}`;
      });
    }
    if (!s.attached) {
      await this.#phase("attach", s, async () => {
        const result = await s.modem.attach({
          apn: config.modem.apn,
          registrationTimeoutMs: config.modem.registrationTimeoutMs,
          ...(config.modem.apnUser !== undefined ? { user: config.modem.apnUser } : {}),
          ...(config.modem.apnPassword !== undefined ? { password: config.modem.apnPassword } : {}),
        });
        s.attached = true;
        await this.#setClockFromNetwork(s.modem);
        return `registered (${result.registrationStatus === 1 ? "home" : "roaming"}), APN ${config.modem.apn}${result.ipAddress ? `, IP ${result.ipAddress}` : ""}`;
      });
    }
    if (!s.sim) {
      const order = config.modem.simTransports === "auto" ? s.modem.simAccess.order : config.modem.simTransports;
      const access = createAtCardAccess(s.modem.simPort, { order, log: (level, message) => this.#platform.log(level, "sim", message) });
      s.sim = new IotSafeClient(access, { platform: this.#platform, aids: aidBytes(config) });
      try {
        await this.#phase("iotsafe", s, async () => {
          await s.sim!.open();
          return `applet opened via ${access.current.name}`;
        });
      } catch (error) {
        s.sim = undefined;
        throw error;
      }
    }
    if (!s.credential || !s.trustAnchors || this.#clientId === undefined) {
      await this.#phase("certificate", s, async () => {
        if (config.provisioning) return this.#provision(s);
        const credential = new SimClientCredential(s.sim!, {
          privateKey: objectId(config.iotsafe.privateKeyId),
          certificates: config.iotsafe.certificateIds.map((id) => objectId(id)),
        });
        const chain = await credential.certificateChain();
        const leaf = parseCertificate(chain[0]!);
        const cn = leaf.subject.commonName;
        if (!cn) throw new DeviceIdentityError("the SIM's certificate has no CN to serve as the MQTT client ID");
        expandTopic(config.topic, { clientId: cn, sensor: "x" }); // refuses a CN that cannot go into the topic
        const anchors: Uint8Array[] = [];
        const pems: string[] = [];
        for (const anchor of config.trustAnchors) {
          if (anchor.startsWith("sim:")) anchors.push(await s.sim!.readFile(objectId(anchor.slice(4))));
          else pems.push(anchor);
        }
        s.credential = credential;
        s.trustAnchors = [...anchors, ...pems];
        this.#adoptCertificate(chain[0]!);
        this.#clientId = cn;
        this.#summary.clientId = cn;
        const fromSim = config.trustAnchors.filter((a) => a.startsWith("sim:")).length;
        return `client ID ${cn} from the SIM's certificate (${chain.length} certificate${chain.length === 1 ? "" : "s"}, ${chain.reduce((n, c) => n + c.length, 0)} bytes); ${config.trustAnchors.length} trust anchor${config.trustAnchors.length === 1 ? "" : "s"}${fromSim ? `, ${fromSim} from the SIM` : ""}`;
      });
    }
  }

  /**
   * The operational identity from touchless provisioning: the stored one, or a new one enrolled now
   * (key generated in the SIM, certificate from the cloud over the claim credential).
   */
  async #provision(s: Stack): Promise<string> {
    const config = this.#config;
    const store = this.#options.provisioningStore;
    if (!store) throw new DeviceIdentityError("provisioning is configured but the host gave no storage for it");
    const anchors: (Uint8Array | string)[] = [];
    for (const anchor of config.trustAnchors) anchors.push(anchor.startsWith("sim:") ? await s.sim!.readFile(objectId(anchor.slice(4))) : anchor);
    const provisioner = new Provisioner({
      sim: s.sim!,
      store,
      config: config.provisioning!,
      platform: this.#platform,
      provider: this.#provider,
      device: { iccid: this.#identity?.iccid ?? "", imei: this.#identity?.imei ?? "" },
      connect: tlsMqttConnector({
        openTransport: () => s.modem.openTcp(config.broker.host, config.broker.port, { connectTimeoutMs: config.broker.connectTimeoutMs }),
        serverName: config.broker.serverName,
        trustAnchors: anchors,
        platform: this.#platform,
        provider: this.#provider,
        clock: () => this.#wallClock(),
        keepAliveSeconds: config.broker.keepAliveSeconds,
        connectTimeoutMs: config.broker.connectTimeoutMs,
        ackTimeoutMs: config.broker.ackTimeoutMs,
      }),
      clock: () => this.#wallClock(),
      onEvent: (event) => this.#emit({ type: "provisioning", event }),
    });
    const identity = await provisioner.ensure();
    expandTopic(config.topic, { clientId: identity.clientId, sensor: "x" }); // refuses a CN that cannot go into the topic
    s.credential = identity.credential;
    s.trustAnchors = anchors;
    this.#adoptCertificate(identity.chain[0]!);
    // While connected, a timer ends the connection when the certificate enters its renewal window; a
    // renewal that just failed is tried again an hour later (the current certificate is still valid).
    this.#operationalNotAfter = identity.notAfter;
    this.#renewalDueAt = identity.renewalError ? this.#wallClock() + RENEWAL_RETRY_MS : identity.notAfter - config.provisioning!.renewBeforeMs;
    this.#clientId = identity.clientId;
    this.#summary.clientId = identity.clientId;
    const validTo = new Date(identity.notAfter).toISOString();
    const how = identity.enrolled ? "enrolled now (touchless provisioning)" : identity.renewalError ? `renewal failed (${identity.renewalError.message}), kept` : "from the stored certificate";
    return `client ID ${identity.clientId} ${how}: key ${identity.keyId} in the SIM, certificate ${identity.certificateId.slice(0, 12)}… valid to ${validTo}`;
  }

  /** The client certificate now in use; a session ticket of another certificate must not be resumed. */
  #adoptCertificate(leaf: Uint8Array): void {
    const id = toHex(this.#provider.hash("sha256", leaf));
    if (this.#certificateId !== undefined && id !== this.#certificateId && this.#ticket) {
      this.#ticket = undefined;
      this.#platform.log("info", "device", "new client certificate: the session ticket of the previous one is dropped");
    }
    this.#certificateId = id;
  }

  /**
   * Ends the connection (MQTT DISCONNECT) once the operational certificate is due for renewal; the
   * run loop then renews in the certificate phase. Long delays are waited in steps of at most a day.
   * Returns the function that disarms it.
   */
  #armRenewal(client: MqttClient): () => void {
    let timer: TimerHandle | undefined;
    const check = () => {
      timer = undefined;
      const dueAt = this.#renewalDueAt;
      if (dueAt === undefined || !client.connected) return;
      const wait = dueAt - this.#wallClock();
      if (wait > 0) {
        timer = this.#platform.setTimer(check, Math.min(wait, MAX_RENEWAL_TIMER_MS));
        return;
      }
      this.#renewalDue = true;
      this.#platform.log("info", "device", `certificate valid to ${new Date(this.#operationalNotAfter).toISOString()} is due for renewal: reconnecting to renew it`);
      this.#emit({ type: "renewal-due", notAfter: this.#operationalNotAfter });
      void client.disconnect().catch(ignore);
    };
    check();
    return () => {
      if (timer !== undefined) this.#platform.clearTimer(timer);
      timer = undefined;
    };
  }

  /** The device's wall clock: the platform's, or the network's time when the platform's is unset. */
  #wallClock(): number {
    return this.#platform.wallClock() + this.#clockOffset;
  }

  async #setClockFromNetwork(modem: Modem): Promise<void> {
    if (this.#platform.wallClock() >= CLOCK_SANITY_MS) return;
    try {
      const network = (await modem.networkTime()).getTime();
      this.#clockOffset = network - this.#platform.wallClock();
      this.#platform.log("info", "device", `clock set from the network: ${new Date(network).toISOString()}`);
    } catch (error) {
      this.#platform.log("warn", "device", `no network time (${describe(error)}): certificate validity cannot be checked against a real clock`);
    }
  }

  // ---- connection ----

  async #connectAndPublish(): Promise<void> {
    const s = this.#stack!;
    const config = this.#config;
    const clientId = this.#clientId!;
    const topicOf = (entry: OutboxEntry) => expandTopic(config.topic, { clientId, sensor: entry.sensor });
    this.#session ??= new OutboxSession(this.#outbox, topicOf);
    const session = this.#session;
    const bootTrafficDue = this.#summary.bootTraffic === undefined;

    let tls: TlsClient | undefined;
    await this.#phase("tls", s, async () => {
      const transport = await this.#openTransport(s);
      this.#transport = transport;
      const ticket = config.broker.resumeSessions ? this.#ticket : undefined;
      try {
        tls = await TlsClient.connect(transport, {
          serverName: config.broker.serverName,
          platform: this.#platform,
          provider: this.#provider,
          trustAnchors: s.trustAnchors!,
          credential: s.credential!,
          clock: () => this.#wallClock(),
          handshakeTimeoutMs: config.broker.connectTimeoutMs,
          ...(ticket ? { resumption: ticket } : {}),
        });
      } catch (error) {
        // A broker that chokes on the ticket must not fail every retry: the next attempt is a full handshake.
        if (ticket) this.#ticket = undefined;
        throw error;
      }
      this.#tls = tls;
      const resumed = tls.info.resumed;
      const resumptions = (this.#summary.tls?.resumptions ?? 0) + (resumed ? 1 : 0);
      this.#summary.tls = { cipherSuite: tls.info.cipherSuite, group: tls.info.group, resumed, resumptions };
      const via = `to ${config.broker.host}:${config.broker.port} via ${config.network === "modem" ? `the modem's socket` : "the host link"}`;
      return `${tls.info.cipherSuite}, ${tls.info.group}, ${via}; ${resumed ? "session resumed: no certificates, nothing signed in the SIM" : "CertificateVerify signed in the SIM"}`;
    });

    let client: MqttClient | undefined;
    await this.#phase("mqtt", s, async () => {
      client = await MqttClient.connect(tls!, {
        platform: this.#platform,
        clientId,
        keepAliveSeconds: config.broker.keepAliveSeconds,
        session,
        connectTimeoutMs: config.broker.connectTimeoutMs,
        ackTimeoutMs: config.broker.ackTimeoutMs,
      });
      this.#client = client;
      const size = this.#outbox.size;
      return `connected as ${clientId}; ${session.inflightCount} to re-send, ${size} reading${size === 1 ? "" : "s"} in the outbox`;
    });
    this.#summary.connections++;
    this.#backoff.succeed();
    if (bootTrafficDue) this.#summary.bootTraffic = this.#traffic(s, { at: ZERO_AT, apdus: 0, apduBytes: 0 });

    const before = this.#snapshot(s);
    const limit = this.#options.stopAfterAcknowledged;
    session.onReadingAcknowledged = (entry) => {
      const acknowledged = this.#outbox.stats.acknowledged;
      this.#emit({ type: "acknowledged", id: entry.id, sensor: entry.sensor, acknowledged, outboxSize: this.#outbox.size });
      if (limit !== undefined && acknowledged >= limit) this.stop(`${limit} readings acknowledged`);
    };
    if (limit !== undefined && this.#outbox.stats.acknowledged >= limit) this.stop(`${limit} readings acknowledged`);
    const disarmRenewal = this.#armRenewal(client!);
    let result: Awaited<ReturnType<typeof pumpOutbox>>;
    try {
      result = await pumpOutbox(client!, session, this.#outbox, topicOf, () => this.#stopped());
    } finally {
      disarmRenewal();
    }
    const spent = this.#traffic(s, before);
    for (const key of Object.keys(spent) as (keyof TrafficCount)[]) this.#telemetryTraffic[key] += spent[key];
    this.#addMqttStats(client!);
    if (result.error) throw result.error;
  }

  async #openTransport(s: Stack): Promise<TlsTransport> {
    const config = this.#config;
    if (config.network === "direct") {
      if (!this.#options.netLink) throw new DirectNetworkError('network "direct" needs a host link named "net"');
      if (this.#directUsed) throw new DirectNetworkError('network "direct": the host link was used by an earlier connection; only the modem network can reconnect');
      this.#directUsed = true;
      return byteLinkTransport(this.#options.netLink());
    }
    return s.modem.openTcp(config.broker.host, config.broker.port, { connectTimeoutMs: config.broker.connectTimeoutMs });
  }

  #addMqttStats(client: MqttClient): void {
    const m = this.#summary.mqtt;
    m.packetsSent += client.stats.packetsSent;
    m.packetsReceived += client.stats.packetsReceived;
    m.bytesSent += client.stats.bytesSent;
    m.bytesReceived += client.stats.bytesReceived;
    m.resent += client.stats.resent;
  }

  /** Closes MQTT, TLS and the socket; with `graceful`, says DISCONNECT first. */
  async #closeConnection(graceful = false): Promise<void> {
    const client = this.#client;
    const transport = this.#transport;
    const tls = this.#tls;
    this.#client = undefined;
    this.#transport = undefined;
    this.#tls = undefined;
    // Tickets arrive after the handshake; the newest one is what the next connection offers.
    if (tls && this.#config.broker.resumeSessions) this.#ticket = tls.tickets[0] ?? this.#ticket;
    if (client) {
      const limit = this.#config.broker.ackTimeoutMs;
      await withTimeout(this.#platform, graceful && client.connected ? client.disconnect() : client.abort(), limit, () => new TimeoutError("MQTT close timed out")).catch(ignore);
    }
    if (transport) await withTimeout(this.#platform, transport.close(), 10000, () => new TimeoutError("socket close timed out")).catch(ignore);
  }

  // ---- recovery ----

  async #recover(reason: string): Promise<void> {
    const s = this.#stack;
    if (s && s.initialised) {
      const started = this.#platform.now();
      try {
        // The ladder is bounded by its own rounds and every AT command's timeout; the watchdog is a last resort.
        const step = await this.#untilStopped(
          withTimeout(this.#platform, s.modem.recover(reason), RECOVERY_WATCHDOG_MS, () => new TimeoutError(`the recovery ladder took more than ${RECOVERY_WATCHDOG_MS} ms`)),
        );
        if (step === undefined) return;
        this.#summary.recoveries[step] = (this.#summary.recoveries[step] ?? 0) + 1;
        this.#emit({ type: "recovered", step, ms: Math.round(this.#platform.now() - started) });
        return;
      } catch (error) {
        this.#summary.recoveries["failed"] = (this.#summary.recoveries["failed"] ?? 0) + 1;
        this.#emit({ type: "recovery-failed", error: describe(error) });
      }
    }
    // The ladder failed, or the modem never got through init: boot it from scratch — the reset
    // pin where the board has one, else a power cycle (the next bring-up presses the power key).
    this.#disposeStack();
    const board = this.#options.board;
    const limit = this.#config.phaseTimeoutMs;
    const pulse = board?.hardReset ? board.hardReset() : board?.powerOff ? board.powerOff() : undefined;
    if (pulse) {
      await this.#untilStopped(withTimeout(this.#platform, pulse, limit, () => new TimeoutError(`the board's reset took more than ${limit} ms`))).catch((error: unknown) =>
        this.#platform.log("warn", "device", `board reset failed: ${describe(error)}`),
      );
    }
  }

  #disposeStack(): void {
    const s = this.#stack;
    if (!s) return;
    this.#stack = undefined;
    try {
      s.modem.dispose();
    } catch {
      // already gone
    }
  }

  // ---- helpers ----

  #stopped(): boolean {
    return this.#stopReason !== undefined;
  }

  #sleep(ms: number): Promise<void> {
    return this.#untilStopped(new Promise<void>((resolve) => this.#platform.setTimer(resolve, ms))).then(ignore);
  }

  /** Settles like `promise`, or with undefined as soon as the device is asked to stop. */
  #untilStopped<T>(promise: Promise<T>): Promise<T | undefined> {
    if (this.#stopped()) {
      promise.catch(ignore);
      return Promise.resolve(undefined);
    }
    return new Promise<T | undefined>((resolve, reject) => {
      const wake = () => resolve(undefined);
      this.#stopWaiters.push(wake);
      promise.then(
        (value) => {
          this.#stopWaiters = this.#stopWaiters.filter((w) => w !== wake);
          resolve(value);
        },
        (error: unknown) => {
          this.#stopWaiters = this.#stopWaiters.filter((w) => w !== wake);
          reject(error);
        },
      );
    });
  }

  #snapshot(s: Stack): TrafficSnapshot {
    const apdu = s.sim?.counters.snapshot();
    const at: AtCounters | undefined = this.#at?.counters;
    return { at: at ?? ZERO_AT, apdus: apdu?.apdus ?? 0, apduBytes: apdu ? apdu.bytesSent + apdu.bytesReceived : 0 };
  }

  #traffic(s: Stack, before: TrafficSnapshot): TrafficCount {
    const now = this.#snapshot(s);
    return {
      atCommands: now.at.commandsSent - before.at.commandsSent,
      atBytes: now.at.bytesIn + now.at.bytesOut - before.at.bytesIn - before.at.bytesOut,
      apdus: now.apdus - before.apdus,
      apduBytes: now.apduBytes - before.apduBytes,
    };
  }

  /** Runs one phase with a time limit, logs and reports it with its duration and traffic. */
  async #phase(phase: DevicePhase, s: Stack, body: () => Promise<string>): Promise<void> {
    if (this.#stopped()) throw new DeviceStoppedError(`stopped before ${phase}`);
    const before = this.#snapshot(s);
    const started = this.#platform.now();
    // TLS: the TCP connect and the handshake may each take connectTimeoutMs.
    const connect = this.#config.broker.connectTimeoutMs;
    const limit = phase === "tls" ? 2 * connect + 5000 : phase === "mqtt" ? connect + 5000 : this.#config.phaseTimeoutMs;
    let detail: string;
    try {
      detail = await withTimeout(this.#platform, body(), limit, () => new TimeoutError(`phase ${phase} took more than ${limit} ms`));
    } catch (error) {
      this.#platform.log("warn", "device", `phase ${phase} failed after ${Math.round(this.#platform.now() - started)} ms: ${describe(error)}`);
      throw error;
    }
    const ms = Math.round(this.#platform.now() - started);
    const traffic = this.#traffic(s, before);
    if (this.#summary.bootPhases[phase] === undefined) this.#summary.bootPhases[phase] = ms;
    this.#platform.log("info", "device", `${phase}: ${ms} ms, ${traffic.atCommands} AT commands, ${traffic.apdus} APDUs: ${detail}`);
    this.#emit({ type: "phase", phase, ms, traffic, detail, attempt: this.#attempt });
  }

  #emit(event: DeviceEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (error) {
      this.#platform.log("error", "device", `event handler threw: ${describe(error)}`);
    }
  }
}

interface TrafficSnapshot {
  at: { commandsSent: number; bytesIn: number; bytesOut: number };
  apdus: number;
  apduBytes: number;
}

const ZERO_AT = { commandsSent: 0, bytesIn: 0, bytesOut: 0 };

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
