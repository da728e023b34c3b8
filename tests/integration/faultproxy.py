"""A small HTTP/1.1 proxy in front of moto that injects faults: it can hold a request for a
while before forwarding it, or forward it and then drop the client's connection without
the answer (the write happened; the caller cannot know). It counts what it forwarded, so
a test can tell how many times a request reached the emulator. With `record=True` it also
keeps each forwarded request as it came on the wire (`Recorded`), and marks each answer it
relays with the header `X-Faultproxy-Seq`, so a test can tell an answer that came from the
emulator from one the proxy's client wrote itself."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from typing import Callable, NamedTuple

MARK = b"X-Faultproxy-Seq"


class Recorded(NamedTuple):
    """One forwarded request: `target` is the request line's `path?query` as sent,
    `headers` the (name, value) pairs in order, `body` the body (de-chunked)."""

    seq: int
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    @property
    def user_agent(self) -> str:
        return " ".join(self.header("user-agent"))


def _read_chunked(sock: socket.socket, rest: bytes) -> tuple[bytes, bytes] | None:
    """A chunked body at the start of `rest`: its raw bytes (to forward as they came) and
    what follows it."""
    raw = b""
    while True:
        while b"\r\n" not in rest:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            rest += chunk
        line, rest = rest.split(b"\r\n", 1)
        raw += line + b"\r\n"
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            # Trailers, up to an empty line.
            while True:
                while b"\r\n" not in rest:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return None
                    rest += chunk
                line, rest = rest.split(b"\r\n", 1)
                raw += line + b"\r\n"
                if not line:
                    return raw, rest
        while len(rest) < size + 2:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            rest += chunk
        raw += rest[:size + 2]
        rest = rest[size + 2:]


def _dechunk(raw: bytes) -> bytes:
    body = b""
    while raw:
        line, raw = raw.split(b"\r\n", 1)
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            break
        body += raw[:size]
        raw = raw[size + 2:]
    return body


def parse_request(request: bytes) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """(method, target, headers, body) of a raw request as `_read_message` returns it."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    method, target, _ = lines[0].decode("latin-1").split(" ", 2)
    headers = []
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    if any(n.lower() == "transfer-encoding" and "chunked" in v.lower() for n, v in headers):
        body = _dechunk(body)
    return method, target, headers, body


def _read_message(sock: socket.socket, buffer: bytes, bodiless: bool = False) -> tuple[bytes, bytes] | None:
    """One HTTP message (head and Content-Length body) from `sock`, and what follows it.
    `bodiless`: the answer to a HEAD, whose Content-Length describes no body."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, rest = buffer.split(b"\r\n\r\n", 1)
    length = 0
    status = head.split(b"\r\n", 1)[0].split(b" ")
    if bodiless or (len(status) > 1 and status[1] in (b"204", b"304")):
        return head + b"\r\n\r\n", rest
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = _read_chunked(sock, rest)
            if chunked is None:
                return None
            return head + b"\r\n\r\n" + chunked[0], chunked[1]
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def operation(request: bytes) -> str:
    """The AWS operation a request names: `X-Amz-Target`, `Action=`, or the S3 method."""
    head, _, body = request.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-amz-target":
            return value.strip().decode().rsplit(".", 1)[-1]
    for part in body.split(b"&") + head.split(b"\r\n", 1)[0].split(b"?", 1)[-1:]:
        if part.startswith(b"Action="):
            return part[len(b"Action="):].split(b" ")[0].decode()
    return head.split(b" ", 1)[0].decode()


class FaultProxy:
    """`drop_after(op)` says whether to drop the answer to a request for `op`;
    `delay(op)` how many seconds to hold it first. `record`: keep every forwarded request
    in `recorded`, in the order they arrived, and mark the answers relayed."""

    def __init__(self, upstream_port: int, drop_after: Callable[[str], bool] = lambda op: False,
                 delay: Callable[[str], float] = lambda op: 0.0, record: bool = False):
        self.upstream_port = upstream_port
        self.drop_after = drop_after
        self.delay = delay
        self.forwarded: Counter[str] = Counter()
        self.record = record
        self.recorded: list[Recorded] = []
        self._lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(client,), daemon=True).start()

    def _connection(self, client: socket.socket) -> None:
        buffer = b""
        try:
            while True:
                message = _read_message(client, buffer)
                if message is None:
                    return
                request, buffer = message
                op = operation(request)
                seq = None
                if self.record:
                    # Recorded before it goes on: before its caller can see any answer.
                    with self._lock:
                        seq = len(self.recorded)
                        self.recorded.append(Recorded(seq, *parse_request(request)))
                time.sleep(self.delay(op))
                with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                    upstream.sendall(request)
                    answer = _read_message(upstream, b"", bodiless=request.startswith(b"HEAD "))
                self.forwarded[op] += 1
                if answer is None or self.drop_after(op):
                    return  # the connection closes with no answer
                relayed = answer[0]
                if seq is not None:
                    status, _, rest = relayed.partition(b"\r\n")
                    relayed = status + b"\r\n" + MARK + b": " + str(seq).encode() + b"\r\n" + rest
                client.sendall(relayed)
        except OSError:
            return
        finally:
            client.close()

    def close(self) -> None:
        self.stopped = True
        self.listener.close()
