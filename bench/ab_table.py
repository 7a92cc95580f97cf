#!/usr/bin/env python3
"""The side-by-side table of bench/status.sh's MG_BIN_BEFORE rounds.

Usage: ab_table.py BEFORE_LABEL AFTER_LABEL ROUNDS ROW...

Each ROW is one of status.sh's "name|what|conns|threads|rps|p50|p99|requests|
non200|sock_err|cpu|verdict" lines; the rows named static-N, before-N and
after-N (N = 1..ROUNDS) are the rounds. Prints one line per side (the static
file, the build before, this build) with the req/s of each round, medians of
req/s, p50 and p99, the app's CPU (cores, and microseconds per request) and
the ratio to the static file, then this build against the one before, round
by round (paired: each round's two builds ran one after the other under the
same load)."""
import statistics
import sys


def ms(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} us"


def main(argv):
    labels = {"static": "nginx static file", "before": argv[1], "after": argv[2]}
    rounds = int(argv[3])
    runs = {}
    for r in argv[4:]:
        name, _what, _c, _thr, rps, p50, p99, _n, bad, serr, cpu, verdict = r.split("|")
        app_cpu = float(cpu.split()[0])
        runs[name] = dict(rps=float(rps), p50=int(p50), p99=int(p99), bad=int(bad),
                          serr=int(serr), app_cpu=app_cpu, verdict=verdict,
                          us_req=app_cpu * 1e6 / max(float(rps), 1))
    sides = {s: [runs.get(f"{s}-{i}") for i in range(1, rounds + 1)] for s in labels}
    if not all(all(v) for v in sides.values()):
        print("side by side: some rounds are missing; no table")
        return 1
    med = {s: {k: statistics.median(x[k] for x in v) for k in ("rps", "p50", "p99", "app_cpu", "us_req")}
           for s, v in sides.items()}
    hdr = ["side", "build", "req/s per round", "median req/s", "p50", "p99", "CPU app",
           "app us/req", "vs static", "verdicts"]
    rows = []
    for s, v in sides.items():
        rows.append([s, labels[s], "  ".join(f"{x['rps']:,.0f}" for x in v),
                     f"{med[s]['rps']:,.0f}", ms(med[s]["p50"]), ms(med[s]["p99"]),
                     "-" if s == "static" else f"{med[s]['app_cpu']:.2f}",
                     "-" if s == "static" else f"{med[s]['us_req']:.0f}",
                     f"{med[s]['rps'] / med['static']['rps']:.3f}",
                     ",".join(sorted({x["verdict"] for x in v}))])
    w = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    right = {2, 3, 4, 5, 6, 7, 8}

    def line(cells):
        return "  ".join(str(c).rjust(w[i]) if i in right else str(c).ljust(w[i])
                         for i, c in enumerate(cells)).rstrip()
    print(f"Side by side: {rounds} round{'s' if rounds > 1 else ''} on one stack, each the static file and both builds at")
    print("the same load (which build goes first alternates); p50, p99 and CPU are medians;")
    print("app us/req: the app's CPU time per request.")
    print(line(hdr))
    print(line(["-" * x for x in w]))
    for r in rows:
        print(line(r))
    paired = [(a["rps"] / b["rps"] - 1) * 100 for a, b in zip(sides["after"], sides["before"])]
    print(f"this build vs the build before, round by round: "
          f"{', '.join(f'{p:+.1f}%' for p in paired)} (median {statistics.median(paired):+.1f}%)")
    cost = [(a["us_req"] / b["us_req"] - 1) * 100 for a, b in zip(sides["after"], sides["before"])]
    print(f"app CPU per request, this build vs the build before: "
          f"{', '.join(f'{p:+.1f}%' for p in cost)} (median {statistics.median(cost):+.1f}%)")
    if rounds < 2:
        print("one round: nothing to tell noise by (AB_ROUNDS=3 or more)")
        return 0
    spread = [(max(x["rps"] for x in v) / min(x["rps"] for x in v) - 1) * 100
              for s, v in sides.items() if s != "static"]
    print(f"spread of one build's req/s between rounds: up to {max(spread):.1f}% "
          "(a difference smaller than that is noise)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
