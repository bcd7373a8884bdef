#!/usr/bin/env python3
"""The soak's verdict (tests/chaos/run.sh --soak; README.md says why each
criterion and bound): reads the 10-second resource samples and loadgen's
per-request CSV, writes the per-interval CSV, prints the criteria table and
draws the plot with gnuplot (as ppexp does). Exit 0 when every criterion
holds, 1 when one does not, 2 on bad input.

usage: soak_report.py SAMPLES_CSV LOADGEN_CSV OUT_DIR
  SAMPLES_CSV  t_s,program,pid,rss_kib,fds (run.sh's sampler)
  LOADGEN_CSV  loadgen --csv (ts_start_us, ok, total_us, warmup, ...)
"""
import csv
import math
import os
import shutil
import subprocess
import sys

INTERVAL_S = 10  # the sampling period: p99 is computed per this interval too
WINDOWS = 6  # the run in six equal windows; the first is the warm-up
RSS_TOLERANCE = 0.05  # memory flat within 5 %
FD_SLACK = 4  # descriptors: a few connections more or less is not growth
P99_FACTOR = 2.0  # p99 of the last window at most twice the second's ...
P99_FLOOR_MS = 5.0  # ... or the second's plus 5 ms, whichever is larger


def p99(values):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, math.ceil(0.99 * len(s)) - 1)]


def window_of(t, t0, t1):
    w = int((t - t0) * WINDOWS / max(t1 - t0, 1e-9))
    return min(max(w, 0), WINDOWS - 1)


