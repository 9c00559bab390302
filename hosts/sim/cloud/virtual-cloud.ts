/**
 * The virtual cloud: a TLS 1.3 server that requires a client certificate from a given CA, with an
 * MQTT broker (aedes) behind it. Each device is known by the CN of its certificate: that identity
 * is logged with every message it publishes, and by default a device may publish (and subscribe)
 * only on topics that carry its CN as one level (devices/{CN}/...). Tests and the demo start it
 * with startVirtualCloud(); `iotsafe cloud` runs it from the command line.
 */
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from "aedes";
import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { issueServerCertificate, type DevCa } from "../pki/dev-ca.js";

export class VirtualCloudError extends Error {
  override name = "VirtualCloudError";
}

/** The TLS identity of a connection: the CN and the whole certificate the client presented. */
export interface CloudPeer {
  identity: string;
  /** DER of the client certificate (to tell which CA issued it, or which certificate it is). */
  certificateDer: Uint8Array;
}

/** A connected device. */
export interface CloudClient {
  clientId: string;
  /** The CN of the device's certificate. */
  identity: string;
  /** DER of the device's certificate. */
  certificateDer: Uint8Array;
  remoteAddress: string;
  /** The MQTT user name, if the device sent one (the certificate is what identifies it). */
  username: string | undefined;
  connectedAt: number;
}

/** An application message a device published (and the broker accepted). */
export interface CloudMessage {
  clientId: string;
  identity: string;
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** The DUP flag: a QoS 1 message sent again (after a reconnect) that the broker may have seen before. */
  dup: boolean;
  receivedAt: number;
}

/** Something the cloud refused: a TLS handshake (no or untrusted certificate), a connection, a publish, a subscription. */
export interface CloudRefusal {
  kind: "tls" | "connect" | "publish" | "subscribe";
  reason: string;
  identity?: string;
  clientId?: string;
  remoteAddress?: string;
  topic?: string;
  at: number;
}

/** Decides whether the device with `identity` (its CN) may use `topic` (a topic name, or a filter for subscriptions). */
export type TopicRule = (identity: string, topic: string, peer: CloudPeer) => boolean;

/** The default rule: the topic has a level equal to the device's CN, e.g. devices/{CN}/telemetry. */
export const topicNamesIdentity: TopicRule = (identity, topic) => identity.length > 0 && topic.split("/").includes(identity);

/** A rule that allows everything. */
export const anyTopic: TopicRule = () => true;

export interface VirtualCloudOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** PEM of the CA(s) whose client certificates are accepted. */
  clientCa: string | string[];
  /** Server certificate (PEM, leaf first) and key (PEM). Without them, one is issued from `devCa`. */
  serverCertPem?: string;
  serverKeyPem?: string;
  /** Issues the server certificate (SAN from `serverNames`) when none is given. */
  devCa?: DevCa;
  /** Names in an issued server certificate. Default DNS localhost, IP 127.0.0.1 (and `host` if it is an IPv4 address). */
  serverNames?: { dns?: string[]; ip?: string[] };
  /** Who may publish where. Default topicNamesIdentity. */
  authorizePublish?: TopicRule;
  /** Who may subscribe to what. Default topicNamesIdentity. */
  authorizeSubscribe?: TopicRule;
  /** Refuses an MQTT CONNECT (return code 5) by giving a reason; default: every certificate the TLS layer accepted may connect. */
  authorizeConnect?: (peer: CloudPeer) => string | undefined;
  /**
   * Who may publish to topics starting with "$" other than "$SYS" (service APIs such as AWS's
   * "$aws/..."); default: nobody. Answers on such topics go out with publishTo().
   */
  authorizeReservedPublish?: TopicRule;
  /** Messages kept in `messages` (oldest dropped first). Default 1000. */
  maxMessages?: number;
  /** One line per event (connections, messages, refusals). Default: silent. */
  log?: (line: string) => void;
}

