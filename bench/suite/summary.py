"""The derived figures of a benchmark suite run (bench/suite/run.py): from results.csv and
latency.csv to summary.csv (one line per figure and data set: median, min, max over the
repeats) and a table on stdout. docs/performance.md defines each figure.

Machine bound (C->E): the servers' CPU for the same work done bare (OpenSearch indexing the
same documents raw, final refresh included; Cassandra answering a bare paged SELECT *) plus
casselastic's own CPU, over all cores; E->C: OpenSearch's CPU for a bare scroll of the
documents plus Cassandra's for pipelined prepared INSERTs of the same rows, plus ours.
ratio = bound seconds / casselastic's wall seconds (1.0 = as fast as the machine allows).
"""
import csv
import statistics
from collections import defaultdict
from pathlib import Path


def _f(row, key):
    v = row.get(key, "")
    return float(v) if v not in ("", None) else None


def _note(row, key):
    for part in (row.get("note") or "").split():
        k, _, v = part.partition("=")
        if k == key:
            return float(v)
    return None


def _per_m(cpu, n):
    return cpu / n * 1e6


# Each figure: (scenario, name, unit, function of (steps by name, rows, cores)). Steps are
# results.csv rows of one repeat; a figure whose steps are missing is skipped.
FIGURES = [
    ("c2e", "casselastic_rows_per_s", "rows/s", lambda s, n, c: n / _f(s["casselastic"], "wall_s")),
    ("c2e", "bound_rows_per_s", "rows/s", lambda s, n, c: n / _c2e_bound(s, c)),
    ("c2e", "raw_curl_rows_per_s", "rows/s", lambda s, n, c: n / _f(s["raw_curl"], "wall_s")),
    ("c2e", "raw_curl_bulk_only_rows_per_s", "rows/s", lambda s, n, c: n / _note(s["raw_curl"], "bulk_s")),
    ("c2e", "python_rows_per_s", "rows/s", lambda s, n, c: n / _f(s["python"], "wall_s")),
    ("c2e", "bound_s", "s", lambda s, n, c: _c2e_bound(s, c)),
    ("c2e", "wall_s", "s", lambda s, n, c: _f(s["casselastic"], "wall_s")),
    ("c2e", "ratio_to_bound", "x", lambda s, n, c: _c2e_bound(s, c) / _f(s["casselastic"], "wall_s")),
    ("c2e", "os_cpu_ours_over_raw", "x", lambda s, n, c: _f(s["casselastic"], "os_cpu_s") / _f(s["raw_curl"], "os_cpu_s")),
    ("c2e", "cass_cpu_ours_over_bare_select", "x",
     lambda s, n, c: _f(s["casselastic"], "cass_cpu_s") / _f(s["bare_select"], "cass_cpu_s")),
    ("c2e", "casselastic_cpu_s_per_million_rows", "CPU-s", lambda s, n, c: _per_m(_f(s["casselastic"], "client_cpu_s"), n)),
    ("c2e", "python_cpu_s_per_million_rows", "CPU-s", lambda s, n, c: _per_m(_f(s["python"], "client_cpu_s"), n)),
    ("c2e", "os_us_per_record_ours", "CPU-us", lambda s, n, c: _per_m(_f(s["casselastic"], "os_cpu_s"), n)),
    ("c2e", "os_us_per_record_raw", "CPU-us", lambda s, n, c: _per_m(_f(s["raw_curl"], "os_cpu_s"), n)),
    ("c2e", "cass_us_per_record_ours", "CPU-us", lambda s, n, c: _per_m(_f(s["casselastic"], "cass_cpu_s"), n)),
    ("c2e", "cass_us_per_record_bare", "CPU-us", lambda s, n, c: _per_m(_f(s["bare_select"], "cass_cpu_s"), n)),
    ("c2e", "peak_rss_mb", "MB", lambda s, n, c: _f(s["casselastic"], "peak_rss_mb")),
    ("e2c", "casselastic_rows_per_s", "rows/s", lambda s, n, c: n / _f(s["casselastic"], "wall_s")),
    ("e2c", "bound_rows_per_s", "rows/s", lambda s, n, c: n / _e2c_bound(s, c)),
    ("e2c", "cql_insert_rows_per_s", "rows/s", lambda s, n, c: n / _f(s["cql_insert"], "wall_s")),
    ("e2c", "python_rows_per_s", "rows/s", lambda s, n, c: n / _f(s["python"], "wall_s")),
    ("e2c", "bound_s", "s", lambda s, n, c: _e2c_bound(s, c)),
    ("e2c", "wall_s", "s", lambda s, n, c: _f(s["casselastic"], "wall_s")),
    ("e2c", "ratio_to_bound", "x", lambda s, n, c: _e2c_bound(s, c) / _f(s["casselastic"], "wall_s")),
    ("e2c", "cass_cpu_ours_over_insert", "x",
     lambda s, n, c: _f(s["casselastic"], "cass_cpu_s") / _f(s["cql_insert"], "cass_cpu_s")),
    ("e2c", "os_cpu_ours_over_scroll", "x",
     lambda s, n, c: _f(s["casselastic"], "os_cpu_s") / _f(s["bare_scroll"], "os_cpu_s")),
    ("e2c", "casselastic_cpu_s_per_million_rows", "CPU-s", lambda s, n, c: _per_m(_f(s["casselastic"], "client_cpu_s"), n)),
    ("e2c", "python_cpu_s_per_million_rows", "CPU-s", lambda s, n, c: _per_m(_f(s["python"], "client_cpu_s"), n)),
    ("e2c", "cass_us_per_record_ours", "CPU-us", lambda s, n, c: _per_m(_f(s["casselastic"], "cass_cpu_s"), n)),
    ("e2c", "cass_us_per_record_insert", "CPU-us", lambda s, n, c: _per_m(_f(s["cql_insert"], "cass_cpu_s"), n)),
    ("e2c", "os_us_per_record_ours", "CPU-us", lambda s, n, c: _per_m(_f(s["casselastic"], "os_cpu_s"), n)),
    ("e2c", "os_us_per_record_scroll", "CPU-us", lambda s, n, c: _per_m(_f(s["bare_scroll"], "os_cpu_s"), n)),
    ("e2c", "peak_rss_mb", "MB", lambda s, n, c: _f(s["casselastic"], "peak_rss_mb")),
    ("incr", "wall_s", "s", lambda s, n, c: _f(s["incremental"], "wall_s")),
    ("incr", "casselastic_cpu_s", "CPU-s", lambda s, n, c: _f(s["incremental"], "client_cpu_s")),
    ("incr", "cass_cpu_s", "CPU-s", lambda s, n, c: _f(s["incremental"], "cass_cpu_s")),
    ("incr", "peak_rss_mb", "MB", lambda s, n, c: _f(s["incremental"], "peak_rss_mb")),
    ("latency", "casselastic_cpu_s", "CPU-s", lambda s, n, c: _f(s["casselastic_run"], "client_cpu_s")),
    ("latency", "peak_rss_mb", "MB", lambda s, n, c: _f(s["casselastic_run"], "peak_rss_mb")),
]


