// The TLS client's state machine against a scripted server: a normal handshake, then every way a
// server can misbehave — each must end with the right alert on the wire and a typed error here.
import { asciiToBytes, bytesToAscii, concatBytes, fromHex } from "../../../modules/bytes/bytes.js";
import { nobleCrypto as provider } from "../../../modules/crypto/noble-provider.js";
import { u16, u8, vector } from "../../../modules/tls/codec.js";
import { AlertDescription, ContentType, ExtensionType, HandshakeType, NamedGroup, SignatureScheme } from "../../../modules/tls/constants.js";
import type { ClientCredential } from "../../../modules/tls/credential.js";
import {
  TlsAlertError,
  TlsBadRecordMacError,
  TlsCertificateError,
  TlsClosedError,
  TlsConfigError,
  TlsDecodeError,
  TlsDowngradeError,
  TlsIllegalParameterError,
  TlsProtocolVersionError,
  TlsRecordOverflowError,
  TlsTimeoutError,
  TlsUnexpectedMessageError,
  TlsUnsupportedExtensionError,
  TlsVerificationError,
} from "../../../modules/tls/errors.js";
import { TlsClient, type TlsClientOptions } from "../../../modules/tls/client.js";
import { encodeHandshake } from "../../../modules/tls/messages.js";
import { SoftwareCredential } from "../../../modules/tls/software-credential.js";
import * as assert from "../../lib/portable/assert.js";
import { countingCredential } from "../../lib/portable/counting-credential.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";
import { extension, FakeServer, serveHandshake, type HandshakeScript } from "./fake-server.js";
import { CA_DER, CLIENT_DER, CLIENT_KEY, FIXTURE_TIME } from "./fixtures.js";

function clientOptions(platform: ManualPlatform, extra: Partial<TlsClientOptions> = {}): TlsClientOptions {
  return {
    serverName: "localhost",
    platform,
    provider,
    trustAnchors: [CA_DER],
    clock: () => FIXTURE_TIME,
    credential: new SoftwareCredential({ privateKey: CLIENT_KEY, certificateChain: [CLIENT_DER] }),
    ...extra,
  };
}

function start(script: HandshakeScript = {}, extra: Partial<TlsClientOptions> = {}) {
  const platform = new ManualPlatform();
  const server = new FakeServer();
  const serving = serveHandshake(server, script);
  serving.catch(() => undefined);
  const connecting = TlsClient.connect(server.clientTransport(), clientOptions(platform, extra));
  connecting.catch(() => undefined);
  return { platform, server, serving, connecting };
}

/** Expects the handshake to fail with `type` (message matching `pattern`) and the server to receive `alert`. */
async function expectFailure(
  script: HandshakeScript,
  type: abstract new (...args: never[]) => Error,
  pattern: RegExp,
  alert: number,
  extra: Partial<TlsClientOptions> = {},
): Promise<Error> {
  const { server, serving, connecting } = start(script, extra);
  const error = await assert.rejects(connecting, type, pattern);
  await serving.catch(() => undefined);
  assert.deepEqual(await server.readAlert(), { level: 2, description: alert }, "alert sent to the server");
  return error;
}

