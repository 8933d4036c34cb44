"""Shared fixtures for casselastic integration tests.

The servers are the real ones of the test bed (scripts/testbed): Cassandra 5.0 on
127.0.0.1:9042, OpenSearch 2.19 on :9200, Elasticsearch 8.17 on :9201, and on demand a second
Cassandra node (127.0.0.2) and an auth+TLS instance (127.0.0.3). Results are checked with the
official Python clients (cassandra-driver, opensearch-py, elasticsearch 8), never with our own code.

Addresses come from the environment when CE_CASSANDRA_HOST etc. are set, else from
`scripts/testbed env`. With CE_REQUIRE_ALL=1 (CI) nothing is skipped for a missing server or
binary: the test fails instead.
"""
import os
import re
import secrets
import shlex
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTBED = REPO / "scripts" / "testbed"


def _require_all():
    return os.environ.get("CE_REQUIRE_ALL", "") not in ("", "0")


def _skip_or_fail(msg):
    if _require_all():
        pytest.fail(msg + " (CE_REQUIRE_ALL is set, so this is a failure)", pytrace=False)
    pytest.skip(msg)


def _read_testbed_env():
    env = {}
    try:
        out = subprocess.run([str(TESTBED), "env"], check=True, capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        m = re.match(r"export ([A-Z0-9_]+)=(.*)$", line.strip())
        if m:
            vals = shlex.split(m.group(2))
            env[m.group(1)] = vals[0] if vals else ""
    # Explicit environment wins over the script's defaults.
    for k, v in os.environ.items():
        if k.startswith("CE_"):
            env[k] = v
    env.setdefault("CE_CASSANDRA_HOST", "127.0.0.1")
    env.setdefault("CE_CASSANDRA_PORT", "9042")
    env.setdefault("CE_OPENSEARCH_URL", "http://127.0.0.1:9200")
    env.setdefault("CE_ELASTICSEARCH_URL", "http://127.0.0.1:9201")
    env.setdefault("CE_CASSANDRA_HOST2", "127.0.0.2")
    env.setdefault("CE_CASSANDRA_AUTH_HOST", "127.0.0.3")
    env.setdefault("CE_CASSANDRA_USER", "cassandra")
    env.setdefault("CE_CASSANDRA_PASSWORD", "cassandra")
    return env


_TLS_KEYS = ("CE_TLS_CA", "CE_TLS_WRONG_CA", "CE_TLS_CLIENT_CERT", "CE_TLS_CLIENT_KEY")


def _ensure_tls_material(env):
    """The test CA and certificates are files of the bed (scripts/testbed tls): made here when
    missing, so a test that uses them never meets a FileNotFoundError. Fails with the command
    to run when they cannot be made."""
    paths = [env.get(k) for k in _TLS_KEYS]
    if all(p and Path(p).is_file() for p in paths):
        return
    try:
        p = subprocess.run([str(TESTBED), "tls"], capture_output=True, text=True, timeout=300)
        why = (p.stderr or p.stdout).strip()[-2000:] if p.returncode else ""
    except (OSError, subprocess.SubprocessError) as e:
        why = str(e)
    missing = [q for q in paths if not q or not Path(q).is_file()]
    if missing:
        pytest.fail("TLS material missing (%s) and `scripts/testbed tls` could not make it: %s; run "
                    "`scripts/testbed tls` (needs openssl and keytool: make deps)" % (", ".join(map(str, missing)), why),
                    pytrace=False)


@pytest.fixture(scope="session")
def testbed_env():
    """dict of the CE_* settings (hosts, ports, URLs, TLS file paths, versions). The TLS
    files it names exist (made with `scripts/testbed tls` when missing)."""
    env = _read_testbed_env()
    _ensure_tls_material(env)
    return env


def _make_cluster(hosts, port, **kw):
    """A python-driver Cluster (protocol v5, round robin, 30 s requests); extra keyword
    arguments (auth_provider, ssl_context, ...) go to Cluster. The caller shuts it down."""
    from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
    from cassandra.policies import RoundRobinPolicy

    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=30)
    return Cluster(hosts, port=port, protocol_version=5, connect_timeout=15,
                   execution_profiles={EXEC_PROFILE_DEFAULT: profile}, **kw)


@pytest.fixture(scope="session")
def make_cluster():
    """The function _make_cluster(hosts, port, **kw): a python-driver Cluster (protocol v5,
    round robin, 30 s requests; kw such as auth_provider/ssl_context go to Cluster). The test
    shuts it down."""
    return _make_cluster


@pytest.fixture(scope="module")
def cassandra_cluster(testbed_env):
    """python-driver Cluster connected to the default node; shut down after the module."""
    cluster = _make_cluster([testbed_env["CE_CASSANDRA_HOST"]], int(testbed_env["CE_CASSANDRA_PORT"]))
    try:
        cluster.connect()
    except Exception as e:  # NoHostAvailable and friends
        cluster.shutdown()
        _skip_or_fail("Cassandra not reachable at %s:%s (%s); run scripts/testbed start"
                      % (testbed_env["CE_CASSANDRA_HOST"], testbed_env["CE_CASSANDRA_PORT"], e))
    yield cluster
    cluster.shutdown()


@pytest.fixture(scope="module")
def cassandra_session(cassandra_cluster):
    """python-driver Session to the default Cassandra node (module scope)."""
    session = cassandra_cluster.connect()
    yield session


def _http_client(kind, url):
    if kind == "opensearch":
        from opensearchpy import OpenSearch
        return OpenSearch([url], timeout=30)
    from elasticsearch import Elasticsearch
    return Elasticsearch([url], request_timeout=30)


