#!/usr/bin/env python3
"""Writes the hand-made seed corpus (fuzz/corpus/<target>/seed-*): valid FSPIOP bodies,
headers, ILP packets, dates, amounts, envelopes and configuration. Run from anywhere; the
runs grow the corpus from these, and `run.sh --minimize` keeps it small."""
import base64
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(ROOT, "..", "libs", "fspiop", "tests", "vectors")


def write(target, name, data):
    folder = os.path.join(ROOT, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


ID1 = "d25ccde1-782b-4231-9ae3-ff17a8d83770"
ID2 = "0d344f0c-b07c-4b14-8e34-126bca3fa585"
ULID = "01HZX3Q4D2W7J5K8M9N0P1R2S3"
WHEN = "2030-01-24T10:00:00.000Z"
COND = "M7IDEf__6CvtZX1-cYfDP1DCkqDYDloXuAB90TmuO8o"
FULF = "0378w0VHUkWBTCv9Ap5otQNmdGthQkFC8IqUNVkFEoo"
MONEY = {"currency": "USD", "amount": "100.5"}
EXT = {"extension": [{"key": "k", "value": "v"}]}
ID_INFO = {"partyIdType": "MSISDN", "partyIdentifier": "27713803912", "fspId": "payeefsp"}
PARTY = {
    "partyIdInfo": ID_INFO,
    "name": "Henrik Karlsson",
    "personalInfo": {"complexName": {"firstName": "Henrik", "lastName": "Karlsson"},
                     "dateOfBirth": "1983-10-25"},
    "supportedCurrencies": ["USD", "EUR"],
}
PAYER = dict(PARTY, partyIdInfo=dict(ID_INFO, partyIdentifier="44123456789", fspId="payerfsp"))
TX_TYPE = {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"}
ERROR = {"errorInformation": {"errorCode": "3100", "errorDescription": "Generic validation error",
                              "extensionList": EXT}}
CONVERSION = {
    "conversionId": ID2, "initiatingFsp": "payerfsp", "counterPartyFsp": "fxp",
    "amountType": "SEND", "sourceAmount": {"currency": "USD", "amount": "100"},
    "targetAmount": {"currency": "EUR"}, "expiration": WHEN,
    "charges": [{"chargeType": "fee", "sourceAmount": {"currency": "USD", "amount": "1"}}],
}
QUOTE_POST = {
    "quoteId": ID1, "transactionId": ID2, "payee": PARTY, "payer": PAYER,
    "amountType": "SEND", "amount": MONEY, "transactionType": TX_TYPE,
    "geoCode": {"latitude": "+45.4215", "longitude": "-75.6972"}, "note": "note",
    "expiration": WHEN, "extensionList": EXT,
}

# One packet from the vectors, for quotes, transfers and the ilp target.
with open(os.path.join(VECTORS, "ilp_decode.json")) as f:
    DECODE = json.load(f)
PACKET_V4 = next(v["ilpPacket"] for v in DECODE if v["version"] == "v4")
PACKET_V1 = next(v["ilpPacket"] for v in DECODE if v["version"] == "v1")

QUOTE_PUT = {"transferAmount": MONEY, "payeeReceiveAmount": MONEY, "expiration": WHEN,
             "ilpPacket": PACKET_V4, "condition": COND}
TRANSFER_POST = {"transferId": ID1, "payeeFsp": "payeefsp", "payerFsp": "payerfsp",
                 "amount": MONEY, "ilpPacket": PACKET_V4, "condition": COND, "expiration": WHEN}

# Selector byte -> body, in the order of BODIES in fuzz_targets/fspiop_bodies.rs.
BODIES = [
    ("parties_put", {"party": PARTY}),
    ("participants_sub_id_post", {"fspId": "payeefsp", "currency": "USD"}),
    ("participants_put", {"fspId": "payeefsp"}),
    ("participants_post", {"requestId": ID1, "partyList": [ID_INFO], "currency": "USD"}),
    ("participants_id_put", {"partyList": [{"partyId": ID_INFO}], "currency": "USD"}),
    ("error", ERROR),
    ("quotes_post", QUOTE_POST),
    ("quotes_put", QUOTE_PUT),
    ("transaction_requests_post", {
        "transactionRequestId": ID1, "payee": PARTY, "payer": ID_INFO, "amount": MONEY,
        "transactionType": dict(TX_TYPE, initiator="PAYEE"), "authenticationType": "OTP"}),
    ("transaction_requests_put", {"transactionId": ID2, "transactionRequestState": "RECEIVED"}),
    ("authorizations_put", {"authenticationInfo": {"authentication": "OTP",
                                                   "authenticationValue": "123456"},
                            "responseType": "ENTERED"}),
    ("transfers_post", TRANSFER_POST),
    ("transfers_put", {"fulfilment": FULF, "completedTimestamp": WHEN,
                       "transferState": "COMMITTED"}),
    ("transfers_patch", {"completedTimestamp": WHEN, "transferState": "COMMITTED"}),
    ("fx_quotes_post", {"conversionRequestId": ID1, "conversionTerms": CONVERSION}),
    ("fx_quotes_put", {"condition": COND, "conversionTerms": dict(
        CONVERSION, targetAmount={"currency": "EUR", "amount": "90"})}),
    ("fx_transfers_post", {"commitRequestId": ID1, "initiatingFsp": "payerfsp",
                           "counterPartyFsp": "fxp", "sourceAmount": MONEY,
                           "targetAmount": {"currency": "EUR", "amount": "90"},
                           "condition": COND, "expiration": WHEN}),
    ("fx_transfers_put", {"fulfilment": FULF, "completedTimestamp": WHEN,
                          "conversionState": "RESERVED"}),
    ("fx_transfers_patch", {"completedTimestamp": WHEN, "conversionState": "COMMITTED"}),
    ("bulk_quotes_post", {"bulkQuoteId": ULID, "payer": PAYER, "expiration": WHEN,
                          "individualQuotes": [{
                              "quoteId": ID1, "transactionId": ID2, "payee": PARTY,
                              "amountType": "RECEIVE", "amount": MONEY,
                              "transactionType": TX_TYPE}]}),
    ("bulk_quotes_put", {"expiration": WHEN, "individualQuoteResults": [{
        "quoteId": ID1, "transferAmount": MONEY, "ilpPacket": PACKET_V4, "condition": COND}]}),
    ("bulk_transfers_post", {"bulkTransferId": ID1, "bulkQuoteId": ID2, "payerFsp": "payerfsp",
                             "payeeFsp": "payeefsp", "expiration": WHEN,
                             "individualTransfers": [{
                                 "transferId": ID2, "transferAmount": MONEY,
                                 "ilpPacket": PACKET_V4, "condition": COND}]}),
    ("bulk_transfers_put", {"completedTimestamp": WHEN, "bulkTransferState": "COMPLETED",
                            "individualTransferResults": [{"transferId": ID2,
                                                           "fulfilment": FULF}]}),
    ("transaction", {"transactionId": ID2, "quoteId": ID1, "payee": PARTY, "payer": PAYER,
                     "amount": MONEY, "transactionType": TX_TYPE, "note": "n"}),
    ("party", PARTY),
]


def bodies():
    for index, (name, body) in enumerate(BODIES):
        write("fspiop_bodies", name, bytes([index]) + json.dumps(body).encode())


def headers():
    date = "Thu, 24 Jan 2030 10:00:00 GMT"
    for method, path, resource, version, accept in [
        ("POST", "/quotes", "quotes", "1.1", "1"),
        ("PUT", "/transfers/" + ID1, "transfers", "2.0", None),
        ("GET", "/parties/MSISDN/123", "parties", "1.0", "1.0, 1.1"),
    ]:
        lines = [f"{method} {path}",
                 f"Content-Type: application/vnd.interoperability.{resource}+json;version={version}",
                 f"Date: {date}", "FSPIOP-Source: payerfsp", "FSPIOP-Destination: payeefsp"]
        if accept:
            items = [f"application/vnd.interoperability.{resource}+json;version={v}"
                     for v in accept.split(", ")]
            lines.append("Accept: " + ", ".join(items))
        write("headers", f"{method.lower()}_{resource}", "\n".join(lines))


def oer_length(n):
    if n < 128:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def ilp():
    write("ilp", "v4_text", b"\x01" + PACKET_V4.encode())
    write("ilp", "v1_text", b"\x01" + PACKET_V1.encode())
    content = (struct.pack(">Q", 1000) + b"20300124100000000" + bytes(32)
               + oer_length(9) + b"g.payee.x" + oer_length(200) + bytes(200))
    write("ilp", "v4_raw", b"\x00" + b"\x0c" + oer_length(len(content)) + content)
    v1 = struct.pack(">Q", 5) + oer_length(9) + b"g.payee.x" + oer_length(3) + b"abc" + b"\x00"
    write("ilp", "v1_raw", b"\x00" + b"\x01" + oer_length(len(v1)) + v1)
    write("ilp", "fulfilment", b"\x02" + FULF.encode())
    with open(os.path.join(VECTORS, "ilp.json")) as f:
        vector = json.load(f)[0]
    pair = {"request": vector["quoteRequest"], "response": vector["quoteResponse"]}
    write("ilp", "quote_terms", b"\x03" + json.dumps(pair, separators=(",", ":")).encode())


def jws():
    request = ("POST /quotes\ncontent-type: application/vnd.interoperability.quotes+json;"
               "version=1.1\ndate: Thu, 24 Jan 2030 10:00:00 GMT\nfspiop-source: payerfsp\n"
               "fspiop-destination: payeefsp\nfspiop-uri: /quotes\nfspiop-http-method: POST\n")
    body = json.dumps({"quoteId": ID1, "amount": MONEY})
    with open(os.path.join(VECTORS, "jws_verify.json")) as f:
        vector = json.load(f)[0]
    signature = vector["headers"]["fspiop-signature"]
    write("jws", "verify", b"\x00" + (request + f"fspiop-signature: {signature}\n\n" + body).encode())
    write("jws", "sign", b"\x01" + (request + "\n" + body).encode())
    protected = json.dumps({"alg": "ES256", "FSPIOP-URI": "/quotes", "FSPIOP-HTTP-Method": "POST",
                            "FSPIOP-Source": "payerfsp", "FSPIOP-Destination": "payeefsp",
                            "Date": "Thu, 24 Jan 2030 10:00:00 GMT"})
    write("jws", "protected", b"\x02" + (request + "\n" + protected).encode())


def scalars():
    for name, text in [("date", "1983-10-25"), ("date_time", WHEN),
                       ("date_time_offset", "2030-01-24T10:00:00.123+02:00"),
                       ("lenient", "2030-01-24T10:00:00.123456Z"),
                       ("http_date", "Thu, 24 Jan 2030 10:00:00 GMT"),
                       ("ilp_timestamp", "20300124100000000"), ("amount", "123456789012345678.1234"),
                       ("amount_zero", "0"), ("currency", "USD"), ("uuid", ID1), ("ulid", ULID),
                       ("latitude", "-90.000000"), ("name", "Ana-María O'Brien")]:
        write("scalars", name, text)


def envelope():
    body = json.dumps(TRANSFER_POST).encode()
    message = {
        "id": ID1, "from": "payerfsp", "to": "payeefsp",
        "type": "application/vnd.interoperability.transfers+json;version=1.1",
        "content": {
            "headers": {"content-type": "application/vnd.interoperability.transfers+json;version=1.1",
                        "fspiop-source": "payerfsp", "fspiop-destination": "payeefsp"},
            "payload": "data:application/vnd.interoperability.transfers+json;version=1.1;base64,"
                       + base64.b64encode(body).decode(),
            "uriParams": {"id": ID1},
        },
        "metadata": {"correlationId": ID1, "event": {
            "id": ID2, "type": "prepare", "action": "prepare", "createdAt": WHEN,
            "state": {"status": "success", "code": 0, "description": "action successful"}},
            "trace": {}, "protocol.createdAt": 1700000000000},
    }
    write("envelope", "prepare", json.dumps(message))
    json_payload = dict(message, content=dict(message["content"], payload=TRANSFER_POST))
    write("envelope", "json_payload", json.dumps(json_payload))


def config():
    write("config", "file", '[server]\nport = 4000\n[hub]\naccount_types = ["POSITION"]\n'
          '[protocol_versions]\ncontent_supported = ["1.1"]\n')
    write("config", "env", '[kafka]\nratio = 1e3\n\x00FUZZ__SERVER__PORT=5000\n'
          'fuzz__Hub__Name=Switch\nFUZZ__PROTOCOL_VERSIONS__ACCEPT_SUPPORTED=["1", "2.0"]\n'
          'FUZZ__VALIDATION__REJECT_ADDITIONAL_PROPERTIES=true\n')


if __name__ == "__main__":
    bodies()
    headers()
    ilp()
    jws()
    scalars()
    envelope()
    config()
    sys.exit(0)