export interface VirtualCloud {
  readonly host: string;
  readonly port: number;
  /** The server certificate clients see (PEM); its issuer is what they must trust. */
  readonly serverCertificatePem: string;
  /** Messages received from devices, oldest first (bounded by maxMessages). */
  readonly messages: readonly CloudMessage[];
  /** Devices connected now. */
  readonly clients: readonly CloudClient[];
  /** Every refusal so far. */
  readonly refusals: readonly CloudRefusal[];
  /** "client" (CloudClient), "disconnect" (CloudClient), "message" (CloudMessage), "refused" (CloudRefusal). */
  readonly events: EventEmitter;
  /** Calls `listener` for each new message; returns a function that stops it. */
  onMessage(listener: (message: CloudMessage) => void): () => void;
  /** The first message (already received or to come) that matches, or a rejection after `timeoutMs`. */
  waitForMessage(predicate?: (message: CloudMessage) => boolean, timeoutMs?: number): Promise<CloudMessage>;
  /** The first refusal (already recorded or to come) that matches, or a rejection after `timeoutMs`. */
  waitForRefusal(predicate?: (refusal: CloudRefusal) => boolean, timeoutMs?: number): Promise<CloudRefusal>;
  /** Publishes from the cloud to the devices (commands, configuration). */
  publish(topic: string, payload: Uint8Array | string, options?: { qos?: 0 | 1; retain?: boolean }): Promise<void>;
  /**
   * Publishes to one connected client only, if it subscribed to a filter matching `topic` (how a
   * request/response API answers on the connection that asked); resolves false when it did not.
   */
  publishTo(clientId: string, topic: string, payload: Uint8Array | string, options?: { qos?: 0 | 1 }): Promise<boolean>;
  /** Stops listening, disconnects every device, stops the broker. */
  close(): Promise<void>;
}

/** A short, printable view of a payload: the text if it is printable UTF-8, else the first bytes in hex. */
export function payloadPreview(payload: Uint8Array, maxChars = 120): string {
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(payload);
  } catch {
    text = undefined;
  }
  // eslint-disable-next-line no-control-regex
  if (text !== undefined && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) {
    return JSON.stringify(text.length > maxChars ? `${text.slice(0, maxChars)}…` : text);
  }
  const shown = Buffer.from(payload.subarray(0, 32)).toString("hex");
  return `hex ${shown}${payload.length > 32 ? "…" : ""}`;
}

