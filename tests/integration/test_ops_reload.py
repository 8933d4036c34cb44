"""A config reload (SIGHUP to `casselastic run`) in the middle of a pass, and a sync pointed at
another table or index, against the real test-bed servers (issue 15):

- SIGHUP during a long pass of a sync the new file removes: that sync's pass ends at its next
  batch (the index holds part of the rows), the reload is applied after the pass, the added
  sync starts and the unchanged one keeps running;
- a sync whose index changes (by a reload, or in the file between two runs) starts over: its
  checkpoint was about the old pair, so the new index gets every row, not only the changes
  since the old checkpoint.

Checked with cassandra-driver and opensearch-py.
"""
import signal
import time

from test_ops_run import Daemon, casselastic, es_count, make_table, now_ms, sync_def, wait_for, write_config


def log_text(d):
    return d.log.read_text() if d.log.exists() else ""


def test_sighup_mid_pass_ends_the_removed_syncs_pass_at_a_batch(ce_bin, cassandra_session, keyspace, opensearch,
                                                               testbed_env, unique_name, tmp_path):
    n = 60_000
    v0 = now_ms() - 600_000
    make_table(cassandra_session, keyspace, "big", n, v0)
    make_table(cassandra_session, keyspace, "keep", 10, v0)
    make_table(cassandra_session, keyspace, "new", 10, v0)
    ix = {k: unique_name("ix" + k) for k in ("big", "keep", "new")}
    os_url = testbed_env["CE_OPENSEARCH_URL"]
    # small bulks, one at a time, small pages: the first pass of "big" takes seconds
    slow = dict(direction="to_es", bulk_max_docs=50, bulk_concurrency=1, page_size=500)
    sd = lambda name: sync_def(name, keyspace, name, ix[name], **slow)
    path = tmp_path / "cfg.json"
    write_config(path, testbed_env, os_url, [sd("big"), sd("keep")])
    d = Daemon(ce_bin, path)
    try:
        wait_for("big's first documents", lambda: es_count(opensearch, ix["big"]) > 0, 60, d.p, d.log)
        write_config(path, testbed_env, os_url, [sd("keep"), sd("new")])
        t0 = time.time()
        d.p.send_signal(signal.SIGHUP)
        wait_for("reload", lambda: "added=1 removed=1 changed=0" in log_text(d), 30, d.p, d.log)
        took = time.time() - t0
        log = log_text(d)
        assert 'sync=big msg="reload: its pass ends at this batch"' in log, log[-3000:]
        assert 'sync=big msg="pass ended early for the reload"' in log, log[-3000:]
        got = es_count(opensearch, ix["big"])
        assert 0 < got < n, "big's pass was not ended early (%d of %d rows indexed)" % (got, n)
        wait_for("the added sync copied", lambda: es_count(opensearch, ix["new"]) == 10, 30, d.p, d.log)
        wait_for("the kept sync copied", lambda: es_count(opensearch, ix["keep"]) == 10, 30, d.p, d.log)
        # the removed sync no longer runs
        time.sleep(2.5)
        assert es_count(opensearch, ix["big"]) == got
        print("reload applied %.1f s after SIGHUP; big ended at %d of %d rows" % (took, got, n))
    finally:
        rc = d.stop()
    assert rc == 0
    for k in ix.values():
        opensearch.indices.delete(index=k, ignore=[404])


