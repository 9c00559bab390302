/**
 * Moving readings from the outbox to the broker: QoS 1 PUBLISH, at most `outbox.maxInflight` at a
 * time, each removed from the outbox only by its PUBACK.
 *
 * The MQTT client keeps unacknowledged messages in an MqttSession and re-sends them (DUP set, same
 * packet identifiers) when the next connection opens. OutboxSession is that session backed by the
 * outbox: the packet identifier of every PUBLISH is written to the reading's record before the
 * message counts as in flight, the session is rebuilt from those records after a reboot, and a
 * PUBACK on any connection deletes the reading.
 */
import type { MqttClient } from "../mqtt/client.js";
import { type InflightMessage, MqttSession } from "../mqtt/session.js";
import type { Outbox, OutboxEntry } from "./outbox.js";

function ignore(): void {}

export class OutboxSession extends MqttSession {
  readonly #outbox: Outbox;
  /** The reading whose publish() is running right now (publish adds it to the session synchronously). */
  #sending: number | undefined;
  /** Called after a reading's PUBACK removed it from the outbox. */
  onReadingAcknowledged: ((entry: OutboxEntry) => void) | undefined;

  /** `topicOf` gives each reading's topic (the template expanded with the device's client ID). */
  constructor(outbox: Outbox, topicOf: (entry: OutboxEntry) => string) {
    super({ maxInflight: outbox.maxInflight });
    this.#outbox = outbox;
    // Readings sent before a reboot: the client re-sends these first, with DUP and their identifiers.
    for (const entry of outbox.inflight) {
      super.add({ packetId: entry.packetId, topic: topicOf(entry), payload: outbox.payload(entry.id), retain: false });
    }
    this.onAcknowledged = (message: InflightMessage) => {
      const entry = outbox.byPacketId(message.packetId);
      if (entry && outbox.acknowledge(entry.id)) this.onReadingAcknowledged?.(entry);
    };
  }

  override add(message: InflightMessage): void {
    const id = this.#sending;
    // Storage first: if the write fails, publish() fails and the reading stays unsent.
    if (id !== undefined) this.#outbox.markSent(id, message.packetId);
    super.add(message);
  }

  /**
   * Starts the PUBLISH of a stored reading. The promise settles with its PUBACK on this connection,
   * or rejects when the connection ends first (the session then re-sends it on the next one).
   */
  publish(client: MqttClient, entry: OutboxEntry, topic: string): Promise<void> {
    this.#sending = entry.id;
    try {
      return client.publish(topic, this.#outbox.payload(entry.id), { qos: 1 });
    } catch (error) {
      return Promise.reject(error);
    } finally {
      this.#sending = undefined;
    }
  }
}

/**
 * Publishes stored readings over `client` until the connection ends (resolves with its error, or
 * undefined after a clean close) or `shouldStop()` turns true after an acknowledgement.
 */
export function pumpOutbox(
  client: MqttClient,
  session: OutboxSession,
  outbox: Outbox,
  topicOf: (entry: OutboxEntry) => string,
  shouldStop: () => boolean,
): Promise<{ stopped: boolean; error?: Error }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: { stopped: boolean; error?: Error }) => {
      if (done) return;
      done = true;
      if (outbox.onChange === fill) outbox.onChange = undefined;
      client.onClose = undefined;
      resolve(result);
    };
    function fill(): void {
      if (done) return;
      if (shouldStop()) return finish({ stopped: true });
      if (!client.connected) return;
      while (session.inflightCount < outbox.maxInflight) {
        const entry = outbox.nextUnsent();
        if (!entry) break;
        session.publish(client, entry, topicOf(entry)).catch(ignore);
        // publish() marks the reading as sent before returning; if it could not, stop trying now.
        if (outbox.nextUnsent() === entry) break;
      }
    }
    client.onClose = (error) => finish(error ? { stopped: false, error } : { stopped: false });
    outbox.onChange = fill;
    if (!client.connected) {
      finish({ stopped: false, ...(client.closeError ? { error: client.closeError } : {}) });
      return;
    }
    fill();
  });
}
