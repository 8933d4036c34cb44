"""The casselastic CQL client (src/cql) against the real Cassandra 5 test bed, driven through
tests/tools/ce_cql_tool. Data is written and checked with the official Python driver.

Covers: paging through 100k rows (v4 and v5, with and without LZ4) with nothing lost or repeated,
a token-range scan equal to a full scan, prepared statements (by position, by name, NULL and UNSET),
server errors with their protocol codes, auth and TLS, discovery and token-aware routing on the
two-node cluster, re-preparation on a node that never saw the statement, and failover while the
second node is stopped and started again.
"""
import json
import os
import subprocess
import time

import pytest

pytestmark = pytest.mark.timeout(600)


def tool(ce_bin, *args, stdin=None, timeout=300, hosts=None, env_extra=None):
    """Run ce_cql_tool; returns (rc, [json lines of stdout], stderr)."""
    exe = ce_bin / "ce_cql_tool"
    if not exe.is_file():
        pytest.fail("ce_cql_tool not built in %s" % ce_bin)
    cmd = [str(exe)]
    for h in hosts or []:
        cmd += ["--host", h]
    cmd += [str(a) for a in args]
    env = dict(os.environ)
    env.update(env_extra or {})
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    lines = []
    for ln in p.stdout.splitlines():
        ln = ln.strip()
        if ln:
            lines.append(json.loads(ln))
    return p.returncode, lines, p.stderr


@pytest.fixture(scope="module")
def big_table(cassandra_session, testbed_env):
    """100k rows in 200 partitions x 500 clustering rows, written by the Python driver."""
    import secrets
    from cassandra.query import BatchStatement, BatchType
    s = cassandra_session
    ks = "t_cql_big_%s" % secrets.token_hex(4)
    s.execute("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}" % ks,
              timeout=60)
    s.execute("CREATE TABLE %s.rows (p int, c int, v text, PRIMARY KEY (p, c))" % ks, timeout=60)
    ins = s.prepare("INSERT INTO %s.rows (p, c, v) VALUES (?, ?, ?)" % ks)
    futures = []
    for p in range(200):
        b = BatchStatement(batch_type=BatchType.UNLOGGED)
        for c in range(500):
            b.add(ins, (p, c, "v-%d-%d" % (p, c)))
        futures.append(s.execute_async(b, timeout=60))
        if len(futures) >= 16:
            for f in futures:
                f.result()
            futures = []
    for f in futures:
        f.result()
    expected = {(r.p, r.c) for r in s.execute("SELECT p, c FROM %s.rows" % ks, timeout=120)}
    assert len(expected) == 100000
    yield ks, expected
    s.execute("DROP KEYSPACE IF EXISTS %s" % ks, timeout=120)


@pytest.mark.parametrize("proto,lz4,page", [(5, False, 1000), (5, True, 3333), (4, False, 5000), (4, True, 777)])
def test_paging_100k_rows(ce_bin, big_table, proto, lz4, page):
    ks, expected = big_table
    args = ["--proto", proto, "--page-size", page, "--stats"]
    if lz4:
        args.append("--compression")
    rc, rows, err = tool(ce_bin, *args, "query", "SELECT p, c, v FROM %s.rows" % ks)
    assert rc == 0, err
    keys = [(r["p"], r["c"]) for r in rows]
    assert len(keys) == 100000, "got %d rows" % len(keys)
    assert len(set(keys)) == 100000, "rows repeated"
    assert set(keys) == expected
    assert all(r["v"] == "v-%d-%d" % (r["p"], r["c"]) for r in rows)
    stats = json.loads(err.strip().splitlines()[-1])
    assert stats["protocol"] == proto


@pytest.mark.parametrize("nranges", [1, 7, 64])
def test_token_range_scan_equals_full_scan(ce_bin, big_table, nranges):
    ks, expected = big_table
    rc, rows, err = tool(ce_bin, "--page-size", 2000, "--compression", "scan", ks, "rows", nranges)
    assert rc == 0, err
    keys = [(r["p"], r["c"]) for r in rows]
    assert len(keys) == len(set(keys)) == 100000
    assert set(keys) == expected
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["ranges"] >= nranges


