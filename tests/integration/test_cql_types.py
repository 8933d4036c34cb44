"""The CQL type and value layer (src/cql types.c, murmur3.c; src/conv)
against the real Cassandra 5 test bed.

- Read: a table with a column of every CQL type (collections nested and frozen, tuple, UDT
  frozen and not, vector<float, 3> and vector<text, 2>, counters in their own table) is written
  by the Python driver and read by our client (tests/tools/ce_cql_tool, rows as JSON lines);
  every cell must be the JSON form of docs/types.md of what the Python driver reads.
- Write: the JSON our client printed is bound again by our client (conv_value_from_json) into
  a new row; the Python driver must read back values equal to the original row. Natural
  alternative forms (ISO strings with zones, epoch ms, hex blobs, maps as objects with numeric
  keys, ISO durations...) are written the same way and checked with the Python driver.
- Tokens: our Murmur3 tokens (tests/tools/ce_types_tool) equal SELECT token(...) for int,
  bigint, text of lengths 1..40 (every tail length), uuid, blobs with bytes >= 0x80 in the
  tail, random keys, and composite keys.
"""
import base64
import datetime
import json
import math
import os
import random
import struct
import subprocess
import uuid
from collections import namedtuple
from decimal import Decimal

import pytest

pytestmark = pytest.mark.timeout(600)

Address = namedtuple("Address", ["street", "zip", "tags"])

COLUMNS = [
    ("c_ascii", "ascii"), ("c_text", "text"), ("c_varchar", "varchar"), ("c_bigint", "bigint"),
    ("c_blob", "blob"), ("c_boolean", "boolean"), ("c_decimal", "decimal"), ("c_double", "double"),
    ("c_float", "float"), ("c_int", "int"), ("c_smallint", "smallint"), ("c_tinyint", "tinyint"),
    ("c_varint", "varint"), ("c_timestamp", "timestamp"), ("c_date", "date"), ("c_time", "time"),
    ("c_duration", "duration"), ("c_uuid", "uuid"), ("c_timeuuid", "timeuuid"), ("c_inet", "inet"),
    ("c_inet6", "inet"), ("c_list", "list<int>"), ("c_set", "set<text>"),
    ("c_map", "map<text, int>"), ("c_map_int", "map<int, text>"),
    ("c_nested", "list<frozen<map<text, frozen<list<int>>>>>"),
    ("c_frozen_set", "frozen<set<bigint>>"), ("c_tuple", "tuple<int, text, boolean>"),
    ("c_udt", "frozen<address>"), ("c_udt_nf", "address"),
    ("c_vector", "vector<float, 3>"), ("c_vector_text", "vector<text, 2>"),
    ("c_map_udt", "map<text, frozen<address>>"),
    ("c_set_tuple", "set<frozen<tuple<int, timestamp>>>"),
    ("c_list_dec", "list<decimal>"), ("c_map_ts", "map<timestamp, double>"),
]
UDT_FIELDS = [("street", "text"), ("zip", "int"), ("tags", "frozen<list<text>>")]


# ------------------------------------------------------------------ helpers