def main():
    if len(sys.argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    samples_path, load_path, out = sys.argv[1:]
    samples = []
    with open(samples_path) as f:
        for r in csv.DictReader(f):
            samples.append((float(r["t_s"]), r["program"], int(r["pid"]),
                            int(r["rss_kib"]), int(r["fds"])))
    if not samples:
        print("soak: no resource samples", file=sys.stderr)
        return 2
    t0 = min(s[0] for s in samples)
    t1 = max(s[0] for s in samples)

    # Requests, by the interval they started in (wall clock, as the samples).
    requests = {}
    failed = total = 0
    with open(load_path) as f:
        for r in csv.DictReader(f):
            if r.get("warmup") == "1":
                continue
            total += 1
            t = int(r["ts_start_us"]) / 1e6
            # loadgen starts a moment before the first sample: its first
            # requests count in the first interval
            k = max(0, int((t - t0) // INTERVAL_S))
            iv = requests.setdefault(k, {"n": 0, "failed": 0, "ms": []})
            iv["n"] += 1
            if r["ok"] != "1":
                iv["failed"] += 1
                failed += 1
            else:
                iv["ms"].append(int(r["total_us"]) / 1000.0)
    with open(os.path.join(out, "soak_intervals.csv"), "w") as f:
        f.write("t_s,requests,failed,p99_ms\n")
        for k in sorted(requests):
            iv = requests[k]
            f.write("%d,%d,%d,%.3f\n" % (k * INTERVAL_S, iv["n"], iv["failed"], p99(iv["ms"])))

    # Resources: per process (an instance restarted would be a new pid, and
    # is itself a finding: listed as its own row).
    rows = []
    by_proc = {}
    for t, prog, pid, rss, fds in samples:
        by_proc.setdefault((prog, pid), []).append((t, rss, fds))
    for (prog, pid), ss in sorted(by_proc.items()):
        w2 = [s for s in ss if window_of(s[0], t0, t1) == 1]
        wl = [s for s in ss if window_of(s[0], t0, t1) == WINDOWS - 1]
        if not w2 or not wl:
            rows.append(("memory", "%s (pid %d)" % (prog, pid), "sampled in windows 2 and %d" % WINDOWS,
                         "%d samples, not in both" % len(ss), False))
            continue
        m2 = sum(s[1] for s in w2) / len(w2)
        ml = sum(s[1] for s in wl) / len(wl)
        change = (ml - m2) / m2 if m2 else 0.0
        rows.append(("memory", "%s (pid %d)" % (prog, pid), "RSS mean last/second window within 5%",
                     "%.0f -> %.0f KiB (%+.1f%%)" % (m2, ml, change * 100), abs(change) <= RSS_TOLERANCE))
        f2 = max(s[2] for s in w2)
        fl = max(s[2] for s in wl)
        rows.append(("descriptors", "%s (pid %d)" % (prog, pid), "max last <= max second + %d" % FD_SLACK,
                     "%d -> %d" % (f2, fl), fl <= f2 + FD_SLACK))

    # p99 per window, over every request that started in it.
    win_ms = [[] for _ in range(WINDOWS)]
    for k, iv in requests.items():
        win_ms[window_of(k * INTERVAL_S + t0 + INTERVAL_S / 2, t0, t1)].extend(iv["ms"])
    p2, pl = p99(win_ms[1]), p99(win_ms[WINDOWS - 1])
    bound = max(P99_FACTOR * p2, p2 + P99_FLOOR_MS)
    rows.append(("p99", "loadgen", "last window <= max(2 x second, second + 5 ms)",
                 "%.2f -> %.2f ms (bound %.2f)" % (p2, pl, bound), pl <= bound))
    rows.append(("failures", "loadgen", "0 failed requests", "%d of %d" % (failed, total),
                 failed == 0 and total > 0))

    print("soak: %.0f s sampled every %d s, windows of %.0f s (the first is the warm-up)"
          % (t1 - t0, INTERVAL_S, (t1 - t0) / WINDOWS))
    widths = [max(len(str(r[i])) for r in rows + [("what", "program", "criterion", "measured", "")])
              for i in range(4)]
    fmt = "%%-%ds | %%-%ds | %%-%ds | %%-%ds | %%s" % tuple(widths)
    print(fmt % ("what", "program", "criterion", "measured", "result"))
    for r in rows:
        print(fmt % (r[0], r[1], r[2], r[3], "pass" if r[4] else "FAIL"))
    ok = all(r[4] for r in rows)

    plot(samples_path, out, t0)
    return 0 if ok else 1


def plot(samples_path, out, t0):
    """soak.png: RSS and descriptors per process, p99 per interval."""
    if not shutil.which("gnuplot"):
        print("soak: no gnuplot (make deps installs gnuplot-nox): no plot", file=sys.stderr)
        return
    # One data block per process for gnuplot: program pid t rss fds.
    data = os.path.join(out, "soak_plot.dat")
    procs = {}
    with open(samples_path) as f:
        for r in csv.DictReader(f):
            procs.setdefault("%s-%s" % (r["program"], r["pid"]), []).append(
                (float(r["t_s"]) - t0, int(r["rss_kib"]) / 1024.0, int(r["fds"])))
    with open(data, "w") as f:
        for name, ss in sorted(procs.items()):
            f.write('"%s"\n' % name)
            for t, rss, fds in ss:
                f.write("%.1f %.3f %d\n" % (t, rss, fds))
            f.write("\n\n")
    n = len(procs)
    script = """
set terminal pngcairo size 1000,900 font 'sans,9'
set output '{png}'
set multiplot layout 3,1 title 'proxypool soak'
set key outside right
set grid
set xlabel 'time (s)'
set ylabel 'RSS (MiB)'
plot for [i=0:{last}] '{dat}' index i using 1:2 with lines title columnheader(1)
set ylabel 'open descriptors'
plot for [i=0:{last}] '{dat}' index i using 1:3 with lines title columnheader(1)
set ylabel 'p99 per 10 s (ms)'
set datafile separator ','
plot '{iv}' using 1:4 skip 1 with linespoints title 'loadgen p99'
unset multiplot
""".format(png=os.path.join(out, "soak.png"), last=n - 1, dat=data,
           iv=os.path.join(out, "soak_intervals.csv"))
    sp = os.path.join(out, "soak.gp")
    with open(sp, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", sp], capture_output=True, text=True)
    if r.returncode != 0:
        print("soak: gnuplot failed: %s" % r.stderr.strip()[:300], file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
