"""Resumable initial loads: a full_scan (or all) load killed with SIGKILL resumes at the
token ranges not yet acknowledged, and re-sends no more than the rest of the rows plus
one page per range. Rows come from bench/cql/cql_bench (`rows`, bench_sync.big's shape);
the index and the table are checked with the official drivers."""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from test_sync_engine import run_ce, sync_def, write_config

COLUMNS = "id int, version bigint, name text, qty int, price double, tags set<text>, updated timestamp, source text"
PAGE = 500


def fill(session, ce_bin, testbed_env, ks, table, n):
    """n rows written by cql_bench rows (versions over the ten days before now - 2 min)."""
    session.execute("CREATE TABLE %s.%s (%s, PRIMARY KEY (id))" % (ks, table, COLUMNS), timeout=120)
    p = subprocess.run([str(Path(ce_bin) / "cql_bench"), "--host", testbed_env["CE_CASSANDRA_HOST"],
                        "rows", ks, table, str(n), "256", "150"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["rows"] == n and out["errors"] == 0, out


def config(tmp_path, testbed_env, os_search, ks, table, index, mode, **kw):
    d = sync_def("big", ks, table, index, read_mode=mode, direction="to_es", date_col="updated",
                 page_size=PAGE, **kw)
    return write_config(tmp_path, testbed_env, os_search.url, [d], log_level="debug")


def kill_at(ce_bin, cfg, os_search, index, at, log_path):
    """`casselastic once` killed with SIGKILL once the index holds `at` documents; returns
    the count seen just before the kill."""
    log = open(log_path, "w")
    proc = subprocess.Popen([str(Path(ce_bin) / "casselastic"), "once", "-c", str(cfg)],
                            stdout=log, stderr=subprocess.STDOUT)
    seen = 0
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
            try:
                seen = os_search.count(index)
            except Exception:
                seen = 0
            # half indexed, and the progress of at least one range saved
            if seen >= at and (Path(cfg).parent / "big.to_es.checkpoint.json").exists():
                break
        assert proc.poll() is None, "the load finished before it could be killed (seen %d)" % seen
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    return seen


def pass_figures(stderr):
    m = re.search(r'msg="pass done".* read=(\d+) indexed=(\d+) (?:deleted=\d+ )?conflicts=(\d+) skipped=(\d+) '
                  r'rejected=(\d+)', stderr)
    assert m, stderr[-3000:]
    return [int(x) for x in m.groups()]


def saved_progress(tmp_path):
    cp = json.loads((tmp_path / "big.to_es.checkpoint.json").read_text())
    return cp, (cp.get("extra") or {}).get("scan_resume")


def versions_in_index(os_search, index):
    from opensearchpy import helpers
    return {int(h["_id"]): h["_version"] for h in helpers.scan(
        os_search.c, index=index, query={"query": {"match_all": {}}, "_source": False, "version": True},
        size=5000)}


def resume_and_check(ce_bin, cfg, tmp_path, os_search, session, ks, table, index, n, killed_at):
    """The checkpoint after the kill holds progress and no position; the next `once` resumes,
    re-sends at most the rest plus one page per range, and leaves the index equal."""
    cp, prog = saved_progress(tmp_path)
    assert prog is not None and prog["position"] is False and cp["position_ms"] == 0
    assert 0 < prog["done_count"] < prog["ranges"], prog
    ranges = prog["ranges"]
    t0 = time.time()
    p = run_ce(ce_bin, cfg, timeout=300)
    print("second pass %.1f s" % (time.time() - t0))
    m = re.search(r'msg="resuming an interrupted load" mode=(\w+) ranges=(\d+) ranges_done=(\d+) ranges_left=(\d+)',
                  p.stderr)
    assert m and int(m.group(2)) == ranges and int(m.group(3)) == prog["done_count"], p.stderr[-3000:]
    read, indexed, conflicts, skipped, rejected = pass_figures(p.stderr)
    rest = n - killed_at
    print("resume: %d rows, killed at %d indexed, %d/%d ranges saved; second pass read %d (indexed %d, "
          "conflicts %d), re-sent %d" % (n, killed_at, prog["done_count"], ranges, read, indexed, conflicts,
                                         read - rest))
    assert skipped == 0 and rejected == 0 and read == indexed + conflicts
    assert read >= rest                          # every row the first pass did not send
    assert read <= rest + ranges * PAGE          # ... plus at most one page per range again
    assert read < n                              # not a new start
    cp, prog = saved_progress(tmp_path)
    assert prog is None and cp["position_ms"] > 0  # complete: the window moved, no progress left
    assert os_search.count(index) == n
    t0 = time.time()
    want = {r.id: r.version for r in session.execute("SELECT id, version FROM %s.%s" % (ks, table), timeout=120)}
    assert versions_in_index(os_search, index) == want
    print("version check %.1f s" % (time.time() - t0))
    return read


def test_full_scan_load_killed_at_half_resumes(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                               testbed_env, unique_name):
    n = 200_000
    t0 = time.time()
    fill(cassandra_session, ce_bin, testbed_env, keyspace, "big", n)
    index = unique_name("ix")
    os_search.track(index)
    cfg = config(tmp_path, testbed_env, os_search, keyspace, "big", index, "full_scan")
    t1 = time.time()
    killed_at = kill_at(ce_bin, cfg, os_search, index, n // 2, tmp_path / "run1.log")
    print("fill %.1f s, first pass until the kill %.1f s" % (t1 - t0, time.time() - t1))
    assert n // 2 <= killed_at < n
    log1 = (tmp_path / "run1.log").read_text()
    assert 'msg="load progress saved"' in log1
    resume_and_check(ce_bin, cfg, tmp_path, os_search, cassandra_session, keyspace, "big", index, n,
                     os_search.count(index))


def test_all_mode_load_resumes(cassandra_session, keyspace, os_search, ce_bin, tmp_path, testbed_env,
                               unique_name):
    n = 60_000
    fill(cassandra_session, ce_bin, testbed_env, keyspace, "big", n)
    index = unique_name("ix")
    os_search.track(index)
    # small bulk requests, one in flight: the load lasts long enough to be killed
    cfg = config(tmp_path, testbed_env, os_search, keyspace, "big", index, "all", bulk_max_docs=500,
                 bulk_concurrency=1)
    kill_at(ce_bin, cfg, os_search, index, n // 2, tmp_path / "run1.log")
    resume_and_check(ce_bin, cfg, tmp_path, os_search, cassandra_session, keyspace, "big", index, n,
                     os_search.count(index))


def test_progress_of_another_pass_starts_over(cassandra_session, keyspace, os_search, ce_bin, tmp_path,
                                              testbed_env, unique_name):
    """Progress saved for another window (here: a --since start) is not used: the pass
    starts over, says why, and completes."""
    n = 20_000
    fill(cassandra_session, ce_bin, testbed_env, keyspace, "big", n)
    index = unique_name("ix")
    os_search.track(index)
    cfg = config(tmp_path, testbed_env, os_search, keyspace, "big", index, "full_scan", bulk_max_docs=200,
                 bulk_concurrency=1)
    kill_at(ce_bin, cfg, os_search, index, n // 2, tmp_path / "run1.log")
    _, prog = saved_progress(tmp_path)
    assert prog and prog["done_count"] > 0
    p = run_ce(ce_bin, cfg, timeout=300, extra=("--since", "2020-01-01"))
    assert 'does not fit this pass; starting over" reason="the window start changed"' in p.stderr
    read = pass_figures(p.stderr)[0]
    assert read == n
    assert os_search.count(index) == n
    cp, prog = saved_progress(tmp_path)
    assert prog is None and cp["position_ms"] > 0
