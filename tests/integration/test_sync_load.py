"""The sync engine under load: a 200k-row full-scan initial load counted by the Python
drivers, and kill -9 in the middle of a pass (nothing lost, checkpoint never ahead of
acknowledged work). Larger data than test_sync_engine.py, so kept to these two."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from test_sync_engine import now_ms, run_ce, sync_def, write_config


def load_rows(session, ks, table, n, v_lo, v_hi):
    """n rows (id, version spread over [v_lo, v_hi), text, date) with execute_concurrent."""
    from cassandra.concurrent import execute_concurrent_with_args
    session.execute("CREATE TABLE %s.%s (id int PRIMARY KEY, version bigint, text varchar, "
                    "source varchar, date timestamp)" % (ks, table), timeout=60)
    ins = session.prepare("INSERT INTO %s.%s (id, version, text, date) VALUES (?, ?, ?, ?)" % (ks, table))
    span = max(1, v_hi - v_lo)
    args = []
    for i in range(n):
        v = v_lo + (i * 7919) % span
        args.append((i, v, "row %d with some text to make it a realistic document" % i, v))
    step = 20000
    for k in range(0, n, step):
        res = execute_concurrent_with_args(session, ins, args[k:k + step], concurrency=150,
                                           raise_on_first_error=True)
        assert all(ok for ok, _ in res)


def count_rows(session, ks, table):
    return session.execute("SELECT count(*) FROM %s.%s" % (ks, table), timeout=300).one()[0]


def test_full_scan_initial_load_200k(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env,
                                     unique_name):
    n = 200_000
    t = now_ms()
    load_rows(cassandra_session, keyspace, "big", n, t - 86400000 * 10, t - 60000)
    index = unique_name("ix")
    os_search.track(index)
    cfg = write_config(tmp_path, testbed_env, os_search.url,
                       [sync_def("big", keyspace, "big", index, read_mode="full_scan", direction="to_es")])
    t0 = time.time()
    p = run_ce(ce_bin, cfg, timeout=900)
    secs = time.time() - t0
    assert count_rows(cassandra_session, keyspace, "big") == n
    assert os_search.count(index) == n
    # spot checks of content
    hits = os_search.c.mget(index=index, body={"ids": ["0", "4242", str(n - 1)]})["docs"]
    for h in hits:
        i = int(h["_id"])
        assert h["found"] and h["_source"]["id"] == i and h["_source"]["text"].startswith("row %d " % i)
        assert h["_version"] == h["_source"]["version"]
    # the bulk-load settings were restored
    st = os_search.c.indices.get_settings(index=index)[index]["settings"]["index"]
    assert st.get("refresh_interval") != "-1"
    print("200k full scan: %.1f s (%.0f rows/s)" % (secs, n / secs))
    assert "indexed=200000" in p.stderr


def test_kill_9_mid_pass_loses_nothing(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env,
                                       unique_name):
    from cassandra.concurrent import execute_concurrent_with_args
    t = now_ms()
    load_rows(cassandra_session, keyspace, "big", 10_000, t - 3600000, t - 120000)
    index = unique_name("ix")
    os_search.track(index)
    # small bulk requests, one in flight: the pass takes long enough to be killed mid-way
    cfg = write_config(tmp_path, testbed_env, os_search.url,
                       [sync_def("big", keyspace, "big", index, filter_date=True, direction="to_es",
                                 bulk_max_docs=500, bulk_concurrency=1, page_size=500)])
    run_ce(ce_bin, cfg)
    cp_path = tmp_path / "big.to_es.checkpoint.json"
    cp1 = json.loads(cp_path.read_text())["position_ms"]
    assert os_search.count(index) == 10_000
    # 100k late rows stamped inside the next window (within the overlap below cp1)
    ins = cassandra_session.prepare("INSERT INTO %s.big (id, version, text) VALUES (?, ?, ?)" % keyspace)
    n = 100_000
    args = [(10_000 + i, cp1 - 30000 + i % 25000, "late row %d" % i) for i in range(n)]
    for k in range(0, n, 20000):
        assert all(ok for ok, _ in execute_concurrent_with_args(cassandra_session, ins, args[k:k + 20000],
                                                                concurrency=150))
    log = open(tmp_path / "run.log", "w")
    proc = subprocess.Popen([str(Path(ce_bin) / "casselastic"), "run", "-c", str(cfg)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        seen = 0
        while time.time() < deadline:
            time.sleep(0.2)
            try:
                seen = os_search.count(index)
            except Exception:
                seen = 0
            if seen >= 15_000:
                break
        assert 15_000 <= seen < 10_000 + n, "could not kill the pass mid-way (seen %d)" % seen
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    # the interrupted pass did not move the checkpoint
    assert json.loads(cp_path.read_text())["position_ms"] == cp1
    # restart: everything arrives
    run_ce(ce_bin, cfg, timeout=900)
    assert os_search.count(index) == 10_000 + n == count_rows(cassandra_session, keyspace, "big")
    assert json.loads(cp_path.read_text())["position_ms"] > cp1


def test_kill_9_during_initial_load_restores_settings(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                                      testbed_env, unique_name):
    n = 60_000
    t = now_ms()
    load_rows(cassandra_session, keyspace, "big", n, t - 3600000, t - 60000)
    index = unique_name("ix")
    os_search.track(index)
    cfg = write_config(tmp_path, testbed_env, os_search.url,
                       [sync_def("big", keyspace, "big", index, direction="to_es", read_mode="full_scan",
                                 bulk_max_docs=500, bulk_concurrency=1, page_size=500)])
    log = open(tmp_path / "run.log", "w")
    proc = subprocess.Popen([str(Path(ce_bin) / "casselastic"), "once", "-c", str(cfg)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (tmp_path / "big.to_es.bulkload").exists():
            time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None, "the load finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    # no window position: at most the progress of the load (resumed below; test_sync_resume.py)
    cp_path = tmp_path / "big.to_es.checkpoint.json"
    assert not cp_path.exists() or json.loads(cp_path.read_text())["extra"]["scan_resume"]["position"] is False
    st = os_search.c.indices.get_settings(index=index)[index]["settings"]["index"]
    assert st.get("refresh_interval") == "-1"          # left by the killed load
    run_ce(ce_bin, cfg, timeout=900)
    assert os_search.count(index) == n
    st = os_search.c.indices.get_settings(index=index)[index]["settings"]["index"]
    assert st.get("refresh_interval") != "-1"
    assert not (tmp_path / "big.to_es.bulkload").exists()
