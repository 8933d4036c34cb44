"""The PNG figures of a benchmark suite run, drawn from its CSV files (summary.csv, rss.csv,
latency.csv in the output folder) with matplotlib; runnable alone to redraw them:

  build/venv/bin/python bench/suite/plots.py [build/bench]

throughput.png      rows/s of casselastic against the machine bound, raw curl and the Python way
cpu_per_million.png casselastic's and the Python way's own CPU-s per million rows
server_cpu.png      server CPU-us per record: caused by casselastic vs by the bare work
rss_over_time.png   casselastic's RSS during each initial load (first repeat)
latency_cdf.png     change -> visible under `casselastic run`, each way
"""
import csv
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import summary  # noqa: E402


def _label(n, w):
    return ("%dk" % (n // 1000) if n >= 1000 else str(n)) + " x %d B" % w


def _bars(ax, figs, scenario, series, title, ylabel, log=False):
    """Grouped bars: one group per data set, one bar per (figure, label) of series, with the
    min-max spread as error bars."""
    sets = sorted({(r["rows"], r["width"]) for r in figs if r["scenario"] == scenario})
    by = {(r["rows"], r["width"], r["figure"]): r for r in figs if r["scenario"] == scenario}
    width = 0.8 / max(1, len(series))
    for k, (fig, label) in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for i, ds in enumerate(sets):
            r = by.get(ds + (fig,))
            if r:
                xs.append(i + (k - (len(series) - 1) / 2) * width)
                ys.append(r["median"])
                lo.append(r["median"] - r["min"])
                hi.append(r["max"] - r["median"])
        if xs:
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=label)
    ax.set_xticks(range(len(sets)))
    ax.set_xticklabels([_label(*ds) for ds in sets])
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def _grid(out, name, panels, title):
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    for ax, draw in zip(axes[0], panels):
        draw(ax)
    fig.suptitle(title)
    fig.tight_layout()
    path = out / name
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def throughput(out, figs):
    c2e = [("casselastic_rows_per_s", "casselastic"), ("bound_rows_per_s", "machine bound"),
           ("raw_curl_rows_per_s", "raw curl (+refresh)"), ("python_rows_per_s", "Python way")]
    e2c = [("casselastic_rows_per_s", "casselastic"), ("bound_rows_per_s", "machine bound"),
           ("cql_insert_rows_per_s", "pipelined INSERTs"), ("python_rows_per_s", "Python way")]
    return _grid(out, "throughput.png", [
        lambda ax: _bars(ax, figs, "c2e", c2e, "Cassandra -> OpenSearch, initial load", "rows/s"),
        lambda ax: _bars(ax, figs, "e2c", e2c, "OpenSearch -> Cassandra, into an empty table", "rows/s")],
        "Throughput (median of the repeats, bars: min-max)")


def cpu_per_million(out, figs):
    series = [("casselastic_cpu_s_per_million_rows", "casselastic"), ("python_cpu_s_per_million_rows", "Python way")]
    return _grid(out, "cpu_per_million.png", [
        lambda ax: _bars(ax, figs, "c2e", series, "C -> E", "own CPU-s per million rows", log=True),
        lambda ax: _bars(ax, figs, "e2c", series, "E -> C", "own CPU-s per million rows", log=True)],
        "Client CPU per million rows (log scale)")


def server_cpu(out, figs):
    c2e = [("os_us_per_record_ours", "OpenSearch, our bulks"), ("os_us_per_record_raw", "OpenSearch, raw curl"),
           ("cass_us_per_record_ours", "Cassandra, our scan"), ("cass_us_per_record_bare", "Cassandra, bare SELECT *")]
    e2c = [("cass_us_per_record_ours", "Cassandra, our writes"),
           ("cass_us_per_record_insert", "Cassandra, pipelined INSERTs"),
           ("os_us_per_record_ours", "OpenSearch, our reads"), ("os_us_per_record_scroll", "OpenSearch, bare scroll")]
    return _grid(out, "server_cpu.png", [
        lambda ax: _bars(ax, figs, "c2e", c2e, "C -> E", "server CPU-us per record"),
        lambda ax: _bars(ax, figs, "e2c", e2c, "E -> C", "server CPU-us per record")],
        "Server CPU per record: caused by casselastic vs the same work done bare")


def rss_over_time(out):
    series = defaultdict(list)
    with open(out / "rss.csv") as f:
        for r in csv.DictReader(f):
            if r["step"] == "casselastic" and r["repeat"] == "0":
                series[(r["scenario"], int(r["rows"]), int(r["width"]))].append((float(r["t_s"]), float(r["rss_mb"])))
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for (sc, n, w), pts in sorted(series.items()):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label="%s %s" % (sc.upper().replace("2", "->"), _label(n, w)))
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("RSS (MB)")
    ax.set_title("casselastic RSS during the initial loads (first repeat)")
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "rss_over_time.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_cdf(out):
    lat = defaultdict(list)
    if (out / "latency.csv").exists():
        with open(out / "latency.csv") as f:
            for r in csv.DictReader(f):
                lat[r["direction"]].append(float(r["latency_s"]))
    fig, ax = plt.subplots(figsize=(8, 4.8))
    names = {"c2e": "Cassandra -> OpenSearch (search sees it)", "e2c": "OpenSearch -> Cassandra (row read)"}
    for d, vals in sorted(lat.items()):
        vals.sort()
        ax.step(vals, [(i + 1) / len(vals) for i in range(len(vals))], where="post",
                label="%s, n=%d" % (names.get(d, d), len(vals)))
    ax.axhline(0.99, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("change -> visible (s)")
    ax.set_ylabel("fraction of changes")
    ax.set_title("Latency under `casselastic run`, period 1 s")
    ax.grid(alpha=0.3)
    if lat:
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = out / "latency_cdf.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw(out):
    """Draws every PNG into out from its CSV files; returns their paths."""
    out = Path(out)
    figs = summary.read(out)
    return [throughput(out, figs), cpu_per_million(out, figs), server_cpu(out, figs), rss_over_time(out),
            latency_cdf(out)]


if __name__ == "__main__":
    for p in draw(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "build" / "bench"):
        print(p)