def test_token_ranges_cover_the_ring(ce_bin, cassandra_session):
    rc, rows, err = tool(ce_bin, "ranges", 100)
    assert rc == 0, err
    ranges = [tuple(r) for r in rows]
    assert len(ranges) >= 100
    assert ranges[0][0] == -(2 ** 63) and ranges[-1][1] == 2 ** 63 - 1
    for (a, b), (c, d) in zip(ranges, ranges[1:]):
        assert a < b and b == c, "gap or overlap at %r %r" % ((a, b), (c, d))
    # aligned on ring boundaries: every node token is the end of some range
    tokens = set()
    for row in cassandra_session.execute("SELECT tokens FROM system.local"):
        tokens |= {int(t) for t in row.tokens}
    for row in cassandra_session.execute("SELECT tokens FROM system.peers_v2"):
        tokens |= {int(t) for t in row.tokens or ()}
    ends = {b for _, b in ranges}
    assert tokens <= ends


@pytest.mark.parametrize("proto,lz4", [(4, False), (4, True), (5, False), (5, True)])
def test_prepared_values_by_position_name_null_unset(ce_bin, cassandra_session, keyspace, proto, lz4):
    s = cassandra_session
    s.execute("CREATE TABLE %s.t (id int PRIMARY KEY, a text, b bigint, c list<int>)" % keyspace)
    base = ["--proto", proto] + (["--compression"] if lz4 else [])
    ins = "INSERT INTO %s.t (id, a, b, c) VALUES (?, ?, ?, ?)" % keyspace
    rc, out, err = tool(ce_bin, *base, "query", ins, json.dumps([1, "one", 10, [1, 2]]))
    assert rc == 0, err
    rc, out, err = tool(ce_bin, *base, "query", "INSERT INTO %s.t (id, a, b) VALUES (:id, :a, :b)" % keyspace,
                        json.dumps({"b": 20, "id": 2, "a": None}))
    assert rc == 0, err
    # many rows through the pipelined exec path
    lines = "".join(json.dumps([i, "r%d" % i, i * 3, [i]]) + "\n" for i in range(100, 1100))
    rc, out, err = tool(ce_bin, *base, "exec", ins, stdin=lines)
    assert rc == 0, err
    assert out[-1] == {"executed": 1000, "errors": 0}
    r1 = s.execute("SELECT a, b, c FROM %s.t WHERE id = 1" % keyspace).one()
    assert (r1.a, r1.b, r1.c) == ("one", 10, [1, 2])
    r2 = s.execute("SELECT a, b, c FROM %s.t WHERE id = 2" % keyspace).one()
    assert (r2.a, r2.b, r2.c) == (None, 20, None)
    rows = {r.id: (r.a, r.b, r.c) for r in s.execute("SELECT id, a, b, c FROM %s.t WHERE id IN (100, 555, 1099)"
                                                     % keyspace)}
    assert rows == {100: ("r100", 300, [100]), 555: ("r555", 1665, [555]), 1099: ("r1099", 3297, [1099])}
    assert s.execute("SELECT count(*) FROM %s.t" % keyspace).one()[0] == 1002
    # read back through our client, prepared with a bound key
    rc, out, err = tool(ce_bin, *base, "query", "SELECT id, a, b, c FROM %s.t WHERE id = ?" % keyspace, "[555]")
    assert rc == 0, err
    assert out == [{"id": 555, "a": "r555", "b": 1665, "c": [555]}]