describe("TLS client: handshake with a scripted server", () => {
  it("completes a handshake with client authentication and exchanges data both ways", async () => {
    const { server, serving, connecting } = start({
      certificateRequest: { signatureAlgorithms: [SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.ecdsa_secp256r1_sha256] },
    });
    const tls = await connecting;
    const outcome = await serving;
    const hello = outcome.clientHellos[0]!;
    assert.equal(hello.serverName, "localhost");
    assert.deepEqual(hello.cipherSuites, [0x1301, 0x1302, 0x1303]);
    assert.deepEqual(hello.groups, [NamedGroup.secp256r1, NamedGroup.x25519]);
    assert.deepEqual(hello.keyShares.map((s) => s.group), [NamedGroup.secp256r1]);
    assert.equal(hello.keyShares[0]!.keyExchange.length, 65);
    assert.equal(hello.recordSizeLimit, 4096);
    assert.equal(hello.maxFragmentLength, 4, "2^12 bytes");
    assert.equal(hello.sessionId.length, 32, "middlebox compatibility mode");
    assert.deepEqual(outcome.clientChain, [CLIENT_DER]);
    assert.equal(outcome.clientSignatureScheme, SignatureScheme.ecdsa_secp256r1_sha256);
    assert.equal(outcome.clientSignatureValid, true, "the server verified our CertificateVerify with our certificate key");
    assert.equal(tls.info.cipherSuite, "TLS_AES_128_GCM_SHA256");
    assert.equal(tls.info.group, "secp256r1");
    assert.equal(tls.info.serverCertificate.commonName, "localhost");
    assert.equal(tls.info.clientSignatureScheme, "ecdsa_secp256r1_sha256");

    await tls.write(asciiToBytes("up"));
    assert.equal(bytesToAscii(await server.readApplicationData()), "up");
    await server.sendApplicationData(asciiToBytes("down"));
    assert.equal(bytesToAscii((await tls.read())!), "down");
    const handshake = tls.stats.handshake!;
    assert.ok(handshake.bytesSent > 0 && handshake.bytesReceived > 0 && handshake.recordsReceived >= 2);
    await tls.close();
    assert.deepEqual(await server.readAlert(), { level: 1, description: AlertDescription.close_notify });
  });

  it("sends the ALPN list and SNI it was given, and no SNI for an IP literal", async () => {
    const first = start({ encryptedExtensions: [extension(ExtensionType.application_layer_protocol_negotiation, vector(2, vector(1, asciiToBytes("mqtt"))))] }, { alpn: ["x-first", "mqtt"] });
    const tls = await first.connecting;
    assert.deepEqual((await first.serving).clientHellos[0]!.alpn, ["x-first", "mqtt"]);
    assert.equal(tls.info.alpn, "mqtt");
    await tls.close();

    // An IP literal: no server_name, and the certificate (SAN DNS names only) does not match it.
    const second = start({}, { serverName: "127.0.0.1" });
    await assert.rejects(second.connecting, TlsCertificateError, /not valid for "127\.0\.0\.1"/);
    assert.equal(second.server.clientHellos[0]!.serverName, undefined);
    assert.equal(second.server.clientHellos[0]!.extensions.some((e) => e.type === ExtensionType.server_name), false);
  });

  it("reassembles handshake messages that span records, several per record", async () => {
    const { serving, connecting } = start({ fragment: 37, certificateRequest: { signatureAlgorithms: [SignatureScheme.ecdsa_secp256r1_sha256] } });
    const tls = await connecting;
    assert.equal((await serving).clientSignatureValid, true);
    await tls.close();
  });

  it("drops a change_cipher_spec record sent for middlebox compatibility", async () => {
    const { connecting } = start({ changeCipherSpec: true });
    const tls = await connecting;
    assert.equal(tls.info.cipherSuite, "TLS_AES_128_GCM_SHA256");
    await tls.close();
  });

  it("answers a HelloRetryRequest: new key share for the selected group, cookie echoed, transcript via message_hash", async () => {
    const cookie = fromHex("c00c1e0123456789");
    const { serving, connecting } = start({ helloRetry: { selectedGroup: NamedGroup.x25519, cookie } });
    const tls = await connecting;
    const outcome = await serving;
    const [first, second] = outcome.clientHellos;
    assert.deepEqual(first!.keyShares.map((s) => s.group), [NamedGroup.secp256r1]);
    assert.deepEqual(second!.keyShares.map((s) => s.group), [NamedGroup.x25519]);
    assert.equal(second!.keyShares[0]!.keyExchange.length, 32);
    assert.deepEqual(second!.cookie, cookie);
    assert.equal(first!.cookie, undefined);
    assert.deepEqual(second!.random, first!.random, "the second ClientHello keeps the random");
    assert.equal(tls.info.helloRetryRequest, true);
    assert.equal(tls.info.group, "x25519");
    await tls.close();
  });

  it("waits for a slow asynchronous credential without blocking other work", async () => {
    const platform = new ManualPlatform();
    const software = new SoftwareCredential({ privateKey: CLIENT_KEY, certificateChain: [CLIENT_DER] });
    let signRequested = false;
    // A SIM-like signer: the signature is ready 3 seconds (of platform time) after the request.
    const slow: ClientCredential = {
      schemes: software.schemes,
      certificateChain: () => software.certificateChain(),
      sign: (scheme, digest) => {
        signRequested = true;
        return new Promise((resolve, reject) => platform.setTimer(() => software.sign(scheme, digest).then(resolve, reject), 3000));
      },
    };
    const server = new FakeServer();
    const serving = serveHandshake(server, { certificateRequest: { signatureAlgorithms: [SignatureScheme.ecdsa_secp256r1_sha256] } });
    let connected = false;
    const connecting = TlsClient.connect(server.clientTransport(), clientOptions(platform, { credential: slow })).then((tls) => {
      connected = true;
      return tls;
    });
    let otherWork = 0;
    platform.setTimer(() => otherWork++, 1000);
    await platform.advance(0);
    for (let i = 0; i < 50 && !signRequested; i++) await platform.settle();
    assert.ok(signRequested, "the client asked for a signature");
    await platform.advance(2000);
    assert.equal(otherWork, 1, "a timer ran while the signature was pending");
    assert.equal(connected, false);
    await platform.advance(1000);
    const tls = await connecting;
    assert.equal((await serving).clientSignatureValid, true);
    assert.ok(tls.stats.handshake!.credentialMs >= 3000, `credential time ${tls.stats.handshake!.credentialMs} ms`);
    await tls.close();
  });

  it("gives up with TlsTimeoutError when the credential never answers", async () => {
    const platform = new ManualPlatform();
    const stuck: ClientCredential = {
      schemes: [SignatureScheme.ecdsa_secp256r1_sha256],
      certificateChain: async () => [CLIENT_DER],
      sign: () => new Promise<Uint8Array>(() => undefined),
    };
    const server = new FakeServer();
    serveHandshake(server, { certificateRequest: { signatureAlgorithms: [SignatureScheme.ecdsa_secp256r1_sha256] } }).catch(() => undefined);
    let failed = false;
    const connecting = TlsClient.connect(server.clientTransport(), clientOptions(platform, { credential: stuck, handshakeTimeoutMs: 20000 }));
    connecting.catch(() => (failed = true));
    await platform.advance(19999);
    assert.equal(failed, false, "still waiting just before the timeout");
    await platform.advance(1);
    await assert.rejects(connecting, TlsTimeoutError, /did not complete within 20000 ms/);
  });

  it("sends an empty Certificate when it has no credential, or none the server accepts", async () => {
    const none = start({ certificateRequest: { signatureAlgorithms: [SignatureScheme.ecdsa_secp256r1_sha256] } }, { credential: undefined });
    const tls = await none.connecting;
    const outcome = await none.serving;
    assert.deepEqual(outcome.clientChain, []);
    assert.equal(outcome.clientSignatureScheme, undefined);
    assert.equal(tls.info.clientSignatureScheme, undefined);
    await tls.close();

    const mismatch = start({ certificateRequest: { signatureAlgorithms: [SignatureScheme.rsa_pss_rsae_sha256] } });
    const tls2 = await mismatch.connecting;
    assert.deepEqual((await mismatch.serving).clientChain, []);
    // The server then refuses us; the error explains why no certificate was sent.
    await mismatch.server.send(ContentType.alert, Uint8Array.of(2, AlertDescription.certificate_required));
    await assert.rejects(tls2.read(), TlsAlertError, /certificate_required \(116\).*none of the credential's signature schemes/);
  });
});

describe("TLS client: refusing a misbehaving server", () => {
  it("unexpected message: Certificate before EncryptedExtensions", async () => {
    await expectFailure(
      { flight: (m) => [m[1]!, m[0]!] },
      TlsUnexpectedMessageError,
      /expected encrypted_extensions, received certificate/,
      AlertDescription.unexpected_message,
    );
  });

  it("unexpected message: a second HelloRetryRequest", async () => {
    await expectFailure(
      { helloRetry: { selectedGroup: NamedGroup.x25519 }, secondHelloRetry: true },
      TlsUnexpectedMessageError,
      /second HelloRetryRequest/,
      AlertDescription.unexpected_message,
    );
  });

  it("bad record MAC: a flipped bit in the encrypted flight", async () => {
    const error = await expectFailure(
      {
        tamper: (wire) => {
          const copy = wire.slice();
          copy[40]! ^= 0x01;
          return copy;
        },
      },
      TlsBadRecordMacError,
      /failed authentication/,
      AlertDescription.bad_record_mac,
    );
    assert.equal(error.name, "TlsBadRecordMacError");
  });

  it("malformed extension: an EncryptedExtensions entry whose length overruns the block", async () => {
    await expectFailure(
      { encryptedExtensions: [concatBytes(u16(ExtensionType.server_name), u16(4), Uint8Array.of(0))] },
      TlsDecodeError,
      /EncryptedExtensions.*truncated server_name data/,
      AlertDescription.decode_error,
    );
  });

  it("malformed extension: a duplicated extension", async () => {
    const sni = extension(ExtensionType.server_name, new Uint8Array(0));
    await expectFailure({ encryptedExtensions: [sni, sni] }, TlsDecodeError, /duplicate server_name/, AlertDescription.decode_error);
  });

  it("malformed extension: a non-empty server_name acknowledgement", async () => {
    await expectFailure(
      { encryptedExtensions: [extension(ExtensionType.server_name, Uint8Array.of(1))] },
      TlsDecodeError,
      /server_name extension must be empty/,
      AlertDescription.decode_error,
    );
  });

  it("unsupported extension: EncryptedExtensions carrying one we did not offer", async () => {
    await expectFailure(
      { encryptedExtensions: [extension(0x7a7a, Uint8Array.of(1, 2))] },
      TlsUnsupportedExtensionError,
      /extension 31354, which we did not offer/,
      AlertDescription.unsupported_extension,
    );
    await expectFailure(
      { encryptedExtensions: [extension(ExtensionType.early_data, new Uint8Array(0))] },
      TlsUnsupportedExtensionError,
      /early_data/,
      AlertDescription.unsupported_extension,
    );
  });

  it("illegal parameter: an offered extension where it is not allowed (key_share in EncryptedExtensions)", async () => {
    await expectFailure(
      { encryptedExtensions: [extension(ExtensionType.key_share, Uint8Array.of(0, 0x17, 0, 0))] },
      TlsIllegalParameterError,
      /key_share, which is not allowed there/,
      AlertDescription.illegal_parameter,
    );
  });

  it("illegal parameter: ALPN protocol we did not offer, record_size_limit below 64", async () => {
    await expectFailure(
      { encryptedExtensions: [extension(ExtensionType.application_layer_protocol_negotiation, vector(2, vector(1, asciiToBytes("h2"))))] },
      TlsIllegalParameterError,
      /ALPN protocol "h2"/,
      AlertDescription.illegal_parameter,
      { alpn: ["mqtt"] },
    );
    await expectFailure(
      { encryptedExtensions: [extension(ExtensionType.record_size_limit, u16(63))] },
      TlsIllegalParameterError,
      /record_size_limit 63/,
      AlertDescription.illegal_parameter,
    );
  });

  it("downgrade: a TLS 1.2 ServerHello whose random ends with the DOWNGRD sentinel", async () => {
    for (const last of [1, 0]) {
      const random = concatBytes(new Uint8Array(24).fill(0x11), asciiToBytes("DOWNGRD"), u8(last));
      const error = await expectFailure(
        {
          serverHello: (f) => {
            f.random = random;
            f.extensions = [];
          },
        },
        TlsDowngradeError,
        /downgrade sentinel.*TLS 1\.2/,
        AlertDescription.illegal_parameter,
      );
      assert.ok(error instanceof TlsIllegalParameterError);
    }
  });

  it("protocol version: a TLS 1.2 ServerHello without the sentinel", async () => {
    await expectFailure(
      { serverHello: (f) => (f.extensions = []) },
      TlsProtocolVersionError,
      /localhost does not support TLS 1\.3 \(it selected TLS 1\.2\)/,
      AlertDescription.protocol_version,
    );
  });

  it("illegal parameter: supported_versions selecting TLS 1.2", async () => {
    await expectFailure(
      { serverHello: (f) => (f.extensions[0] = extension(ExtensionType.supported_versions, u16(0x0303))) },
      TlsIllegalParameterError,
      /selected TLS 1\.2 in supported_versions/,
      AlertDescription.illegal_parameter,
    );
  });

  it("illegal parameter: a cipher suite we did not offer, a session id not echoed", async () => {
    await expectFailure(
      { serverHello: (f) => (f.cipherSuite = 0x1304) },
      TlsIllegalParameterError,
      /cipher suite 0x1304, which we did not offer/,
      AlertDescription.illegal_parameter,
    );
    await expectFailure(
      { serverHello: (f) => (f.sessionIdEcho = new Uint8Array(32)) },
      TlsIllegalParameterError,
      /does not echo ours/,
      AlertDescription.illegal_parameter,
    );
  });

  it("unsupported extension in ServerHello: pre_shared_key without a PSK offer", async () => {
    await expectFailure(
      { serverHello: (f) => f.extensions.push(extension(ExtensionType.pre_shared_key, u16(0))) },
      TlsUnsupportedExtensionError,
      /ServerHello carries pre_shared_key/,
      AlertDescription.unsupported_extension,
    );
  });

  it("illegal parameter: a HelloRetryRequest for a group we already sent a share for", async () => {
    await expectFailure(
      { helloRetry: { selectedGroup: NamedGroup.secp256r1 } },
      TlsIllegalParameterError,
      /already sent a key share/,
      AlertDescription.illegal_parameter,
    );
  });

  it("illegal parameter: an invalid server key share", async () => {
    await expectFailure(
      { serverHello: (f) => (f.extensions[1] = extension(ExtensionType.key_share, concatBytes(u16(NamedGroup.secp256r1), vector(2, new Uint8Array(65).fill(4))))) },
      TlsIllegalParameterError,
      /secp256r1 key share is invalid/,
      AlertDescription.illegal_parameter,
    );
  });

  it("decrypt error: a CertificateVerify that does not verify", async () => {
    await expectFailure({ badSignature: true }, TlsVerificationError, /CertificateVerify signature \(ecdsa_secp256r1_sha256\) does not verify/, AlertDescription.decrypt_error);
  });

  it("decrypt error: a server Finished that does not verify", async () => {
    await expectFailure({ badFinished: true }, TlsVerificationError, /server Finished does not verify/, AlertDescription.decrypt_error);
  });

  it("unknown CA: a chain that does not lead to our trust anchor", async () => {
    await expectFailure({}, TlsCertificateError, /untrusted/, AlertDescription.unknown_ca, { trustAnchors: [CLIENT_DER] });
  });

  it("bad certificate: a server certificate for another name", async () => {
    await expectFailure({}, TlsCertificateError, /not valid for "mqtt\.example\.net"/, AlertDescription.bad_certificate, { serverName: "mqtt.example.net" });
  });

  it("certificate expired: a clock past the certificate's notAfter", async () => {
    await expectFailure({}, TlsCertificateError, /expired/, AlertDescription.certificate_expired, { clock: () => Date.UTC(2050, 0, 1) });
  });

  it("decode error: an empty server Certificate, and a handshake message over the size limit", async () => {
    await expectFailure({ chain: [] }, TlsDecodeError, /empty Certificate/, AlertDescription.decode_error);
    await expectFailure({}, TlsDecodeError, /certificate message of \d+ bytes exceeds the 300-byte limit/, AlertDescription.decode_error, { maxHandshakeMessageLength: 300 });
  });

  it("unexpected message: application data in the middle of the handshake", async () => {
    await expectFailure(
      { beforeFlight: (server) => server.send(ContentType.application_data, asciiToBytes("0.5-RTT too early")) },
      TlsUnexpectedMessageError,
      /application data during the handshake/,
      AlertDescription.unexpected_message,
    );
    const platform = new ManualPlatform();
    const server = new FakeServer();
    const serving = (async () => {
      await server.readHandshake();
      await server.send(ContentType.application_data, asciiToBytes("too early"));
    })();
    const connecting = TlsClient.connect(server.clientTransport(), clientOptions(platform));
    await assert.rejects(connecting, TlsUnexpectedMessageError, /unprotected application_data record before the handshake keys/);
    await serving;
    assert.deepEqual(await server.readAlert(), { level: 2, description: AlertDescription.unexpected_message });
  });

  it("reports a fatal alert from the server during the handshake by name", async () => {
    const platform = new ManualPlatform();
    const server = new FakeServer();
    const serving = (async () => {
      await server.readHandshake();
      await server.send(ContentType.alert, Uint8Array.of(2, AlertDescription.handshake_failure));
    })();
    const error = await assert.rejects(TlsClient.connect(server.clientTransport(), clientOptions(platform)), TlsAlertError);
    await serving;
    assert.equal(error.message, "server sent alert handshake_failure (40) in answer to our ClientHello (no cipher suite, group or signature algorithm in common)");
    assert.equal((error as TlsAlertError).description, 40);
    // Nothing is sent back for a received alert.
    assert.equal(await server.readAlert(), undefined);
  });

  it("refuses options that would skip server authentication", async () => {
    const platform = new ManualPlatform();
    const server = new FakeServer();
    await assert.rejects(TlsClient.connect(server.clientTransport(), clientOptions(platform, { trustAnchors: [] })), TlsConfigError, /never skipped/);
    await assert.rejects(TlsClient.connect(server.clientTransport(), clientOptions(platform, { recordSizeLimit: 63 })), TlsConfigError, /recordSizeLimit 63/);
  });
});

describe("TLS client: after the handshake", () => {
  async function connected(script: HandshakeScript = {}, extra: Partial<TlsClientOptions> = {}) {
    const { server, serving, connecting, platform } = start(script, extra);
    const tls = await connecting;
    await serving;
    return { tls, server, platform };
  }

  it("follows a server KeyUpdate that requests one: answers with its own and switches keys both ways", async () => {
    const { tls, server } = await connected();
    await server.sendKeyUpdate(true);
    await server.sendApplicationData(asciiToBytes("new server keys"));
    assert.equal(bytesToAscii((await tls.read())!), "new server keys");
    assert.equal(tls.stats.keyUpdatesReceived, 1);
    // Our answering KeyUpdate (update_not_requested) precedes any further data.
    const answer = await server.readRecord();
    assert.equal(answer!.type, ContentType.handshake);
    assert.deepEqual(answer!.content, Uint8Array.of(HandshakeType.key_update, 0, 0, 1, 0));
    server.followClientKeyUpdate();
    await tls.write(asciiToBytes("new client keys"));
    assert.equal(bytesToAscii(await server.readApplicationData()), "new client keys");
    await tls.close();
  });

  it("requestKeyUpdate() sends update_requested and uses the next traffic secret", async () => {
    const { tls, server } = await connected();
    await tls.requestKeyUpdate(true);
    const update = await server.readRecord();
    assert.deepEqual(update!.content, Uint8Array.of(HandshakeType.key_update, 0, 0, 1, 1));
    server.followClientKeyUpdate();
    await tls.write(asciiToBytes("after update"));
    assert.equal(bytesToAscii(await server.readApplicationData()), "after update");
    assert.equal(tls.stats.keyUpdatesSent, 1);
    await tls.close();
  });

  it("rejects a KeyUpdate that does not end its record, and a bad request_update value", async () => {
    const { tls, server } = await connected();
    await server.send(ContentType.handshake, concatBytes(Uint8Array.of(HandshakeType.key_update, 0, 0, 1, 0), Uint8Array.of(HandshakeType.key_update, 0)));
    await assert.rejects(tls.read(), TlsUnexpectedMessageError, /KeyUpdate is not the last message in its record/);
    assert.deepEqual(await server.readAlert(), { level: 2, description: AlertDescription.unexpected_message });
    await assert.rejects(tls.write(asciiToBytes("x")), TlsClosedError, /failed earlier/);

    const second = await connected();
    await second.server.send(ContentType.handshake, Uint8Array.of(HandshakeType.key_update, 0, 0, 1, 7));
    await assert.rejects(second.tls.read(), TlsIllegalParameterError, /request_update 7/);
  });

  it("keeps the newest session tickets with their resumption PSKs", async () => {
    const { tls, server } = await connected({}, { maxTickets: 2 });
    const psks: Uint8Array[] = [];
    for (let i = 1; i <= 3; i++) psks.push(await server.sendNewSessionTicket(Uint8Array.of(0xaa, i), Uint8Array.of(i)));
    await server.sendApplicationData(asciiToBytes("after tickets"));
    assert.equal(bytesToAscii((await tls.read())!), "after tickets");
    assert.equal(tls.stats.ticketsReceived, 3);
    assert.deepEqual(tls.tickets.map((t) => t.ticket), [Uint8Array.of(0xaa, 3), Uint8Array.of(0xaa, 2)]);
    assert.deepEqual(tls.tickets.map((t) => t.psk), [psks[2]!, psks[1]!]);
    assert.equal(tls.tickets[0]!.lifetimeSeconds, 3600);
    await tls.close();
  });

  it("rejects a ticket lifetime over 7 days and a post-handshake CertificateRequest", async () => {
    const { tls, server } = await connected();
    await server.sendNewSessionTicket(Uint8Array.of(1), Uint8Array.of(0), 604801);
    await assert.rejects(tls.read(), TlsIllegalParameterError, /exceeds the 7-day maximum/);

    const second = await connected();
    await second.server.send(ContentType.handshake, encodeHandshake(HandshakeType.certificate_request, concatBytes(vector(1, Uint8Array.of(1)), vector(2, new Uint8Array(0)))));
    await assert.rejects(second.tls.read(), TlsUnexpectedMessageError, /post_handshake_auth was not offered/);
    assert.deepEqual(await second.server.readAlert(), { level: 2, description: AlertDescription.unexpected_message });
  });

  it("honours the server's record_size_limit when sending", async () => {
    const { tls, server } = await connected({ encryptedExtensions: [extension(ExtensionType.record_size_limit, u16(256))] });
    assert.equal(tls.info.peerRecordSizeLimit, 256);
    assert.equal(tls.info.sendLimit, 255);
    const data = new Uint8Array(1000).fill(0x61);
    await tls.write(data);
    let received = 0;
    const before = server.clientRecordSizes.length;
    while (received < 1000) received += (await server.readApplicationData()).length;
    const sizes = server.clientRecordSizes.slice(before);
    assert.deepEqual(sizes, [255, 255, 255, 235]);
    await tls.close();
  });

  it("refuses a record larger than the limit it advertised (record_overflow)", async () => {
    const { tls, server } = await connected({ encryptedExtensions: [extension(ExtensionType.record_size_limit, u16(4096))] }, { recordSizeLimit: 512 });
    assert.equal(tls.info.receiveLimit, 511);
    await server.sendApplicationData(new Uint8Array(511));
    assert.equal((await tls.read())!.length, 511);
    await server.sendApplicationData(new Uint8Array(512));
    await assert.rejects(tls.read(), TlsRecordOverflowError, /512 bytes exceeds the 511-byte limit/);
    assert.deepEqual(await server.readAlert(), { level: 2, description: AlertDescription.record_overflow });
  });

  it("strips record padding and refuses an all-padding record", async () => {
    const { tls, server } = await connected();
    await server.send(ContentType.application_data, asciiToBytes("padded"), 100);
    assert.equal(bytesToAscii((await tls.read())!), "padded");
    // Inner plaintext of zeros only: no content type at all.
    await server.send(0, new Uint8Array(0), 10);
    await assert.rejects(tls.read(), TlsUnexpectedMessageError, /no content type \(all padding\)/);
    assert.deepEqual(await server.readAlert(), { level: 2, description: AlertDescription.unexpected_message });
  });

  it("returns null after close_notify, reports other alerts by name, and refuses an unprotected record", async () => {
    const { tls, server } = await connected();
    await server.sendApplicationData(asciiToBytes("last words"));
    await server.send(ContentType.alert, Uint8Array.of(1, AlertDescription.close_notify));
    assert.equal(bytesToAscii((await tls.read())!), "last words");
    assert.equal(await tls.read(), null);
    assert.equal(await tls.read(), null);
    assert.equal(tls.peerClosed, true);
    await tls.close();
    assert.deepEqual(await server.readAlert(), { level: 1, description: AlertDescription.close_notify });

    const second = await connected();
    await second.server.send(ContentType.alert, Uint8Array.of(2, AlertDescription.bad_certificate));
    await assert.rejects(second.tls.read(), TlsAlertError, /^server sent alert bad_certificate \(42\)$/);

    const third = await connected();
    await third.server.sendRaw(Uint8Array.of(22, 3, 3, 0, 1, 0));
    await assert.rejects(third.tls.read(), TlsUnexpectedMessageError, /unprotected handshake record after encryption started/);
  });

  it("reports a connection that ends without close_notify as a possible truncation", async () => {
    const { tls, server } = await connected();
    await server.close();
    await assert.rejects(tls.read(), TlsClosedError, /without close_notify/);
  });
});

describe("TLS client: session resumption (PSK with ECDHE)", () => {
  const clientAuth = { certificateRequest: { signatureAlgorithms: [SignatureScheme.ecdsa_secp256r1_sha256] } };

  /** A full handshake with client authentication, then one NewSessionTicket: the ticket and the server's PSK for it. */
  async function ticketFromFullHandshake(ticketId = Uint8Array.of(0x7e, 1), lifetime = 3600) {
    const { server, serving, connecting } = start(clientAuth);
    const tls = await connecting;
    await serving;
    const psk = await server.sendNewSessionTicket(ticketId, Uint8Array.of(0, 0), lifetime);
    await server.sendApplicationData(asciiToBytes("hello"));
    assert.equal(bytesToAscii((await tls.read())!), "hello");
    const ticket = tls.tickets[0]!;
    assert.deepEqual(ticket.psk, psk, "the client derived the server's PSK");
    await tls.close();
    return { ticket, psk, serverCertificate: tls.info.serverCertificate };
  }

  it("resumes with a ticket: the binder verifies, no certificate is exchanged and the credential signs nothing", async () => {
    const { ticket, psk, serverCertificate } = await ticketFromFullHandshake();
    const credential = countingCredential(new SoftwareCredential({ privateKey: CLIENT_KEY, certificateChain: [CLIENT_DER] }));
    const { server, serving, connecting } = start({ resume: { psk } }, { resumption: ticket, credential });
    const tls = await connecting;
    const outcome = await serving;
    const hello = outcome.clientHellos[0]!;
    assert.ok(hello.psk, "the ClientHello offers a PSK");
    assert.ok(hello.psk!.last, "pre_shared_key is the last extension");
    assert.deepEqual(hello.psk!.identities.map((i) => i.identity), [ticket.ticket]);
    assert.deepEqual(outcome.bindersValid, [true]);
    assert.equal(tls.info.resumed, true);
    assert.equal(tls.info.serverSignatureScheme, undefined);
    assert.deepEqual(tls.info.serverCertificate, serverCertificate, "the server identity carries over from the ticket");
    assert.equal(outcome.clientChain, undefined, "no client Certificate message");
    assert.equal(credential.signatures, 0);
    await tls.write(asciiToBytes("resumed data"));
    assert.equal(bytesToAscii(await server.readApplicationData()), "resumed data");
    await tls.close();
  });

  it("obfuscates the ticket age with ticket_age_add, and falls back to a full handshake when the server declines", async () => {
    const { ticket } = await ticketFromFullHandshake();
    const platform = new ManualPlatform();
    await platform.advance(5000);
    const server = new FakeServer();
    const serving = serveHandshake(server, clientAuth);
    const credential = countingCredential(new SoftwareCredential({ privateKey: CLIENT_KEY, certificateChain: [CLIENT_DER] }));
    const aged = { ...ticket, receivedAt: 0 };
    const tls = await TlsClient.connect(server.clientTransport(), clientOptions(platform, { resumption: aged, credential }));
    const outcome = await serving;
    assert.equal(outcome.clientHellos[0]!.psk!.identities[0]!.obfuscatedTicketAge, (5000 + ticket.ageAdd) % 2 ** 32);
    assert.equal(tls.info.resumed, false);
    assert.equal(credential.signatures, 1, "a full handshake signs again");
    assert.equal(outcome.clientSignatureValid, true);
    await tls.close();
  });

  it("keeps the PSK through a HelloRetryRequest with a binder over the new transcript", async () => {
    const { ticket, psk } = await ticketFromFullHandshake();
    const { serving, connecting } = start({ resume: { psk }, helloRetry: { selectedGroup: NamedGroup.x25519 } }, { resumption: ticket });
    const tls = await connecting;
    const outcome = await serving;
    assert.equal(outcome.clientHellos.length, 2);
    assert.ok(outcome.clientHellos[1]!.psk, "the second ClientHello offers the PSK again");
    assert.deepEqual(outcome.bindersValid, [true, true]);
    assert.equal(tls.info.resumed, true);
    assert.equal(tls.info.helloRetryRequest, true);
    await tls.close();
  });

  it("does not offer a ticket that expired, belongs to another server or to a cipher suite not offered", async () => {
    const { ticket } = await ticketFromFullHandshake(Uint8Array.of(0x7e, 2), 60);
    const cases: [Partial<TlsClientOptions>, RegExp][] = [
      [{ resumption: { ...ticket, receivedAt: -61000 } }, /expired/],
      [{ resumption: { ...ticket, serverName: "other.example" } }, /issued for other\.example/],
      [{ resumption: ticket, cipherSuites: [0x1302] }, /cipher suite 0x1301 is not offered/],
    ];
    for (const [extra, why] of cases) {
      const { serving, connecting, platform } = start(clientAuth, extra);
      const tls = await connecting;
      const outcome = await serving;
      assert.equal(outcome.clientHellos[0]!.psk, undefined);
      assert.equal(tls.info.resumed, false);
      assert.ok(platform.logs.some((l) => why.test(l.message)), `logged why (${why})`);
      await tls.close();
    }
  });

  it("refuses a ServerHello that selects a PSK identity it was not offered, or a PSK nobody offered", async () => {
    const { ticket, psk } = await ticketFromFullHandshake();
    await expectFailure({ resume: { psk, selectedIdentity: 1 } }, TlsIllegalParameterError, /selected PSK identity 1/, AlertDescription.illegal_parameter, { resumption: ticket });
    await expectFailure(
      { serverHello: (f) => f.extensions.push(extension(ExtensionType.pre_shared_key, u16(0))) },
      TlsUnsupportedExtensionError,
      /pre_shared_key/,
      AlertDescription.unsupported_extension,
    );
  });

  it("refuses a certificate or a CertificateRequest in a resumed handshake (unexpected_message)", async () => {
    const { ticket, psk } = await ticketFromFullHandshake();
    await expectFailure({ ...clientAuth, resume: { psk } }, TlsUnexpectedMessageError, /certificate_request/, AlertDescription.unexpected_message, { resumption: ticket });
  });

  it("cannot read the flight of a server that keys the handshake with another PSK (bad_record_mac)", async () => {
    const { ticket } = await ticketFromFullHandshake();
    const { serving, connecting } = start({ resume: { psk: new Uint8Array(32).fill(9) } }, { resumption: ticket });
    await assert.rejects(connecting, TlsBadRecordMacError, /failed authentication/);
    // The alert goes out under the client's handshake keys, which that server cannot read either.
    await assert.rejects(serving, TlsBadRecordMacError, /failed authentication/);
  });
});
