/**
 * The CloudConnector of a real device: a TCP connection (the modem's socket, or a host link), TLS 1.3
 * with the given client credential (key in the SIM), MQTT on top. Closing the MQTT client closes
 * the TLS session and the socket.
 */
import type { TrustStore } from "../crypto/path.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { MqttClient } from "../mqtt/client.js";
import { MqttConnectionLostError } from "../mqtt/errors.js";
import type { Platform } from "../platform/platform.js";
import { TlsClient } from "../tls/client.js";
import { TlsClosedError } from "../tls/errors.js";
import type { TlsTransport } from "../tls/transport.js";
import type { CloudConnector } from "./provisioner.js";

export interface TlsMqttConnectorOptions {
  /** Opens the byte stream to the broker (e.g. () => modem.openTcp(host, port)). */
  openTransport: () => Promise<TlsTransport>;
  /** TLS server_name, checked against the broker's certificate. */
  serverName: string;
  /** Anchors for the broker's certificate. */
  trustAnchors: TrustStore | ReadonlyArray<Uint8Array | string>;
  platform: Platform;
  provider: CryptoProvider;
  clock?: () => number;
  keepAliveSeconds?: number;
  /** TLS handshake and CONNACK time limits. Default 60000 ms each. */
  connectTimeoutMs?: number;
  ackTimeoutMs?: number;
}

/**
 * The server completed the TLS handshake, then closed the connection without an alert and without
 * answering CONNECT. In TLS 1.3 the server checks the client certificate after the handshake, and
 * some servers (Node's, for one) refuse it by just closing: this is most likely such a refusal.
 */
export class ClosedAfterHandshakeError extends Error {
  override name = "ClosedAfterHandshakeError";
  readonly reason: unknown;
  constructor(serverName: string, reason: unknown) {
    super(`${serverName} closed the connection right after the TLS handshake, without an alert and without answering CONNECT: it most likely refused the client certificate`);
    this.reason = reason;
  }
}

export function tlsMqttConnector(options: TlsMqttConnectorOptions): CloudConnector {
  return async (credential, clientId) => {
    const transport = await options.openTransport();
    let tls: TlsClient;
    try {
      tls = await TlsClient.connect(transport, {
        serverName: options.serverName,
        platform: options.platform,
        provider: options.provider,
        trustAnchors: options.trustAnchors,
        credential,
        ...(options.clock ? { clock: options.clock } : {}),
        handshakeTimeoutMs: options.connectTimeoutMs ?? 60000,
      });
    } catch (error) {
      await transport.close().catch(() => undefined);
      throw error;
    }
    // MqttClient.connect closes the stream (the TLS session) itself when it fails.
    try {
      return await MqttClient.connect(tls, {
        platform: options.platform,
        clientId,
        keepAliveSeconds: options.keepAliveSeconds ?? 60,
        connectTimeoutMs: options.connectTimeoutMs ?? 60000,
        ackTimeoutMs: options.ackTimeoutMs ?? 30000,
      });
    } catch (error) {
      if (error instanceof MqttConnectionLostError && error.reason instanceof TlsClosedError) throw new ClosedAfterHandshakeError(options.serverName, error);
      throw error;
    }
  };
}
