"""Both sides written at random while the daemon is killed (-9) and restarted: once the
writers stop and the daemon has caught up, every id holds its newest write on both sides.
Checked with the official drivers (cassandra-driver, opensearch-py)."""
import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

from test_sync_engine import now_ms, run_ce, sync_def, write_config


class Versions:
    """Strictly increasing versions (Unix ms, never repeated) shared by the writers."""

    def __init__(self):
        self.last = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            self.last = max(self.last + 1, now_ms())
            return self.last


def test_two_sided_random_writes_with_daemon_killed(cassandra_session, keyspace, os_search, ce_bin,  # noqa: F811
                                                    tmp_path, testbed_env, unique_name):
    s = cassandra_session
    search = os_search
    s.execute("CREATE TABLE %s.items (id int PRIMARY KEY, version bigint, text text, source text)" % keyspace)
    index = unique_name("ix")
    search.track(index)
    ids = 400
    vs = Versions()
    newest = {}            # id -> (version, text): the newest write, whichever side
    lock = threading.Lock()
    ins = s.prepare("INSERT INTO %s.items (id, version, text, source) VALUES (?, ?, ?, 'cassandra')" % keyspace)
    for i in range(ids):   # a first copy of every id, in Cassandra
        v = vs.next()
        s.execute(ins, (i, v, "c%d" % v))
        newest[i] = (v, "c%d" % v)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("chaos", keyspace, "items", index, filter_date=False,
                                 safety_lag_ms=500, overlap_ms=5000, es_page_size=100, page_size=100,
                                 bulk_max_docs=50)],
                       period=1)
    run_ce(ce_bin, cfg)    # the index exists and holds the first copies
    assert search.count(index) == ids

    stop = threading.Event()
    errors = []
    written = {"cassandra": 0, "search": 0}

    def cassandra_writer():
        rnd = random.Random(1)
        while not stop.is_set():
            i = rnd.randrange(ids)
            with lock:
                v = vs.next()
                s.execute(ins, (i, v, "c%d" % v))
                newest[i] = (v, "c%d" % v)
                written["cassandra"] += 1
            time.sleep(0.002)

    def search_writer():
        rnd = random.Random(2)
        while not stop.is_set():
            i = rnd.randrange(ids)
            with lock:
                v = vs.next()
                try:   # as PyCassElastic's users write: the version field as external version
                    search.c.index(index=index, id=str(i), version=v, version_type="external",
                                   body={"id": i, "version": v, "text": "e%d" % v, "source": "elasticsearch"})
                    newest[i] = (v, "e%d" % v)
                    written["search"] += 1
                except Exception as err:   # a 409 cannot happen: versions only grow
                    errors.append(repr(err))
            time.sleep(0.002)

    writers = [threading.Thread(target=cassandra_writer), threading.Thread(target=search_writer)]
    for w in writers:
        w.start()
    log = open(tmp_path / "run.log", "a")
    exe = str(Path(ce_bin) / "casselastic")
    rnd = random.Random(3)
    try:
        for round_ in range(4):   # run, kill -9 at a random moment, start again
            proc = subprocess.Popen([exe, "run", "-c", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
            time.sleep(rnd.uniform(1.5, 4.0))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    finally:
        stop.set()
        for w in writers:
            w.join()
        log.close()
    assert not errors, errors[:3]
    assert min(written.values()) >= 300, written     # both sides really were written meanwhile
    time.sleep(1.0)                # past the safety lag of the last writes
    # catch up: two passes (E->C then C->E in each), then nothing left to move
    run_ce(ce_bin, cfg)
    run_ce(ce_bin, cfg)
    rows = {r.id: (r.version, r.text) for r in s.execute("SELECT id, version, text FROM %s.items" % keyspace)}
    hits = search.hits(index)
    docs = {int(k): (h["_source"]["version"], h["_source"]["text"]) for k, h in hits.items()}
    wrong_c = {i: (rows.get(i), newest[i]) for i in newest if rows.get(i) != newest[i]}
    wrong_e = {i: (docs.get(i), newest[i]) for i in newest if docs.get(i) != newest[i]}
    assert not wrong_c, "cassandra: %d ids not at their newest write, e.g. %r" % (
        len(wrong_c), list(wrong_c.items())[:5])
    assert not wrong_e, "search: %d ids not at their newest write, e.g. %r" % (
        len(wrong_e), list(wrong_e.items())[:5])
    # and the external version of each document is its version field
    assert all(h["_version"] == h["_source"]["version"] for h in hits.values())
    status = json.loads((tmp_path / "casselastic.status.json").read_text())
    assert status["last_result"] == "ok", status