def run_tool(exe, args, stdin=None, timeout=300):
    if not exe.is_file():
        pytest.fail("%s not built" % exe)
    p = subprocess.run([str(exe)] + [str(a) for a in args], input=stdin, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def cql_tool(ce_bin, env, *args):
    """ce_cql_tool against the default node; returns (rc, [rows parsed exactly], stderr).
    Numbers are parsed as int / Decimal so no digit is lost on our side."""
    rc, out, err = run_tool(ce_bin / "ce_cql_tool",
                            ["--host", env["CE_CASSANDRA_HOST"], "--port", env["CE_CASSANDRA_PORT"]]
                            + list(args))
    rows = [json.loads(ln, parse_float=Decimal) for ln in out.splitlines() if ln.strip()]
    cql_tool.last_stdout = out
    return rc, rows, err


def parse_type(s):
    """'map<text, frozen<list<int>>>' -> ('map', [('text', []), ('list', [('int', [])])])
    (frozen dropped; vector dimension kept as an int)."""
    s = s.replace(" ", "")
    pos = 0

    def typ():
        nonlocal pos
        start = pos
        while pos < len(s) and (s[pos].isalnum() or s[pos] == "_"):
            pos += 1
        name = s[start:pos]
        args = []
        if pos < len(s) and s[pos] == "<":
            pos += 1
            while True:
                if s[pos].isdigit():
                    st = pos
                    while s[pos].isdigit():
                        pos += 1
                    args.append(int(s[st:pos]))
                else:
                    args.append(typ())
                if s[pos] == ",":
                    pos += 1
                    continue
                pos += 1  # '>'
                break
        if name == "frozen":
            return args[0]
        return (name, args)

    return typ()


def civil_from_days(z):
    """Proleptic Gregorian (y, m, d) of days since 1970-01-01 (any range)."""
    z += 719468
    era = z // 146097  # floor division (the C version adjusts its truncating division instead)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + (1 if m <= 2 else 0), m, d)


def duration_text(months, days, nanos):
    neg = months < 0 or days < 0 or nanos < 0
    months, days, nanos = abs(months), abs(days), abs(nanos)
    parts = [(months // 12, "y"), (months % 12, "mo"), (days, "d"),
             (nanos // 3600000000000, "h"), (nanos // 60000000000 % 60, "m"),
             (nanos // 1000000000 % 60, "s"), (nanos // 1000000 % 1000, "ms"),
             (nanos // 1000 % 1000, "us"), (nanos % 1000, "ns")]
    s = "".join("%d%s" % (v, u) for v, u in parts if v) or "0s"
    return ("-" if neg else "") + s


def ts_text(dt):
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (dt.year, dt.month, dt.day, dt.hour, dt.minute,
                                                   dt.second, dt.microsecond // 1000)


def check(t, ours, py, path):
    """Assert that `ours` (parsed from our JSON) is the documented form of the Python
    driver's value `py` for CQL type t."""
    name, args = t
    where = "%s (%s): ours %r, python %r" % (path, name, ours, py)
    if py is None:
        assert ours is None, where
        return
    if name in ("ascii", "text", "varchar"):
        assert ours == py, where
    elif name in ("bigint", "int", "smallint", "tinyint", "counter", "varint"):
        assert isinstance(ours, int) and ours == py, where
    elif name == "boolean":
        assert ours is py, where
    elif name == "blob":
        assert ours == base64.b64encode(py).decode(), where
    elif name == "decimal":
        assert isinstance(ours, Decimal) or isinstance(ours, int), where
        assert Decimal(ours).as_tuple() == py.as_tuple() or (isinstance(ours, int) and py.as_tuple().exponent == 0 and ours == py), where
    elif name in ("double", "float"):
        if math.isnan(py):
            assert ours == "NaN", where
        elif math.isinf(py):
            assert ours == ("Infinity" if py > 0 else "-Infinity"), where
        else:
            v = float(ours)
            if name == "float":
                assert struct.pack(">f", v) == struct.pack(">f", py), where
            else:
                assert v == py and math.copysign(1, v) == math.copysign(1, py), where
            # shortest form: no more digits than needed
            assert len(str(ours).replace("-", "").replace(".", "").lstrip("0")) <= 17, where
    elif name == "timestamp":
        assert ours == ts_text(py), where
    elif name == "date":
        y, m, d = civil_from_days(py.days_from_epoch)
        want = "%04d-%02d-%02d" % (y, m, d) if 0 <= y <= 9999 else "%s%06d-%02d-%02d" % ("-" if y < 0 else "+", abs(y), m, d)
        assert ours == want, where
    elif name == "time":
        ns = py.nanosecond_time
        assert ours == "%02d:%02d:%02d.%09d" % (ns // 3600000000000, ns // 60000000000 % 60,
                                                ns // 1000000000 % 60, ns % 1000000000), where
    elif name == "duration":
        assert ours == duration_text(py.months, py.days, py.nanoseconds), where
    elif name in ("uuid", "timeuuid"):
        assert ours == str(py), where
    elif name == "inet":
        assert ours == py, where
    elif name in ("list", "set"):
        py = list(py)
        assert isinstance(ours, list) and len(ours) == len(py), where
        for i, (a, b) in enumerate(zip(ours, py)):
            check(args[0], a, b, "%s[%d]" % (path, i))
    elif name == "vector":
        assert isinstance(ours, list) and len(ours) == args[1] == len(py), where
        for i, (a, b) in enumerate(zip(ours, py)):
            check(args[0], a, b, "%s[%d]" % (path, i))
    elif name == "map":
        items = list(py.items())
        if args[0][0] in ("text", "varchar", "ascii"):
            assert isinstance(ours, dict) and list(ours.keys()) == [k for k, _ in items], where
            for k, v in items:
                check(args[1], ours[k], v, "%s[%r]" % (path, k))
        else:
            assert isinstance(ours, list) and len(ours) == len(items), where
            for i, ((k, v), pair) in enumerate(zip(items, ours)):
                assert isinstance(pair, list) and len(pair) == 2, where
                check(args[0], pair[0], k, "%s key %d" % (path, i))
                check(args[1], pair[1], v, "%s value %d" % (path, i))
    elif name == "tuple":
        assert isinstance(ours, list) and len(ours) == len(args) == len(py), where
        for i, (st, a, b) in enumerate(zip(args, ours, py)):
            check(st, a, b, "%s[%d]" % (path, i))
    elif name == "address":
        assert isinstance(ours, dict) and list(ours.keys()) == [f for f, _ in UDT_FIELDS], where
        for f, ft in UDT_FIELDS:
            check(parse_type(ft), ours[f], getattr(py, f), "%s.%s" % (path, f))
    else:
        raise AssertionError("no check for type %s" % name)


def textify_numbers(t, v):
    """Our JSON with varint/decimal numbers turned into strings: jansson (the CLI's parser)
    keeps every digit and the scale only for strings (docs/types.md)."""
    name, args = t
    if v is None:
        return None
    if name in ("varint", "decimal") and not isinstance(v, str):
        return str(v)
    if name in ("list", "set", "vector"):
        return [textify_numbers(args[0], x) for x in v]
    if name == "map":
        if isinstance(v, dict):
            return {k: textify_numbers(args[1], x) for k, x in v.items()}
        return [[textify_numbers(args[0], a), textify_numbers(args[1], b)] for a, b in v]
    if name == "tuple":
        return [textify_numbers(st, x) for st, x in zip(args, v)]
    if name == "address":
        return {f: textify_numbers(parse_type(ft), v[f]) for f, ft in UDT_FIELDS}
    if isinstance(v, Decimal):
        return float(v)
    return v


def to_plain_json(v):
    return json.dumps(v, default=lambda d: float(d) if isinstance(d, Decimal) else str(d))


def py_equal(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(py_equal(x, y) for x, y in zip(a, b))
    return a == b


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def types_ks(cassandra_session, cassandra_cluster):
    import secrets
    s = cassandra_session
    ks = "t_cql_types_%s" % secrets.token_hex(4)
    # RF 1: every read sees the one replica the write went to (with RF 2 and consistency ONE a
    # node restarted by another test could answer without the latest writes)
    s.execute("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}" % ks,
              timeout=60)
    s.execute("CREATE TYPE %s.address (street text, zip int, tags frozen<list<text>>)" % ks, timeout=60)
    cols = ", ".join("%s %s" % (c, t) for c, t in COLUMNS)
    s.execute("CREATE TABLE %s.all_types (k int PRIMARY KEY, %s)" % (ks, cols), timeout=60)
    s.execute("CREATE TABLE %s.counters (k int PRIMARY KEY, c counter)" % ks, timeout=60)
    cassandra_cluster.register_user_type(ks, "address", Address)
    yield ks
    s.execute("DROP KEYSPACE IF EXISTS %s" % ks, timeout=60)


def sample_rows():
    from cassandra.util import Date, Duration, Time
    ts = datetime.datetime(2026, 11, 25, 10, 0, 0, 123000)
    a1 = Address("Main St \"1\"", 12345, ["x", "y"])
    a2 = Address(None, -1, None)
    return {
        1: {
            "c_ascii": "hello", "c_text": "h\u00e9llo \"w\" \\ \n \u2603 \U0001F600", "c_varchar": "v",
            "c_bigint": -9223372036854775808, "c_blob": b"\x00\x01\xfe\xff\x80",
            "c_boolean": True, "c_decimal": Decimal("12.345"), "c_double": 0.1, "c_float": 1.5,
            "c_int": -2147483648, "c_smallint": 32767, "c_tinyint": -128,
            "c_varint": 123456789012345678901234567890, "c_timestamp": ts,
            "c_date": Date(datetime.date(2026, 11, 25)), "c_time": Time("10:00:00.123456789"),
            "c_duration": Duration(1, 2, 3), "c_uuid": uuid.UUID("00112233-4455-6677-8899-aabbccddeeff"),
            "c_timeuuid": uuid.uuid1(), "c_inet": "127.0.0.1", "c_inet6": "2001:db8::1",
            "c_list": [1, 2, 3], "c_set": {"a", "b", "\u00e9"}, "c_map": {"a": 1, "b\"q": 2},
            "c_map_int": {1: "x", -5: "y"}, "c_nested": [{"k": [1, 2]}, {"z": []}],
            "c_frozen_set": {1, 2, 3}, "c_tuple": (7, "hi", None), "c_udt": a1, "c_udt_nf": a2,
            "c_vector": [1.0, 2.5, -3.25], "c_vector_text": ["a", "bc"],
            "c_map_udt": {"home": a1}, "c_set_tuple": {(1, ts), (2, datetime.datetime(1969, 7, 20, 20, 17, 40))},
            "c_list_dec": [Decimal("0.00"), Decimal("-1E+3"), Decimal("3.14159265358979323846264338327950288")],
            "c_map_ts": {ts: 1.25, datetime.datetime(1900, 1, 1): -0.0},
        },
        2: {
            "c_ascii": "", "c_text": "", "c_blob": b"", "c_boolean": False,
            "c_decimal": Decimal("12345E+2"), "c_double": float("nan"), "c_float": float("-inf"),
            "c_bigint": 9223372036854775807, "c_int": 0, "c_smallint": -32768, "c_tinyint": 127,
            "c_varint": -(2 ** 100), "c_timestamp": datetime.datetime(1, 1, 1, 0, 0, 0),
            "c_date": Date(-2 ** 31), "c_time": Time(0), "c_duration": Duration(-14, -3, -5400000000001),
            "c_inet": "::ffff:1.2.3.4", "c_inet6": "::1", "c_list": [], "c_map": {},
            "c_vector": [float("inf"), -0.0, 3.4028234663852886e+38],
            "c_vector_text": ["", "\u2603" * 100], "c_tuple": (None, None, None),
            "c_list_dec": [Decimal("-0.001"), Decimal("1E-100")],
        },
        3: {},
    }


@pytest.fixture(scope="module")
def filled(types_ks, cassandra_session):
    s = cassandra_session
    rows = sample_rows()
    for k, vals in rows.items():
        names = ["k"] + list(vals.keys())
        st = s.prepare("INSERT INTO %s.all_types (%s) VALUES (%s)"
                       % (types_ks, ", ".join(names), ", ".join("?" * len(names))))
        s.execute(st, [k] + list(vals.values()))
    s.execute("UPDATE %s.counters SET c = c + 5 WHERE k = 1" % types_ks)
    s.execute("UPDATE %s.counters SET c = c - 9223372036854775807 WHERE k = 2" % types_ks)
    return types_ks


def python_rows(s, ks, table, where=""):
    return {r.k: r for r in s.execute("SELECT * FROM %s.%s %s" % (ks, table, where))}


# ------------------------------------------------------------------ tests


def test_read_every_type(ce_bin, testbed_env, cassandra_session, filled):
    rc, rows, err = cql_tool(ce_bin, testbed_env, "query", "SELECT * FROM %s.all_types" % filled)
    assert rc == 0, err
    py = python_rows(cassandra_session, filled, "all_types")
    assert sorted(r["k"] for r in rows) == sorted(py.keys()) == [1, 2, 3]
    types = dict(COLUMNS)
    checked = 0
    for r in rows:
        p = py[r["k"]]
        assert set(r.keys()) == {"k"} | set(types.keys())
        for col, t in COLUMNS:
            check(parse_type(t), r[col], getattr(p, col), "row %d %s" % (r["k"], col))
            checked += 1
    assert checked == 3 * len(COLUMNS)
    # a few literal forms, so the documented text itself is pinned down
    r1 = next(r for r in rows if r["k"] == 1)
    r2 = next(r for r in rows if r["k"] == 2)
    assert r1["c_timestamp"] == "2026-11-25T10:00:00.123Z"
    assert r1["c_date"] == "2026-11-25"
    assert r1["c_time"] == "10:00:00.123456789"
    assert r1["c_duration"] == "1mo2d3ns"
    assert r1["c_varint"] == 123456789012345678901234567890
    raw = cql_tool.last_stdout
    assert '"c_decimal":12.345,' in raw
    assert '"c_decimal":12345E+2,' in raw
    assert '"c_list_dec":[0.00,-1E+3,3.14159265358979323846264338327950288]' in raw
    assert '"c_list_dec":[-0.001,1E-100]' in raw
    assert '"c_varint":-1267650600228229401496703205376,' in raw
    assert r1["c_map_int"] == [[-5, "y"], [1, "x"]]
    assert r1["c_udt"] == {"street": "Main St \"1\"", "zip": 12345, "tags": ["x", "y"]}
    assert r1["c_tuple"] == [7, "hi", None]
    assert r2["c_timestamp"] == "0001-01-01T00:00:00.000Z"
    assert r2["c_date"] == "-5877641-06-23"
    assert r2["c_duration"] == "-1y2mo3d1h30m1ns"
    assert r2["c_double"] == "NaN" and r2["c_float"] == "-Infinity"
    assert r2["c_inet"] == "::ffff:1.2.3.4"
    assert r2["c_set"] is None  # an empty collection is stored as null


def test_counters(ce_bin, testbed_env, cassandra_session, filled):
    rc, rows, err = cql_tool(ce_bin, testbed_env, "query", "SELECT k, c FROM %s.counters" % filled)
    assert rc == 0, err
    py = python_rows(cassandra_session, filled, "counters")
    assert {r["k"]: r["c"] for r in rows} == {k: v.c for k, v in py.items()} == {1: 5, 2: -9223372036854775807}
    # and written by our client: c = c + ? with a JSON value
    rc, _, err = cql_tool(ce_bin, testbed_env, "query", "UPDATE %s.counters SET c = c + ? WHERE k = ?" % filled,
                          "[\"10\", 1]")
    assert rc == 0, err
    assert python_rows(cassandra_session, filled, "counters", "WHERE k = 1")[1].c == 15


def test_write_back_what_we_read(ce_bin, testbed_env, cassandra_session, filled):
    """bytes -> our JSON -> our bytes through the server: the Python driver must read the
    copy equal to the original."""
    rc, rows, err = cql_tool(ce_bin, testbed_env, "query", "SELECT * FROM %s.all_types" % filled)
    assert rc == 0, err
    cols = [c for c, _ in COLUMNS]
    ins = "INSERT INTO %s.all_types (k, %s) VALUES (?, %s)" % (filled, ", ".join(cols), ", ".join("?" * len(cols)))
    for r in rows:
        vals = [r["k"] + 100] + [textify_numbers(parse_type(t), r[c]) for c, t in COLUMNS]
        rc, _, err = cql_tool(ce_bin, testbed_env, "query", ins, to_plain_json(vals))
        assert rc == 0, "row %d: %s" % (r["k"], err)
    py = python_rows(cassandra_session, filled, "all_types")
    for k in (1, 2, 3):
        for c in cols:
            a, b = getattr(py[k], c), getattr(py[k + 100], c)
            assert py_equal(a, b), "row %d %s: original %r, our copy %r" % (k, c, a, b)
            if isinstance(a, Decimal):
                assert a.as_tuple() == b.as_tuple(), c
            if isinstance(a, float):
                assert math.copysign(1, a) == math.copysign(1, b), c


def test_write_natural_forms(ce_bin, testbed_env, cassandra_session, filled):
    from cassandra.util import Duration
    cases = [
        # (column, JSON value we send, what the Python driver must read)
        ("c_timestamp", "2026-11-25T10:00:00Z", datetime.datetime(2026, 11, 25, 10, 0, 0)),
        ("c_timestamp", "2026-11-25 10:00:00", datetime.datetime(2026, 11, 25, 10, 0, 0)),
        ("c_timestamp", "2026-11-25T10:00:00.123+02:00", datetime.datetime(2026, 11, 25, 8, 0, 0, 123000)),
        ("c_timestamp", "2026-11-25T10:00:00.123456", datetime.datetime(2026, 11, 25, 10, 0, 0, 123000)),
        ("c_timestamp", 1795600800123, datetime.datetime(2026, 11, 25, 10, 0, 0, 123000)),
        ("c_timestamp", "1969-12-31T23:59:59.999Z", datetime.datetime(1969, 12, 31, 23, 59, 59, 999000)),
        ("c_boolean", "true", True),
        ("c_boolean", "FALSE", False),
        ("c_blob", "0xCAFE00ff", b"\xca\xfe\x00\xff"),
        ("c_blob", "-_8", b"\xfb\xff"),
        ("c_blob", "AAEC/w==", b"\x00\x01\x02\xff"),
        ("c_map_int", {"1": "a", "-7": "b"}, {1: "a", -7: "b"}),
        ("c_map", [["x", 1], ["y", 2]], {"x": 1, "y": 2}),
        ("c_udt", {"zip": 5}, Address(None, 5, None)),
        ("c_date", "2026-11-25", datetime.date(2026, 11, 25)),
        ("c_date", "2026-11-25T00:00:00Z", datetime.date(2026, 11, 25)),
        ("c_time", "10:00", None),
        ("c_duration", "P1Y2M3DT4H5M6.000000007S", Duration(14, 3, 14706000000007)),
        ("c_duration", "1w2d", Duration(0, 9, 0)),
        ("c_uuid", "00112233445566778899AABBCCDDEEFF", uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")),
        ("c_varint", "-98765432109876543210987654321", -98765432109876543210987654321),
        ("c_decimal", "1.2E+5", Decimal("1.2E+5")),
        ("c_decimal", "-0.00100", Decimal("-0.00100")),
        ("c_decimal", 2.5, Decimal("2.5")),
        ("c_int", "42", 42),
        ("c_double", "Infinity", float("inf")),
        ("c_float", "NaN", float("nan")),
        ("c_inet", "::1", "::1"),
        ("c_tuple", [1, None, True], (1, None, True)),
        ("c_vector", [1, 2, 3], [1.0, 2.0, 3.0]),
        ("c_text", 12, "12"),
    ]
    for i, (col, val, want) in enumerate(cases):
        k = 1000 + i
        rc, _, err = cql_tool(ce_bin, testbed_env, "query",
                              "INSERT INTO %s.all_types (k, %s) VALUES (?, ?)" % (filled, col),
                              json.dumps([k, val]))
        assert rc == 0, "%s %r: %s" % (col, val, err)
        got = getattr(cassandra_session.execute("SELECT %s FROM %s.all_types WHERE k = %d" % (col, filled, k)).one(), col)
        if col == "c_date":
            got = got.date()
        if col == "c_time":
            assert got.nanosecond_time == 36000 * 10 ** 9, (col, val, got)
            continue
        assert py_equal(got, want), "%s %r: python read %r, want %r" % (col, val, got, want)
        if isinstance(want, Decimal):
            assert got.as_tuple() == want.as_tuple(), (col, val, got)


def test_write_errors(ce_bin, testbed_env, filled):
    cases = [
        ("c_tinyint", 300, "value 300 out of range for tinyint"),
        ("c_uuid", "abc", "'abc' is not a valid uuid"),
        ("c_list", {"a": 1}, "expected an array for list<int>"),
        ("c_udt", {"zip": 1, "nope": 2}, "unknown field 'nope' for"),
        ("c_vector", [1, 2], "expected 3 elements, got 2, for vector<float, 3>"),
        ("c_timestamp", "not a date", "'not a date' is not a valid timestamp"),
    ]
    for col, val, msg in cases:
        rc, _, err = cql_tool(ce_bin, testbed_env, "query",
                              "INSERT INTO %s.all_types (k, %s) VALUES (?, ?)" % (filled, col),
                              json.dumps([5000, val]))
        assert rc != 0 and msg in err, "%s %r: rc %d, %s" % (col, val, rc, err)


# ------------------------------------------------------------------ tokens


def our_tokens(ce_bin, requests):
    stdin = "".join(json.dumps(r) + "\n" for r in requests)
    rc, out, err = run_tool(ce_bin / "ce_types_tool", [], stdin=stdin)
    assert rc == 0, err
    res = [json.loads(ln) for ln in out.splitlines()]
    assert len(res) == len(requests), out
    for r in res:
        assert "token" in r, r
    return [r["token"] for r in res]


def test_tokens_match_server(ce_bin, cassandra_session, types_ks):
    s = cassandra_session
    rnd = random.Random(20261125)
    keys = {
        "int": [0, 1, -1, 2147483647, -2147483648] + [rnd.randint(-2 ** 31, 2 ** 31 - 1) for _ in range(30)],
        "bigint": [0, 1, -1, 2 ** 63 - 1, -2 ** 63] + [rnd.randint(-2 ** 63, 2 ** 63 - 1) for _ in range(30)],
        "text": ["abcdefghijklmnopqrstuvwxyz0123456789ABCD"[:n] for n in range(1, 41)]
                + ["\u00e9\u2603\U0001F600" * n for n in range(1, 8)],
        "uuid": [uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")] + [uuid.uuid4() for _ in range(10)],
        "blob": [bytes(range(0x80, 0x80 + n)) for n in range(1, 34)] + [b"\xff" * n for n in (1, 7, 8, 9, 15, 16, 17)]
                + [bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 64))) for _ in range(30)],
    }
    for t, vals in keys.items():
        s.execute("CREATE TABLE %s.tok_%s (k %s PRIMARY KEY)" % (types_ks, t, t), timeout=60)
        ins = s.prepare("INSERT INTO %s.tok_%s (k) VALUES (?)" % (types_ks, t))
        for v in vals:
            s.execute(ins, [v])
        server = {(bytes(r.k) if t == "blob" else r.k): r.t for r in
                  s.execute("SELECT k, token(k) AS t FROM %s.tok_%s" % (types_ks, t))}
        assert len(server) == len(set(vals))

        def as_json(v):
            if t == "blob":
                return "0x" + v.hex()
            if t == "uuid":
                return str(v)
            return v
        ours = our_tokens(ce_bin, [{"token": [t], "values": [as_json(v)]} for v in vals])
        for v, tok in zip(vals, ours):
            assert tok == server[v], "%s %r: ours %d, Cassandra %d" % (t, v, tok, server[v])

    # composite partition keys
    s.execute("CREATE TABLE %s.tok_comp (a int, b text, c uuid, PRIMARY KEY ((a, b, c)))" % types_ks, timeout=60)
    ins = s.prepare("INSERT INTO %s.tok_comp (a, b, c) VALUES (?, ?, ?)" % types_ks)
    comps = [(1, "x", uuid.UUID(int=0))] + [(rnd.randint(-2 ** 31, 2 ** 31 - 1), "k%d" % i * (i % 5), uuid.uuid4())
                                            for i in range(30)]
    for c in comps:
        s.execute(ins, list(c))
    server = {(r.a, r.b, r.c): r.t for r in s.execute("SELECT a, b, c, token(a, b, c) AS t FROM %s.tok_comp" % types_ks)}
    ours = our_tokens(ce_bin, [{"token": ["int", "text", "uuid"], "values": [a, b, str(c)]} for a, b, c in comps])
    for c, tok in zip(comps, ours):
        assert tok == server[c], "composite %r: ours %d, Cassandra %d" % (c, tok, server[c])
