"""read_mode "index" (Cassandra -> Elasticsearch by a storage-attached index on the version
column, per token range) against the real servers, checked with the official drivers:

- it sends the same documents as read_mode "filter" on the same windows (a property test
  over random [since, until) windows, each checked against the rows the Python driver reads;
  half of the windows start exactly on a row's version, which both modes must send);
- without the index it refuses: `check` exits 2 with the CREATE INDEX statement, `once`
  fails before it creates anything;
- `check` reports each sync's read mode and, for filter without an index, the full-table
  scan and the statement that fixes it; an unreachable Cassandra is said and is no error;
- read_mode auto with filter_date picks index by itself when the index is there (logged).
"""
import datetime
import random
import re
import socket

from cassandra.concurrent import execute_concurrent_with_args

from test_sync_engine import now_ms, run_ce, sync_def, write_config

GRID_MS = 60000          # versions lie on a one-minute grid, window ends half way between
GRID_POINTS = 50
ROWS = 3000
WINDOWS = 20


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def table(session, ks, name, sai):
    session.execute("CREATE TABLE %s.%s (id int PRIMARY KEY, version bigint, text text, source text)"
                    % (ks, name), timeout=60)
    if sai:
        session.execute("CREATE INDEX ON %s.%s (version) USING 'sai'" % (ks, name), timeout=60)


def fill(session, ks, name, versions):
    stmt = session.prepare("INSERT INTO %s.%s (id, version, text) VALUES (?, ?, ?)" % (ks, name))
    execute_concurrent_with_args(session, stmt, [(i, v, "row %d" % i) for i, v in versions.items()],
                                 concurrency=64)


def ids(client, index):
    """The _ids of an OpenSearch index (opensearch-py), as ints."""
    client.indices.refresh(index=index)
    body = {"query": {"match_all": {}}, "size": 10000, "_source": False}
    res = client.search(index=index, body=body)
    assert res["hits"]["total"]["value"] < 10000
    return {int(h["_id"]) for h in res["hits"]["hits"]}


def window_end(stdout, sync):
    m = re.search(r"^%s: ok in [0-9.]+ s, window (\S+) \.\. (\S+)$" % sync, stdout, re.M)
    assert m, stdout
    t = datetime.datetime.strptime(m.group(2), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp() * 1000)


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------ index == filter

