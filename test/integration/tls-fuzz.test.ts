// Seeded fast-check fuzz of the TLS client's parsers: records (framing and protection), handshake
// reassembly, every server message parser, and whole handshakes whose server messages are mutated.
// Hostile input may only ever produce a TlsError (never a TypeError, RangeError or a hang).
import assert from "node:assert/strict";
import fc from "fast-check";
import { concatBytes, fromHex } from "../../modules/bytes/bytes.js";
import { nobleCrypto as provider } from "../../modules/crypto/noble-provider.js";
import { u16 } from "../../modules/tls/codec.js";
import { CIPHER_SUITES, ContentType } from "../../modules/tls/constants.js";
import { TlsError } from "../../modules/tls/errors.js";
import { HandshakeAssembler } from "../../modules/tls/handshake-assembler.js";
import { trafficKeys } from "../../modules/tls/key-schedule.js";
import {
  parseCertificate,
  parseCertificateRequest,
  parseCertificateVerify,
  parseCookie,
  parseEncryptedExtensions,
  parseFinished,
  parseKeyUpdate,
  parseNewSessionTicket,
  parseRecordSizeLimit,
  parseSelectedAlpn,
  parseServerHello,
  parseServerKeyShare,
  parseSignatureAlgorithms,
} from "../../modules/tls/messages.js";
import { RecordLayer, RecordProtection } from "../../modules/tls/record.js";
import type { TlsTransport } from "../../modules/tls/transport.js";
import { TlsClient } from "../../modules/tls/client.js";
import { SoftwareCredential } from "../../modules/tls/software-credential.js";
import { ManualPlatform } from "../lib/portable/manual-platform.js";
import { FakeServer, serveHandshake } from "../unit/tls/fake-server.js";
import { CA_DER, CLIENT_DER, CLIENT_KEY, FIXTURE_TIME } from "../unit/tls/fixtures.js";

const SEED = 42;

function onlyTlsErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof TlsError)) throw new Error(`non-TLS error escaped: ${String(error)}`);
  }
}

function chunkedTransport(input: Uint8Array, chunks: number[]): TlsTransport {
  let offset = 0;
  let i = 0;
  return {
    async read(max) {
      if (offset >= input.length) return null;
      const n = Math.max(1, Math.min(max, chunks[i++ % chunks.length]!, input.length - offset));
      const out = input.slice(offset, offset + n);
      offset += n;
      return out;
    },
    async write() {},
    async close() {},
  };
}

/** Reads records until EOF or a TlsError; at most one read per input byte, so it always ends. */
async function drainRecords(layer: RecordLayer, inputLength: number): Promise<void> {
  for (let i = 0; i <= inputLength; i++) {
    try {
      if ((await layer.read()) === null) return;
    } catch (error) {
      if (error instanceof TlsError) return;
      throw error;
    }
  }
  assert.fail("record layer did not terminate");
}

const RFC8448_SERVER_HELLO = fromHex(
  "0303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304",
);
const RFC8448_ENCRYPTED_EXTENSIONS = fromHex("0022000a00140012001d00170018001901000101010201030104001c0002400100000000");
const CERTIFICATE_REQUEST = fromHex("000024000d0020001e040305030603020308040805080604010501060102010402050206020202");
const TICKET = fromHex("0000001e fad6aac5 02 0000 0004 aabbccdd 0000");

/** A byte string mutated a few times: flips, truncation, insertion, length-field damage. */
const mutated = (base: Uint8Array) =>
  fc
    .array(fc.tuple(fc.nat({ max: 3 }), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })
    .map((edits) => {
      let bytes: Uint8Array = base.slice();
      for (const [kind, at, value] of edits) {
        const pos = bytes.length === 0 ? 0 : at % bytes.length;
        if (kind === 0) bytes[pos] = value;
        else if (kind === 1) bytes = bytes.slice(0, pos);
        else if (kind === 2) bytes = concatBytes(bytes.subarray(0, pos), Uint8Array.of(value), bytes.subarray(pos));
        else bytes[pos] = bytes[pos]! ^ (1 << (value % 8));
      }
      return bytes;
    });

