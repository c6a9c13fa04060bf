#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from frames shaped as docs/protocol.md describes.

codec:   one frame per file (4-byte big-endian length + JSON envelope).
handler: message sequences: per message 1 byte connection, 2 bytes length, frame.
proxy_header: PROXY protocol v1/v2 headers, some followed by the HTTP request.
forwarded_for: 1 byte choosing the trusted list, then an X-Forwarded-For value.
Run from the repository root; the output is committed under fuzz/corpus/."""
import json
import os
import struct

A = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
B = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
D1 = "8f14e45fceea167a5a36dedd4bea2543c0a8b1d2e3f405162738495a6b7c8d9e"
D2 = "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"
KH = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def envelope(payload, mid="5b1c0c52-3c52-4a43-8d4e-0b8e2b3f1f11"):
    return {"version": 1, "message_id": mid, "timestamp": 1700000000, "payload": payload}


def frame(obj):
    text = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack(">I", len(text)) + text


PAYLOADS = {
    "handshake": {"type": "Handshake", "client_id": A},
    "handshake_full": {"type": "Handshake", "client_id": A, "device_id": D1, "routing_token": B,
                       "suppress_presence": True, "identity_public_key": A, "nonce": "42" * 32,
                       "signature": "b502132ab5761767ee209719521a73c34af93c41cc014ed69ac9c1f384c3012e"
                                    "090d398f7a92fd63103c2c53cc05c51d2a4d0d745b9710218134b5eb6834950c",
                       "timestamp": 1700000000},
    "update": {"type": "EncryptedUpdate", "recipient_id": B, "ciphertext": [1, 2, 3, 255, 0]},
    "ack": {"type": "Acknowledgment", "message_id": "c1f0e2d3-4b5a-4978-8a6b-1c2d3e4f5a6b", "status": "ReceivedByRecipient"},
    "revoked": {"type": "AccountRevoked", "sender_id": A, "recipient_id": B, "timestamp": 1700000000, "signature": [12, 200, 7]},
    "device_sync": {"type": "DeviceSyncMessage", "identity_id": A, "target_device_id": D1, "sender_device_id": D2,
                    "encrypted_payload": [9, 8, 7], "version": 3},
    "device_sync_ack": {"type": "DeviceSyncAck", "message_id": "4e0f6a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b", "synced_version": 3},
    "proof_store": {"type": "RecoveryProofStore", "key_hash": KH, "proof_data": [1, 2, 3, 4]},
    "proof_query": {"type": "RecoveryProofQuery", "key_hashes": [KH, "xyz"]},
    "purge": {"type": "PurgeRequest", "include_device_sync": True, "include_recovery_proofs": True, "recovery_key_hash": KH},
    "hints": {"type": "ForwardingHints", "hints": [{"blob_id": "x", "relay_url": "ws://r:1", "expires_at_secs": 1}]},
    "unknown": {"type": "Presence", "extra": {"nested": [1, {"a": None}]}},
}


def main():
    os.makedirs("fuzz/corpus/codec", exist_ok=True)
    os.makedirs("fuzz/corpus/handler", exist_ok=True)
    for name, payload in PAYLOADS.items():
        with open(f"fuzz/corpus/codec/{name}", "wb") as f:
            f.write(frame(envelope(payload)))

    def seq(*msgs):
        out = b""
        for conn, payload in msgs:
            fr = frame(envelope(payload))
            out += bytes([conn]) + struct.pack(">H", len(fr)) + fr
        return out

    hs_b = {"type": "Handshake", "client_id": B, "device_id": D1}
    hs_a_dev = {"type": "Handshake", "client_id": A, "device_id": D1}
    sequences = {
        "store_then_deliver": seq((0, PAYLOADS["handshake"]), (0, PAYLOADS["update"]), (1, hs_b), (1, PAYLOADS["ack"])),
        "device_sync": seq((0, hs_a_dev), (0, PAYLOADS["device_sync"]), (1, {"type": "Handshake", "client_id": A, "device_id": D1}),
                           (1, PAYLOADS["device_sync_ack"])),
        "proofs_and_purge": seq((0, PAYLOADS["handshake"]), (0, PAYLOADS["proof_store"]), (0, PAYLOADS["proof_query"]),
                                (0, PAYLOADS["purge"])),
        "revoked_and_unknown": seq((2, PAYLOADS["handshake"]), (2, PAYLOADS["revoked"]), (2, PAYLOADS["unknown"]),
                                   (2, PAYLOADS["hints"])),
    }
    for name, data in sequences.items():
        with open(f"fuzz/corpus/handler/{name}", "wb") as f:
            f.write(data)

    write_proxy_corpora()


V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
REQUEST = b"GET /ws HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"


def v2(ver_cmd, family, body):
    return V2_SIGNATURE + bytes([ver_cmd, family]) + struct.pack(">H", len(body)) + body


def write_proxy_corpora():
    tcp4 = bytes([192, 0, 2, 7, 198, 51, 100, 1]) + struct.pack(">HH", 4711, 443)
    tcp6 = bytes.fromhex("20010db8000000000000000000000007") + bytes.fromhex("20010db8000000000000000000000001") \
        + struct.pack(">HH", 4711, 443)
    tlvs = b"\x01\x00\x02h2" + b"\x02\x00\x0drelay.example" + b"\x04\x00\x03\x00\x00\x00"
    headers = {
        "v1_tcp4": b"PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\r\n",
        "v1_tcp6": b"PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\n",
        "v1_unknown": b"PROXY UNKNOWN\r\n",
        "v1_then_request": b"PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\r\n" + REQUEST,
        "v2_tcp4": v2(0x21, 0x11, tcp4),
        "v2_tcp6": v2(0x21, 0x21, tcp6),
        "v2_tlvs": v2(0x21, 0x11, tcp4 + tlvs),
        "v2_local": v2(0x20, 0x00, b""),
        "v2_unix": v2(0x21, 0x31, bytes(216)),
        "v2_then_request": v2(0x21, 0x11, tcp4) + REQUEST,
    }
    os.makedirs("fuzz/corpus/proxy_header", exist_ok=True)
    for name, data in headers.items():
        with open(f"fuzz/corpus/proxy_header/{name}", "wb") as f:
            f.write(data)
    values = {
        "one": b"\x00203.0.113.5",
        "chain": b"\x01203.0.113.5, 10.1.2.3",
        "forged": b"\x00198.51.100.66, 203.0.113.5",
        "ports_and_brackets": b"\x02[2001:db8::7]:443, 192.0.2.7:4711 ,\t::1",
        "garbage": b"\x01unknown, _hidden, 10.0.0.1",
        "block": b"\x0310.0.0.0/8",
    }
    os.makedirs("fuzz/corpus/forwarded_for", exist_ok=True)
    for name, data in values.items():
        with open(f"fuzz/corpus/forwarded_for/{name}", "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
