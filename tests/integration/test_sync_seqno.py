"""Elasticsearch -> Cassandra by sequence numbers (`es_read_mode: "seq_no"`), on OpenSearch 2
and Elasticsearch 8, checked with the official drivers.

Documents carry version values 10 minutes in the past - below any window a version read
would take after its first pass - while writer threads index concurrently into an index of 3
shards that refreshes only every 30 s. Every write must reach Cassandra exactly once: the
sets of ids match, and the documents casselastic read and wrote over all passes (the pass
lines' read= and written=) are exactly the writes, so nothing was read or written twice (no
overlap). A document indexed meanwhile with the Cassandra side's source id (an echo) is
neither read nor written. A re-created index
and a new primary term fall back to one full read (logged) and still converge.
"""
import re
import threading
import time

from test_sync_engine import now_ms, pyce_table, rows_by_id, run_ce, search, sync_def, write_config  # noqa: F401

PAST_MS = 600000  # the writers' versions: 10 minutes in the past
ECHO_ID = 999  # a document whose source is the Cassandra side's id (below the writers' ids)
MAPPING = {"properties": {"id": {"type": "integer"}, "version": {"type": "long"}, "text": {"type": "keyword"},
                          "source": {"type": "keyword"}, "date": {"type": "date"}}}
SETTINGS = {"number_of_shards": 3, "number_of_replicas": 0, "refresh_interval": "30s"}
PASS_LINE = re.compile(r'dir=to_cassandra msg="pass done" .*? read=(\d+) written=(\d+)')


def make_index(search, index):
    search.track(index)
    search.create(index, mappings=MAPPING, settings=SETTINGS)


def doc(i, version, text=None):
    return {"id": i, "version": version, "text": text or "t%d" % i}


def one_pass(ce_bin, cfg, extra=()):
    """One `casselastic once`: (read, written) of its to_cassandra pass line, and its log."""
    p = run_ce(ce_bin, cfg, extra=extra)
    m = PASS_LINE.search(p.stderr)
    assert m, p.stderr[-3000:]
    return int(m.group(1)), int(m.group(2)), p.stderr


def seqno_config(tmp_path, testbed_env, search, keyspace, index, **kw):
    return write_config(tmp_path, testbed_env, search.url,
                        [sync_def("s1", keyspace, "items", index, direction="to_cassandra", filter_date=True,
                                  es_read_mode="seq_no", **kw)])


class Writers:
    """Threads indexing new documents (distinct ids, old versions) one by one until stopped."""

    def __init__(self, search, index, nthreads=3, first_id=1000):
        self.search, self.index = search, index
        self.ids, self.lock, self.stop = set(), threading.Lock(), threading.Event()
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(first_id + t * 1000000,)) for t in range(nthreads)]

    def run(self, next_id):
        try:
            while not self.stop.is_set():
                self.search.index(self.index, next_id, doc(next_id, now_ms() - PAST_MS))
                with self.lock:
                    self.ids.add(next_id)
                next_id += 1
        except Exception as e:  # reported by the test
            self.errors.append(e)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        assert not self.errors, self.errors


def test_seqno_every_write_once_without_overlap(cassandra_session, keyspace, search, ce_bin, tmp_path,
                                                testbed_env, unique_name):
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    make_index(search, index)
    first = {i: doc(i, now_ms() - PAST_MS) for i in range(1, 31)}
    search.bulk_index(index, first)  # not refreshed: the pass's own refresh makes them visible
    cfg = seqno_config(tmp_path, testbed_env, search, keyspace, index, es_page_size=7)  # several pages a shard
    read, written, log = one_pass(ce_bin, cfg)
    assert 'msg="seq_no: full read of the index" reason="no saved per-shard positions"' in log, log[-3000:]
    assert (read, written) == (30, 30)
    total_read = total_written = 0
    with Writers(search, index) as w:
        for k in range(4):  # passes while the writers write
            time.sleep(0.5)
            if k == 1:  # an echo among the writes: it came from Cassandra, it must not go back
                search.index(index, ECHO_ID, dict(doc(ECHO_ID, now_ms() - PAST_MS), source="cassandra"))
            read, written, log = one_pass(ce_bin, cfg)
            assert "reading by sequence number" in log and "full read" not in log, log[-3000:]
            total_read += read
            total_written += written
    assert len(w.ids) > 50, len(w.ids)  # writes went on during the passes
    for _ in range(2):  # the writes after the last pass's bounds
        read, written, _ = one_pass(ce_bin, cfg)
        total_read += read
        total_written += written
    rows = rows_by_id(cassandra_session, keyspace, "items")
    assert set(rows) == set(first) | w.ids
    # every write was read and written exactly once: no overlap re-reads, nothing left over,
    # and the echo neither read nor written
    assert total_read == len(w.ids), (total_read, len(w.ids))
    assert total_written == len(w.ids), (total_written, len(w.ids))
    assert cassandra_session.execute("SELECT id FROM %s.items WHERE id = %d" % (keyspace, ECHO_ID)).one() is None
    assert search.hits(index)[str(ECHO_ID)]["_source"]["source"] == "cassandra"  # it was there to read
    assert one_pass(ce_bin, cfg)[:2] == (0, 0)
    # an update with a version still in the past, but newer than the row's: read once, written
    upd = {i: doc(i, now_ms() - PAST_MS // 2, "updated") for i in range(1, 11)}
    search.bulk_index(index, upd)
    assert one_pass(ce_bin, cfg)[:2] == (10, 10)
    rows = rows_by_id(cassandra_session, keyspace, "items")
    assert all(rows[i].text == "updated" and rows[i].version == upd[i]["version"] for i in upd)


def test_seqno_recreated_index_and_new_primary_term_fall_back(cassandra_session, keyspace, search, ce_bin,
                                                              tmp_path, testbed_env, unique_name):
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    make_index(search, index)
    search.bulk_index(index, {i: doc(i, now_ms() - PAST_MS) for i in range(1, 21)})
    cfg = seqno_config(tmp_path, testbed_env, search, keyspace, index)
    assert one_pass(ce_bin, cfg)[:2] == (20, 20)
    # deleted and re-created: its sequence numbers start again from 0, below the saved ones
    search.delete(index)
    make_index(search, index)
    again = {i: doc(i, now_ms() - PAST_MS // 2, "again") for i in range(15, 41)}
    search.bulk_index(index, again)
    read, written, log = one_pass(ce_bin, cfg)
    assert 'reason="the index UUID changed (index re-created)"' in log, log[-3000:]
    assert (read, written) == (26, 26)
    rows = rows_by_id(cassandra_session, keyspace, "items")
    assert set(rows) == set(range(1, 41))
    assert all(rows[i].text == "again" for i in again)
    # then by shard again
    search.index(index, 41, doc(41, now_ms() - PAST_MS))
    read, _, log = one_pass(ce_bin, cfg)
    assert read == 1 and "reading by sequence number" in log, log[-3000:]
    # closed and opened: every shard has a new primary term
    search.c.indices.close(index=index)
    search.c.indices.open(index=index, wait_for_active_shards="all")
    search.index(index, 42, doc(42, now_ms() - PAST_MS))
    read, written, log = one_pass(ce_bin, cfg)
    assert 'reason="a shard has a new primary term"' in log, log[-3000:]
    assert read == 28 and written == 1  # the others are not newer than their rows
    assert set(rows_by_id(cassandra_session, keyspace, "items")) == set(range(1, 43))
    assert one_pass(ce_bin, cfg)[:2] == (0, 0)
