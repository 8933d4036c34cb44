"""Operations without servers: `cmake --install --prefix` puts every file in its FHS place
(the unit generated for that prefix), the installed systemd unit passes `systemd-analyze
verify`, `run` extends systemd's start timeout while the servers are down (fake
$NOTIFY_SOCKET), both man pages render without warnings (and casselastic.json(5) names every
config key), the .deb builds with the right dependencies, installs with dpkg into a scratch
root and runs, bash completion (checked against `--help`), the Grafana dashboard, and the
metrics exposition read by the official prometheus_client parser (served by
tests/tools/ce_metrics_tool on a free port).

The /metrics-during-a-run, /healthz and SIGHUP tests are in test_ops_run.py.
"""
import configparser
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import _skip_or_fail

REPO = Path(__file__).resolve().parents[2]
UNIT_DIR = "lib/systemd/system"  # under the install prefix (cmake/Install.cmake, CE_SYSTEMD_UNIT_DIR)
COMPLETION = REPO / "contrib" / "bash-completion" / "casselastic"
DASHBOARD = REPO / "contrib" / "grafana-dashboard.json"

# Packages the .deb must depend on: the libraries the binary links, the metrics server
# (libmicrohttpd12) and sd_notify (libsystemd0) included.
BASE_DEPENDS = ["libcurl4", "libssl3", "libjansson4", "liblz4-1", "zlib1g", "libmicrohttpd12", "libsystemd0"]


def need_tool(name):
    path = shutil.which(name)
    if not path:
        _skip_or_fail("%s not installed (make deps)" % name)
    return path