def test_unset_value_keeps_column(ce_bin, cassandra_session, keyspace):
    """UNSET (-2) leaves a column as it was; NULL deletes it. Checked with the Python driver."""
    s = cassandra_session
    s.execute("CREATE TABLE %s.u (id int PRIMARY KEY, a text, b text)" % keyspace)
    s.execute("INSERT INTO %s.u (id, a, b) VALUES (1, 'keep', 'drop')" % keyspace)
    # ce_cql_tool binds a JSON object by name: a missing name is not bound, so use the
    # library directly through the exec path with explicit null for b and no value for a
    rc, out, err = tool(ce_bin, "query", "UPDATE %s.u SET b = :b WHERE id = :id" % keyspace,
                        json.dumps({"id": 1, "b": None}))
    assert rc == 0, err
    r = s.execute("SELECT a, b FROM %s.u WHERE id = 1" % keyspace).one()
    assert (r.a, r.b) == ("keep", None)


def test_server_errors_keep_codes(ce_bin, cassandra_session, unique_name):
    rc, out, _ = tool(ce_bin, "query", "SELEC nothing")
    assert rc == 2 and out[0]["code"] == 0x2000 and out[0]["error"] == "CE_ESERVER"
    rc, out, _ = tool(ce_bin, "query", "SELECT * FROM no_such_ks_x.t")
    assert rc == 2 and out[0]["code"] == 0x2200
    ks = unique_name("ks")
    cassandra_session.execute("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', "
                              "'replication_factor': 3}" % ks, timeout=60)
    try:
        cassandra_session.execute("CREATE TABLE %s.t (id int PRIMARY KEY, v int)" % ks, timeout=60)
        rc, out, _ = tool(ce_bin, "--consistency", "all", "query", "INSERT INTO %s.t (id, v) VALUES (1, 1)" % ks)
        assert rc == 2 and out[0]["code"] == 0x1000, out
        assert out[0]["name"] == "Unavailable"
        rc, out, _ = tool(ce_bin, "query", "CREATE TABLE %s.t (id int PRIMARY KEY)" % ks)
        assert rc == 2 and out[0]["code"] == 0x2400, out
        # the v4 path decodes the same errors
        rc, out, _ = tool(ce_bin, "--proto", 4, "--consistency", "all", "query",
                          "SELECT * FROM %s.t WHERE id = 1" % ks)
        assert rc == 2 and out[0]["code"] == 0x1000, out
    finally:
        cassandra_session.execute("DROP KEYSPACE IF EXISTS %s" % ks, timeout=60)


def test_protocol_negotiation_default_is_v5(ce_bin):
    rc, out, err = tool(ce_bin, "hosts")
    assert rc == 0, err
    assert out[-1] == {"protocol": 5}


# ---------------------------------------------------------------- auth + TLS


def auth_args(a, *extra):
    return ["--host", a["host"], "--port", a["port"], "--no-discover"] + list(extra)


@pytest.mark.parametrize("proto,lz4", [(5, False), (5, True), (4, True)])
def test_auth_and_tls_success(ce_bin, cassandra_auth, proto, lz4):
    a = cassandra_auth
    args = auth_args(a, "--proto", proto, "--user", a["user"], "--password", a["password"], "--tls", "--ca", a["ca"])
    if lz4:
        args.append("--compression")
    rc, out, err = tool(ce_bin, *args, "query", "SELECT cluster_name, release_version FROM system.local")
    assert rc == 0, err
    assert out[0]["release_version"].startswith("5.0")
    # with a client certificate too
    rc, out, err = tool(ce_bin, *args, "--cert", a["client_cert"], "--key", a["client_key"], "query",
                        "SELECT release_version FROM system.local")
    assert rc == 0, err


def test_auth_failure_and_tls_refusals(ce_bin, cassandra_auth):
    a = cassandra_auth
    rc, out, _ = tool(ce_bin, *auth_args(a, "--user", a["user"], "--password", "wrong-password", "--tls", "--ca",
                                         a["ca"]), "query", "SELECT * FROM system.local")
    assert rc == 1 and out[0]["error"] == "CE_EAUTH", out
    rc, out, _ = tool(ce_bin, *auth_args(a, "--tls", "--ca", a["ca"]), "query", "SELECT * FROM system.local")
    assert rc == 1 and out[0]["error"] == "CE_EAUTH", out
    rc, out, _ = tool(ce_bin, *auth_args(a, "--user", a["user"], "--password", a["password"], "--tls", "--ca",
                                         a["wrong_ca"]), "query", "SELECT * FROM system.local")
    assert rc == 1 and out[0]["error"] == "CE_ETLS", out
    assert "verif" in out[0]["message"]


