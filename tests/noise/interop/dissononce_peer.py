#!/usr/bin/env python3
"""Interop check of relay_noise against dissononce, an independent Python
implementation of the Noise framework (Debian package python3-dissononce).

Runs noise_peer (our library) as a subprocess and talks to it over
stdin/stdout (see noise_peer.cpp for the line protocol), in both roles:
  1. dissononce initiator  -> our responder (the relay's role);
  2. our initiator         -> dissononce responder (our test client's role).
Both with the relay's parameters: Noise_NK_25519_ChaChaPoly_BLAKE2s, empty
prologue, fixed static keys, fresh ephemeral keys.

Exit status: 0 passed, 1 failed, 77 skipped (dissononce not installed), as
meson expects.
"""

import subprocess
import sys

try:
    from dissononce.cipher.chachapoly import ChaChaPolyCipher
    from dissononce.dh.x25519.private import PrivateKey
    from dissononce.dh.x25519.public import PublicKey
    from dissononce.dh.x25519.x25519 import X25519DH
    from dissononce.hash.blake2s import Blake2sHash
    from dissononce.processing.handshakepatterns.interactive.NK import NKHandshakePattern
    from dissononce.processing.impl.cipherstate import CipherState
    from dissononce.processing.impl.handshakestate import HandshakeState
    from dissononce.processing.impl.symmetricstate import SymmetricState
except ImportError as e:
    print(f"SKIP: dissononce not available ({e}); apt-get install python3-dissononce")
    sys.exit(77)

# A fixed relay key, so that failures are reproducible; the ephemeral keys
# stay random, as in production.
RELAY_PRIVATE = bytes.fromhex("a8abababababababababababababababababababababababababababababab6b")
SIZES = [0, 1, 15, 16, 17, 100, 4096, 65519]
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print(f"FAIL: {what}")


def new_handshake():
    return HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), Blake2sHash()), X25519DH())


def hexline(data):
    return data.hex() if data else "-"


def unhex(line):
    return b"" if line == "-" else bytes.fromhex(line)


class Peer:
    def __init__(self, exe, args):
        self.proc = subprocess.Popen([exe] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def recv(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("noise_peer closed its output")
        return line.strip()

    def close(self):
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


def payload(size, seed):
    return bytes((seed + i * 7) % 256 for i in range(size))


def exchange(peer, ours_send, ours_recv, role):
    """Transport messages both ways, plus a forged one that must not cost the counter."""
    for n, size in enumerate(SIZES):
        msg = payload(size, n)
        # dissononce -> noise_peer
        peer.send("D " + hexline(ours_send.encrypt_with_ad(b"", msg)))
        check(unhex(peer.recv()) == msg, f"{role}: noise_peer decrypts a {size}-byte message")
        # noise_peer -> dissononce
        peer.send("E " + hexline(msg))
        wire = unhex(peer.recv())
        check(len(wire) == size + 16, f"{role}: noise_peer's {size}-byte message has a 16-byte tag")
        check(ours_recv.decrypt_with_ad(b"", wire) == msg, f"{role}: dissononce decrypts a {size}-byte message")

    genuine = ours_send.encrypt_with_ad(b"", b"after the forgery")
    forged = bytearray(genuine)
    forged[3] ^= 0x40
    peer.send("D " + hexline(bytes(forged)))
    check(peer.recv() == "REJECT", f"{role}: noise_peer rejects a forged message")
    peer.send("D " + hexline(genuine))
    check(unhex(peer.recv()) == b"after the forgery", f"{role}: the genuine message still decrypts after a forgery")

    peer.send("E " + hexline(payload(65520, 1)))
    check(peer.recv() == "REJECT", f"{role}: noise_peer refuses to encrypt 65520 bytes")
    peer.send("E " + hexline(b"next"))
    check(ours_recv.decrypt_with_ad(b"", unhex(peer.recv())) == b"next",
          f"{role}: the refused message did not consume a nonce")


def dissononce_initiator_vs_our_responder(exe, relay):
    hs = new_handshake()
    hs.initialize(NKHandshakePattern(), True, b"", rs=PublicKey(relay.public.data))
    peer = Peer(exe, ["responder", relay.private.data.hex(), relay.public.data.hex()])
    m1 = bytearray()
    hs.write_message(b"", m1)
    check(len(m1) == 48, "dissononce message 1 is 48 bytes")
    peer.send(hexline(bytes(m1)))
    m2 = unhex(peer.recv())
    check(len(m2) == 48, "noise_peer message 2 is 48 bytes")
    out = bytearray()
    send, recv = hs.read_message(m2, out)  # initiator: first cipher sends
    check(out == b"", "message 2 carries an empty payload")
    exchange(peer, send, recv, "relay role")
    check(peer.close() == 0, "noise_peer responder exits cleanly")


def our_initiator_vs_dissononce_responder(exe, relay):
    hs = new_handshake()
    hs.initialize(NKHandshakePattern(), False, b"", s=relay)
    peer = Peer(exe, ["initiator", relay.public.data.hex()])
    m1 = unhex(peer.recv())
    check(len(m1) == 48, "noise_peer message 1 is 48 bytes")
    out = bytearray()
    hs.read_message(m1, out)
    m2 = bytearray()
    recv, send = hs.write_message(b"", m2)  # responder: second cipher sends
    peer.send(hexline(bytes(m2)))
    check(peer.recv() == "OK", "noise_peer initiator accepts dissononce's message 2")
    exchange(peer, send, recv, "client role")
    check(peer.close() == 0, "noise_peer initiator exits cleanly")


def wrong_key_is_refused(exe, relay):
    other = X25519DH().generate_keypair()
    hs = new_handshake()
    hs.initialize(NKHandshakePattern(), True, b"", rs=PublicKey(other.public.data))
    peer = Peer(exe, ["responder", relay.private.data.hex(), relay.public.data.hex()])
    m1 = bytearray()
    hs.write_message(b"", m1)
    peer.send(hexline(bytes(m1)))
    check(peer.recv() == "FAIL", "noise_peer refuses message 1 sent to another relay key")
    check(peer.close() == 1, "noise_peer exits 1 after a failed handshake")


def main():
    if len(sys.argv) != 2:
        print("usage: dissononce_peer.py NOISE_PEER")
        return 2
    exe = sys.argv[1]
    relay = X25519DH().generate_keypair(PrivateKey(RELAY_PRIVATE))
    dissononce_initiator_vs_our_responder(exe, relay)
    our_initiator_vs_dissononce_responder(exe, relay)
    wrong_key_is_refused(exe, relay)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("interop with dissononce: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
