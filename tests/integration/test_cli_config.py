"""The command line without servers: `check` on good and bad configs, `once` refusing a bad
config without creating anything, `once`/`run` against a closed port (exit 3), help and
version, `status` and `stop` without a daemon, stale pidfiles.

Only the `casselastic` binary is exercised (fixture ce_bin); no server is needed.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "tests" / "unit" / "data" / "configs"


def run(ce_bin, *args, timeout=60, env=None, cwd=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([str(ce_bin / "casselastic"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=cwd)


def closed_port():
    """A local TCP port nobody listens on (bound then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_config(folder, **overrides):
    cfg = {
        "period": 1,
        "cassandra": {"url": ["127.0.0.1"], "keyspace": "ks"},
        "elasticsearch": {"url": ["http://127.0.0.1:9200"]},
        "syncs": [{"name": "s1", "id_col": "id", "version_col": "version",
                   "cassandra": {"table": "t"}, "elasticsearch": {"index": "i"}}],
    }
    cfg.update(overrides)
    p = Path(folder) / "config.json"
    p.write_text(json.dumps(cfg, indent=2))
    return p


def unreachable_config(folder):
    port = closed_port()
    return write_config(folder,
                        cassandra={"url": ["127.0.0.1:%d" % port], "keyspace": "ks", "request_timeout_ms": 2000},
                        elasticsearch={"url": ["http://127.0.0.1:%d" % port], "request_timeout_ms": 2000})


# ------------------------------------------------------------------ check

@pytest.mark.parametrize("name", ["pyce_readme.json", "pyce_test_config.json", "issue_example.json"])
def test_check_accepts_pycasselastic_configs(ce_bin, name):
    r = run(ce_bin, "check", CONFIGS / name)
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout
    assert "sync sync_name1: test.bogus <-> index bogus_index" in r.stdout


def test_check_dash_c_and_effective(ce_bin):
    r = run(ce_bin, "check", "-c", CONFIGS / "pyce_test_config.json", "--effective")
    assert r.returncode == 0, r.stderr
    assert "syncs[1].cassandra.table = \"bogus2\"" in r.stdout
    assert "cassandra.port = 9042" in r.stdout
    assert "syncs[0].safety_lag_ms = 0" in r.stdout


def test_check_reports_every_problem_with_its_path(ce_bin):
    r = run(ce_bin, "check", CONFIGS / "err_many.json")
    assert r.returncode == 2
    for expected in [
        "period: expected a number, got a string",
        "cassandra.port: must be between 1 and 65535 (got 70000)",
        'sycns: unknown key (did you mean "syncs"?)',
        'syncs[0].cassandra.tabel: unknown key (did you mean "table"?)',
        'syncs[0].read_mode: bad value "fulscan" (did you mean "full_scan"?',
        'syncs[1].name: duplicate sync name "a"',
        "syncs[1].id_col: missing required key",
        "13 errors: configuration refused",
    ]:
        assert expected in r.stderr, r.stderr
    assert r.stdout == ""


def test_check_syntax_error_has_line_and_column(ce_bin):
    r = run(ce_bin, "check", CONFIGS / "err_syntax.json")
    assert r.returncode == 2
    assert "line 5, column 9: JSON syntax error" in r.stderr


def test_check_env_secret(ce_bin):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CE_TEST_UNIT")}
    r = subprocess.run([str(ce_bin / "casselastic"), "check", str(CONFIGS / "env_secret.json")],
                       capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 2
    assert "cassandra.password_env: environment variable CE_TEST_UNIT_PW is not set" in r.stderr
    r = run(ce_bin, "check", CONFIGS / "env_secret.json", "--effective",
            env={"CE_TEST_UNIT_PW": "topsecret1", "CE_TEST_UNIT_ES_PW": "topsecret2"})
    assert r.returncode == 0, r.stderr
    assert "cassandra.password = ***" in r.stdout
    assert "topsecret" not in r.stdout + r.stderr


def test_check_missing_file(ce_bin, tmp_path):
    r = run(ce_bin, "check", tmp_path / "nope.json")
    assert r.returncode == 2
    assert "cannot read" in r.stderr


def test_config_reference_lists_keys(ce_bin):
    r = run(ce_bin, "config-reference")
    assert r.returncode == 0
    for key in ["`period`", "`syncs[].id_col`", "`cassandra.password_env`", "`syncs[].bucket.seconds`"]:
        assert key in r.stdout
    doc = (REPO / "docs" / "config.md").read_text()
    assert r.stdout in doc, "docs/config.md is out of date: regenerate its reference section"


# ------------------------------------------------------------------ once / run refusing

def test_once_bad_config_changes_nothing(ce_bin, tmp_path):
    shutil.copy(CONFIGS / "err_many.json", tmp_path / "config.json")
    before = sorted(os.listdir(tmp_path))
    r = run(ce_bin, "once", "-c", tmp_path / "config.json")
    assert r.returncode == 2
    assert 'syncs[0].cassandra.tabel: unknown key (did you mean "table"?)' in r.stderr
    assert sorted(os.listdir(tmp_path)) == before
    # the same with a state dir that does not exist yet: still not created
    r = run(ce_bin, "once", "-c", tmp_path / "config.json", "--state-dir", tmp_path / "state")
    assert r.returncode == 2
    assert not (tmp_path / "state").exists()


def test_once_unreachable_exit_3(ce_bin, tmp_path):
    cfg = unreachable_config(tmp_path)
    t0 = time.time()
    r = run(ce_bin, "once", "-c", cfg)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "cannot reach a server" in r.stderr
    assert time.time() - t0 < 30
    # the pidfile is not left behind
    assert not (tmp_path / "casselastic.pid").exists()


def test_run_exit_on_error(ce_bin, tmp_path):
    cfg = unreachable_config(tmp_path)
    r = run(ce_bin, "run", "-c", cfg, "--exit-on-error")
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert not (tmp_path / "casselastic.pid").exists()


def test_run_retries_unreachable_then_stops_on_sigterm(ce_bin, tmp_path):
    cfg = unreachable_config(tmp_path)
    p = subprocess.Popen([str(ce_bin / "casselastic"), "run", "-c", str(cfg)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not (tmp_path / "casselastic.pid").exists():
            time.sleep(0.1)
        time.sleep(2.5)  # attempts at 0 s and 1 s, then a 2 s backoff
        r = run(ce_bin, "status", "-c", cfg)
        assert r.returncode == 0
        assert "daemon: running (pid %d)" % p.pid in r.stdout
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert err.count("cannot start the engine") >= 2, err
    assert "attempt=2" in err
    assert not (tmp_path / "casselastic.pid").exists()


def test_bad_since_and_unknown_sync(ce_bin, tmp_path):
    cfg = write_config(tmp_path)
    r = run(ce_bin, "once", "-c", cfg, "--since", "yesterday")
    assert r.returncode == 2
    assert "--since" in r.stderr
    r = run(ce_bin, "once", "-c", cfg, "--sync", "nope")
    assert r.returncode == 2
    assert 'no sync named "nope"' in r.stderr
    r = run(ce_bin, "once", "-c", cfg, "--log-level", "loud")
    assert r.returncode == 2
    assert sorted(os.listdir(tmp_path)) == ["config.json"]


# ------------------------------------------------------------------ help, version, usage

def test_help_and_version(ce_bin):
    r = run(ce_bin, "--version")
    assert r.returncode == 0 and r.stdout.startswith("casselastic ")
    r = run(ce_bin, "--help")
    assert r.returncode == 0
    for cmd in ["run", "once", "status", "stop", "check"]:
        assert "  " + cmd in r.stdout
        rc = run(ce_bin, cmd, "--help")
        assert rc.returncode == 0
        assert rc.stdout.startswith("usage: casselastic " + cmd)
    assert "exit codes" in r.stdout


def test_usage_errors(ce_bin, tmp_path):
    assert run(ce_bin).returncode == 2
    r = run(ce_bin, "frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr
    r = run(ce_bin, "once")
    assert r.returncode == 2 and "-c CONFIG" in r.stderr
    cfg = write_config(tmp_path)
    r = run(ce_bin, "once", "-c", cfg, "--bogus")
    assert r.returncode == 2
    r = run(ce_bin, "status", "-c", cfg, "--since", "20200101 00:00")
    assert r.returncode == 2 and "not an option of this command" in r.stderr
    r = run(ce_bin, "check", cfg, "extra-arg")
    assert r.returncode == 2


# ------------------------------------------------------------------ status and stop without a daemon

def test_status_without_daemon(ce_bin, tmp_path):
    cfg = write_config(tmp_path, syncs=[
        {"name": "s1", "id_col": "id", "version_col": "version", "cassandra": {"table": "t"},
         "elasticsearch": {"index": "i"}},
        {"name": "s2", "id_col": "id", "version_col": "version", "direction": "to_es",
         "cassandra": {"table": "t2"}, "elasticsearch": {"index": "i2"}}])
    # a checkpoint written as the engine writes them
    pos = int(time.time() * 1000) - 90_000
    (tmp_path / "s1.to_es.checkpoint.json").write_text(json.dumps(
        {"format": 1, "sync": "s1", "direction": "to_es", "position_ms": pos, "updated_ms": pos,
         "last_read": 7, "last_written": 6, "last_conflicts": 1, "last_skipped": 0, "last_rejected": 0,
         "extra": None}))
    r = run(ce_bin, "status", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert "daemon: not running" in r.stdout
    assert "sync s1:" in r.stdout and "sync s2:" in r.stdout
    assert "read 7, written 6, conflicts 1" in r.stdout
    assert "lag 1m3" in r.stdout  # 90 s (+ test time)
    assert "to_cassandra  no checkpoint yet" in r.stdout
    # s2 goes one way only
    s2 = r.stdout.split("sync s2:")[1]
    assert "to_cassandra" not in s2

    r = run(ce_bin, "status", "-c", cfg, "--json")
    assert r.returncode == 0
    j = json.loads(r.stdout)
    assert j["daemon"] == {"running": False, "pid": None}
    s1 = j["syncs"][0]
    assert s1["name"] == "s1"
    assert s1["directions"]["to_es"]["checkpoint"]["position_ms"] == pos
    assert s1["directions"]["to_es"]["checkpoint"]["lag_ms"] >= 90_000
    assert s1["directions"]["to_cassandra"]["checkpoint"] is None
    assert list(j["syncs"][1]["directions"]) == ["to_es"]


def test_stop_without_daemon_and_stale_pidfile(ce_bin, tmp_path):
    cfg = write_config(tmp_path)
    r = run(ce_bin, "stop", "-c", cfg)
    assert r.returncode == 4
    assert "no daemon running" in r.stdout
    # a pidfile left by a dead process (nobody holds its lock)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "casselastic.pid").write_text("%d\n" % dead.pid)
    r = run(ce_bin, "status", "-c", cfg)
    assert r.returncode == 0 and "daemon: not running" in r.stdout
    r = run(ce_bin, "stop", "-c", cfg)
    assert r.returncode == 4
    # ... and a pidfile naming a live process that does not hold the lock: also stale
    (tmp_path / "casselastic.pid").write_text("%d\n" % os.getpid())
    r = run(ce_bin, "stop", "-c", cfg)
    assert r.returncode == 4


# ------------------------------------------------------------------ hardening (issue 11)

def test_check_refuses_bad_index_names_and_protocol_v3(ce_bin, tmp_path):
    for index, why in [("Orders", "must be lowercase"), ("a*", "cannot contain"), ("_x", "cannot start with"),
                       ("..", "cannot be"), ("x" * 256, "longer than 255 bytes")]:
        cfg = write_config(tmp_path, syncs=[{"name": "s1", "id_col": "id", "version_col": "version",
                                             "cassandra": {"table": "t"}, "elasticsearch": {"index": index}}])
        r = run(ce_bin, "check", cfg)
        assert r.returncode == 2, (index, r.stdout, r.stderr)
        assert "syncs[0].elasticsearch.index: " + why in r.stderr, r.stderr
    cfg = write_config(tmp_path, cassandra={"url": ["127.0.0.1"], "keyspace": "ks", "protocol_version": 3})
    r = run(ce_bin, "check", cfg)
    assert r.returncode == 2
    assert "cassandra.protocol_version: must be 4, 5 or 0" in r.stderr


def test_check_redacts_url_credentials(ce_bin, tmp_path):
    cfg = write_config(tmp_path, elasticsearch={"url": ["https://user:s3cr3t@127.0.0.1:9200"]})
    for args in (["check", cfg], ["check", cfg, "--effective"]):
        r = run(ce_bin, *args)
        assert r.returncode == 0, r.stderr
        assert "s3cr3t" not in r.stdout + r.stderr
        assert "https://127.0.0.1:9200" in r.stdout
    cfg = write_config(tmp_path, elasticsearch={"url": ["ftp://user:s3cr3t@127.0.0.1"]})
    r = run(ce_bin, "check", cfg)
    assert r.returncode == 2 and "bad URL" in r.stderr
    assert "s3cr3t" not in r.stdout + r.stderr


def test_check_warns_tls_not_verified_and_plain_credentials(ce_bin, tmp_path):
    cfg = write_config(tmp_path,
                       cassandra={"url": ["127.0.0.1"], "keyspace": "ks", "username": "u", "password": "pw",
                                  "tls": {"enabled": True, "verify": False}},
                       elasticsearch={"url": ["http://127.0.0.1:9200"], "username": "u", "password": "pw"})
    r = run(ce_bin, "check", cfg)
    assert r.returncode == 0, r.stderr
    assert "warning: cassandra.tls.verify: false" in r.stderr
    assert "warning: elasticsearch.password: sent without TLS to http://127.0.0.1:9200" in r.stderr
    assert "NOT verified" in r.stdout
    cfg = write_config(tmp_path, cassandra={"url": ["127.0.0.1"], "keyspace": "ks", "username": "u",
                                            "password": "pw"})
    r = run(ce_bin, "check", cfg)
    assert r.returncode == 0 and "warning: cassandra.password: sent without TLS" in r.stderr


def test_check_warns_when_neither_overlap_nor_safety_lag_covers_writes_in_flight(ce_bin, tmp_path):
    sync = {"name": "s1", "id_col": "id", "version_col": "version", "cassandra": {"table": "t"},
            "elasticsearch": {"index": "i"}}
    cfg = write_config(tmp_path, syncs=[dict(sync, overlap_ms=0)])
    r = run(ce_bin, "check", cfg)
    assert r.returncode == 0, r.stderr
    assert "warning: syncs[0].overlap_ms: 0 with safety_lag_ms 0" in r.stderr
    cfg = write_config(tmp_path, syncs=[dict(sync, overlap_ms=0, safety_lag_ms=2000)])
    r = run(ce_bin, "check", cfg)
    assert "warning: syncs[0].overlap_ms: smaller than safety_lag_ms" in r.stderr
    cfg = write_config(tmp_path, syncs=[sync])  # the defaults: overlap 60 s, no lag
    r = run(ce_bin, "check", cfg)
    assert r.returncode == 0 and "overlap_ms" not in r.stderr, r.stderr


def _daemon_until_pidfile(ce_bin, cfg, state, *extra, preexec_fn=None):
    p = subprocess.Popen([str(ce_bin / "casselastic"), "run", "-c", str(cfg), *extra], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn)
    deadline = time.time() + 20
    while time.time() < deadline and not (state / "casselastic.pid").exists():
        assert p.poll() is None, p.communicate()
        time.sleep(0.1)
    time.sleep(0.3)
    return p


def _stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()


def _core_limit(pid):
    for line in Path("/proc/%d/limits" % pid).read_text().splitlines():
        if line.startswith("Max core file size"):
            return line.split()[4:6]
    raise AssertionError("no core limit line")


def test_daemon_state_modes_core_dumps_and_start_warnings(ce_bin, tmp_path):
    """Unreachable servers: `run` keeps retrying, holding its state folder. The folder is
    created 0700, the pidfile and the log 0600; core dumps are off unless --allow-core-dumps;
    the config's warnings are in the log at start."""
    import resource

    def core_1m():
        resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, 1 << 20))

    cfg = unreachable_config(tmp_path)
    c = json.loads(cfg.read_text())
    c["state_dir"] = "state/inner"
    c["log_file"] = "logs/casselastic.log"
    c["elasticsearch"]["tls"] = {"verify": False}
    cfg.write_text(json.dumps(c))
    (tmp_path / "logs").mkdir()
    state = tmp_path / "state" / "inner"
    p = _daemon_until_pidfile(ce_bin, cfg, state, preexec_fn=core_1m)
    try:
        assert _core_limit(p.pid) == ["0", "0"]
        assert (state.stat().st_mode & 0o777) == 0o700
        assert ((tmp_path / "state").stat().st_mode & 0o777) == 0o700
        assert ((state / "casselastic.pid").stat().st_mode & 0o777) == 0o600
        assert (((tmp_path / "logs" / "casselastic.log").stat().st_mode) & 0o777) == 0o600
    finally:
        _, err = _stop(p)
    assert p.returncode == 0, err
    log = (tmp_path / "logs" / "casselastic.log").read_text()
    assert 'level=warn msg="config warning" detail="elasticsearch.tls.verify: false' in log
    assert all(line.startswith("ts=") for line in log.splitlines()), log

    p = _daemon_until_pidfile(ce_bin, cfg, state, "--allow-core-dumps", preexec_fn=core_1m)
    try:
        assert _core_limit(p.pid) == [str(1 << 20), str(1 << 20)]
    finally:
        _stop(p)
    assert "core dumps are allowed" in (tmp_path / "logs" / "casselastic.log").read_text()