describe("TLS fuzz (fast-check, seeded)", function () {
  this.timeout(120000);

  it("record layer: arbitrary bytes in arbitrary chunks end in a record, EOF or a TlsError", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }), fc.boolean(), async (input, chunks, ccs) => {
        const layer = new RecordLayer(chunkedTransport(input, chunks), provider);
        layer.allowChangeCipherSpec = ccs;
        await drainRecords(layer, input.length);
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it("record layer: records with valid framing and random (or tampered) protected payloads", async () => {
    const suite = CIPHER_SUITES[0x1301]!;
    const keys = trafficKeys(provider, suite, new Uint8Array(32).fill(1));
    const record = fc.oneof(
      fc.tuple(fc.constantFrom(20, 21, 22, 23, 24), fc.uint8Array({ maxLength: 80 })).map(([type, body]) => concatBytes(Uint8Array.of(type, 3, 3), u16(body.length), body)),
      fc.tuple(fc.integer({ min: 0, max: 25 }), fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 30 })).map(([type, content, padding]) =>
        new RecordProtection(provider, suite, keys).seal(type, content, padding),
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 4 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 }), async (records, chunks) => {
        const input = concatBytes(...records);
        const layer = new RecordLayer(chunkedTransport(input, chunks), provider);
        layer.setReadProtection(suite, keys);
        layer.maxReceiveContent = 32;
        await drainRecords(layer, input.length);
      }),
      { seed: SEED, numRuns: 800 },
    );
  });

  it("handshake reassembly: arbitrary fragments yield messages within the bound or a TlsError", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }), (fragments) => {
        const assembler = new HandshakeAssembler(512);
        onlyTlsErrors(() => {
          for (const f of fragments) {
            assembler.push(f);
            for (let m = assembler.next(); m; m = assembler.next()) assert.ok(m.body.length <= 512 && m.raw.length === m.body.length + 4);
          }
        });
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it("message parsers: random bytes and mutated valid messages only raise TlsError", () => {
    const parsers: [string, (b: Uint8Array) => unknown, Uint8Array][] = [
      ["ServerHello", parseServerHello, RFC8448_SERVER_HELLO],
      ["EncryptedExtensions", parseEncryptedExtensions, RFC8448_ENCRYPTED_EXTENSIONS],
      ["CertificateRequest", parseCertificateRequest, CERTIFICATE_REQUEST],
      ["Certificate", (b) => parseCertificate(b), fromHex("00 00000a 000005 3003020101 0000")],
      ["CertificateVerify", parseCertificateVerify, fromHex("0403000430020100")],
      ["NewSessionTicket", parseNewSessionTicket, TICKET],
      ["KeyUpdate", parseKeyUpdate, fromHex("01")],
      ["Finished", (b) => parseFinished(b, 32), new Uint8Array(32)],
      ["key_share", parseServerKeyShare, fromHex("001d0004aabbccdd")],
      ["cookie", parseCookie, fromHex("0002abcd")],
      ["ALPN", parseSelectedAlpn, fromHex("0005046d717474")],
      ["record_size_limit", parseRecordSizeLimit, fromHex("4001")],
      ["signature_algorithms", (b) => parseSignatureAlgorithms(b, "sigalgs"), fromHex("000404030804")],
    ];
    for (const [, parse, valid] of parsers) {
      parse(valid); // the seed input itself is well-formed
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated(valid)), (input) => onlyTlsErrors(() => parse(input))),
        { seed: SEED, numRuns: 1500, examples: [[new Uint8Array(0)]] },
      );
    }
  });

  it("whole handshakes: a mutated server flight ends in a TlsError and an alert, never anything else", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 3 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), async (target, flips) => {
        const platform = new ManualPlatform();
        const server = new FakeServer();
        const serving = serveHandshake(server, {
          flight: (messages) =>
            messages.map((m, i) => {
              if (i !== target % messages.length) return m;
              const copy = m.slice();
              for (const [at, x] of flips) copy[at % copy.length] = copy[at % copy.length]! ^ x;
              return copy;
            }),
        });
        serving.catch(() => undefined);
        let settled = false;
        const connecting = TlsClient.connect(server.clientTransport(), {
          serverName: "localhost",
          platform,
          provider,
          trustAnchors: [CA_DER],
          clock: () => FIXTURE_TIME,
          credential: new SoftwareCredential({ privateKey: CLIENT_KEY, certificateChain: [CLIENT_DER] }),
          handshakeTimeoutMs: 30000,
        });
        connecting.then(
          () => (settled = true),
          () => (settled = true),
        );
        // Everything here moves by promise jobs; a mutated length can leave the client waiting for
        // bytes the server will never send. Then only the handshake timeout ends it.
        for (let i = 0; i < 2000 && !settled; i++) await platform.settle();
        if (!settled) await platform.advance(30000);
        try {
          const tls = await connecting;
          // A flip can land where it changes nothing the client checks (e.g. an ignored
          // extension's content): then the handshake must really have succeeded.
          await tls.close();
        } catch (error) {
          assert.ok(error instanceof TlsError, `non-TLS error: ${String(error)}`);
          await serving.catch(() => undefined);
          const alert = await server.readAlert();
          if (error.alert !== undefined) assert.deepEqual(alert, { level: 2, description: error.alert });
        }
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it("whole handshakes: a random record instead of the ServerHello", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(ContentType.handshake, ContentType.alert, ContentType.application_data), fc.uint8Array({ minLength: 1, maxLength: 120 }), async (type, body) => {
        const platform = new ManualPlatform();
        const server = new FakeServer();
        const serving = (async () => {
          await server.readHandshake();
          await server.send(type, body);
          await server.close();
        })();
        const error = await TlsClient.connect(server.clientTransport(), {
          serverName: "localhost",
          platform,
          provider,
          trustAnchors: [CA_DER],
          clock: () => FIXTURE_TIME,
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(error instanceof TlsError, `expected a TlsError, got ${String(error)}`);
        await serving;
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});
