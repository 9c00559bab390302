// Known-answer tests from RFC 8448 ("Example Handshake Traces for TLS 1.3"): §3 Simple 1-RTT
// Handshake (x25519, TLS_AES_128_GCM_SHA256), §4's resumption PSK binder, and §5 HelloRetryRequest (x25519 share refused,
// secp256r1 retry). Inputs and expected values are the hex the RFC prints: keys, secrets, handshake
// messages and whole protected records. Our key schedule, transcript (message_hash after HRR),
// record protection and Finished computation must reproduce them byte for byte.
import { concatBytes, fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { nobleCrypto as provider } from "../../../modules/crypto/noble-provider.js";
import { CIPHER_SUITES, ContentType, HandshakeType } from "../../../modules/tls/constants.js";
import { deriveSecret, finishedVerifyData, hkdfExpandLabel, KeySchedule, resumptionPsk, trafficKeys } from "../../../modules/tls/key-schedule.js";
import { encodeFinished, parseNewSessionTicket, parseServerHello, parseServerKeyShare } from "../../../modules/tls/messages.js";
import { RecordProtection } from "../../../modules/tls/record.js";
import { Transcript } from "../../../modules/tls/transcript.js";
import * as assert from "../../lib/portable/assert.js";

const suite = CIPHER_SUITES[0x1301]!;

/** A handshake message from a record: the record minus its 5-byte header (these records hold one message). */
const fromRecord = (hex: string) => fromHex(hex).subarray(5);
const header = (record: Uint8Array) => record.subarray(0, 5);
const body = (record: Uint8Array) => record.subarray(5);

// ---- RFC 8448 §3: Simple 1-RTT Handshake ----
const S = {
  clientPrivateKey: "49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005",
  clientHello: fromRecord(
    "16030100c4010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001",
  ),
  serverHello: fromHex(
    "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304",
  ),
  sharedSecret: "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d",
  helloHash: "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8",
  earlySecret: "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a",
  derivedEarly: "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba",
  handshakeSecret: "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac",
  clientHandshakeTraffic: "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
  serverHandshakeTraffic: "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
  masterSecret: "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919",
  serverApplicationTraffic: "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
  resumptionMasterSecret: "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c",
  resumptionPsk: "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3",
  serverFlightRecord: fromHex(
    "17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35edf7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13bd9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2ed65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd610928d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead686945ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b3684596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b659622245317b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d461e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c85977b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b845e275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e750edc53370d2b",
  ),
  encryptedExtensions: fromHex("080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000"),
  certificate: fromHex(
    "0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a06035504031303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de10000",
  ),
  certificateVerify: fromHex(
    "0f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3",
  ),
  serverFinished: fromHex("140000209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718"),
  clientFinishedRecord: "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546",
  newSessionTicketRecord: fromHex(
    "17030300de3a6b8f90414a97d6959c3487680de5134a2b240e6cffac116e95d41d6af8f6b580dcf3d11d63c758db289a015940252f55713e061dc13e078891a38efbcf5753ad8ef170ad3c7353d16d9da773b9ca7f2b9fa1b6c0d4a3d03f75e09c30ba1e62972ac46f75f7b981be63439b2999ce13064615139891d5e4c5b406f16e3fc181a77ca475840025db2f0a77f81b5ab05b94c01346755f69232c86519d86cbeeac87aac347d143f9605d64f650db4d023e70e952ca49fe5137121c74bc2697687e248746d6df353005f3bce18696129c8153556b3b6c6779b37bf15985684f",
  ),
  ticket:
    "2c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d357",
  applicationData: fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"),
  clientApplicationDataRecord: "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4",
  serverApplicationDataRecord: fromHex(
    "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d",
  ),
  clientCloseNotifyRecord: "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3",
  serverCloseNotifyRecord: fromHex("1703030013b58fd67166ebf599d24720cfbe7efa7a8864a9"),
};

describe("TLS key schedule: RFC 8448 §3 simple 1-RTT handshake", () => {
  it("computes the x25519 shared secret from the client's private key and the server's share", () => {
    const share = parseServerKeyShare(parseServerHello(S.serverHello.subarray(4)).extensions.find((e) => e.type === 51)!.data);
    assert.equal(share.group, 0x001d);
    assert.equal(toHex(provider.ecdhSharedSecret("x25519", fromHex(S.clientPrivateKey), share.keyExchange)), S.sharedSecret);
  });

  it("derives the early, handshake and master secrets and the handshake traffic secrets", () => {
    const schedule = new KeySchedule(provider, "sha256");
    assert.equal(toHex(schedule.earlySecret()), S.earlySecret);
    const emptyHash = provider.hash("sha256", new Uint8Array(0));
    assert.equal(toHex(deriveSecret(provider, "sha256", schedule.earlySecret(), "derived", emptyHash)), S.derivedEarly);
    const helloHash = provider.hash("sha256", concatBytes(S.clientHello, S.serverHello));
    assert.equal(toHex(helloHash), S.helloHash);
    const hs = schedule.handshake(fromHex(S.sharedSecret), helloHash);
    assert.equal(toHex(schedule.handshakeSecret!), S.handshakeSecret);
    assert.equal(toHex(hs.clientHandshakeTrafficSecret), S.clientHandshakeTraffic);
    assert.equal(toHex(hs.serverHandshakeTrafficSecret), S.serverHandshakeTraffic);
  });

  it("decrypts the server's flight, verifies its Finished, and produces the client Finished record", () => {
    const transcript = new Transcript(provider);
    transcript.add(S.clientHello);
    transcript.start("sha256");
    transcript.add(S.serverHello);
    const schedule = new KeySchedule(provider, "sha256");
    const hs = schedule.handshake(fromHex(S.sharedSecret), transcript.hash());

    const serverRead = new RecordProtection(provider, suite, trafficKeys(provider, suite, hs.serverHandshakeTrafficSecret));
    const inner = serverRead.open(header(S.serverFlightRecord), body(S.serverFlightRecord));
    assert.equal(inner.type, ContentType.handshake);
    assert.deepEqual(inner.content, concatBytes(S.encryptedExtensions, S.certificate, S.certificateVerify, S.serverFinished));

    transcript.add(S.encryptedExtensions);
    transcript.add(S.certificate);
    transcript.add(S.certificateVerify);
    const expected = finishedVerifyData(provider, "sha256", hs.serverHandshakeTrafficSecret, transcript.hash());
    assert.deepEqual(encodeFinished(expected), S.serverFinished);
    transcript.add(S.serverFinished);

    const app = schedule.application(transcript.hash());
    assert.equal(toHex(schedule.masterSecret!), S.masterSecret);
    assert.equal(toHex(app.serverApplicationTrafficSecret), S.serverApplicationTraffic);

    const clientFinished = encodeFinished(finishedVerifyData(provider, "sha256", hs.clientHandshakeTrafficSecret, transcript.hash()));
    const clientWrite = new RecordProtection(provider, suite, trafficKeys(provider, suite, hs.clientHandshakeTrafficSecret));
    assert.equal(toHex(clientWrite.seal(ContentType.handshake, clientFinished)), S.clientFinishedRecord);
    transcript.add(clientFinished);
    assert.equal(toHex(schedule.resumption(transcript.hash())), S.resumptionMasterSecret);
  });

  it("protects application data, the ticket and close_notify under the application traffic keys", () => {
    const transcript = new Transcript(provider);
    for (const m of [S.clientHello]) transcript.add(m);
    transcript.start("sha256");
    for (const m of [S.serverHello]) transcript.add(m);
    const schedule = new KeySchedule(provider, "sha256");
    const hs = schedule.handshake(fromHex(S.sharedSecret), transcript.hash());
    for (const m of [S.encryptedExtensions, S.certificate, S.certificateVerify, S.serverFinished]) transcript.add(m);
    const app = schedule.application(transcript.hash());
    transcript.add(encodeFinished(finishedVerifyData(provider, "sha256", hs.clientHandshakeTrafficSecret, transcript.hash())));
    const resumption = schedule.resumption(transcript.hash());

    const serverRead = new RecordProtection(provider, suite, trafficKeys(provider, suite, app.serverApplicationTrafficSecret));
    const ticketRecord = serverRead.open(header(S.newSessionTicketRecord), body(S.newSessionTicketRecord));
    assert.equal(ticketRecord.type, ContentType.handshake);
    assert.equal(ticketRecord.content[0], HandshakeType.new_session_ticket);
    const ticket = parseNewSessionTicket(ticketRecord.content.subarray(4));
    assert.equal(toHex(ticket.ticket), S.ticket);
    assert.equal(ticket.lifetimeSeconds, 30);
    assert.equal(toHex(ticket.nonce), "0000");
    assert.equal(toHex(resumptionPsk(provider, "sha256", resumption, ticket.nonce)), S.resumptionPsk);

    const clientWrite = new RecordProtection(provider, suite, trafficKeys(provider, suite, app.clientApplicationTrafficSecret));
    assert.equal(toHex(clientWrite.seal(ContentType.application_data, S.applicationData)), S.clientApplicationDataRecord);
    const serverData = serverRead.open(header(S.serverApplicationDataRecord), body(S.serverApplicationDataRecord));
    assert.equal(serverData.type, ContentType.application_data);
    assert.deepEqual(serverData.content, S.applicationData);

    assert.equal(toHex(clientWrite.seal(ContentType.alert, Uint8Array.of(1, 0))), S.clientCloseNotifyRecord);
    const serverClose = serverRead.open(header(S.serverCloseNotifyRecord), body(S.serverCloseNotifyRecord));
    assert.equal(serverClose.type, ContentType.alert);
    assert.deepEqual(serverClose.content, Uint8Array.of(1, 0));
  });

  it("encodes HkdfLabel as RFC 8446 §7.1 defines it", () => {
    // HKDF-Expand-Label(early, "derived", empty-hash, 32) must equal HKDF-Expand with the info built
    // by hand: length 0x0020, label length 13, "tls13 derived", context length 32, context.
    const early = fromHex(S.earlySecret);
    const emptyHash = provider.hash("sha256", new Uint8Array(0));
    const info = concatBytes(fromHex("0020 0d"), fromHex("746c7331332064657269766564"), fromHex("20"), emptyHash);
    assert.deepEqual(hkdfExpandLabel(provider, "sha256", early, "derived", emptyHash, 32), provider.hkdfExpand("sha256", early, info, 32));
  });
});

// ---- RFC 8448 §5: HelloRetryRequest ----
const H = {
  clientHello1: fromRecord(
    "16030100b4010000b00303b0b1c5a5aa37c5919f2ed1d5c6fff7fcb7849716945a2b8cee9258a346677b6f000006130113031302010000810000000b0009000006736572766572ff01000100000a00080006001d00170018003300260024001d0020e8e8e3f3b93a25ed97a14a7dcacb8a272c6288e585c6484d05262fcad062ad1f002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001",
  ),
  helloRetryRequest: fromRecord(
    "16030300b0020000ac0303cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c001301000084003300020017002c0074007271dcd04bb88bc3189119398a00000000eefafc76c146b823b096f8aacad365dd0030953f4edf625636e5f21bb2e23fcc654b1b5b40318d10d137abcbb87574e36e8a1f025f7dfa5d6e50781b5eda4aa15b0c8be778257d16aa3030e9e7841dd9e4c0342267e8ca0caf571fb2b7cff0f934b0002b00020304",
  ),
  clientHello2: fromRecord(
    "1603030200010001fc0303b0b1c5a5aa37c5919f2ed1d5c6fff7fcb7849716945a2b8cee9258a346677b6f000006130113031302010001cd0000000b0009000006736572766572ff01000100000a00080006001d001700180033004700450017004104a6da7392ec591e17abfd535964b99894d13befb221b3def2ebe3830eac8f0151812677c4d6d2237e85cf01d6910cfb83954e76ba7352830534159897e8065780002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002c0074007271dcd04bb88bc3189119398a00000000eefafc76c146b823b096f8aacad365dd0030953f4edf625636e5f21bb2e23fcc654b1b5b40318d10d137abcbb87574e36e8a1f025f7dfa5d6e50781b5eda4aa15b0c8be778257d16aa3030e9e7841dd9e4c0342267e8ca0caf571fb2b7cff0f934b0002d00020101001c00024001001500af00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
  ),
  serverHello: fromHex(
    "020000770303bb341d847fd789c47c387172dc0c9bf147fccacb5043d86ca4c598d3ff571b9800130100004f003300450017004104583e054b7a66672ae020ad9d2686fcc85b5ad41a134a0f03ee72b893052bd85b4c8de6776f5b04ac07d83540eab3e3d9c547bc6528c4317d294686093a6cad7d002b00020304",
  ),
  clientP256PrivateKey: "ab5473467e19346ceb0a0414e41da21d4d2445bc3025afe97c4e8dc8d513da39",
  sharedSecret: "c142ce13ca11b5c2233652e63ad3d97844f1621fbfb9de69d547dc8fedeabeb4",
  handshakeSecret: "ce022e5e6e81e50736d773f2d3adfce8220d049bf510f0dbfac927ef4243b148",
  serverFlightRecord: fromHex(
    "170303029699bee20baf5b7fc727bfab6223928a381e6d0cf9c4da653f9d2a7b23f7de11cce842d5cf75631763450ffb8b0cc1d238e658af7a12adc86243114ab14a1da2fae42621ce483fb6242eabfaad52566b02b31d2eddedefeb80e66a9900d5f973b40c4fdf74719ecf1b68d7f9c3b6ceb903ca13dd1bb8f8187ae33417e1d152522c5822a1a03ad52c838c55953d610222874cce8e1790b229a2aa0b53c8d377ee720182951dc6181dc5d90bd1f0105ed1e84aa5f75957c6661897079e5ea5007449e3197bdc7c9beeedddeafdd844afa5c315ecfe65e576afe909812880620ec7048b42d7f5c78d76f299d6d82534bdd8f512febc0ed3814aca470cd8000d3e1cb9962b052fbb950df683a52c2ba77ed3713b122937a6e5170964e2ab7969dcd980b3db9b458da7603124d6dc005e4d6e04b4d0c4baf3275db827dbba0a6db09672171fc057b3851d7e026841e2978fbd2346bbefdd0376bb1108fe9acc92189f5650aa5e85d8e8c7b67ac510dba003d3d7e16350bb66d45013efd44c9b607c0d318c4c7d1a1f5cbc57e20611804e3787d7b4a4b5f08ed8fd70bdaeade02260b12ab842ef690b4a3ee7911e841b374ecd5ebbbc2a54d047b600336dd7d0c88b4bc10e58ee6cb656de7247fa20d8e91deb84628608cf80615b62e96c1491c7ac3755eb6901405d3474fe1ac79d106a0cee56c2577fc88480f96cb6b8c681b7b68b53c146093908f350888175bdfb0b1e31ad61e30ba0adfe6d223aa03c0783b5001a57587c328a9afcfcfb978d1cd4328f7d9d60530e630befd96c0c816ee20b0100768ae2a6df51fc68f172740a79af11398ee3be1252491fa9c693479e877f94ab7c5f8cad480203e6ab7b87dd71e8a0729113df17f5eee86ce108d1d72007ec1cd13c85a6c149621e77b7d78d805a30f0be030c315e54",
  ),
  encryptedExtensions: fromHex("080000180016000a0008000600170018001d001c0002400100000000"),
  serverFinished: fromHex("140000208863e6bfb0420a927fa27f34336a70ae426e968e3eb884945b96856dba3976d1"),
  clientFinishedRecord: "1703030035d74f1923c662fd34137c6f502f3dd2b93d951d1b3bc97e42afe23c31abea92fe91b474999e85e3b791ce252fe8c3e9f939a4120cb2",
};

// ---- RFC 8448 §4: Resumed 0-RTT Handshake (the PSK of §3's ticket) ----
describe("TLS key schedule: RFC 8448 §4 resumption PSK binder", () => {
  it("derives the early secret from the PSK, the binder key, and the binder over the truncated ClientHello's hash", () => {
    const psk = resumptionPsk(provider, "sha256", fromHex(S.resumptionMasterSecret), Uint8Array.of(0, 0));
    assert.equal(toHex(psk), S.resumptionPsk);
    const schedule = new KeySchedule(provider, "sha256", psk);
    assert.equal(toHex(schedule.earlySecret()), "9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c");
    const binderKey = schedule.binderKey();
    assert.equal(toHex(binderKey), "69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256");
    assert.equal(toHex(hkdfExpandLabel(provider, "sha256", binderKey, "finished", new Uint8Array(0), 32)), "5588673e72cb59c87d220caffe94f2dea9a3b1609f7d50e90a48227db9ed7eaa");
    // "binder hash": Transcript-Hash of the ClientHello up to its binders, as the RFC prints it.
    const binderHash = fromHex("63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14");
    assert.equal(toHex(finishedVerifyData(provider, "sha256", binderKey, binderHash)), "3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d");
  });

  it("refuses a PSK of the wrong length for the hash, and a binder key without a PSK", () => {
    assert.throws(() => new KeySchedule(provider, "sha384", new Uint8Array(32)), Error, /sha384 PSK has 48 bytes, not 32/);
    assert.throws(() => new KeySchedule(provider, "sha256").binderKey(), Error, /without a PSK/);
  });
});

describe("TLS key schedule: RFC 8448 §5 HelloRetryRequest", () => {
  it("replaces ClientHello1 with message_hash and derives the P-256 handshake keys that open the server's flight", () => {
    const hrr = parseServerHello(H.helloRetryRequest.subarray(4));
    assert.equal(hrr.cipherSuite, 0x1301);
    const serverShare = parseServerKeyShare(parseServerHello(H.serverHello.subarray(4)).extensions.find((e) => e.type === 51)!.data);
    assert.equal(serverShare.group, 0x0017);
    const shared = provider.ecdhSharedSecret("secp256r1", fromHex(H.clientP256PrivateKey), serverShare.keyExchange);
    assert.equal(toHex(shared), H.sharedSecret);

    const transcript = new Transcript(provider);
    transcript.add(H.clientHello1);
    transcript.replaceWithMessageHash("sha256");
    transcript.add(H.helloRetryRequest);
    transcript.add(H.clientHello2);
    transcript.start("sha256");
    transcript.add(H.serverHello);
    const schedule = new KeySchedule(provider, "sha256");
    const hs = schedule.handshake(shared, transcript.hash());
    assert.equal(toHex(schedule.handshakeSecret!), H.handshakeSecret);

    const serverRead = new RecordProtection(provider, suite, trafficKeys(provider, suite, hs.serverHandshakeTrafficSecret));
    const flight = serverRead.open(header(H.serverFlightRecord), body(H.serverFlightRecord)).content;
    assert.deepEqual(flight.subarray(0, H.encryptedExtensions.length), H.encryptedExtensions);
    assert.deepEqual(flight.subarray(flight.length - H.serverFinished.length), H.serverFinished);

    // Everything before the server Finished enters the transcript, then the client Finished must match the RFC record.
    transcript.add(flight.subarray(0, flight.length - H.serverFinished.length));
    assert.deepEqual(
      encodeFinished(finishedVerifyData(provider, "sha256", hs.serverHandshakeTrafficSecret, transcript.hash())),
      H.serverFinished,
    );
    transcript.add(H.serverFinished);
    const clientFinished = encodeFinished(finishedVerifyData(provider, "sha256", hs.clientHandshakeTrafficSecret, transcript.hash()));
    const clientWrite = new RecordProtection(provider, suite, trafficKeys(provider, suite, hs.clientHandshakeTrafficSecret));
    assert.equal(toHex(clientWrite.seal(ContentType.handshake, clientFinished)), H.clientFinishedRecord);
  });

  it("fails to open the flight when the transcript keeps ClientHello1 instead of message_hash", () => {
    const transcript = new Transcript(provider);
    for (const m of [H.clientHello1]) transcript.add(m);
    transcript.start("sha256");
    for (const m of [H.helloRetryRequest, H.clientHello2, H.serverHello]) transcript.add(m);
    const schedule = new KeySchedule(provider, "sha256");
    const hs = schedule.handshake(fromHex(H.sharedSecret), transcript.hash());
    const serverRead = new RecordProtection(provider, suite, trafficKeys(provider, suite, hs.serverHandshakeTrafficSecret));
    assert.throws(() => serverRead.open(header(H.serverFlightRecord), body(H.serverFlightRecord)), undefined, /bad_record_mac/);
  });
});
