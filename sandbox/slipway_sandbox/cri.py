"""Whether a container runtime's CRI answers: one RuntimeService/Version call over gRPC.

containerd accepts connections on its socket before its CRI plugin has finished starting, and
until then answers CRI calls with "server is not initialized yet"; a kubelet started in that
window exits at once ("validate CRI v1 runtime API"). So the node's runtime counts as up only
when a real CRI call succeeds. The call is made by hand (HTTP/2 with prior knowledge, headers
as HPACK literals) so the sandbox needs no gRPC library: a successful call is the only one whose
answer carries a DATA frame with a message; a refused one is a trailers-only HEADERS frame.
"""

from __future__ import annotations

import socket
import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
STREAM = 1
VERSION_METHOD = "/runtime.v1.RuntimeService/Version"


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal_header(name: str, value: str) -> bytes:
    """An HPACK "literal header field without indexing, new name" (no Huffman coding)."""
    encoded = b"\x00"
    for text in (name.encode(), value.encode()):
        if len(text) >= 127:
            raise ValueError(f"header too long for a one-byte length: {text!r}")
        encoded += bytes([len(text)]) + text
    return encoded


def version_request(method: str = VERSION_METHOD) -> bytes:
    headers = b"".join(literal_header(name, value) for name, value in (
        (":method", "POST"), (":scheme", "http"), (":path", method), (":authority", "localhost"),
        ("content-type", "application/grpc"), ("te", "trailers"),
    ))
    # The message: not compressed (0), length 0 (an empty VersionRequest).
    return (PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, END_HEADERS, STREAM, headers)
            + frame(DATA, END_STREAM, STREAM, b"\x00\x00\x00\x00\x00"))


def read_exactly(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the runtime closed the connection")
        data += chunk
    return data


def answers(socket_path: str, method: str = VERSION_METHOD, timeout: float = 2.0) -> bool:
    """True when the gRPC server on socket_path answers method (by default CRI's
    RuntimeService/Version) with a message, False when it refuses or cannot be reached."""
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(timeout)
        try:
            client.connect(socket_path)
            client.sendall(version_request(method))
            got_message = False
            while True:
                header = read_exactly(client, 9)
                length = int.from_bytes(header[:3], "big")
                kind, flags, stream = header[3], header[4], struct.unpack(">I", header[5:])[0] & 0x7FFFFFFF
                payload = read_exactly(client, length)
                if kind == SETTINGS and not flags & ACK:
                    client.sendall(frame(SETTINGS, ACK, 0))
                elif kind == PING and not flags & ACK:
                    client.sendall(frame(PING, ACK, 0, payload))
                elif kind == GOAWAY or (kind == RST_STREAM and stream == STREAM):
                    return False
                elif stream == STREAM and kind == DATA and len(payload) > 5:
                    got_message = True
                if stream == STREAM and kind in (DATA, HEADERS) and flags & END_STREAM:
                    return got_message
        except OSError:  # refused, timed out, or closed (ConnectionError)
            return False
