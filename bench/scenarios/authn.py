#!/usr/bin/env python3
"""What authentication costs at CONNECT: the connect rate of COUNT MQTT 3.1.1 clients, all
started at once, with user name and password, against emqxd with no authentication, with
the built-in database under sha256, pbkdf2 and bcrypt, and against mosquitto without and
with a password file (mosquitto_passwd: sha512-pbkdf2, 101 iterations), in the same run.

    bench/scenarios/authn.py [--count 90] [--rounds 3]

The rate is COUNT / the longest connect time emqxd-bench saw (-i 0: every client starts
its connect at once, so the last CONNACK ends the burst). COUNT stays below mosquitto's
listen backlog (100): past it the kernel drops SYNs and the client's 1 s retransmission,
not the broker, sets the longest connect. Each variant runs --rounds times,
alternating; the median is printed as a markdown table for bench/RESULTS.md."""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile

from compare import BENCH, EMQXD, free_port, wait_port

USER, PASSWORD = "bench-user", "bench-password-1"

EMQXD_VARIANTS = {
    "anonymous": None,
    "sha256": "name = sha256, salt_position = prefix",
    "pbkdf2 (sha256, 4096)": "name = pbkdf2, mac_fun = sha256, iterations = 4096",
    "bcrypt (10 rounds)": "name = bcrypt, salt_rounds = 10",
}


def start_emqxd(port, tmp, algo):
    env = dict(os.environ,
               EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % port,
               EMQX_CLUSTER__RPC__BIND="127.0.0.1:%d" % free_port(),
               EMQX_DASHBOARD__LISTENERS__HTTP__BIND="127.0.0.1:%d" % free_port(),
               EMQX_NODE__DATA_DIR=os.path.join(tmp, "data"),
               EMQX_LOG__CONSOLE__LEVEL="warning")
    if algo is not None:
        users = os.path.join(tmp, "users.csv")
        with open(users, "w") as f:
            f.write("user_id,password,is_superuser\n%s,%s,false\n" % (USER, PASSWORD))
        env["EMQX_AUTHENTICATION"] = (
            "[{mechanism = password_based, backend = built_in_database, "
            "password_hash_algorithm {%s}, bootstrap_file = \"%s\"}]" % (algo, users))
    proc = subprocess.Popen([EMQXD, "start"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc


def start_mosquitto(port, tmp, with_passwords):
    conf = os.path.join(tmp, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\npersistence false\nmax_connections -1\n" % port)
        if with_passwords:
            pw = os.path.join(tmp, "passwd")
            subprocess.run(["mosquitto_passwd", "-c", "-b", pw, USER, PASSWORD], check=True,
                           capture_output=True)
            # mosquitto started as root reads it as the user "mosquitto".
            os.chmod(tmp, 0o755)
            os.chmod(pw, 0o644)
            f.write("allow_anonymous false\npassword_file %s\n" % pw)
        else:
            f.write("allow_anonymous true\n")
    proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc


def burst(port, count, hold):
    # The run lasts `hold` seconds whatever happens: long enough for the slowest hash.
    cmd = [BENCH, "conn", "-h", "127.0.0.1", "-p", str(port), "-c", str(count), "-V", "4",
           "-i", "0", "-u", USER, "-P", PASSWORD, "--duration", str(hold), "--json", "--quiet",
           "--connect-timeout", "60"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r.get("connected", 0) != count:
        raise RuntimeError("only %s of %d connected: %s" % (r.get("connected"), count, r))
    return count / (r["connect_ms"]["max"] / 1000.0), " ".join(cmd).replace(str(port), "PORT")


def once(kind, variant, count):
    tmp = tempfile.mkdtemp(prefix="emqxd-authn-bench-")
    port = free_port()
    if kind == "emqxd":
        proc = start_emqxd(port, tmp, EMQXD_VARIANTS[variant])
    else:
        proc = start_mosquitto(port, tmp, variant == "password_file")
    hold = 15 if "bcrypt" in variant else 5 if "pbkdf2" in variant else 3
    try:
        return burst(port, count, hold)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=90)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    variants = [("emqxd", v) for v in EMQXD_VARIANTS] + [("mosquitto", "anonymous"),
                                                        ("mosquitto", "password_file")]
    rates = {v: [] for v in variants}
    cmd = ""
    for _ in range(a.rounds):
        for v in variants:
            r, cmd = once(*v, a.count)
            rates[v].append(r)
            print("%s %s: %.0f connects/s" % (v[0], v[1], r), file=sys.stderr)
    base = statistics.median(rates[("mosquitto", "anonymous")])
    print("| broker | authentication | connects/s (median of %d) | vs mosquitto anonymous |"
          % a.rounds)
    print("| --- | --- | --- | --- |")
    for v in variants:
        m = statistics.median(rates[v])
        print("| %s | %s | %.0f | %.2fx |" % (v[0], v[1], m, m / base))
    print("\n`%s`" % cmd)


if __name__ == "__main__":
    main()
