// TLS codecs: the bounded reader, handshake message encoders/parsers, handshake reassembly and the
// record layer, on hand-built input and on messages from the RFC 8448 traces.
import { asciiToBytes, concatBytes, fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { nobleCrypto as provider } from "../../../modules/crypto/noble-provider.js";
import { TlsReader, u16 } from "../../../modules/tls/codec.js";
import { CIPHER_SUITES, ContentType, ExtensionType, HandshakeType, MAX_PLAINTEXT } from "../../../modules/tls/constants.js";
import { TlsClosedError, TlsDecodeError, TlsIllegalParameterError, TlsRecordOverflowError, TlsUnexpectedMessageError } from "../../../modules/tls/errors.js";
import { HandshakeAssembler } from "../../../modules/tls/handshake-assembler.js";
import { trafficKeys } from "../../../modules/tls/key-schedule.js";
import {
  certificateVerifyContent,
  encodeCertificate,
  encodeClientHello,
  encodeHandshake,
  parseCertificate,
  parseEncryptedExtensions,
  parseExtensions,
  parseKeyUpdate,
  parseNewSessionTicket,
  parseServerHello,
} from "../../../modules/tls/messages.js";
import { RecordLayer, RecordProtection } from "../../../modules/tls/record.js";
import type { TlsTransport } from "../../../modules/tls/transport.js";
import { Transcript } from "../../../modules/tls/transcript.js";
import * as assert from "../../lib/portable/assert.js";
import { parseClientHello } from "./fake-server.js";

/** A transport that plays back `input`, at most `chunk` bytes per read, and records what is written. */
function scriptedTransport(input: Uint8Array, chunk = Infinity): TlsTransport & { written: Uint8Array[]; asked: number[] } {
  let offset = 0;
  const written: Uint8Array[] = [];
  const asked: number[] = [];
  return {
    written,
    asked,
    async read(max) {
      asked.push(max);
      if (offset >= input.length) return null;
      const n = Math.min(max, chunk, input.length - offset);
      const out = input.slice(offset, offset + n);
      offset += n;
      return out;
    },
    async write(bytes) {
      written.push(bytes);
    },
    async close() {},
  };
}

const plainRecord = (type: number, content: Uint8Array) => concatBytes(Uint8Array.of(type, 3, 3), u16(content.length), content);

describe("TLS codec: TlsReader", () => {
  it("reads integers and vectors and checks every length", () => {
    const r = new TlsReader(fromHex("01 0203 040506 0708090a 02 aabb 0003 ccddee"), "test");
    assert.equal(r.u8("a"), 1);
    assert.equal(r.u16("b"), 0x0203);
    assert.equal(r.u24("c"), 0x040506);
    assert.equal(r.u32("d"), 0x0708090a);
    assert.deepEqual(r.vector(1, "e"), fromHex("aabb"));
    assert.deepEqual(r.vector(2, "f"), fromHex("ccddee"));
    r.end();
  });

  it("names the structure and field when input is short, long or out of range", () => {
    assert.throws(() => new TlsReader(fromHex("0005 aabb"), "Widget").vector(2, "payload"), TlsDecodeError, /Widget: truncated payload \(need 5 bytes, 2 left\)/);
    assert.throws(() => new TlsReader(fromHex("00"), "Widget").u16("version"), TlsDecodeError, /truncated version/);
    assert.throws(() => new TlsReader(fromHex("00"), "Widget").vector(1, "name", 1), TlsDecodeError, /name length 0 is outside 1\.\.255/);
    const r = new TlsReader(fromHex("0102"), "Widget");
    r.u8("x");
    assert.throws(() => r.end(), TlsDecodeError, /1 unexpected trailing bytes/);
    assert.throws(() => new TlsReader(fromHex("0003 010203"), "Widget").u16List(2, "list"), TlsDecodeError, /odd length 3/);
  });
});

describe("TLS codec: handshake messages", () => {
  it("parses the RFC 8448 ServerHello", () => {
    const sh = parseServerHello(
      fromHex(
        "0303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304",
      ),
    );
    assert.equal(sh.legacyVersion, 0x0303);
    assert.equal(toHex(sh.random), "a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e26928");
    assert.equal(sh.sessionIdEcho.length, 0);
    assert.equal(sh.cipherSuite, 0x1301);
    assert.deepEqual(sh.extensions.map((e) => e.type), [ExtensionType.key_share, ExtensionType.supported_versions]);
  });

  it("parses the RFC 8448 EncryptedExtensions (supported_groups, record_size_limit, server_name)", () => {
    const ee = parseEncryptedExtensions(fromHex("0022000a00140012001d00170018001901000101010201030104001c0002400100000000"));
    assert.deepEqual(ee.map((e) => e.type), [ExtensionType.supported_groups, ExtensionType.record_size_limit, ExtensionType.server_name]);
    assert.deepEqual(ee[1]!.data, fromHex("4001"));
  });

  it("refuses duplicate extensions and an extension overrunning its block", () => {
    const dup = concatBytes(u16(8), u16(0), u16(0), u16(0), u16(0));
    assert.throws(() => parseExtensions(new TlsReader(dup, "X"), "X"), TlsDecodeError, /duplicate server_name/);
    assert.throws(() => parseExtensions(new TlsReader(fromHex("0005 0000 0005 00"), "X"), "X"), TlsDecodeError, /truncated server_name data/);
  });

  it("encodes a ClientHello a server parses back to the same parameters", () => {
    const random = new Uint8Array(32).fill(9);
    const raw = encodeClientHello({
      random,
      sessionId: new Uint8Array(32).fill(1),
      cipherSuites: [0x1303, 0x1301],
      serverName: "cloud.example.com",
      groups: [0x001d, 0x0017],
      keyShares: [{ group: 0x001d, keyExchange: new Uint8Array(32).fill(2) }],
      signatureAlgorithms: [0x0403, 0x0804],
      signatureAlgorithmsCert: [0x0401],
      alpn: ["mqtt", "x-iot"],
      recordSizeLimit: 4096,
      maxFragmentLength: 4,
      cookie: fromHex("c0ffee"),
      pskModes: [1],
    });
    assert.equal(raw[0], HandshakeType.client_hello);
    const ch = parseClientHello(raw);
    assert.deepEqual(ch.random, random);
    assert.deepEqual(ch.cipherSuites, [0x1303, 0x1301]);
    assert.equal(ch.serverName, "cloud.example.com");
    assert.deepEqual(ch.groups, [0x001d, 0x0017]);
    assert.deepEqual(ch.signatureAlgorithms, [0x0403, 0x0804]);
    assert.deepEqual(ch.alpn, ["mqtt", "x-iot"]);
    assert.equal(ch.recordSizeLimit, 4096);
    assert.equal(ch.maxFragmentLength, 4);
    assert.deepEqual(ch.cookie, fromHex("c0ffee"));
    assert.equal(ch.keyShares.length, 1);
    // supported_versions lists TLS 1.3 only: 1-byte length, 0x0304.
    assert.deepEqual(ch.extensions.find((e) => e.type === ExtensionType.supported_versions)!.data, fromHex("020304"));
    // key_share is last (RFC 8446 only requires pre_shared_key to be last, which we do not send).
    assert.equal(ch.extensions[ch.extensions.length - 1]!.type, ExtensionType.key_share);
  });

  it("round-trips a Certificate message and bounds the chain length", () => {
    const chain = [fromHex("3003020101"), fromHex("3003020102")];
    const message = encodeCertificate(fromHex("aa"), chain);
    const parsed = parseCertificate(message.subarray(4));
    assert.deepEqual(parsed.context, fromHex("aa"));
    assert.deepEqual(parsed.entries.map((e) => e.certificate), chain);
    const long = encodeCertificate(new Uint8Array(0), new Array(11).fill(fromHex("3000")));
    assert.throws(() => parseCertificate(long.subarray(4)), TlsDecodeError, /more than 10 certificates/);
    assert.throws(() => parseCertificate(fromHex("00 000004 000000 00")), TlsDecodeError, /cert_data length 0 is outside/);
  });

  it("parses NewSessionTicket and KeyUpdate and refuses out-of-range values", () => {
    const nst = parseNewSessionTicket(fromHex("0000012c 01020304 02 0a0b 0003 aabbcc 0000"));
    assert.equal(nst.lifetimeSeconds, 300);
    assert.equal(nst.ageAdd, 0x01020304);
    assert.deepEqual(nst.nonce, fromHex("0a0b"));
    assert.deepEqual(nst.ticket, fromHex("aabbcc"));
    assert.throws(() => parseNewSessionTicket(fromHex("0000012c 01020304 00 0000 0000")), TlsDecodeError, /ticket length 0/);
    assert.equal(parseKeyUpdate(fromHex("01")), true);
    assert.equal(parseKeyUpdate(fromHex("00")), false);
    assert.throws(() => parseKeyUpdate(fromHex("02")), TlsIllegalParameterError);
    assert.throws(() => parseKeyUpdate(fromHex("0000")), TlsDecodeError);
  });

  it("builds the CertificateVerify content of RFC 8446 §4.4.3 (checked against the RFC 8448 transcript)", () => {
    // Transcript-Hash(ClientHello..Certificate) of RFC 8448 §3, then 64 spaces, the context string, 0, the hash.
    const transcript = new Transcript(provider);
    transcript.add(
      fromHex(
        "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001",
      ),
    );
    transcript.start("sha256");
    transcript.add(
      fromHex(
        "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304",
      ),
    );
    transcript.add(fromHex("080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000"));
    transcript.add(
      fromHex(
        "0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a06035504031303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de10000",
      ),
    );
    const content = certificateVerifyContent("server", transcript.hash());
    assert.equal(
      toHex(content),
      "20".repeat(64) + toHex(asciiToBytes("TLS 1.3, server CertificateVerify")) + "00" + "764d6632b3c35c3f3205e3499ac3edbaabb88295fba751461d3678e2e5ea0687",
    );
  });
});

describe("TLS codec: handshake reassembly", () => {
  it("joins a message split across fragments and splits several in one fragment", () => {
    const a = encodeHandshake(HandshakeType.encrypted_extensions, fromHex("0000"));
    const b = encodeHandshake(HandshakeType.certificate, new Uint8Array(300).fill(7));
    const c = encodeHandshake(HandshakeType.finished, new Uint8Array(32).fill(1));
    const all = concatBytes(a, b, c);
    const assembler = new HandshakeAssembler(1000);
    const out: number[] = [];
    for (let i = 0; i < all.length; i += 7) {
      assembler.push(all.subarray(i, i + 7));
      for (let m = assembler.next(); m; m = assembler.next()) out.push(m.type, m.body.length);
    }
    assert.deepEqual(out, [HandshakeType.encrypted_extensions, 2, HandshakeType.certificate, 300, HandshakeType.finished, 32]);
    assert.ok(assembler.empty);
    assembler.push(concatBytes(a, c));
    assert.deepEqual(assembler.next()!.raw, a);
    assert.deepEqual(assembler.next()!.raw, c);
    assert.equal(assembler.next(), undefined);
  });

  it("refuses an oversized message as soon as its header arrives", () => {
    const assembler = new HandshakeAssembler(1000);
    assert.throws(() => assembler.push(fromHex("0b 0003e9")), TlsDecodeError, /certificate message of 1001 bytes exceeds the 1000-byte limit/);
  });
});

describe("TLS record layer", () => {
  it("reads records however the transport chunks them, asking for no more than the record needs", async () => {
    const input = concatBytes(plainRecord(22, fromHex("0102")), plainRecord(21, fromHex("0228")));
    const transport = scriptedTransport(input, 1);
    const layer = new RecordLayer(transport, provider);
    assert.deepEqual(await layer.read(), { type: 22, content: fromHex("0102") });
    assert.deepEqual(await layer.read(), { type: 21, content: fromHex("0228") });
    assert.equal(await layer.read(), null);
    assert.ok(transport.asked.every((n) => n <= 5), `asked ${transport.asked.join(",")}`);
    assert.equal(layer.counters.recordsReceived, 2);
    assert.equal(layer.counters.bytesReceived, 14);
  });

  it("refuses unknown content types, oversized plaintext, non-TLS bytes and truncated records", async () => {
    await assert.rejects(new RecordLayer(scriptedTransport(plainRecord(99, fromHex("00"))), provider).read(), TlsUnexpectedMessageError, /unknown content type 99/);
    await assert.rejects(
      new RecordLayer(scriptedTransport(asciiToBytes("HTTP/1.1 400 Bad Request\r\n")), provider).read(),
      TlsUnexpectedMessageError,
      /is the peer speaking TLS/,
    );
    const big = concatBytes(Uint8Array.of(22, 3, 3), u16(MAX_PLAINTEXT + 1));
    await assert.rejects(new RecordLayer(scriptedTransport(big), provider).read(), TlsRecordOverflowError, /16385 bytes exceeds the 16384-byte limit/);
    await assert.rejects(new RecordLayer(scriptedTransport(fromHex("1603030005 0102")), provider).read(), TlsClosedError, /2 of 5 bytes/);
    await assert.rejects(new RecordLayer(scriptedTransport(fromHex("160303")), provider).read(), TlsClosedError, /record header \(3 of 5 bytes\)/);
    await assert.rejects(new RecordLayer(scriptedTransport(plainRecord(22, new Uint8Array(0))), provider).read(), TlsUnexpectedMessageError, /empty handshake record/);
  });

  it("drops change_cipher_spec only while allowed and only in its one valid form", async () => {
    const ccs = fromHex("140303000101");
    const layer = new RecordLayer(scriptedTransport(concatBytes(ccs, plainRecord(22, fromHex("aa")))), provider);
    layer.allowChangeCipherSpec = true;
    assert.deepEqual(await layer.read(), { type: 22, content: fromHex("aa") });
    await assert.rejects(new RecordLayer(scriptedTransport(ccs), provider).read(), TlsUnexpectedMessageError, /change_cipher_spec record outside the handshake/);
    const bad = new RecordLayer(scriptedTransport(fromHex("140303000102")), provider);
    bad.allowChangeCipherSpec = true;
    await assert.rejects(bad.read(), TlsUnexpectedMessageError, /malformed change_cipher_spec/);
  });

  it("numbers records: each nonce is used once and out-of-order records fail authentication", async () => {
    const suite = CIPHER_SUITES[0x1303]!;
    const keys = trafficKeys(provider, suite, new Uint8Array(32).fill(3));
    const sender = new RecordProtection(provider, suite, keys);
    const first = sender.seal(ContentType.application_data, asciiToBytes("one"));
    const second = sender.seal(ContentType.application_data, asciiToBytes("two"));
    assert.equal(sender.sequence, 2);
    const inOrder = new RecordLayer(scriptedTransport(concatBytes(first, second)), provider);
    inOrder.setReadProtection(suite, keys);
    assert.deepEqual((await inOrder.read())!.content, asciiToBytes("one"));
    assert.deepEqual((await inOrder.read())!.content, asciiToBytes("two"));
    const swapped = new RecordLayer(scriptedTransport(concatBytes(second, first)), provider);
    swapped.setReadProtection(suite, keys);
    await assert.rejects(swapped.read(), undefined, /record 0 failed authentication/);
  });

  it("fragments writes to the send limit and protects them", async () => {
    const suite = CIPHER_SUITES[0x1302]!;
    const keys = trafficKeys(provider, suite, new Uint8Array(48).fill(5));
    const transport = scriptedTransport(new Uint8Array(0));
    const layer = new RecordLayer(transport, provider);
    layer.setWriteProtection(suite, keys);
    layer.maxSendContent = 100;
    await layer.write(ContentType.application_data, new Uint8Array(250).fill(0x41));
    assert.deepEqual(transport.written.map((r) => r.length), [5 + 101 + 16, 5 + 101 + 16, 5 + 51 + 16]);
    const reader = new RecordProtection(provider, suite, keys);
    const contents = transport.written.map((r) => reader.open(r.subarray(0, 5), r.subarray(5)).content.length);
    assert.deepEqual(contents, [100, 100, 50]);
    assert.equal(layer.counters.recordsSent, 3);
  });

  it("checks the plaintext layout: type byte, zero padding", () => {
    const suite = CIPHER_SUITES[0x1301]!;
    const keys = trafficKeys(provider, suite, new Uint8Array(32).fill(8));
    const record = new RecordProtection(provider, suite, keys).seal(ContentType.handshake, fromHex("abcd"), 5);
    assert.equal(record.length, 5 + 2 + 1 + 5 + 16);
    const opened = new RecordProtection(provider, suite, keys).open(record.subarray(0, 5), record.subarray(5));
    assert.deepEqual(opened, { type: ContentType.handshake, content: fromHex("abcd") });
  });
});
