/**
 * Messages between the Node host and firmware running inside xsnap-worker. Both directions are
 * JSON text. Node → XS goes through the worker's `handleCommand` (a batch of events per crank);
 * XS → Node goes through the synchronous `issueCommand`, answered at once by the host.
 */

export type HostEvent =
  | { kind: "timer"; id: number }
  | { kind: "link-data"; link: string; hex: string }
  | { kind: "link-close"; link: string; error?: string }
  | { kind: "call"; callId: number; name: string; args: unknown };

export interface HostEventBatch {
  events: HostEvent[];
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export type XsRequest =
  | { op: "timer-set"; id: number; ms: number }
  | { op: "timer-clear"; id: number }
  | { op: "log"; level: "debug" | "info" | "warn" | "error"; tag: string; message: string }
  | { op: "output"; text: string }
  | { op: "link-write"; link: string; hex: string }
  | { op: "link-close"; link: string }
  | { op: "random"; count: number }
  | { op: "wall-clock" }
  // Durable storage (modules/platform/storage.ts), answered by the host's store for `domain`.
  | { op: "store-get"; domain: string; key: string }
  | { op: "store-set"; domain: string; key: string; hex: string }
  | { op: "store-delete"; domain: string; key: string }
  | { op: "store-keys"; domain: string }
  | { op: "call-result"; callId: number; ok: true; value: unknown }
  | { op: "call-result"; callId: number; ok: false; error: SerializedError };

/** The answer to every request: `hex` for random, `ms` for wall-clock, `error` if the host refused. */
export interface XsReply {
  hex?: string;
  ms?: number;
  error?: string;
  /** With `error` on link-write: the link is closed (XS raises LinkClosedError). */
  closed?: boolean;
  /** store-keys: the domain's keys. (store-get answers `hex`, or nothing when the key is absent.) */
  keys?: string[];
}
