"""Measuring one step of the benchmark suite (bench/suite/run.py): wall time, the measured
command's own CPU and peak RSS, its RSS over time, and the CPU each server of the test bed
spent meanwhile.

Server CPU is utime+stime of the JVMs listening on the bed's ports (found with `ss`), read
from /proc/<pid>/stat before and after the step; the Cassandra figure sums every node of the
bed's cluster (127.0.0.1 and, when it runs, 127.0.0.2 — not the separate auth node). The
command runs under /usr/bin/time (a small parent: the ru_maxrss of a child forked from this
Python process would count the pages it had before exec); its RSS over time comes from
sampling /proc/<child>/status VmRSS every 100 ms. Before each step the servers are let go
quiet (wait_idle: under 0.15 cores together for two seconds in a row, at most 90 s), so the
compactions and merges a step leaves behind are not counted in the next one.
"""
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
NCORES = os.cpu_count() or 1
# server name -> listening addresses of its JVMs
SERVERS = {"cass": ("127.0.0.1:9042", "127.0.0.2:9042"), "os": ("127.0.0.1:9200",),
           "es": ("127.0.0.1:9201",)}


def server_pids():
    """{server: [pid, ...]} of the JVMs listening on the bed's ports (missing servers: [])."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    pids = {k: [] for k in SERVERS}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 6 or "pid=" not in line:
            continue
        local = parts[3].replace("[::ffff:", "").replace("]", "").replace("*:", "127.0.0.1:")
        pid = int(line.split("pid=")[1].split(",")[0])
        for k, addrs in SERVERS.items():
            if local in addrs and pid not in pids[k]:
                pids[k].append(pid)
    return pids


def proc_cpu(pid):
    """utime+stime of a process in seconds (0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def servers_cpu(pids):
    """{server: CPU seconds summed over its JVMs}."""
    return {k: sum(proc_cpu(p) for p in ps) for k, ps in pids.items()}


def _rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _child_of(pid):
    try:
        kids = Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def wait_idle(pids, cores=0.15, window=1.0, timeout=90.0):
    """Waits until the servers together use under `cores` cores for two windows in a row
    (the compactions, merges and collections a previous step left running would otherwise be
    counted in the next one), at most timeout seconds. Returns the seconds waited."""
    t0 = time.monotonic()
    calm = 0
    while calm < 2 and time.monotonic() - t0 < timeout:
        a = sum(servers_cpu(pids).values())
        time.sleep(window)
        calm = calm + 1 if (sum(servers_cpu(pids).values()) - a) / window < cores else 0
    return time.monotonic() - t0


class Step:
    """One measured step. Use run() for a command, or `with step:` around work done in
    this process or by servers only (then client_cpu_s, peak_rss_mb stay None).
    After it: wall_s, client_cpu_s, peak_rss_mb, rss (list of (t_s, MB)), cpu ({server: s}),
    output (the command's stdout+stderr)."""

    def __init__(self, pids, settle=True):
        self.pids = pids
        self.settle = settle
        self.wall_s = self.client_cpu_s = self.peak_rss_mb = None
        self.rss, self.cpu, self.output = [], {}, ""

    def __enter__(self):
        if self.settle:
            wait_idle(self.pids)
        self._c0 = servers_cpu(self.pids)
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.wall_s = time.monotonic() - self._t0
        c1 = servers_cpu(self.pids)
        self.cpu = {k: c1[k] - self._c0[k] for k in c1}
        return False

    def _sample(self, parent, stop):
        child = None
        while not stop.is_set():
            child = child or _child_of(parent)
            mb = _rss_mb(child) if child else None
            if mb is not None:
                self.rss.append((time.monotonic() - self._t0, mb))
            stop.wait(0.1)

    def run(self, argv, stop_after=None, check=True):
        """Runs argv under /usr/bin/time; with stop_after (a callable taking the child pid,
        returning when the command should end) the command then gets SIGINT. Raises
        RuntimeError when it fails and check is set."""
        fd, tf = tempfile.mkstemp(prefix="bench_time_")
        os.close(fd)
        with self:
            p = subprocess.Popen(["/usr/bin/time", "-o", tf, "-f", "%U %S %M"] + [str(a) for a in argv],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            stop = threading.Event()
            sampler = threading.Thread(target=self._sample, args=(p.pid, stop), daemon=True)
            sampler.start()
            reader = threading.Thread(target=self._read, args=(p,), daemon=True)
            reader.start()
            if stop_after:
                child = None
                while child is None and p.poll() is None:
                    child = _child_of(p.pid)
                    time.sleep(0.02)
                stop_after(child)
                if child:
                    os.kill(child, signal.SIGINT)
            rc = p.wait()
            reader.join()
            stop.set()
            sampler.join()
        words = Path(tf).read_text().split()
        os.unlink(tf)
        if check and rc != 0:
            raise RuntimeError("command failed (%d): %s\n%s" % (rc, " ".join(map(str, argv))[:300],
                                                              self.output[-3000:]))
        if len(words) >= 3:
            self.client_cpu_s = float(words[-3]) + float(words[-2])
            self.peak_rss_mb = int(words[-1]) / 1024.0
        return self

    def _read(self, p):
        self.output = p.stdout.read().decode(errors="replace")