def test_index_mode_sends_what_filter_sends(cassandra_session, keyspace, opensearch, testbed_env, ce_bin,
                                            tmp_path):
    """20 random windows over 3000 rows with random versions: index and filter give the
    same ids, and they are the rows whose version lies in the window. Every other window
    starts exactly on an existing row's version (the bound is inclusive: that row is sent)."""
    table(cassandra_session, keyspace, "items", sai=True)
    rnd = random.Random(12)
    base = (now_ms() // GRID_MS) * GRID_MS - (GRID_POINTS + 5) * GRID_MS     # 55 minutes ago
    versions = {i: base + rnd.randrange(0, GRID_POINTS) * GRID_MS for i in range(ROWS)}  # to 5 min ago
    fill(cassandra_session, keyspace, "items", versions)
    seen = {r.id: r.version for r in cassandra_session.execute("SELECT id, version FROM %s.items" % keyspace,
                                                               timeout=60)}
    assert seen == versions
    url = testbed_env["CE_OPENSEARCH_URL"]
    for k in range(WINDOWS):
        # since on any second (--since is exact to the second), or, every other window,
        # exactly on a row's version (a grid point: a whole second); the end half way
        # between two grid points, so the seconds between writing the config and the
        # passes cannot move a row across it (safety_lag_ms is at most an hour)
        on_row = rnd.randrange(ROWS) if k % 2 == 0 else None
        if on_row is not None:
            since = seen[on_row]
        else:
            since = base + rnd.randrange(-2, GRID_POINTS - 2) * GRID_MS + rnd.randrange(0, GRID_MS // 1000) * 1000
        until = min(since + rnd.randrange(1, 20) * GRID_MS, base + GRID_POINTS * GRID_MS)
        until = (until // GRID_MS) * GRID_MS + GRID_MS // 2
        lag = now_ms() - until
        names = {m: "%s_%s_%d" % (keyspace, m, k) for m in ("filter", "index")}
        syncs = [sync_def(m, keyspace, "items", names[m], direction="to_es", read_mode=m, safety_lag_ms=lag,
                          scan_ranges=16) for m in names]
        cfg = write_config(tmp_path, testbed_env, url, syncs)
        try:
            p = run_ce(ce_bin, cfg, extra=("--since", iso(since)))
            got = {m: ids(opensearch, names[m]) for m in names}
        finally:
            for ix in names.values():
                opensearch.indices.delete(index=ix, ignore=[404])
        assert got["index"] == got["filter"], "window %d: %s .. %s" % (k, since, until)
        end = window_end(p.stdout, "index")
        assert abs(end - until) < GRID_MS // 2, (end, until)
        want = {i for i, v in seen.items() if since <= v < end}   # the driver's rows
        assert got["index"] == want, "window %d: %d ids, want %d" % (k, len(got["index"]), len(want))
        if on_row is not None:   # the window's first instant: its rows are sent by both modes
            at_since = {i for i, v in seen.items() if v == since}
            assert on_row in at_since and at_since <= want, (k, on_row, since)
            assert at_since <= got["index"] and at_since <= got["filter"], (k, since)
        assert "mode=index" in p.stderr and "mode=filter" in p.stderr


# ------------------------------------------------------------------ no index: refuse

def test_index_mode_without_the_index_refuses(cassandra_session, keyspace, opensearch, testbed_env, ce_bin,
                                              tmp_path, unique_name):
    table(cassandra_session, keyspace, "plain", sai=False)
    cassandra_session.execute("INSERT INTO %s.plain (id, version, text) VALUES (1, %d, 'a')"
                              % (keyspace, now_ms() - 60000))
    index = unique_name("ix")
    url = testbed_env["CE_OPENSEARCH_URL"]
    cfg = write_config(tmp_path, testbed_env, url,
                       [sync_def("s", keyspace, "plain", index, direction="to_es", read_mode="index")])
    statement = "CREATE INDEX ON %s.plain (version) USING 'sai'" % keyspace
    p = run_ce(ce_bin, cfg, cmd="check", expect=2)
    assert "read_mode index needs a storage-attached index on column version of table %s.plain" % keyspace \
        in p.stderr, p.stderr
    assert statement in p.stderr
    # once refuses it as check does (exit 2), before its pass
    p = run_ce(ce_bin, cfg, expect=2)
    assert statement in p.stderr and "configuration refused" in p.stderr, p.stderr
    assert "s: " not in p.stdout, p.stdout
    assert not opensearch.indices.exists(index=index)   # refused before it changed anything
    # with the index, the same config runs
    cassandra_session.execute(statement, timeout=60)
    run_ce(ce_bin, cfg, cmd="check", expect=0)
    try:
        run_ce(ce_bin, cfg, expect=0)
        opensearch.indices.refresh(index=index)
        assert opensearch.count(index=index)["count"] == 1
    finally:
        opensearch.indices.delete(index=index, ignore=[404])


# ------------------------------------------------------------------ check reports the reads

def test_check_reports_read_modes_and_the_sai_hint(cassandra_session, keyspace, testbed_env, ce_bin, tmp_path):
    table(cassandra_session, keyspace, "indexed", sai=True)
    table(cassandra_session, keyspace, "plain", sai=False)
    # the class by its full name, on a column whose name needs quotes (target '"Version"')
    cassandra_session.execute('CREATE TABLE %s.cased (id int PRIMARY KEY, "Version" bigint)' % keyspace, timeout=60)
    cassandra_session.execute('CREATE CUSTOM INDEX ON %s.cased ("Version") USING '
                              "'org.apache.cassandra.index.sai.StorageAttachedIndex'" % keyspace, timeout=60)
    url = testbed_env["CE_OPENSEARCH_URL"]
    syncs = [sync_def("auto_ix", keyspace, "indexed", "a", filter_date=True),
             sync_def("cased", keyspace, "cased", "g", read_mode="index", version_col="Version"),
             sync_def("cased_other", keyspace, "cased", "h", read_mode="filter", version_col="version"),
             sync_def("filter_plain", keyspace, "plain", "b", read_mode="filter"),
             sync_def("auto_plain", keyspace, "plain", "c", filter_date=True),
             sync_def("scan", keyspace, "plain", "d", read_mode="full_scan"),
             sync_def("back", keyspace, "plain", "e", direction="to_cassandra"),
             sync_def("gone", keyspace, "nosuch", "f", filter_date=True)]
    cfg = write_config(tmp_path, testbed_env, url, syncs)
    p = run_ce(ce_bin, cfg, cmd="check", expect=0)
    out = p.stdout
    assert "sync auto_ix: reads cassandra by index (a storage-attached index serves the version column)" in out
    assert "sync cased: reads cassandra by index (a storage-attached index serves the version column)" in out
    assert ('sync cased_other: read mode not known: version column "version" is not in table %s.cased' % keyspace
            in out)
    statement = "CREATE INDEX ON %s.plain (version) USING 'sai'" % keyspace
    for name in ("filter_plain", "auto_plain"):
        block = out.split("sync %s: reads cassandra by filter\n" % name, 1)
        assert len(block) == 2, out
        assert block[1].startswith("    each pass scans the whole table (ALLOW FILTERING)"), out
        assert block[1].splitlines()[1].strip() == statement, out
    assert "sync scan: reads cassandra by full_scan\n    each pass reads every row of the table" in out
    assert "sync back: reads" not in out
    assert "sync gone: read mode not known: table %s.nosuch: no such table" % keyspace in out
    # Cassandra out of reach: said, and the offline checks decide the exit code as before
    port = closed_port()
    cfg = write_config(tmp_path, testbed_env, url, syncs,
                       cassandra={"url": ["127.0.0.1:%d" % port], "request_timeout_ms": 2000})
    p = run_ce(ce_bin, cfg, cmd="check", expect=0, timeout=30)
    assert "cassandra not reachable" in p.stdout and "read modes not checked" in p.stdout
    assert "valid, 8 syncs" in p.stdout


# ------------------------------------------------------------------ auto picks index

def test_auto_with_filter_date_uses_the_index(cassandra_session, keyspace, opensearch, testbed_env, ce_bin,
                                              tmp_path, unique_name):
    table(cassandra_session, keyspace, "items", sai=True)
    t = now_ms() - 120000
    fill(cassandra_session, keyspace, "items", {1: t, 2: t + 1, 3: t - 3600000})
    index = unique_name("ix")
    url = testbed_env["CE_OPENSEARCH_URL"]
    cfg = write_config(tmp_path, testbed_env, url,
                       [sync_def("s", keyspace, "items", index, direction="to_es", filter_date=True)])
    try:
        p = run_ce(ce_bin, cfg, expect=0, extra=("--since", iso(t - 60000)))
        assert re.search(r'sync=s dir=to_es msg="read_mode auto: a storage-attached index serves the version '
                         r'column, reading by index" table=%s.items column=version' % keyspace, p.stderr), p.stderr
        assert "mode=index" in p.stderr
        opensearch.indices.refresh(index=index)
        res = opensearch.search(index=index, body={"query": {"match_all": {}}, "_source": False})
        assert {h["_id"] for h in res["hits"]["hits"]} == {"1", "2"}
    finally:
        opensearch.indices.delete(index=index, ignore=[404])