def version_of(ce_bin):
    out = subprocess.run([str(ce_bin / "casselastic"), "--version"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return out.split()[1]


@pytest.fixture(scope="module")
def man_dir(ce_bin):
    d = ce_bin / "man"
    for page in ("casselastic.1", "casselastic.json.5"):
        if not (d / page).is_file():
            _skip_or_fail("%s not generated in %s (ninja -C %s man)" % (page, d, ce_bin))
    return d


@pytest.fixture(scope="module")
def prefix(ce_bin, man_dir, tmp_path_factory):
    """`cmake --install <build> --prefix <tmp>/usr`: the installed tree (the unit in it is
    generated for that prefix)."""
    need_tool("cmake")
    p = tmp_path_factory.mktemp("install") / "usr"
    r = subprocess.run(["cmake", "--install", str(ce_bin), "--prefix", str(p)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return p


def read_unit(path):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read_string(Path(path).read_text())
    return cp


# ------------------------------------------------------------------ install layout

def test_cmake_install_puts_everything_in_its_fhs_place(ce_bin, prefix):
    for rel in ("bin/casselastic", "share/man/man1/casselastic.1.gz", "share/man/man5/casselastic.json.5.gz",
                "share/bash-completion/completions/casselastic", UNIT_DIR + "/casselastic.service",
                "share/doc/casselastic/casselastic.example.json", "share/doc/casselastic/grafana-dashboard.json"):
        assert (prefix / rel).is_file(), rel
    assert os.access(prefix / "bin/casselastic", os.X_OK)
    out = subprocess.run([str(prefix / "bin/casselastic"), "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout == "casselastic %s\n" % version_of(ce_bin), out
    assert (prefix / "share/bash-completion/completions/casselastic").read_text() == COMPLETION.read_text()
    # The unit runs the binary of this install, not /usr/bin's.
    exec_start = read_unit(prefix / UNIT_DIR / "casselastic.service")["Service"]["ExecStart"]
    assert exec_start.split()[0] == str(prefix / "bin" / "casselastic"), exec_start
    assert not re.search(r"@[A-Z_]+@", (prefix / UNIT_DIR / "casselastic.service").read_text())


# ------------------------------------------------------------------ systemd unit

def test_unit_passes_systemd_analyze_verify(ce_bin, man_dir, prefix, tmp_path):
    need_tool("systemd-analyze")
    need_tool("man")
    # verify wants the ExecStart binary to exist (the installed one: the unit is the one
    # `cmake --install` generated) and looks the Documentation= pages up with man: a
    # manpath holding the built pages.
    unit = prefix / UNIT_DIR / "casselastic.service"
    manpath = tmp_path / "man"
    for section, page in (("man1", "casselastic.1"), ("man5", "casselastic.json.5")):
        (manpath / section).mkdir(parents=True)
        shutil.copy(man_dir / page, manpath / section / page)
    env = dict(os.environ, MANPATH=str(manpath))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120,
                       env=env, cwd=tmp_path)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stdout + r.stderr
    # The hardening is real: systemd's own score of the unit.
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)], capture_output=True,
                       text=True, timeout=120, env=env, cwd=tmp_path)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_unit_settings(prefix):
    cp = read_unit(prefix / UNIT_DIR / "casselastic.service")
    s = cp["Service"]
    assert s["Type"] == "notify"
    assert s["ExecStart"].startswith("%s/bin/casselastic run -c /etc/casselastic/casselastic.json" % prefix)
    assert s["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert s["Restart"] == "on-failure"
    assert s["RestartPreventExitStatus"] == "2"  # an invalid config: restarting cannot help
    assert s["WatchdogSec"]
    for key, want in (("DynamicUser", "yes"), ("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"),
                      ("StateDirectory", "casselastic"), ("LogsDirectory", "casselastic"),
                      ("PrivateTmp", "yes"), ("ProtectHome", "yes"), ("CapabilityBoundingSet", ""),
                      ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")):
        assert s[key] == want, key
    assert cp["Install"]["WantedBy"] == "multi-user.target"


def test_run_extends_the_start_timeout_while_the_servers_are_down(ce_bin, tmp_path):
    """Type=notify: while `run` cannot reach the servers before its first READY=1, each
    failed attempt asks systemd (EXTEND_TIMEOUT_USEC, read from a fake $NOTIFY_SOCKET) for
    the backoff and the next attempt, so a server down at boot does not run the start into
    TimeoutStartSec."""
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({
        "period": 1, "cassandra": {"url": ["127.0.0.1:1"]}, "elasticsearch": {"url": ["http://127.0.0.1:1"]},
        "syncs": [{"name": "s", "id_col": "id", "version_col": "version",
                   "cassandra": {"keyspace": "ks", "table": "t"}, "elasticsearch": {"index": "ix"}}]}))
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    env = dict(os.environ, NOTIFY_SOCKET=str(sock_path))
    p = subprocess.Popen([str(ce_bin / "casselastic"), "run", "-c", str(cfg)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    messages, extends = [], []
    try:
        while len(extends) < 2:  # the first attempt (1 s backoff) and the second (2 s)
            m = sock.recv(4096).decode()
            messages.append(m)
            extends += [int(v) for v in re.findall(r"^EXTEND_TIMEOUT_USEC=(\d+)$", m, re.M)]
    finally:
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=30)[1]
        sock.close()
    assert p.returncode == 0, err
    assert not any("READY=1" in m for m in messages), messages
    assert any(m.startswith("STATUS=cannot connect (attempt 1), retrying in 1 s") for m in messages), messages
    # the backoff (1 s, then 2 s) plus at least two minutes for the next attempt
    assert 121_000_000 <= extends[0] < 200_000_000 and 122_000_000 <= extends[1] < 200_000_000, extends


# ------------------------------------------------------------------ man pages

@pytest.mark.parametrize("page", ["casselastic.1", "casselastic.json.5"])
def test_man_page_renders_without_warnings(man_dir, page):
    need_tool("man")
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", str(man_dir / page)], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    for section in ("NAME", "DESCRIPTION", "SEE ALSO"):
        assert "\n%s\n" % section in r.stdout
    if page == "casselastic.1":
        for section in ("COMMANDS", "OPTIONS", "EXIT STATUS", "SIGNALS", "FILES", "MONITORING"):
            assert "\n%s\n" % section in r.stdout, section


def test_man_page_files_name_the_installed_unit(man_dir):
    """casselastic(1)'s FILES names the unit where the .deb installs it."""
    roff = (man_dir / "casselastic.1").read_text()
    files = roff[roff.index("\n.SH FILES\n"):]
    files = files[:files.index("\n.SH ", 1)]
    assert "/usr/lib/systemd/system/casselastic.service" in files.replace("\\-", "-"), files


def test_config_manpage_names_every_key(ce_bin, man_dir):
    """casselastic.json(5) comes from the key table: every key of `config-reference`
    (the same table) has its tagged paragraph, and nothing else does."""
    ref = subprocess.run([str(ce_bin / "casselastic"), "config-reference"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    table_keys = set(re.findall(r"^\| `([^`]+)` \|", ref, re.M))
    assert len(table_keys) > 40, ref[:500]
    roff = (man_dir / "casselastic.json.5").read_text()
    roff = roff[roff.index("\n.SH KEYS\n"):]
    roff = roff[:roff.index("\n.SH ", 1)]
    page_keys = set(re.findall(r"^\.B (\S+)$", roff, re.M)) | set(re.findall(r"^\.SS (\S+?)(?:\[\])?$", roff, re.M))
    page_keys.discard("Top-level")
    assert table_keys <= page_keys, sorted(table_keys - page_keys)
    assert page_keys <= table_keys, sorted(page_keys - table_keys)


# ------------------------------------------------------------------ .deb

def _needed_packages(binary):
    """Debian packages of the shared libraries the binary links directly (readelf NEEDED,
    resolved by ldd; with merged /usr dpkg may know the file under either prefix)."""
    out = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"\(NEEDED\).*\[(.+)\]", out))
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    pkgs = set()
    for soname, path in re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M):
        if soname not in needed:
            continue
        alt = path[4:] if path.startswith("/usr/") else "/usr" + path
        r = subprocess.run(["dpkg", "-S", path, alt], capture_output=True, text=True)
        owners = {line.split(":")[0] for line in r.stdout.splitlines() if line}
        assert owners, "no package owns %s" % path
        pkgs |= owners
    return pkgs


def _scratch_root(root, depends):
    """A dpkg database under root knowing only the packages of depends, copied from this
    host's database (dpkg-query -s: installed, with their versions) and holding no files:
    installing into it checks the .deb's Depends, versions included, against this host."""
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (root / "var/lib/dpkg/updates").mkdir()
    stanzas = []
    for pkg in sorted(depends):
        r = subprocess.run(["dpkg-query", "-s", pkg], capture_output=True, text=True)
        assert r.returncode == 0, "%s is a dependency of the .deb but not installed here: %s" % (pkg, r.stderr)
        stanzas.append(r.stdout.strip() + "\n")
        name = subprocess.run(["dpkg-query", "-W", "-f", "${binary:Package}", pkg], capture_output=True,
                              text=True, check=True).stdout
        (info / ("%s.list" % name)).write_text("")
    (root / "var/lib/dpkg/status").write_text("\n".join(stanzas))


def test_deb_builds_installs_into_a_scratch_root_and_runs(ce_bin, man_dir, tmp_path):
    need_tool("cpack")
    need_tool("dpkg")
    need_tool("dpkg-deb")
    need_tool("dpkg-shlibdeps")
    need_tool("file")  # cpack's shlibdeps step runs it on every packaged file
    r = subprocess.run(["cpack", "--config", str(ce_bin / "CPackConfig.cmake"), "-G", "DEB", "-B", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    debs = list(tmp_path.glob("casselastic_*.deb"))
    assert len(debs) == 1, r.stdout
    deb = debs[0]

    info = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True, check=True).stdout
    m = re.search(r"^ Depends: (.*)$", info, re.M)
    assert m, info
    depends = {d.strip().split(" ")[0] for d in m.group(1).split(",")}
    for pkg in BASE_DEPENDS:
        assert pkg in depends, (pkg, info)
    assert "Package: casselastic" in info and "Version: %s" % version_of(ce_bin) in info

    files = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/bin/casselastic", "./usr/share/man/man1/casselastic.1.gz",
                 "./usr/share/man/man5/casselastic.json.5.gz",
                 "./usr/share/bash-completion/completions/casselastic",
                 "./usr/lib/systemd/system/casselastic.service"):
        assert re.search(r" %s$" % re.escape(path), files, re.M), (path, files)

    # A real install (no --force-depends): dpkg unpacks, registers and configures the
    # package in the scratch root; the binary then runs with this host's libraries.
    root = tmp_path / "root"
    _scratch_root(root, depends)
    r = subprocess.run(["dpkg", "--root=%s" % root, "--force-not-root", "--force-script-chrootless", "-i", str(deb)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stderr, r.stderr
    st = subprocess.run(["dpkg-query", "--admindir=%s" % (root / "var/lib/dpkg"), "-W", "-f", "${Status} ${Version}",
                         "casselastic"], capture_output=True, text=True, check=True).stdout
    assert st == "install ok installed %s" % version_of(ce_bin), st
    listed = (root / "var/lib/dpkg/info/casselastic.list").read_text().split()
    assert "/usr/bin/casselastic" in listed and "/usr/lib/systemd/system/casselastic.service" in listed, listed
    binary = root / "usr" / "bin" / "casselastic"
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout == "casselastic %s\n" % version_of(ce_bin), out
    # Every library the packaged binary links is a declared dependency.
    missing = _needed_packages(binary) - depends - {"libc6"}
    assert not missing, (missing, info)
    with gzip.open(root / "usr/share/man/man5/casselastic.json.5.gz", "rt") as f:
        assert f.read() == (man_dir / "casselastic.json.5").read_text()
    # The packaged unit runs the packaged binary (the unit is generated for prefix /usr).
    unit = read_unit(root / "usr" / UNIT_DIR / "casselastic.service")
    assert unit["Service"]["ExecStart"].split()[0] == "/usr/bin/casselastic", unit["Service"]["ExecStart"]


# ------------------------------------------------------------------ bash completion

def _complete(words, cword):
    script = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=%d; _casselastic; printf "%%s\\n" "${COMPREPLY[@]}"' % cword
    r = subprocess.run(["bash", "-c", script, "bash", str(COMPLETION), *words], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def _help_commands(ce_bin):
    """The commands `casselastic --help` lists."""
    out = subprocess.run([str(ce_bin / "casselastic"), "--help"], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    block = out[out.index("\ncommands:\n"):].split("\n\n")[0]
    return re.findall(r"^  ([a-z][\w-]*) ", block, re.M)


def _help_options(ce_bin, cmd):
    """{option: takes an argument} of the options section of `casselastic CMD --help`."""
    out = subprocess.run([str(ce_bin / "casselastic"), cmd, "--help"], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    section = out[out.index("\noptions:\n"):]
    opts = {}
    for short, long, arg in re.findall(r"^ {2,6}(?:(-\w), )?(--[a-z][\w-]*)( [A-Z])?", section, re.M):
        opts[long] = bool(arg)
        if short:
            opts[short] = bool(arg)
    return opts


def test_bash_completion(ce_bin, tmp_path):
    need_tool("bash")
    assert _complete(["casselastic", "st"], 1) == {"status", "stop"}
    assert {"--config", "--since", "--sync", "--metrics-listen"} <= _complete(["casselastic", "run", "--"], 2)
    assert "--json" in _complete(["casselastic", "status", "--"], 2)
    assert "--json" not in _complete(["casselastic", "run", "--"], 2)
    assert _complete(["casselastic", "run", "--log-level", "w"], 3) == {"warn"}
    cfg = tmp_path / "c.json"
    cfg.write_text('{"syncs": [{"name": "orders"}, {"name": "users"}]}')
    assert _complete(["casselastic", "once", "-c", str(cfg), "--sync", ""], 5) == {"orders", "users"}
    assert _complete(["casselastic", "verify", "-c", str(cfg), "--sync", "u"], 5) == {"users"}
    # verify --json FILE completes file names; status --json is a flag
    assert _complete(["casselastic", "verify", "--json", str(tmp_path / "c.")], 3) == {str(cfg)}
    assert "--state-dir" in _complete(["casselastic", "status", "--json", "--"], 3)


def test_bash_completion_follows_the_help(ce_bin):
    """The completion's commands are those of `casselastic --help` (plus `help`), and each
    command's options are those of `casselastic CMD --help` (plus --help), with or without
    an argument as the help says: the completion cannot drift from the program."""
    need_tool("bash")
    commands = _help_commands(ce_bin)
    assert {"run", "once", "status", "stop", "check", "verify"} <= set(commands), commands
    assert _complete(["casselastic", ""], 1) == set(commands) | {"help", "--version", "--help"}
    assert _complete(["casselastic", "help", ""], 2) == set(commands)
    for cmd in commands:
        opts = _help_options(ce_bin, cmd)
        assert opts, cmd
        assert _complete(["casselastic", cmd, "-"], 2) == set(opts) | {"--help"}, cmd
        for opt, takes_arg in opts.items():
            after = _complete(["casselastic", cmd, opt, "-"], 3)
            if takes_arg:  # a value comes next, never the option list
                assert not any(w.startswith("--") for w in after), (cmd, opt, after)
            else:
                assert after == set(opts) | {"--help"}, (cmd, opt, after)


# ------------------------------------------------------------------ metrics and dashboard

def _sample_exposition(ce_bin):
    tool = ce_bin / "ce_metrics_tool"
    if not tool.is_file():
        _skip_or_fail("ce_metrics_tool not built in %s" % ce_bin)
    return subprocess.run([str(tool), "render"], capture_output=True, text=True, timeout=30, check=True).stdout


def test_dashboard_uses_only_exported_families(ce_bin):
    dash = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    exported = set(re.findall(r"^([a-z_]+)(?:\{| )", _sample_exposition(ce_bin), re.M))
    titles, used = [], set()
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        titles.append(p["title"].lower())
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        for t in p["targets"]:
            used |= set(re.findall(r"\b((?:casselastic|process)_[a-z_]+)", t["expr"]))
    assert used and used <= exported, sorted(used - exported)
    for want in ("read", "written", "lag", "failed", "dead letters"):
        assert any(want in t for t in titles), want


def test_metrics_exposition_parses_with_prometheus_client(ce_bin):
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        _skip_or_fail("prometheus_client missing from the venv (tests/requirements.txt)")
    tool = ce_bin / "ce_metrics_tool"
    if not tool.is_file():
        _skip_or_fail("ce_metrics_tool not built in %s" % ce_bin)
    p = subprocess.Popen([str(tool), "serve", "127.0.0.1:0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        port = int(p.stdout.readline().split()[1])
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as resp:
            assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            text = resp.read().decode()
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=10) as resp:
            assert resp.status == 200
            assert json.loads(resp.read())["status"] == "ok"  # the failed sync is still in its grace
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen("http://127.0.0.1:%d/other" % port, timeout=10)
        assert e.value.code == 404
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    assert p.returncode == 0

    fams = {f.name: f for f in text_string_to_metric_families(text)}
    types = {n: f.type for n, f in fams.items()}
    for name in ("casselastic_records_read", "casselastic_records_written", "casselastic_conflicts",
                 "casselastic_dead_letters", "casselastic_deletes", "casselastic_retries",
                 "casselastic_pass_failures", "process_cpu_seconds"):
        assert types.get(name) == "counter", (name, types)
    for name in ("casselastic_checkpoint_lag_seconds", "casselastic_last_success_timestamp_seconds",
                 "casselastic_build_info", "process_resident_memory_bytes"):
        assert types.get(name) == "gauge", (name, types)
    assert types["casselastic_pass_duration_seconds"] == "histogram"

    def value(fam, suffix="_total", **labels):
        for s in fams[fam].samples:
            if s.name == fam + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        raise AssertionError("no sample %s%s %r" % (fam, suffix, labels))

    assert value("casselastic_records_read", sync="orders", direction="to_es") == 20000
    assert value("casselastic_records_written", sync="orders", direction="to_cassandra") == 500
    assert value("casselastic_retries", sync="orders", direction="to_es", cause="timeout") == 3
    assert value("casselastic_pass_failures", sync='quote"back\\slash', direction="to_es") == 1
    assert value("casselastic_build_info", "", version=version_of(ce_bin)) == 1
    assert 61 <= value("casselastic_checkpoint_lag_seconds", "", sync="orders", direction="to_es") < 120
    assert value("process_resident_memory_bytes", "") > 0

    # Histogram: cumulative buckets ending in +Inf == _count, per series.
    h = fams["casselastic_pass_duration_seconds"]
    series = {}
    for s in h.samples:
        key = (s.labels["sync"], s.labels["direction"])
        series.setdefault(key, {"buckets": []})
        if s.name.endswith("_bucket"):
            series[key]["buckets"].append((float(s.labels["le"]), s.value))
        else:
            series[key][s.name.rsplit("_", 1)[1]] = s.value
    assert len(series) == 3
    for key, sr in series.items():
        les = [le for le, _ in sr["buckets"]]
        counts = [c for _, c in sr["buckets"]]
        assert les == sorted(les) and les[-1] == float("inf"), key
        assert counts == sorted(counts), key
        assert counts[-1] == sr["count"] == 1, key
    assert series[("orders", "to_es")]["sum"] == 12.5