def _ping(kind, client, url):
    try:
        if kind == "opensearch":
            client.cluster.health()
        else:
            client.nodes.info(node_id="_local")
    except Exception as e:
        _skip_or_fail("%s not reachable at %s (%s); run scripts/testbed start" % (kind, url, e))


@pytest.fixture(scope="session")
def opensearch(testbed_env):
    """opensearch-py client for the OpenSearch 2.19 server."""
    url = testbed_env["CE_OPENSEARCH_URL"]
    client = _http_client("opensearch", url)
    _ping("opensearch", client, url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def elasticsearch(testbed_env):
    """elasticsearch 8 client for the Elasticsearch 8.17 server."""
    url = testbed_env["CE_ELASTICSEARCH_URL"]
    client = _http_client("elasticsearch", url)
    _ping("elasticsearch", client, url)
    yield client
    client.close()


@pytest.fixture(params=["opensearch", "elasticsearch"])
def es_clients(request, testbed_env):
    """(name, url, python client) for each search server in turn."""
    name = request.param
    url = testbed_env["CE_OPENSEARCH_URL" if name == "opensearch" else "CE_ELASTICSEARCH_URL"]
    return name, url, request.getfixturevalue(name)


@pytest.fixture(scope="session")
def ce_bin():
    """Path of the CMake build folder holding `casselastic` and the tests/tools programs.

    CE_BUILD_DIR, default <repo>/build/ci. Skips (fails under CE_REQUIRE_ALL) when the
    casselastic binary is not built there.
    """
    d = Path(os.environ.get("CE_BUILD_DIR", REPO / "build" / "ci"))
    if not d.is_absolute():
        d = REPO / d
    if not (d / "casselastic").is_file():
        _skip_or_fail("casselastic not built in %s (make build, or set CE_BUILD_DIR)" % d)
    return d


@pytest.fixture
def unique_name(request):
    """Function returning unique lowercase names `t_<test>_<random>` (valid as keyspace,
    table and index names: at most 48 characters, [a-z0-9_])."""
    base = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())
    base = re.sub(r"_+", "_", base).strip("_")[:28]

    def make(prefix="t"):
        return ("%s_%s_%s" % (prefix, base, secrets.token_hex(4)))[:48]

    return make


def _drop_keyspace(session, ks):
    for attempt in range(3):
        try:
            session.execute("DROP KEYSPACE IF EXISTS %s" % ks, timeout=60)
            return
        except Exception:
            if attempt == 2:
                raise
            time.sleep(2)


@pytest.fixture
def keyspace(cassandra_session, unique_name):
    """Name of a fresh SimpleStrategy RF1 keyspace on the default cluster, dropped afterwards."""
    ks = unique_name("ks")
    cassandra_session.execute(
        "CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}" % ks,
        timeout=60)
    yield ks
    _drop_keyspace(cassandra_session, ks)


def _cql_alive(host, port, auth=None, timeout=5):
    from cassandra.auth import PlainTextAuthProvider
    kw = {}
    if auth:
        kw["auth_provider"] = PlainTextAuthProvider(*auth)
    cluster = _make_cluster([host], port, **kw)
    try:
        cluster.connect().execute("SELECT release_version FROM system.local", timeout=timeout)
        return True, ""
    except Exception as e:
        return False, str(e)
    finally:
        cluster.shutdown()


@pytest.fixture(scope="session")
def cassandra_auth(testbed_env):
    """Settings of the auth+TLS Cassandra instance (scripts/testbed start --cassandra-auth):
    dict with host, port, user, password, ca, wrong_ca, client_cert, client_key."""
    host, port = testbed_env["CE_CASSANDRA_AUTH_HOST"], int(testbed_env["CE_CASSANDRA_PORT"])
    info = {
        "host": host, "port": port,
        "user": testbed_env["CE_CASSANDRA_USER"], "password": testbed_env["CE_CASSANDRA_PASSWORD"],
        "ca": testbed_env.get("CE_TLS_CA"), "wrong_ca": testbed_env.get("CE_TLS_WRONG_CA"),
        "client_cert": testbed_env.get("CE_TLS_CLIENT_CERT"),
        "client_key": testbed_env.get("CE_TLS_CLIENT_KEY"),
    }
    ok, why = _cql_alive(host, port, auth=(info["user"], info["password"]))
    if not ok:
        _skip_or_fail("auth+TLS Cassandra not up at %s:%d (%s); run scripts/testbed start --cassandra-auth"
                      % (host, port, why))
    for k in ("ca", "wrong_ca", "client_cert", "client_key"):
        if not info[k] or not Path(info[k]).is_file():
            _skip_or_fail("TLS file %s missing (%s); run scripts/testbed tls" % (k, info[k]))
    return info


@pytest.fixture(scope="session")
def two_nodes(testbed_env):
    """Settings of the two-node cluster (scripts/testbed start --cassandra-nodes 2): dict with
    hosts [node1, node2], port, testbed (path of scripts/testbed, for `node stop|start 2`)."""
    hosts = [testbed_env["CE_CASSANDRA_HOST"], testbed_env["CE_CASSANDRA_HOST2"]]
    port = int(testbed_env["CE_CASSANDRA_PORT"])
    ok, why = _cql_alive(hosts[1], port)
    if not ok:
        _skip_or_fail("second Cassandra node not up at %s:%d (%s); run scripts/testbed start --cassandra-nodes 2"
                      % (hosts[1], port, why))
    return {"hosts": hosts, "port": port, "testbed": str(TESTBED)}


@pytest.fixture
def os_search(opensearch, testbed_env):
    """test_sync_engine's Search helper on OpenSearch; the indexes it tracks are deleted after
    the test."""
    from test_sync_engine import tracked_search

    yield from tracked_search("opensearch", testbed_env["CE_OPENSEARCH_URL"], opensearch)
