#!/usr/bin/env python3
"""HA at scale: zen-watcher as two processes on the real API server (kube-apiext), with Trivy
VulnerabilityReports already holding REPORTS x VULNS findings.

Measured, from the user's events (process start, kill -9, SIGTERM, a report created), with the JVM
sized as the chart sizes it (-XX:MaxRAM=512m -XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError):

  first reconcile   replica A started on the reports: process start -> every finding stored
  kill -9 gap       A (leader) killed; a report created right after: kill -> its Observation stored
  catch-up          B's zenwatcher_catchup_duration (from B starting its leader work to every
                    report reconciled) and B's API requests by verb during it
  SIGTERM gap       B (leader) gets SIGTERM; a report created right after: SIGTERM -> stored, and
                    SIGTERM -> the next replica's "leader work started" (handoff), RUNS times
  RSS               VmRSS and VmHWM of each replica (kB, /proc/<pid>/status); with --samples FILE also
                    a time series of each replica's RSS, threads and (--nmt) NMT categories, and the
                    sampled peak of each in the result ("sampled_peaks")
  duplicates        Observations in the namespace minus the findings: must be 0

Everything talks to 127.0.0.1 only and stops by itself (every wait is bounded).
Usage: bench/ha-scale.py --reports 100 --vulns 100 [--runs 10] [--jar watcher/target/zen-watcher.jar]
The jar must be built first (./mvnw -B -q -DskipTests package). Prints one JSON object at the end.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS = "bench"
LEASE, RENEW, RETRY = 4, 3, 1


def chart_jvm():
    """The image's JVM flags (Dockerfile JAVA_TOOL_OPTIONS), in a 512 MiB container as the chart sets it."""
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    flags = re.search(r'JAVA_TOOL_OPTIONS="([^"]*)"', text).group(1).split()
    return ["-XX:MaxRAM=512m"] + [f for f in flags if not f.startswith("-Djava.io.tmpdir")]


def image_env():
    """The image's other memory setting (Dockerfile ENV MALLOC_ARENA_MAX), as the chart sets it too."""
    m = re.search(r"MALLOC_ARENA_MAX=(\d+)", open(os.path.join(ROOT, "Dockerfile")).read())
    return {"MALLOC_ARENA_MAX": m.group(1)} if m else {}


JVM = chart_jvm()
VULN_PATH = "/apis/aquasecurity.github.io/v1alpha1/namespaces/%s/vulnerabilityreports" % NS
OBS_PATH = "/apis/zen.kube-zen.io/v1alpha1/namespaces/%s/observations" % NS


