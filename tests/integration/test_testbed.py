"""Proves the test bed servers are real and the expected versions, using the official clients."""
import subprocess
import time

import pytest

pytestmark = pytest.mark.timeout(300)


def test_cassandra_version(cassandra_session):
    row = cassandra_session.execute("SELECT release_version FROM system.local").one()
    assert row.release_version.startswith("5.0."), row.release_version


def test_cassandra_roundtrip_and_indexes(cassandra_session, keyspace):
    s = cassandra_session
    s.execute("CREATE TABLE %s.items (id int PRIMARY KEY, name text, version bigint, tag text)" % keyspace)
    s.execute("CREATE INDEX ON %s.items (version)" % keyspace)          # legacy 2i
    s.execute("CREATE INDEX ON %s.items (tag) USING 'sai'" % keyspace)  # storage-attached index
    for i in range(10):
        s.execute("INSERT INTO %s.items (id, name, version, tag) VALUES (%%s, %%s, %%s, %%s)" % keyspace,
                  (i, "name-%d" % i, 100 + i, "even" if i % 2 == 0 else "odd"))
    row = s.execute("SELECT name, version FROM %s.items WHERE id = 7" % keyspace).one()
    assert (row.name, row.version) == ("name-7", 107)
    # Indexes may build asynchronously right after CREATE INDEX; retry briefly.
    deadline = time.time() + 30
    while True:
        try:
            by_version = {r.id for r in s.execute("SELECT id FROM %s.items WHERE version = 105" % keyspace)}
            by_tag = {r.id for r in s.execute("SELECT id FROM %s.items WHERE tag = 'odd'" % keyspace)}
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(1)
    assert by_version == {5}
    assert by_tag == {1, 3, 5, 7, 9}
    filtered = {r.id for r in s.execute(
        "SELECT id FROM %s.items WHERE version > 107 ALLOW FILTERING" % keyspace)}
    assert filtered == {8, 9}


def test_search_server_index_and_search(es_clients, unique_name):
    name, _url, client = es_clients
    index = unique_name("ix")
    client.indices.create(index=index, body={"settings": {"number_of_shards": 1, "number_of_replicas": 0}})
    try:
        client.index(index=index, id="1", body={"title": "hello test bed", "n": 1}, refresh=True)
        client.index(index=index, id="2", body={"title": "something else", "n": 2}, refresh=True)
        res = client.search(index=index, body={"query": {"match": {"title": "hello"}}})
        hits = res["hits"]["hits"]
        assert [h["_id"] for h in hits] == ["1"], (name, hits)
        assert hits[0]["_source"]["n"] == 1
    finally:
        client.indices.delete(index=index)


def test_opensearch_version(opensearch):
    info = opensearch.info()
    assert info["version"]["number"].startswith("2.19."), info
    assert info["version"].get("distribution") == "opensearch", info


def test_elasticsearch_version(elasticsearch):
    nodes = elasticsearch.nodes.info(node_id="_local")["nodes"]
    versions = {n["version"] for n in nodes.values()}
    assert len(versions) == 1 and versions.pop().startswith("8.17."), nodes


def test_casselastic_version(ce_bin):
    out = subprocess.run([str(ce_bin / "casselastic"), "--version"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out
    assert "casselastic" in (out.stdout + out.stderr).lower(), out


def test_two_nodes_seen_by_driver(two_nodes, make_cluster):
    cluster = make_cluster([two_nodes["hosts"][0]], two_nodes["port"])
    try:
        session = cluster.connect()
        up = sorted(str(h.address) for h in cluster.metadata.all_hosts() if h.is_up)
        assert up == sorted(two_nodes["hosts"]), up
        session.execute("SELECT release_version FROM system.local")
        owners = {str(h.address) for h in cluster.metadata.token_map.token_to_host_owner.values()}
        assert owners == set(two_nodes["hosts"]), owners  # both nodes own token ranges
    finally:
        cluster.shutdown()


def _auth_connect(make_cluster, info, ssl_context=None, password=None):
    from cassandra.auth import PlainTextAuthProvider
    cluster = make_cluster([info["host"]], info["port"], ssl_context=ssl_context,
                           auth_provider=PlainTextAuthProvider(info["user"], password or info["password"]))
    try:
        return cluster.connect().execute("SELECT release_version FROM system.local").one().release_version
    finally:
        cluster.shutdown()


def test_auth_instance_plain_tls_and_refusals(cassandra_auth, make_cluster):
    import ssl
    from cassandra.cluster import NoHostAvailable
    info = cassandra_auth
    assert _auth_connect(make_cluster, info).startswith("5.0.")  # plain + password
    ctx = ssl.create_default_context(cafile=info["ca"])
    ctx.check_hostname = False  # chain check only here; the cert also names IP 127.0.0.3
    assert _auth_connect(make_cluster, info, ssl_context=ctx).startswith("5.0.")  # TLS, right CA
    ctx = ssl.create_default_context(cafile=info["ca"])
    ctx.load_cert_chain(info["client_cert"], info["client_key"])
    assert _auth_connect(make_cluster, info, ssl_context=ctx).startswith("5.0.")  # TLS + client certificate
    with pytest.raises(NoHostAvailable):
        _auth_connect(make_cluster, info, ssl_context=ssl.create_default_context(cafile=info["wrong_ca"]))
    with pytest.raises(NoHostAvailable):
        _auth_connect(make_cluster, info, password="wrong-password")