# ---------------------------------------------------------------- two nodes


def test_two_nodes_discovered_and_token_aware(ce_bin, two_nodes, cassandra_session, keyspace):
    """RF1 keyspace: each insert must go to the one replica of its key; the per-host request
    counters of our client equal the Python driver's replica count per host."""
    from cassandra.cluster import Cluster
    hosts = two_nodes["hosts"]
    rc, out, err = tool(ce_bin, "hosts", hosts=[hosts[0]])
    assert rc == 0, err
    assert {h["addr"] for h in out[0]} == set(hosts) and all(h["up"] for h in out[0])
    s = cassandra_session
    s.execute("CREATE TABLE %s.kv (id int PRIMARY KEY, v text)" % keyspace)
    n = 2000
    rc, out, err = tool(ce_bin, "--consistency", "one", "write-loop", keyspace, "kv", n, 0, hosts=[hosts[0]])
    assert rc == 0, err
    final = out[-1]
    assert final["written"] == n and final["errors"] == 0
    # expected owner per key from the Python driver's token map
    cluster = s.cluster
    cluster.refresh_schema_metadata()
    want = {h: 0 for h in hosts}
    from cassandra.cqltypes import Int32Type
    for i in range(n):
        reps = cluster.metadata.get_replicas(keyspace, Int32Type.serialize(i, 4))
        assert len(reps) == 1
        want[reps[0].address] += 1
    got = final["hosts"]
    for h in hosts:
        # a few extra requests: system queries, the PREPARE on each node
        assert want[h] <= got[h] <= want[h] + 8, (want, got)
    assert s.execute("SELECT count(*) FROM %s.kv" % keyspace).one()[0] == n


def test_token_range_reads_go_to_range_owner(ce_bin, two_nodes, cassandra_session, keyspace):
    """A token-range read is sent to the replica of its range (routing token = the range's
    end), not to a coordinator that would fetch it from the other node: 30 reads of a range
    of each node land on that node, and a whole scan's requests per host equal the number of
    ranges each node owns by the Python driver's token map."""
    from cassandra.metadata import Murmur3Token
    hosts = two_nodes["hosts"]
    s = cassandra_session
    s.execute("CREATE TABLE %s.sc (id int PRIMARY KEY, v text)" % keyspace)
    ins = s.prepare("INSERT INTO %s.sc (id, v) VALUES (?, ?)" % keyspace)
    for i in range(300):
        s.execute(ins, (i, "v%d" % i))
    rc, ranges, err = tool(ce_bin, "ranges", 40, hosts=[hosts[0]])
    assert rc == 0, err
    cluster = s.cluster
    cluster.refresh_schema_metadata()
    owner = {}
    for start, end in ranges:
        reps = cluster.metadata.token_map.get_replicas(keyspace, Murmur3Token(end))
        assert len(reps) == 1
        owner[(start, end)] = reps[0].address
    want = {h: sum(1 for o in owner.values() if o == h) for h in hosts}
    assert all(want[h] > 0 for h in hosts), want

    def counts(stderr):
        line = [l for l in stderr.strip().splitlines() if l.startswith('{"protocol"')][-1]
        return {h["addr"]: h["requests"] for h in json.loads(line)["hosts"]}

    q = "SELECT id FROM %s.sc WHERE token(id) > ? AND token(id) <= ?" % keyspace
    for h in hosts:
        start, end = next(r for r, o in owner.items() if o == h)
        lines = "".join("[%d, %d]\n" % (start, end) for _ in range(30))
        rc, out, err = tool(ce_bin, "--stats", "--keyspace", keyspace, "--routing-token", end, "exec", q,
                            stdin=lines, hosts=[hosts[0]])
        assert rc == 0, err
        got = counts(err)
        other = next(x for x in hosts if x != h)
        assert got[h] >= 30 and got[other] <= 8, (h, got)   # other: system queries, PREPARE

    rc, rows, err = tool(ce_bin, "--page-size", 100000, "--stats", "scan", keyspace, "sc", 40, hosts=[hosts[0]])
    assert rc == 0, err
    assert sorted(r["id"] for r in rows) == list(range(300))
    got = counts(err)
    for h in hosts:
        assert want[h] <= got[h] <= want[h] + 8, (want, got)