function peerAddress(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort ?? "?"}` : "unknown";
}

/** The CN (and DER) of the certificate a TLS client presented, or an explanation of why there is none. */
function commonName(socket: TLSSocket): { cn: string; der: Uint8Array } | { problem: string } {
  const certificate = socket.getPeerCertificate();
  const cn = certificate?.subject?.CN as string | string[] | undefined;
  if (cn === undefined || cn === "") return { problem: "the client certificate has no CN" };
  if (Array.isArray(cn)) return { problem: `the client certificate has ${cn.length} CNs` };
  return { cn, der: new Uint8Array(certificate.raw) };
}

/** Whether an MQTT topic filter matches a topic name (MQTT 3.1.1 §4.7). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  if (topic.startsWith("$") && (f[0] === "#" || f[0] === "+")) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length || (f[i] !== "+" && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

export async function startVirtualCloud(options: VirtualCloudOptions): Promise<VirtualCloud> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const maxMessages = options.maxMessages ?? 1000;
  const mayPublish = options.authorizePublish ?? topicNamesIdentity;
  const maySubscribe = options.authorizeSubscribe ?? topicNamesIdentity;

  let certPem = options.serverCertPem;
  let keyPem = options.serverKeyPem;
  if ((certPem === undefined) !== (keyPem === undefined)) throw new VirtualCloudError("serverCertPem and serverKeyPem go together");
  if (certPem === undefined) {
    if (!options.devCa) throw new VirtualCloudError("no server certificate: give serverCertPem and serverKeyPem, or a devCa to issue one from");
    const dns = options.serverNames?.dns ?? ["localhost"];
    const ip = options.serverNames?.ip ?? ["127.0.0.1", ...(/^\d+\.\d+\.\d+\.\d+$/.test(host) && host !== "127.0.0.1" ? [host] : [])];
    const issued = issueServerCertificate(options.devCa, { cn: dns[0] ?? ip[0] ?? "virtual-cloud", dns, ip });
    certPem = issued.certificatePem;
    keyPem = issued.privateKeyPem;
  }

  const events = new EventEmitter();
  const messages: CloudMessage[] = [];
  const refusals: CloudRefusal[] = [];
  const connected = new Map<Client, CloudClient>();
  const identities = new WeakMap<object, { cn: string; der: Uint8Array } | { problem: string }>();
  const sockets = new Set<TLSSocket>();

  const refuse = (refusal: Omit<CloudRefusal, "at">): void => {
    const full: CloudRefusal = { ...refusal, at: Date.now() };
    refusals.push(full);
    const who = refusal.identity ? `${refusal.identity}${refusal.clientId ? ` (client id ${refusal.clientId})` : ""}` : refusal.remoteAddress ?? "unknown";
    log(`REFUSED ${refusal.kind}${refusal.topic !== undefined ? ` ${JSON.stringify(refusal.topic)}` : ""} from ${who}: ${refusal.reason}`);
    events.emit("refused", full);
  };

  const identityOf = (client: Client): string | undefined => {
    const found = identities.get(client.conn);
    return found && "cn" in found ? found.cn : undefined;
  };
  const peerOf = (client: Client): CloudPeer => {
    const found = identities.get(client.conn);
    return found && "cn" in found ? { identity: found.cn, certificateDer: found.der } : { identity: "", certificateDer: new Uint8Array(0) };
  };

  const broker = await Aedes.createBroker({
    authenticate(client, username, _password, done) {
      const found = identities.get(client.conn);
      if (!found || !("cn" in found)) {
        const reason = found && "problem" in found ? found.problem : "no client certificate";
        refuse({ kind: "connect", reason, clientId: client.id, remoteAddress: peerAddress(client.conn as TLSSocket) });
        const error = Object.assign(new Error(reason), { returnCode: 5 as const });
        done(error, false);
        return;
      }
      const refusal = options.authorizeConnect?.({ identity: found.cn, certificateDer: found.der });
      if (refusal !== undefined) {
        refuse({ kind: "connect", reason: refusal, identity: found.cn, clientId: client.id, remoteAddress: peerAddress(client.conn as TLSSocket) });
        done(Object.assign(new Error(refusal), { returnCode: 5 as const }), false);
        return;
      }
      const info: CloudClient = { clientId: client.id, identity: found.cn, certificateDer: found.der, remoteAddress: peerAddress(client.conn as TLSSocket), username: username ?? undefined, connectedAt: Date.now() };
      connected.set(client, info);
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      if (!client) return done(null); // a will published after its client is gone
      const identity = identityOf(client) ?? "";
      if (packet.topic.startsWith("$")) {
        const service = !packet.topic.startsWith("$SYS") && (options.authorizeReservedPublish?.(identity, packet.topic, peerOf(client)) ?? false);
        if (service) return done(null);
        refuse({ kind: "publish", reason: "topics starting with $ belong to the broker", identity, clientId: client.id, topic: packet.topic });
        return done(new Error(`${packet.topic}: reserved topic`));
      }
      if (!mayPublish(identity, packet.topic, peerOf(client))) {
        refuse({ kind: "publish", reason: `${identity} may not publish there (connection closed, as MQTT 3.1.1 requires)`, identity, clientId: client.id, topic: packet.topic });
        return done(new Error(`${identity} is not authorized to publish to ${packet.topic}`));
      }
      done(null);
    },
    authorizeSubscribe(client, subscription: Subscription, done) {
      const identity = identityOf(client) ?? "";
      if (!maySubscribe(identity, subscription.topic, peerOf(client))) {
        refuse({ kind: "subscribe", reason: `${identity} may not subscribe there (SUBACK 0x80)`, identity, clientId: client.id, topic: subscription.topic });
        return done(null, null);
      }
      done(null, subscription);
    },
  });

  broker.on("clientReady", (client) => {
    const info = connected.get(client);
    if (!info) return;
    log(`${info.identity} connected (client id ${info.clientId}, from ${info.remoteAddress}${info.username !== undefined ? `, user name ${JSON.stringify(info.username)}` : ""})`);
    events.emit("client", info);
  });
  broker.on("clientDisconnect", (client) => {
    const info = connected.get(client);
    if (!info) return;
    connected.delete(client);
    log(`${info.identity} disconnected (client id ${info.clientId})`);
    events.emit("disconnect", info);
  });
  broker.on("clientError", (client, error) => {
    const info = connected.get(client);
    if (info) connected.delete(client);
    log(`${info ? info.identity : client.id}: connection closed: ${error.message}`);
    if (info) events.emit("disconnect", info);
  });
  broker.on("connectionError", (client, error) => {
    log(`connection error${client?.id ? ` (client id ${client.id})` : ""}: ${error.message}`);
  });
  broker.on("publish", (packet: AedesPublishPacket, client: Client | null) => {
    if (!client) return; // published by the broker itself ($SYS) or by cloud.publish()
    const info = connected.get(client);
    const message: CloudMessage = {
      clientId: client.id,
      identity: info?.identity ?? identityOf(client) ?? "",
      topic: packet.topic,
      payload: new Uint8Array(packet.payload as Buffer),
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup === true,
      receivedAt: Date.now(),
    };
    messages.push(message);
    if (messages.length > maxMessages) messages.splice(0, messages.length - maxMessages);
    log(`${message.identity} → ${message.topic} (QoS ${message.qos}${message.dup ? ", DUP" : ""}${message.retain ? ", retained" : ""}, ${message.payload.length} bytes): ${payloadPreview(message.payload)}`);
    events.emit("message", message);
  });

  const server: Server = createServer(
    {
      cert: certPem,
      key: keyPem,
      ca: options.clientCa,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.3",
    },
    (socket: TLSSocket) => {
      identities.set(socket, commonName(socket));
      sockets.add(socket);
      socket.once("close", () => {
        sockets.delete(socket);
        // After aedes has run its own close handlers: forget a client that never became ready.
        setImmediate(() => {
          for (const client of connected.keys()) if (client.conn === socket) connected.delete(client);
        });
      });
      broker.handle(socket);
    },
  );
  server.on("tlsClientError", (error, socket) => {
    // A certificate that fails verification makes Node drop the socket after the handshake: the
    // error is then a bare "socket hang up", and the verification result is on the socket.
    const verifyError = (socket as TLSSocket & { authorizationError?: unknown }).authorizationError;
    const reason = verifyError ? `client certificate not accepted: ${String(verifyError)}` : error.message;
    refuse({ kind: "tls", reason, remoteAddress: peerAddress(socket) });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  function waitFor<T>(list: readonly T[], event: string, predicate: (item: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const existing = list.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise<T>((resolve, reject) => {
      const listener = (item: T) => {
        if (!predicate(item)) return;
        clearTimeout(timer);
        events.removeListener(event, listener);
        resolve(item);
      };
      const timer = setTimeout(() => {
        events.removeListener(event, listener);
        reject(new VirtualCloudError(`no matching ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      events.on(event, listener);
    });
  }

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    serverCertificatePem: certPem,
    messages,
    get clients() {
      return [...connected.values()];
    },
    refusals,
    events,
    onMessage(listener) {
      events.on("message", listener);
      return () => events.removeListener("message", listener);
    },
    waitForMessage: (predicate = () => true, timeoutMs = 10000) => waitFor(messages, "message", predicate, timeoutMs, "message"),
    waitForRefusal: (predicate = () => true, timeoutMs = 10000) => waitFor(refusals, "refused", predicate, timeoutMs, "refusal"),
    publish(topic, payload, publishOptions = {}) {
      const packet: PublishPacket = {
        cmd: "publish",
        topic,
        payload: Buffer.from(typeof payload === "string" ? Buffer.from(payload, "utf8") : payload),
        qos: publishOptions.qos ?? 0,
        retain: publishOptions.retain ?? false,
        dup: false,
      };
      return new Promise<void>((resolve, reject) => broker.publish(packet, (error) => (error ? reject(error) : resolve())));
    },
    publishTo(clientId, topic, payload, publishOptions = {}) {
      const target = [...connected.keys()].find((c) => c.id === clientId);
      const subscriptions = (target as (Client & { subscriptions?: Record<string, unknown> }) | undefined)?.subscriptions ?? {};
      if (!target || !Object.keys(subscriptions).some((filter) => topicMatches(filter, topic))) return Promise.resolve(false);
      const packet: PublishPacket = {
        cmd: "publish",
        topic,
        payload: Buffer.from(typeof payload === "string" ? Buffer.from(payload, "utf8") : payload),
        qos: publishOptions.qos ?? 0,
        retain: false,
        dup: false,
      };
      log(`→ ${identityOf(target) ?? clientId} ${topic} (${packet.payload.length} bytes)`);
      return new Promise<boolean>((resolve, reject) => target.publish(packet, (error?: Error) => (error ? reject(error) : resolve(true))));
    },
    close() {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        await serverClosed;
      })();
      return closing;
    },
  };
}
