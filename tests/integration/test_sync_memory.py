"""memory_limit_mb bounds what a sync has in flight: rows and documents of 8 MB under
`memory_limit_mb: 128` are all synced both ways, and the casselastic process's peak RSS
(Maximum resident set size of /usr/bin/time -v) stays under 128 MB.

Checked with the official drivers (cassandra-driver, opensearch-py). The sizes can be
changed for a measurement (docs/performance.md, "Memory budget"): CE_MEM_ROW_MB (8),
CE_MEM_ROWS (17), CE_MEM_LIMIT_MB (128).
"""
import os
import re
import subprocess
from pathlib import Path

from conftest import _skip_or_fail
from test_sync_engine import now_ms, opensearch_only, rows_by_id, search, sync_def, write_config  # noqa: F401

ROW_BYTES = int(os.environ.get("CE_MEM_ROW_MB", "8")) << 20
ROWS = int(os.environ.get("CE_MEM_ROWS", "17"))  # 136 MB of payload: more than the budget
LIMIT_MB = int(os.environ.get("CE_MEM_LIMIT_MB", "128"))


def run_measured(ce_bin, cfg):
    """casselastic once under /usr/bin/time -v: (process, peak RSS in MB)."""
    if not Path("/usr/bin/time").exists():
        _skip_or_fail("/usr/bin/time is needed to measure the peak RSS (make deps installs the time package)")
    p = subprocess.run(["/usr/bin/time", "-v", str(Path(ce_bin) / "casselastic"), "once", "-c", str(cfg)],
                       capture_output=True, text=True, timeout=600)
    with open(Path(cfg).parent / "casselastic.log", "a") as f:
        f.write(p.stdout + p.stderr)
    assert p.returncode == 0, p.stderr[-6000:]
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    assert m, p.stderr[-2000:]
    return p, int(m.group(1)) / 1024.0


def payload(i):
    return (chr(ord("a") + i % 26) * 64 + "%08d" % i) * (ROW_BYTES // 72)


def big_table(session, ks, table):
    session.execute("CREATE TABLE %s.%s (id int PRIMARY KEY, version bigint, text varchar, "
                    "source varchar, date timestamp)" % (ks, table), timeout=60)


def test_big_rows_c2e_under_the_budget(cassandra_session, keyspace, opensearch_only, ce_bin,  # noqa: F811
                                       tmp_path, testbed_env, unique_name):
    search = opensearch_only
    big_table(cassandra_session, keyspace, "items")
    index = unique_name("ix")
    search.track(index)
    # long texts are not indexed (a keyword of 8 MB is more than Lucene takes)
    search.create(index, mappings={"properties": {"text": {"type": "text", "index": False}}})
    ins = cassandra_session.prepare("INSERT INTO %s.items (id, version, text) VALUES (?, ?, ?)" % keyspace)
    v = now_ms() - 60000
    for i in range(ROWS):
        cassandra_session.execute(ins, (i, v + i, payload(i)), timeout=60)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       # one token range: every row in one scan, so only the budget keeps a
                       # page of page_size (20000) rows, the whole table, from coming at once
                       [sync_def("big", keyspace, "items", index, direction="to_es", scan_ranges=1)],
                       memory_limit_mb=LIMIT_MB)
    _, peak = run_measured(ce_bin, cfg)
    search.refresh(index)
    assert search.count(index) == ROWS
    got = search.c.get(index=index, id="7")["_source"]
    assert got["text"] == payload(7)
    print("C->E %d rows of %d MB: peak RSS %.1f MB (memory_limit_mb %d)"
          % (ROWS, ROW_BYTES >> 20, peak, LIMIT_MB))
    assert peak <= LIMIT_MB, "peak RSS %.1f MB" % peak


def test_big_documents_e2c_under_the_budget(cassandra_session, keyspace, opensearch_only, ce_bin,  # noqa: F811
                                            tmp_path, testbed_env, unique_name):
    search = opensearch_only
    big_table(cassandra_session, keyspace, "items")
    index = unique_name("ix")
    search.track(index)
    search.create(index, mappings={"properties": {
        "id": {"type": "integer"}, "version": {"type": "long"}, "source": {"type": "keyword"},
        "text": {"type": "text", "index": False}}})
    v = now_ms() - 60000
    for i in range(ROWS):
        search.index(index, i, {"id": i, "version": v + i, "text": payload(i), "source": "es"})
    search.refresh(index)
    cfg = write_config(tmp_path, testbed_env, search.url,
                       [sync_def("big", keyspace, "items", index, direction="to_cassandra")],
                       memory_limit_mb=LIMIT_MB)
    _, peak = run_measured(ce_bin, cfg)
    # one row a request: a page of 160 MB is more than the driver's heartbeat tolerates here
    sel = cassandra_session.prepare("SELECT text FROM %s.items WHERE id = ?" % keyspace)
    for i in range(ROWS):
        row = cassandra_session.execute(sel, (i,), timeout=60).one()
        assert row is not None and row.text == payload(i), i
    print("E->C %d documents of %d MB: peak RSS %.1f MB (memory_limit_mb %d)"
          % (ROWS, ROW_BYTES >> 20, peak, LIMIT_MB))
    assert peak <= LIMIT_MB, "peak RSS %.1f MB" % peak