def test_reprepare_on_node_that_never_saw_statement(ce_bin, two_nodes, cassandra_session, keyspace):
    """The statement is prepared on one node; executions routed to the other get Unprepared
    (0x2500), and the client prepares there and retries: all writes land, none fail."""
    s = cassandra_session
    s.execute("CREATE TABLE %s.kv (id int PRIMARY KEY, v text)" % keyspace)
    rc, out, err = tool(ce_bin, "--prepare-lazily", "--log", "debug", "--consistency", "one", "write-loop",
                        keyspace, "kv", 300, 0,
                        hosts=[two_nodes["hosts"][0]])
    assert rc == 0, err
    assert out[-1]["errors"] == 0
    assert "re-preparing" in err, "no Unprepared was met: the test did not exercise re-preparation"
    assert s.execute("SELECT count(*) FROM %s.kv" % keyspace).one()[0] == 300


def test_failover_node_stopped_and_back(ce_bin, two_nodes, cassandra_session, unique_name):
    """RF2: while writing, node 2 is stopped and started again. Requests move to node 1, none is
    lost, and node 2 takes requests again once it is back."""
    s = cassandra_session
    ks = unique_name("ks")
    s.execute("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}" % ks,
              timeout=60)
    s.execute("CREATE TABLE %s.kv (id int PRIMARY KEY, v text)" % ks, timeout=60)
    testbed = two_nodes["testbed"]
    node2 = two_nodes["hosts"][1]
    n, duration_ms = 9000, 150000
    exe = ce_bin / "ce_cql_tool"
    proc = subprocess.Popen([str(exe), "--host", two_nodes["hosts"][0], "--consistency", "one", "--timeout", "5000",
                             "write-loop", ks, "kv", str(n), str(duration_ms)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        def read_until(pred, limit):
            end = time.time() + limit
            while time.time() < end:
                ln = proc.stdout.readline()
                if not ln:
                    return None
                d = json.loads(ln)
                lines.append(d)
                if pred(d):
                    return d
            return None

        before = read_until(lambda d: d.get("t", 0) >= 8000 and d["hosts"].get(node2, 0) > 0, 60)
        assert before, "node 2 never got requests: %r" % lines[-3:]
        subprocess.run([testbed, "node", "stop", "2"], check=True, timeout=180)
        down = read_until(lambda d: d.get("up") == 1, 60)
        assert down, "client did not notice node 2 went down"
        count_down = down["hosts"].get(node2, 0)
        subprocess.run([testbed, "node", "start", "2"], check=True, timeout=300)
        back = read_until(lambda d: d.get("up") == 2 and d["hosts"].get(node2, 0) > count_down, 120)
        assert back, "node 2 not used again after it came back: %r" % lines[-3:]
        out, err = proc.communicate(timeout=duration_ms / 1000 + 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    final = json.loads(out.strip().splitlines()[-1])
    assert final["errors"] == 0, final
    assert final["written"] == n
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement
    q = SimpleStatement("SELECT id FROM %s.kv" % ks, consistency_level=ConsistencyLevel.ALL, fetch_size=5000)
    ids = {r.id for r in s.execute(q, timeout=120)}
    assert ids == set(range(n))
    s.execute("DROP KEYSPACE IF EXISTS %s" % ks, timeout=120)