def log(*a):
    print("[%s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


class Kube:
    """A tiny client of the API server from a kube-apiext kubeconfig (client certificate)."""

    def __init__(self, kubedir):
        cfg = open(os.path.join(kubedir, "kubeconfig")).read()
        url = urllib.parse.urlparse(re.search(r"server:\s*(\S+)", cfg).group(1))
        self.host, self.port = url.hostname, url.port
        self.ctx = ssl.create_default_context(cafile=os.path.join(kubedir, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(kubedir, "admin.crt"), os.path.join(kubedir, "admin.key"))
        self.local = threading.local()

    def req(self, method, path, body=None, ctype="application/json"):
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                                      timeout=60)
            try:
                data = None if body is None else json.dumps(body).encode()
                conn.request(method, path, body=data, headers={"Content-Type": ctype} if data else {})
                r = conn.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
            except (OSError, http.client.HTTPException):
                self.local.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def count(self, path, selector=None, cached=False):
        """Objects in a list; cached: from the API server's watch cache (resourceVersion=0), cheap to poll."""
        if cached:
            q = {"resourceVersion": "0"}
            if selector:
                q["labelSelector"] = selector
            status, body = self.req("GET", path + "?" + urllib.parse.urlencode(q))
            assert status == 200, (status, body)
            return len(body["items"])
        n, cont = 0, None
        while True:
            q = {"limit": "500"}
            if cont:
                q["continue"] = cont
            if selector:
                q["labelSelector"] = selector
            status, body = self.req("GET", path + "?" + urllib.parse.urlencode(q))
            assert status == 200, (status, body)
            n += len(body["items"])
            cont = body["metadata"].get("continue")
            if not cont:
                return n


def report(r, vulns, tag="app"):
    sev = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    items = []
    for v in range(vulns):
        items.append({"vulnerabilityID": "CVE-2024-%d" % (100000 + v), "resource": "libpkg%d" % v,
                      "installedVersion": "1.%d.0" % v, "fixedVersion": "1.%d.1" % v,
                      "severity": sev[(v + r) % 4], "score": 7.5, "title": "example vulnerability %d in libpkg" % v,
                      "primaryLink": "https://avd.aquasec.com/nvd/cve-2024-%d" % (100000 + v),
                      "publishedDate": "2024-01-09T10:00:00Z", "lastModifiedDate": "2024-02-01T10:00:00Z"})
    name = "replicaset-%s%d-5d8f7-main" % (tag, r)
    return {"apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
            "metadata": {"name": name, "namespace": NS, "labels": {
                "trivy-operator.resource.kind": "ReplicaSet", "trivy-operator.resource.name": "%s%d-5d8f7" % (tag, r),
                "trivy-operator.resource.namespace": NS, "trivy-operator.container.name": "main"}},
            "report": {"updateTimestamp": "2024-05-01T10:00:00Z",
                       "artifact": {"repository": "library/%s%d" % (tag, r), "tag": "1.0"},
                       "registry": {"server": "index.docker.io"}, "os": {"family": "debian", "name": "12.5"},
                       "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.50.0"},
                       "summary": {"criticalCount": 0, "highCount": 0, "mediumCount": 0, "lowCount": 0,
                                   "unknownCount": 0},
                       "vulnerabilities": items}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def native_memory(pid):
    """jcmd VM.native_memory summary of a JVM started with -XX:NativeMemoryTracking=summary: committed KB by category."""
    try:
        out = subprocess.run(["jcmd", str(pid), "VM.native_memory", "summary"], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    result = {}
    m = re.search(r"Total: reserved=(\d+)KB, committed=(\d+)KB", out)
    if m:
        result["Total"] = int(m.group(2))
    for cat, committed in re.findall(r"-\s+([A-Za-z ]+?) \(reserved=\d+KB, committed=(\d+)KB", out):
        result[cat.strip()] = int(committed)
    m = re.search(r"Thread \(reserved=\d+KB, committed=\d+KB\)\s*\n\s*\(thread #(\d+)\)", out)
    if m:
        result["threads"] = int(m.group(1))
    return result


class Replica:
    extra_jvm = []
    extra_env = {}

    def __init__(self, name, jar, kubedir, workdir):
        self.name, self.port = name, free_port()
        env = dict(os.environ)
        env.update({
            "OBSERVATION_STORE": "kubernetes", "KUBECONFIG": os.path.join(kubedir, "kubeconfig"),
            "POD_NAMESPACE": NS, "WATCH_NAMESPACE": NS, "INGESTER_NAMESPACE": NS, "SOURCES": "trivy",
            "POD_NAME": name, "LOG_FORMAT": "json", "LOG_LEVEL": "info",
            "LEADER_ELECTION_MODE": "builtin", "LEADER_ELECTION_LEASE_DURATION": "%ds" % LEASE,
            "LEADER_ELECTION_RENEW_DEADLINE": "%ds" % RENEW, "LEADER_ELECTION_RETRY_PERIOD": "%ds" % RETRY,
            "WATCHER_PORT": str(self.port), "WATCHER_BIND_ADDRESS": "127.0.0.1", "SHUTDOWN_TIMEOUT": "20s"})
        env.update(image_env())
        env.update(Replica.extra_env)
        self.logpath = os.path.join(workdir, name + ".log")
        self.logfile = open(self.logpath, "w")
        self.started = time.time()
        self.proc = subprocess.Popen(["java"] + JVM + Replica.extra_jvm + ["-jar", jar], env=env, stdout=self.logfile,
                                     stderr=subprocess.STDOUT, cwd=workdir)

    def metrics(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            c.request("GET", "/metrics")
            text = c.getresponse().read().decode()
            c.close()
            return text
        except OSError:
            return ""

    def sample(self, name, match=""):
        total, found = 0.0, False
        for line in self.metrics().splitlines():
            if line.startswith(name) and match in line and not line.startswith("#"):
                head = line.rsplit(" ", 1)
                if head[0].split("{")[0] == name:
                    total += float(head[1])
                    found = True
        return total if found else None

    def requests_by_verb(self):
        out = {}
        for line in self.metrics().splitlines():
            if line.startswith("zen_watcher_kube_requests_total{"):
                labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
                key = "%s %s" % (labels["verb"], labels["resource"])
                out[key] = out.get(key, 0) + float(line.rsplit(" ", 1)[1])
        return out

    def rss(self):
        try:
            text = open("/proc/%d/status" % self.proc.pid).read()
            return {k: int(re.search(k + r":\s+(\d+)", text).group(1)) for k in ("VmRSS", "VmHWM")}
        except (OSError, AttributeError):
            return None

    def log_time(self, message_prefix):
        """The epoch time of the first log line whose message starts with message_prefix."""
        self.logfile.flush()
        for line in open(self.logpath):
            if '"message":"' + message_prefix in line:
                ts = json.loads(line)["@timestamp"]
                return parse_ts(ts)
        return None

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Sampler(threading.Thread):
    """Every `every` seconds: VmRSS, VmHWM and thread count of each live replica, and its NMT categories
    when nmt; written as JSON lines to path, so that a peak can be matched to what the JVM held then."""

    def __init__(self, replicas, path, every, nmt):
        super().__init__(daemon=True)
        self.replicas, self.path, self.every, self.nmt = replicas, path, every, nmt
        self.halt = threading.Event()
        self.peaks = {}

    def run(self):
        with open(self.path, "w") as out:
            while not self.halt.wait(self.every):
                for r in list(self.replicas):
                    if r.proc.poll() is not None:
                        continue
                    try:
                        text = open("/proc/%d/status" % r.proc.pid).read()
                    except OSError:
                        continue
                    row = {"t": round(time.time() - self.replicas[0].started, 1), "replica": r.name}
                    for k in ("VmRSS", "VmHWM", "Threads"):
                        m = re.search(k + r":\s+(\d+)", text)
                        row[k] = int(m.group(1)) if m else None
                    if self.nmt:
                        row["nmt"] = native_memory(r.proc.pid)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    peak = self.peaks.get(r.name)
                    if row["VmRSS"] and (peak is None or row["VmRSS"] > peak["VmRSS"]):
                        self.peaks[r.name] = row


def parse_ts(ts):
    m = re.match(r"(\d+-\d+-\d+T\d+:\d+:\d+)(\.\d+)?Z", ts)
    base = time.mktime(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) - time.timezone
    return base + (float(m.group(2)) if m.group(2) else 0.0)


def wait(what, cond, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError("timed out after %d s waiting for %s" % (timeout, what))


def stored_after(kube, uid, t0, timeout):
    """Seconds from t0 until an Observation of the report with this uid exists."""
    wait("the Observation of report " + uid,
         lambda: kube.count(OBS_PATH, "zen.kube-zen.io/origin-uid=" + uid, cached=True) > 0, timeout, step=0.05)
    return time.time() - t0


def create_report(kube, body):
    status, created = kube.req("POST", VULN_PATH, body)
    assert status == 201, (status, created)
    return created["metadata"]["uid"]


def diff(after, before):
    return {k: int(v - before.get(k, 0)) for k, v in sorted(after.items()) if v - before.get(k, 0) > 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=100)
    ap.add_argument("--vulns", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5, help="SIGTERM handoffs")
    ap.add_argument("--jar", default=os.path.join(ROOT, "watcher/target/zen-watcher.jar"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    ap.add_argument("--warm-standby", choices=["true", "false"], default="true",
                    help="WARM_STANDBY of every replica (false: a new leader lists and normalizes every report)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="another setting, repeatable")
    ap.add_argument("--jvm", default="", help="more JVM flags, after the image's")
    ap.add_argument("--nmt", action="store_true",
                    help="-XX:NativeMemoryTracking=summary; jcmd VM.native_memory of A and B with the RSS")
    ap.add_argument("--samples", metavar="FILE",
                    help="a time series (JSON lines) of each replica's RSS, threads and, with --nmt, NMT categories")
    ap.add_argument("--sample-every", type=float, default=2.0, help="seconds between samples (--samples)")
    ap.add_argument("--skip-handoffs", action="store_true", help="stop after the kill -9 and catch-up")
    args = ap.parse_args()
    Replica.extra_env = dict(e.split("=", 1) for e in args.env)
    Replica.extra_env["WARM_STANDBY"] = args.warm_standby
    Replica.extra_jvm = args.jvm.split() + (["-XX:NativeMemoryTracking=summary"] if args.nmt else [])
    total = args.reports * args.vulns
    work = tempfile.mkdtemp(prefix="zw-ha-scale-")
    kubedir = os.path.join(work, "kube")
    os.makedirs(kubedir)
    crds = sorted(os.path.join(ROOT, "charts/zen-watcher/crds", f) for f in os.listdir(
        os.path.join(ROOT, "charts/zen-watcher/crds")))
    third = os.path.join(ROOT, "..", "shared", "kube-apiext")
    subprocess.run([os.path.join(third, "up.sh"), kubedir, os.path.join(third, "crds/third-party/trivy-vulnerabilityreports.yaml")]
                   + crds, check=True, stdout=subprocess.DEVNULL)
    replicas = []
    sampler = None
    result = {"reports": args.reports, "vulns": args.vulns, "findings": total, "lease": LEASE, "renew": RENEW,
              "retry": RETRY, "jvm": " ".join(JVM + Replica.extra_jvm), "env": Replica.extra_env,
              "cores": os.cpu_count(), "load_start": os.getloadavg()}
    try:
        kube = Kube(kubedir)
        log("creating %d reports x %d vulnerabilities" % (args.reports, args.vulns))
        t = time.time()
        for r in range(args.reports):
            create_report(kube, report(r, args.vulns))
        log("created in %.1f s" % (time.time() - t))

        a = Replica("replica-a", args.jar, kubedir, work)
        replicas.append(a)
        if args.samples:
            sampler = Sampler(replicas, args.samples, args.sample_every, args.nmt)
            sampler.start()
        wait("A's first reconcile", lambda: (a.sample("zen_watcher_observations_live") or -1) >= total, 3600,
             step=0.2)
        result["first_reconcile_s"] = round(time.time() - a.started, 2)
        result["load_first_reconcile"] = os.getloadavg()
        result["first_reconcile_leadership_lost"] = open(a.logpath).read().count("leadership lost")
        log("first reconcile: %.1f s" % result["first_reconcile_s"])

        b = Replica("replica-b", args.jar, kubedir, work)
        replicas.append(b)
        wait("B's Observation cache", lambda: (b.sample("zen_watcher_observations_live") or -1) >= total, 600)
        time.sleep(2)  # settled
        result["rss_kb"] = {"A_leader": a.rss(), "B_follower": b.rss()}
        if args.nmt:
            result["nmt_kb"] = {"A_leader": native_memory(a.proc.pid), "B_follower": native_memory(b.proc.pid)}
        before = b.requests_by_verb()

        # kill -9 of the leader, then a new report right away
        t0 = time.time()
        a.proc.kill()
        uid = create_report(kube, report(0, 1, tag="after-kill"))
        result["kill9_gap_s"] = round(stored_after(kube, uid, t0, 120), 2)
        log("kill -9 gap: %.2f s" % result["kill9_gap_s"])
        wait("B's catch-up", lambda: b.sample("zenwatcher_catchup_duration_seconds_count"), 600, step=0.2)
        result["catchup_s"] = round(b.sample("zenwatcher_catchup_duration_seconds_sum"), 2)
        time.sleep(1)
        result["catchup_requests"] = diff(b.requests_by_verb(), before)
        result["rss_kb"]["B_leader_after_catchup"] = b.rss()
        log("catch-up: %.2f s, requests %s" % (result["catchup_s"], result["catchup_requests"]))
        expected = total + 1

        # SIGTERM handoffs: the leader stops gracefully, a follower takes over
        leader = b
        gaps, handoffs = [], []
        for run in range(0 if args.skip_handoffs else args.runs):
            f = Replica("replica-%d" % run, args.jar, kubedir, work)
            replicas.append(f)
            wait("the follower's cache", lambda: (f.sample("zen_watcher_observations_live") or -1) >= expected, 600)
            time.sleep(1)
            t0 = time.time()
            leader.proc.send_signal(signal.SIGTERM)
            uid = create_report(kube, report(run, 1, tag="after-term"))
            gaps.append(stored_after(kube, uid, t0, 120))
            expected += 1
            started = wait("the next leader", lambda: f.log_time("leader work started"), 60)
            handoffs.append(started - t0)
            leader.proc.wait(60)
            log("SIGTERM run %d: handoff %.3f s, stored %.3f s" % (run, handoffs[-1], gaps[-1]))
            leader = f
        if gaps:
            result["sigterm_handoff_s"] = {"p50": round(statistics.median(handoffs), 3),
                                           "max": round(max(handoffs), 3), "runs": [round(h, 3) for h in handoffs]}
            result["sigterm_gap_s"] = {"p50": round(statistics.median(gaps), 3), "max": round(max(gaps), 3)}
        result["rss_kb"]["last_leader"] = leader.rss()
        before = leader.requests_by_verb()
        time.sleep(5)
        result["idle_requests_5s"] = diff(leader.requests_by_verb(), before)
        result["load_end"] = os.getloadavg()
        stored = kube.count(OBS_PATH)
        result["observations"] = stored
        result["duplicates"] = stored - expected
        if sampler:
            result["sampled_peaks"] = sampler.peaks
    finally:
        if sampler:
            sampler.halt.set()
        for r in replicas:
            r.stop(signal.SIGKILL)
        subprocess.run([os.path.join(third, "down.sh"), kubedir], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if not args.keep:
            subprocess.run(["rm", "-rf", work])
        else:
            log("logs in", work)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
