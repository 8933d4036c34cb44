"""Schema evolution on the two-node cluster: E->C adds columns (ALTER TABLE) for new index
fields, and the C->E side of the same pass, which reads the table right after, must not
meet a node that has not applied the ALTER yet ("Undefined column name"): both wait until
every node reports the same schema version. Checked with cassandra-driver (consistency ALL
on an RF 2 keyspace: both nodes) and opensearch-py.
"""
import json
import time

import pytest

from test_sync_engine import now_ms, run_ce, sync_def, write_config

ROUNDS = 4  # a race: without the agreement wait some rounds fail (3 runs of 7 on main failed)
NEW_FIELDS = 25


@pytest.fixture
def ks_rf2(cassandra_session, two_nodes, unique_name):
    """A SimpleStrategy RF 2 keyspace: every row on both nodes."""
    from conftest import _drop_keyspace

    ks = unique_name("ks")
    cassandra_session.execute("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', "
                              "'replication_factor': 2}" % ks, timeout=60)
    yield ks
    _drop_keyspace(cassandra_session, ks)


def test_new_columns_in_both_directions_of_one_pass(cassandra_session, ks_rf2, two_nodes, os_search, ce_bin,
                                                    tmp_path, testbed_env, unique_name):
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement

    ks, search = ks_rf2, os_search
    cassandra_session.execute("CREATE TABLE %s.t (id int PRIMARY KEY, version bigint, text text, source text)"
                              % ks, timeout=60)
    cassandra_session.cluster.control_connection.wait_for_schema_agreement(wait_time=30)
    index = unique_name("ix")
    search.track(index)
    search.create(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("a1", ks, "t", index, direction="both", alter_table=True,
                                 max_new_columns=NEW_FIELDS)])
    conf = json.loads(cfg.read_text())
    conf["cassandra"]["url"] = list(two_nodes["hosts"])  # discovery would find node 2 anyway
    cfg.write_text(json.dumps(conf))
    for r in range(ROUNDS):
        v = now_ms() - 5000
        doc = {"id": r, "version": v, "text": "doc %d" % r}
        doc.update({"r%df%d" % (r, k): "v%d.%d" % (r, k) for k in range(NEW_FIELDS)})
        search.index(index, r, doc, refresh=True)
        # a row written in Cassandra, so the C->E side of the pass has one to read
        cassandra_session.execute(SimpleStatement(
            "INSERT INTO %s.t (id, version, text) VALUES (%%s, %%s, %%s)" % ks, consistency_level=ConsistencyLevel.ALL),
            (1000 + r, v, "row %d" % r))
        p = run_ce(ce_bin, cfg, expect=None, timeout=120)
        assert p.returncode == 0 and "FAILED" not in p.stdout, "round %d:\n%s\n%s" % (r, p.stdout, p.stderr[-4000:])
        assert "Undefined column" not in p.stderr, "round %d:\n%s" % (r, p.stderr[-4000:])
        assert "a1: ok" in p.stdout and "columns added %d" % NEW_FIELDS in p.stdout, p.stdout

        # every node has the columns (each node's own system_schema, asked on its own)
        for host in two_nodes["hosts"]:
            rows = cassandra_session.execute(SimpleStatement(
                "SELECT column_name FROM system_schema.columns WHERE keyspace_name=%s AND table_name='t'"),
                (ks,), host=[h for h in cassandra_session.cluster.metadata.all_hosts() if h.address == host][0])
            cols = {x.column_name for x in rows}
            missing = {"r%df%d" % (r, k) for k in range(NEW_FIELDS)} - cols
            assert not missing, (host, sorted(missing))
        # the document is in Cassandra on both replicas, its fields in their columns
        row = cassandra_session.execute(SimpleStatement(
            "SELECT * FROM %s.t WHERE id = %d" % (ks, r), consistency_level=ConsistencyLevel.ALL)).one()
        assert row is not None and row.text == "doc %d" % r
        assert all(getattr(row, "r%df%d" % (r, k)) == "v%d.%d" % (r, k) for k in range(NEW_FIELDS))
        # the C->E side read the table (with its new columns) in the same pass
        hits = search.hits(index)
        assert str(1000 + r) in hits, sorted(hits)
        src = hits[str(1000 + r)]["_source"]
        assert src["text"] == "row %d" % r and "r%df0" % r in src and src["r%df0" % r] is None, src
        time.sleep(0.2)