def test_changed_index_starts_over_by_reload_and_between_runs(ce_bin, cassandra_session, keyspace, opensearch,
                                                               testbed_env, unique_name, tmp_path):
    v0 = now_ms() - 600_000  # far below any later window: only a pass that starts over sends them
    make_table(cassandra_session, keyspace, "items", 10, v0)
    ix = {k: unique_name("ix" + k) for k in ("a", "b", "c")}
    os_url = testbed_env["CE_OPENSEARCH_URL"]
    sd = lambda index: sync_def("s", keyspace, "items", index, direction="to_es", filter_date=True)
    path = tmp_path / "cfg.json"
    write_config(path, testbed_env, os_url, [sd(ix["a"])])
    d = Daemon(ce_bin, path)
    try:
        d.passes(2)
        assert es_count(opensearch, ix["a"]) == 10
        write_config(path, testbed_env, os_url, [sd(ix["b"])])
        d.p.send_signal(signal.SIGHUP)
        wait_for("reload", lambda: "added=0 removed=0 changed=1" in log_text(d), 30, d.p, d.log)
        wait_for("the new index filled", lambda: es_count(opensearch, ix["b"]) == 10, 30, d.p, d.log)
        assert "checkpoint was made for another table or index; starting over" in log_text(d)
    finally:
        rc = d.stop()
    assert rc == 0
    # between two runs: the file names another index
    write_config(path, testbed_env, os_url, [sd(ix["c"])])
    r = casselastic(ce_bin, "once", "-c", path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert es_count(opensearch, ix["c"]) == 10
    # and the pair is kept: the next once sends nothing again
    r = casselastic(ce_bin, "once", "-c", path)
    assert r.returncode == 0 and "cassandra -> es: read 0," in r.stdout, r.stdout
    for k in ix.values():
        opensearch.indices.delete(index=k, ignore=[404])


def test_run_refuses_at_start_and_a_reload_is_refused_against_the_table(ce_bin, cassandra_session, keyspace,
                                                                        opensearch, testbed_env, unique_name,
                                                                        tmp_path):
    """What `check` refuses against the tables (here read_mode index without its index) stops
    `run` at start with exit 2, and a reload to it is refused (the running config kept)."""
    v0 = now_ms() - 600_000
    make_table(cassandra_session, keyspace, "items", 10, v0)
    index = unique_name("ix")
    os_url = testbed_env["CE_OPENSEARCH_URL"]
    statement = "CREATE INDEX ON %s.items (version) USING 'sai'" % keyspace
    sd = lambda **kw: sync_def("s", keyspace, "items", index, direction="to_es", **kw)
    path = tmp_path / "cfg.json"
    write_config(path, testbed_env, os_url, [sd(read_mode="index")])
    r = casselastic(ce_bin, "run", "-c", path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert statement in r.stderr and "configuration refused" in r.stderr, r.stderr
    assert not opensearch.indices.exists(index=index)
    write_config(path, testbed_env, os_url, [sd(filter_date=True)])
    d = Daemon(ce_bin, path)
    try:
        d.passes(2)
        assert es_count(opensearch, index) == 10
        write_config(path, testbed_env, os_url, [sd(read_mode="index")])
        d.p.send_signal(signal.SIGHUP)
        wait_for("reload refused", lambda: "the running config is kept" in log_text(d), 30, d.p, d.log)
        assert "1 sync refused against the table" in log_text(d)
        cassandra_session.execute("INSERT INTO %s.items (id, version, text, source) VALUES (100, %d, 'new', "
                                  "'cassandra')" % (keyspace, now_ms()))
        wait_for("still syncing", lambda: es_count(opensearch, index) == 11, 30, d.p, d.log)
    finally:
        rc = d.stop()
    assert rc == 0
    opensearch.indices.delete(index=index, ignore=[404])


def test_health_stays_ok_through_a_long_first_pass(ce_bin, cassandra_session, keyspace, opensearch, testbed_env,
                                                   unique_name, tmp_path):
    """A first pass (an initial load) longer than three periods that keeps making progress is
    healthy: /healthz 200 and `status` exit 0 while it runs, and so is the small sync before
    it, whose next pass waits for it (a stalled pass is caught: see the
    OpenSearch-through-a-proxy test)."""
    from test_ops_run import free_port, http_get, status_file
    n = 30000
    make_table(cassandra_session, keyspace, "items", n, now_ms() - 600_000)
    make_table(cassandra_session, keyspace, "small", 10, now_ms() - 600_000)
    index, small = unique_name("ix"), unique_name("ixs")
    mport = free_port()
    path = tmp_path / "cfg.json"
    # period 1 s: the limit is 3 s; small bulks one at a time make the first pass last longer
    write_config(path, testbed_env, testbed_env["CE_OPENSEARCH_URL"],
                 [sync_def("small", keyspace, "small", small, direction="to_es"),
                  sync_def("load", keyspace, "items", index, direction="to_es", bulk_max_docs=2,
                           bulk_concurrency=1, page_size=200)],
                 metrics_listen="127.0.0.1:%d" % mport)
    d = Daemon(ce_bin, path)
    t0 = time.time()
    seen = []
    try:
        wait_for("the daemon's status file", lambda: (tmp_path / "casselastic.status.json").exists(), 30, d.p, d.log)
        while status_file(tmp_path)["passes"] == 0 and time.time() - t0 < 120:
            if time.time() - t0 > 3.6:  # past the 3 s limit counted from the start
                code = http_get(mport, "/healthz")[0]
                r = casselastic(ce_bin, "status", "-c", path)
                seen.append((round(time.time() - t0, 1), code, r.returncode))
            time.sleep(0.5)
        assert status_file(tmp_path)["passes"] >= 1
        assert es_count(opensearch, index) == n and es_count(opensearch, small) == 10
    finally:
        rc = d.stop()
    assert rc == 0
    assert len(seen) >= 2, "the first pass was too short to test (%.1f s): %r" % (time.time() - t0, seen)
    assert all(code == 200 and st == 0 for _, code, st in seen), seen
    print("first pass healthy throughout: %r" % seen[-3:])
    for ix in (index, small):
        opensearch.indices.delete(index=ix, ignore=[404])
