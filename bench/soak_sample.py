"""Samples a soaking `allele serve` every 10 s, or reports on the samples.

  soak_sample.py PORT WRITE_KEY ADMIN_KEY SERVER_PID DURATION OUT.csv
  soak_sample.py --report OUT.csv PLOT.png

Each 10 s window: the server's RSS, and five rounds of probes (one call of
each kind per round: ingest, decide, profile, portal consent, portal
export; the experiment readout and the funnel only in the first round,
since they scan all the data, which grows all hour, and a console runs
them now and then, not thirty times a minute); the window keeps each
kind's slowest call.
The report compares the first and last 10 minutes (median of the window
maxima and their p99), gives the median of each 10-minute block with its
load, the RSS trend, and draws the plot.
"""
import base64, csv, json, os, sys, time, urllib.error, urllib.request

KINDS = ["ingest", "decide", "readout", "funnel", "profile", "portal_consent", "portal_export"]


def sample(port, wk, ak, pid, duration, out):
    base = f"http://127.0.0.1:{port}"
    basic = "Basic " + base64.b64encode((wk + ":").encode()).decode()
    admin = "Bearer " + ak

    def call(method, path, auth, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Authorization": auth, "Content-Type": "application/json"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                resp.read()
                ok = 200 <= resp.status < 300
        except urllib.error.HTTPError as err:
            err.read()
            ok = False
        except OSError:
            ok = False
        return (time.perf_counter() - started) * 1000.0, ok

    # The portal's customer is one of the shop's, not one of the 10,000 the
    # load generators write ~1,500 events an hour each for: an export is
    # all of a person's data, and no person acts that often.
    call("POST", "/v1/identify", basic, {"userId": "soak-portal", "traits": {"email": "portal@example.com"},
                                         "messageId": "soak-portal-identify"})

    def new_token():
        # Customer tokens live 15 minutes; the sampler renews every 10.
        return "Bearer " + json.loads(urllib.request.urlopen(urllib.request.Request(
            base + "/v1/profiles/user_id:soak-portal/tokens", data=b"", method="POST",
            headers={"Authorization": admin})).read())["token"]
    customer = new_token()
    renewed = time.time()
    probes = {
        "ingest": lambda n: call("POST", "/v1/track", basic, {"userId": f"user-{n % 10000}", "event": "Soak Probe", "messageId": f"soak-{n}"}),
        "decide": lambda n: call("POST", "/v1/decide", admin, {"user_id": f"user-{n % 10000}", "touchpoint": "web", "channel": "email"}),
        "readout": lambda n: call("GET", "/v1/reports/experiments/holdout-demo?metric=Product%20Viewed&control=holdout", admin),
        "funnel": lambda n: call("GET", "/v1/reports/funnel?steps=Soak%20Probe,Product%20Viewed&window_hours=168", admin),
        "profile": lambda n: call("GET", f"/v1/profiles/user_id:user-{n % 10000}", admin),
        "portal_consent": lambda n: call("GET", "/v1/me/consent", customer),
        "portal_export": lambda n: call("GET", "/v1/me/export", customer),
    }
    start = time.time()
    n = 0
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["t", "rss_mb"] + [f"{k}_ms" for k in KINDS] + ["errors", "load1", "rss_anon_mb"])
        while time.time() - start < duration:
            window_end = time.time() + 10
            if time.time() - renewed > 600:
                customer, renewed = new_token(), time.time()
            worst = {k: 0.0 for k in KINDS}
            errors = 0
            for round_ in range(5):
                for kind in KINDS:
                    if round_ > 0 and kind in ("readout", "funnel"):
                        continue
                    ms, ok = probes[kind](n)
                    n += 1
                    worst[kind] = max(worst[kind], ms)
                    errors += 0 if ok else 1
                time.sleep(max(0.0, min(2.0, window_end - time.time()) / 2))
            time.sleep(max(0.0, window_end - time.time()))
            # Readers memory-map the database: RssFile is page cache the
            # kernel may drop; RssAnon is the heap, where a leak would show.
            rss = anon = 0.0
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) / 1024.0
                    elif line.startswith("RssAnon:"):
                        anon = int(line.split()[1]) / 1024.0
            writer.writerow([round(time.time() - start, 1), round(rss, 1)] + [round(worst[k], 2) for k in KINDS] + [errors, round(os.getloadavg()[0], 2), round(anon, 1)])
            f.flush()