def _c2e_bound(s, cores):
    return (_f(s["raw_curl"], "os_cpu_s") + _f(s["bare_select"], "cass_cpu_s")
            + _f(s["casselastic"], "client_cpu_s")) / cores


def _e2c_bound(s, cores):
    return (_f(s["bare_scroll"], "os_cpu_s") + _f(s["cql_insert"], "cass_cpu_s")
            + _f(s["casselastic"], "client_cpu_s")) / cores


def _rounds(results):
    """{(scenario, rows, width): {repeat: {step: row}}}; incr_<mode> scenarios keep their name."""
    out = defaultdict(lambda: defaultdict(dict))
    for r in results:
        out[(r["scenario"], int(r["rows"]), int(r["width"]))][int(r["repeat"])][r["step"]] = r
    return out


def _figures_of(key, rounds):
    scenario, n, width = key
    kind = "incr" if scenario.startswith("incr_") else scenario
    for sc, name, unit, fn in FIGURES:
        if sc != kind:
            continue
        vals = []
        for steps in rounds.values():
            try:
                v = fn(steps, n, int(next(iter(steps.values()))["ncores"]))
            except (KeyError, TypeError, ZeroDivisionError):
                continue
            vals.append(v)
        if vals:
            yield {"scenario": scenario, "rows": n, "width": width, "figure": name, "unit": unit,
                   "median": statistics.median(vals), "min": min(vals), "max": max(vals), "repeats": len(vals)}


def _latency_figures(path):
    lat = defaultdict(list)
    if path.exists():
        with open(path) as f:
            for r in csv.DictReader(f):
                lat[r["direction"]].append(float(r["latency_s"]))
    for direction, vals in sorted(lat.items()):
        vals.sort()
        for name, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0)):
            v = vals[min(len(vals) - 1, int(q * len(vals)))] if q < 1 else vals[-1]
            yield {"scenario": "latency_" + direction, "rows": 0, "width": 0, "figure": name + "_s", "unit": "s",
                   "median": v, "min": v, "max": v, "repeats": len(vals)}


FIELDS = ["scenario", "rows", "width", "figure", "unit", "median", "min", "max", "repeats"]


def write(out):
    """Reads out/results.csv and out/latency.csv, writes out/summary.csv; returns its rows."""
    with open(out / "results.csv") as f:
        rounds = _rounds(csv.DictReader(f))
    figures = []
    for key in rounds:
        figures.extend(_figures_of(key, rounds[key]))
    figures.extend(_latency_figures(out / "latency.csv"))
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        for r in figures:
            w.writerow({k: ("%.4g" % v if isinstance(v, float) else v) for k, v in r.items()})
    return figures


def read(out):
    """summary.csv's rows, numbers as floats."""
    with open(Path(out) / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("rows", "width", "repeats"):
            r[k] = int(r[k])
        for k in ("median", "min", "max"):
            r[k] = float(r[k])
    return rows


def print_table(figures):
    print("\n%-14s %8s %6s  %-36s %12s %12s %12s" % ("scenario", "rows", "width", "figure", "median", "min", "max"))
    for r in figures:
        print("%-14s %8d %6d  %-36s %12.4g %12.4g %12.4g %s" % (r["scenario"], r["rows"], r["width"], r["figure"],
                                                             r["median"], r["min"], r["max"], r["unit"]))
