"""`casselastic run` as a daemon against the real test-bed servers: passes every period,
status file and checkpoints, `status` while running, a second daemon (or `once`) on the same
state folder refused, `stop` and SIGTERM ending it with exit 0 and checkpoints saved,
SIGHUP reopening the log file.

Documents are checked with opensearch-py; checkpoints and the status file are read as files.
"""
import datetime
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest


def now_ms():
    return int(time.time() * 1000)


def casselastic(ce_bin, *args, timeout=120):
    return subprocess.run([str(Path(ce_bin) / "casselastic"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def setup_sync(cassandra_session, keyspace, opensearch, testbed_env, unique_name, tmp_path):
    """A PyCassElastic table with 50 rows, a config (period 1 s) syncing it with a fresh
    OpenSearch index; returns (config path, index, keyspace)."""
    s = cassandra_session
    s.execute("CREATE TABLE %s.items (id int PRIMARY KEY, version bigint, text varchar, source varchar, "
              "date timestamp)" % keyspace, timeout=60)
    base = now_ms() - 120_000
    ins = s.prepare("INSERT INTO %s.items (id, version, text, source, date) VALUES (?, ?, ?, ?, ?)" % keyspace)
    for i in range(50):
        v = base + i
        s.execute(ins, (i, v, "row %d" % i, "cassandra",
                        datetime.datetime.fromtimestamp(v / 1000, datetime.timezone.utc)))
    index = unique_name("ix")
    cfg = {
        "period": 1,
        "log_file": "casselastic.log",
        "cassandra": {"url": ["%s:%s" % (testbed_env["CE_CASSANDRA_HOST"], testbed_env["CE_CASSANDRA_PORT"])],
                      "keyspace": keyspace, "read_consistency": "one", "write_consistency": "one"},
        "elasticsearch": {"url": [testbed_env["CE_OPENSEARCH_URL"]]},
        "syncs": [{"name": "items", "id_col": "id", "date_col": "date", "version_col": "version",
                   "cassandra": {"table": "items"}, "elasticsearch": {"index": index}}],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg, indent=2))
    (tmp_path / "lastruntime.log").write_text(
        datetime.datetime.fromtimestamp((base - 300_000) / 1000, datetime.timezone.utc).strftime("%Y%m%d %H:%M"))
    yield path, index, keyspace
    try:
        opensearch.indices.delete(index=index, ignore=[404])
    except Exception:
        pass


def start_daemon(ce_bin, cfg, *extra):
    return subprocess.Popen([str(Path(ce_bin) / "casselastic"), "run", "-c", str(cfg), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_passes(state, n, proc, timeout=120):
    """Wait until the status file records at least n passes; returns its content."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "daemon exited early: %s" % (proc.communicate()[1][-4000:],)
        try:
            st = json.loads((state / "casselastic.status.json").read_text())
            if st["passes"] >= n:
                return st
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise AssertionError("fewer than %d passes after %d s; log:\n%s"
                         % (n, timeout, (state / "casselastic.log").read_text()[-4000:]))


def test_run_status_second_daemon_stop(ce_bin, setup_sync, opensearch):
    cfg, index, ks = setup_sync
    state = cfg.parent
    p = start_daemon(ce_bin, cfg)
    try:
        st = wait_passes(state, 2, p)
        assert st["pid"] == p.pid and st["mode"] == "run"
        assert st["last_result"] == "ok", st
        assert st["syncs"][0]["name"] == "items"

        # every row reached OpenSearch (checked with opensearch-py)
        opensearch.indices.refresh(index=index)
        assert opensearch.count(index=index)["count"] == 50
        assert opensearch.get(index=index, id="7")["_source"]["text"] == "row 7"

        # period: passes keep coming about once a second
        st1 = wait_passes(state, st["passes"] + 2, p, timeout=30)
        assert st1["passes"] >= st["passes"] + 2

        # checkpoints for both directions
        for d in ("to_es", "to_cassandra"):
            cp = json.loads((state / ("items.%s.checkpoint.json" % d)).read_text())
            assert cp["position_ms"] > now_ms() - 10 * 60_000

        # status while running
        r = casselastic(ce_bin, "status", "-c", cfg)
        assert r.returncode == 0, r.stderr
        assert "daemon: running (pid %d)" % p.pid in r.stdout
        assert "to_es" in r.stdout and "position 20" in r.stdout
        j = json.loads(casselastic(ce_bin, "status", "-c", cfg, "--json").stdout)
        assert j["daemon"] == {"running": True, "pid": p.pid}
        assert j["syncs"][0]["directions"]["to_es"]["checkpoint"]["lag_ms"] < 10 * 60_000

        # a second daemon, or a `once`, on the same state folder is refused
        r2 = casselastic(ce_bin, "run", "-c", cfg, timeout=30)
        assert r2.returncode == 1
        assert "another casselastic (pid %d)" % p.pid in r2.stderr
        r3 = casselastic(ce_bin, "once", "-c", cfg, timeout=30)
        assert r3.returncode == 1
        assert (state / "casselastic.pid").read_text().strip() == str(p.pid)

        # stop: SIGTERM, wait, exit 0
        r4 = casselastic(ce_bin, "stop", "-c", cfg, timeout=90)
        assert r4.returncode == 0, r4.stdout + r4.stderr
        assert "stopped (pid %d)" % p.pid in r4.stdout
        p.wait(timeout=30)
        assert p.returncode == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert not (state / "casselastic.pid").exists()
    assert (state / "items.to_es.checkpoint.json").exists()
    log = (state / "casselastic.log").read_text()
    assert "msg=\"daemon stopped\"" in log and "sync=items" in log
    r = casselastic(ce_bin, "status", "-c", cfg)
    assert "daemon: not running" in r.stdout
    assert casselastic(ce_bin, "stop", "-c", cfg).returncode == 4


def test_sigterm_saves_checkpoint_and_new_rows_follow(ce_bin, setup_sync, opensearch, cassandra_session):
    cfg, index, ks = setup_sync
    state = cfg.parent
    p = start_daemon(ce_bin, cfg)
    try:
        wait_passes(state, 1, p)
        before = json.loads((state / "items.to_es.checkpoint.json").read_text())["position_ms"]
        # a row written while the daemon runs is copied by a later pass
        v = now_ms()
        cassandra_session.execute(
            "INSERT INTO %s.items (id, version, text, source) VALUES (1000, %d, 'late', 'cassandra')" % (ks, v))
        deadline = time.time() + 60
        found = False
        while time.time() < deadline and not found:
            opensearch.indices.refresh(index=index)
            found = opensearch.exists(index=index, id="1000")
            time.sleep(0.5)
        assert found, "row written during the run never reached OpenSearch"
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        assert p.returncode == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    after = json.loads((state / "items.to_es.checkpoint.json").read_text())["position_ms"]
    assert after >= before
    st = json.loads((state / "casselastic.status.json").read_text())
    assert st["last_result"] in ("ok", "canceled")


def test_sighup_reopens_log_file(ce_bin, setup_sync):
    cfg, index, ks = setup_sync
    state = cfg.parent
    p = start_daemon(ce_bin, cfg)
    try:
        st = wait_passes(state, 1, p)
        os.rename(state / "casselastic.log", state / "casselastic.log.1")
        p.send_signal(signal.SIGHUP)
        wait_passes(state, st["passes"] + 2, p, timeout=60)
        assert (state / "casselastic.log").exists()
        assert "pass done" in (state / "casselastic.log").read_text()
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
        assert p.returncode == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_once_state_files_private(ce_bin, setup_sync):
    """The state folder `once` creates is 0700 and every file it writes there 0600 (status,
    checkpoints); the pidfile is gone afterwards."""
    cfg, index, ks = setup_sync
    state = cfg.parent / "st" / "inner"
    r = casselastic(ce_bin, "once", "-c", cfg, "--state-dir", state)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (state.stat().st_mode & 0o777) == 0o700
    assert ((cfg.parent / "st").stat().st_mode & 0o777) == 0o700
    files = sorted(p.name for p in state.iterdir())
    assert "casselastic.status.json" in files and "items.to_es.checkpoint.json" in files, files
    assert "casselastic.pid" not in files
    for name in files:
        assert ((state / name).stat().st_mode & 0o777) == 0o600, name
    st = json.loads((state / "casselastic.status.json").read_text())
    assert st["mode"] == "once" and st["last_result"] == "ok", st