def report(path, plot):
    rows = list(csv.DictReader(open(path)))
    t = [float(r["t"]) for r in rows]
    rss = [float(r["rss_mb"]) for r in rows]

    def pct(values, q):
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    first = [r for r in rows if float(r["t"]) <= 600]
    last = [r for r in rows if float(r["t"]) >= t[-1] - 600]
    summary = {"windows": len(rows), "seconds": t[-1], "errors": sum(int(r["errors"]) for r in rows),
               "rss_mb": {"first": rss[0], "max": max(rss), "last": rss[-1],
                          "first_10min_max": max(float(r["rss_mb"]) for r in first),
                          "last_10min_max": max(float(r["rss_mb"]) for r in last)}}
    # The machine's 1-minute load average, so contention is on the record.
    anon = [float(r["rss_anon_mb"]) for r in rows if r.get("rss_anon_mb")]
    if anon:
        summary["rss_anon_mb"] = {"first": anon[0], "max": max(anon), "last": anon[-1],
                                  "first_10min_max": max(float(r["rss_anon_mb"]) for r in first),
                                  "last_10min_max": max(float(r["rss_anon_mb"]) for r in last)}
    loads = [float(r["load1"]) for r in rows if r.get("load1")]
    if loads:
        summary["load1"] = {"min": min(loads), "median": pct(loads, 0.5), "max": max(loads)}
    for kind in KINDS:
        a = [float(r[f"{kind}_ms"]) for r in first]
        b = [float(r[f"{kind}_ms"]) for r in last]
        summary[kind] = {"first_10min": {"median": round(pct(a, 0.5), 1), "p99": round(pct(a, 0.99), 1)},
                         "last_10min": {"median": round(pct(b, 0.5), 1), "p99": round(pct(b, 0.99), 1)}}
    # Every 10-minute block, so a stretch shared with other work (its load
    # is in the last column) can be told from drift.
    blocks = {}
    for r in rows:
        blocks.setdefault(int(float(r["t"]) // 600), []).append(r)
    summary["blocks"] = {
        f"{b * 10}-{b * 10 + 10}min": {
            **{kind: round(pct([float(r[f"{kind}_ms"]) for r in block], 0.5), 1) for kind in KINDS},
            "load1": round(pct([float(r["load1"]) for r in block if r.get("load1")] or [float("nan")], 0.5), 2),
        }
        for b, block in sorted(blocks.items())
    }
    print(json.dumps(summary, indent=1))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    top.plot([x / 60 for x in t], rss, color="black", label="RSS")
    if anon:
        top.plot([x / 60 for x in t], anon, color="tab:red", label="anonymous (heap)")
        top.legend(loc="upper left", fontsize=8)
    top.set_ylabel("server RSS (MB)")
    top.set_ylim(bottom=0)
    for kind in ["ingest", "decide", "profile", "readout", "funnel", "portal_export"]:
        bottom.plot([x / 60 for x in t], [float(r[f"{kind}_ms"]) for r in rows], label=kind, linewidth=0.8)
    bottom.set_yscale("log")
    bottom.set_ylabel("slowest probe per 10 s window (ms)")
    bottom.set_xlabel("minutes")
    bottom.legend(loc="upper left", fontsize=8)
    fig.suptitle("allele serve soak (bench/soak.sh)")
    fig.tight_layout()
    fig.savefig(plot, dpi=80)


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        report(sys.argv[2], sys.argv[3])
    else:
        port, wk, ak, pid, duration, out = sys.argv[1:7]
        sample(port, wk, ak, int(pid), float(duration), out)
