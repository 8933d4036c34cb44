"""Poison items never stall a direction (issue 11): a document the server refuses for its
size (413, through a small proxy here: the shared test bed's servers cannot be restarted
with a small http.max_content_length) is split out of its bulk and dead-lettered with the
reason, every other row is indexed, the checkpoint moves, and the next pass is quiet.

Oracles: the index read with the official clients, the dead-letter file, the checkpoint.
"""
import json
from pathlib import Path

from test_es_client import FaultProxy
from test_sync_engine import (checkpoint, insert_pyce, now_ms, pyce_table, run_ce,  # noqa: F401
                              search, sync_def, write_config)


class TooLargeProxy(FaultProxy):
    """FaultProxy that answers 413 to any _bulk request whose body is over max_body bytes
    (as Elasticsearch does past http.max_content_length) and forwards everything else."""

    def __init__(self, target, max_body):
        super().__init__(target)
        self.max_body = max_body
        self.refused = []   # body sizes answered 413

    def handle(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        if h.command == "POST" and h.path.split("?")[0].endswith("/_bulk") and n > self.max_body:
            h.rfile.read(n)
            with self.lock:
                self.refused.append(n)
            self._reply(h, 413, "text/plain", b"")
            return
        super().handle(h)


def dead_letters(folder):
    dl = Path(folder) / "casselastic.deadletter.jsonl"
    return [json.loads(x) for x in dl.read_text().splitlines() if x.strip()] if dl.exists() else []


def test_document_too_large_is_dead_lettered(cassandra_session, keyspace, search, ce_bin, tmp_path, testbed_env,
                                            unique_name):
    pyce_table(cassandra_session, keyspace)
    index = unique_name("ix")
    search.track(index)
    v0 = now_ms() - 600000  # older than the overlap: the next pass's window starts after it
    for i in range(1, 61):
        insert_pyce(cassandra_session, keyspace, "items", i, v0 + i, ("big " * 40000) if i == 17 else "row %d" % i)
    with TooLargeProxy(search.url, max_body=64 * 1024) as px:
        cfg = write_config(tmp_path, testbed_env, px.url,
                           [sync_def("s1", keyspace, "items", index, direction="to_es", filter_date=True)])
        p = run_ce(ce_bin, cfg)
        assert px.refused, "the proxy never answered 413"
        assert min(px.refused) > 64 * 1024
        search.refresh(index)
        assert set(search.hits(index)) == {str(i) for i in range(1, 61)} - {"17"}
        bad = dead_letters(tmp_path)
        assert [x["id"] for x in bad] == ["17"], bad
        assert "too large: 413" in bad[0]["reason"], bad
        assert bad[0]["doc"]["text"].startswith("big ")
        assert checkpoint(tmp_path, "s1", "to_es")["position_ms"] > v0 + 60
        assert "rejected 1" in p.stdout, p.stdout
        # the next pass is quiet: nothing new to read, nothing refused
        n413 = len(px.refused)
        p = run_ce(ce_bin, cfg)
        assert "rejected 0" in p.stdout and "failed 0" in p.stdout, p.stdout
        assert len(px.refused) == n413
        assert len(dead_letters(tmp_path)) == 1
