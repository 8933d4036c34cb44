#!/usr/bin/env python3
"""Readiness probe for the test bed: talks real CQL (native protocol v4) to a Cassandra node.

Standard library only, so it works before the venv exists. Opens a plain TCP connection,
sends STARTUP (and a SASL PLAIN AUTH_RESPONSE when the server asks for one), runs
`SELECT release_version FROM system.local` and prints the version. Exit 0 when the
server answered with a row, 1 otherwise (the reason goes to stderr).

usage: cqlping.py HOST [PORT] [--user U --password P] [--timeout S]
"""
import argparse
import socket
import struct
import sys

VERSION = 0x04
OP_ERROR, OP_STARTUP, OP_READY, OP_AUTHENTICATE = 0x00, 0x01, 0x02, 0x03
OP_QUERY, OP_RESULT, OP_AUTH_RESPONSE, OP_AUTH_SUCCESS = 0x07, 0x08, 0x0F, 0x10


class ProbeError(Exception):
    pass


def frame(stream, opcode, body):
    return struct.pack(">BBhBi", VERSION, 0, stream, opcode, len(body)) + body


def read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ProbeError("connection closed by server")
        out += chunk
    return out


def read_frame(sock):
    head = read_exact(sock, 9)
    _ver, _flags, _stream, opcode, length = struct.unpack(">BBhBi", head)
    return opcode, read_exact(sock, length)


def cql_string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def take_string(body, off):
    (n,) = struct.unpack_from(">H", body, off)
    off += 2
    return body[off:off + n].decode(errors="replace"), off + n


def error_text(body):
    (code,) = struct.unpack_from(">i", body, 0)
    msg, _ = take_string(body, 4)
    return "server error 0x%04x: %s" % (code, msg)


def first_text_cell(body):
    """Decode a RESULT/Rows body whose first column is text; return the first row's cell."""
    (kind,) = struct.unpack_from(">i", body, 0)
    if kind != 2:
        raise ProbeError("unexpected result kind %d" % kind)
    flags, ncols = struct.unpack_from(">ii", body, 4)
    off = 12
    if flags & 0x0002:  # has_more_pages: skip paging state
        (n,) = struct.unpack_from(">i", body, off)
        off += 4 + max(n, 0)
    if not flags & 0x0004:  # metadata present
        if flags & 0x0001:  # global table spec
            _, off = take_string(body, off)
            _, off = take_string(body, off)
        for _ in range(ncols):
            if not flags & 0x0001:
                _, off = take_string(body, off)
                _, off = take_string(body, off)
            _, off = take_string(body, off)
            (type_id,) = struct.unpack_from(">H", body, off)
            off += 2
            if type_id not in (0x000A, 0x000D):  # ascii/varchar only in this probe
                raise ProbeError("unexpected column type 0x%04x" % type_id)
    (nrows,) = struct.unpack_from(">i", body, off)
    off += 4
    if nrows < 1:
        raise ProbeError("no rows")
    (n,) = struct.unpack_from(">i", body, off)
    off += 4
    return body[off:off + n].decode() if n >= 0 else None


def probe(host, port, user, password, timeout):
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(frame(1, OP_STARTUP, struct.pack(">H", 1) + cql_string("CQL_VERSION") + cql_string("3.0.0")))
        opcode, body = read_frame(sock)
        if opcode == OP_AUTHENTICATE:
            if user is None:
                raise ProbeError("server wants authentication; pass --user/--password")
            token = b"\0" + user.encode() + b"\0" + password.encode()
            sock.sendall(frame(2, OP_AUTH_RESPONSE, struct.pack(">i", len(token)) + token))
            opcode, body = read_frame(sock)
            if opcode != OP_AUTH_SUCCESS:
                raise ProbeError(error_text(body) if opcode == OP_ERROR else "auth failed (opcode %d)" % opcode)
        elif opcode == OP_ERROR:
            raise ProbeError(error_text(body))
        elif opcode != OP_READY:
            raise ProbeError("unexpected opcode %d after STARTUP" % opcode)
        q = "SELECT release_version FROM system.local".encode()
        body = struct.pack(">i", len(q)) + q + struct.pack(">HB", 0x0001, 0)
        sock.sendall(frame(3, OP_QUERY, body))
        opcode, body = read_frame(sock)
        if opcode == OP_ERROR:
            raise ProbeError(error_text(body))
        if opcode != OP_RESULT:
            raise ProbeError("unexpected opcode %d after QUERY" % opcode)
        return first_text_cell(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", nargs="?", type=int, default=9042)
    ap.add_argument("--user")
    ap.add_argument("--password", default="")
    ap.add_argument("--timeout", type=float, default=5.0)
    a = ap.parse_args()
    try:
        print(probe(a.host, a.port, a.user, a.password, a.timeout))
    except (OSError, ProbeError, struct.error) as e:
        print("cqlping %s:%d: %s" % (a.host, a.port, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
