#!/usr/bin/env python3
"""What the pgsql action sustains, and how long a PostgreSQL outage can last before
anything is dropped (bench/RESULTS.md, issue 15):

    bench/scenarios/connectors.py [--messages 50000] [--outage-rate 5000] [--outage-bound 8]

It starts Debian's PostgreSQL (tests/integration/db_servers.py) and emqxd (the build's,
EMQXD_BIN to choose) with one rule, SELECT * FROM "pg/#", sending to a pgsql action with
EMQX's default INSERT, and drives it with emqxd-bench:

1. sustained: --messages QoS 1 messages (96-byte JSON payloads) from 20 publishers as fast
   as they go, with batch_size 1 and then 100; the rate is rows in PostgreSQL per second
   from the first publish to the last row, beside the publish rate of the same run.
   mosquitto has no database action to compare with.
2. outage: PostgreSQL stopped, --outage-rate msg/s QoS 1 from 32 publishers (batch_size
   100) until the first message is dropped, each buffer worker bounded at --outage-bound
   MB: the time to the first drop, measured, and scaled to EMQX's 256MB (the buffers only
   fill, linearly). Then PostgreSQL comes back: every message not dropped must arrive, and
   the time to drain is reported."""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from conftest import Broker  # noqa: E402
from db_servers import Postgres  # noqa: E402
from test_api import get_json  # noqa: E402

BENCH = os.environ.get("EMQXD_BENCH_BIN") or os.path.join(ROOT, "build", "bench", "emqxd-bench")
TABLE = """CREATE TABLE t_mqtt_msg (id SERIAL PRIMARY KEY, msgid VARCHAR(64), sender
VARCHAR(64), topic VARCHAR(255), qos INTEGER, payload TEXT, arrived TIMESTAMP WITHOUT TIME ZONE)"""
SQL = ("insert into t_mqtt_msg(msgid, sender, topic, qos, payload, arrived) values "
       "(${id}, ${clientid}, ${topic}, ${qos}, ${payload}, "
       "TO_TIMESTAMP((${timestamp} :: bigint)/1000))")


def conf(pg, batch, with_rule=True):
    if not with_rule:
        return "log.console.level = warning\n"
    return '''
log.console.level = warning
connectors.pgsql.pg {
  server = "127.0.0.1:%d", database = %s, username = %s, password = "%s", pool_size = 8
  resource_opts { health_check_interval = 1s }
}
actions.pgsql.to_pg {
  connector = pg
  parameters { sql = """%s""" }
  resource_opts { batch_size = %d, batch_time = 10ms, request_ttl = 10m, health_check_interval = 1s }
}
rule_engine.rules.to_pg { sql = """SELECT * FROM "pg/#" """, actions = ["pgsql:to_pg"] }
''' % (pg.port, pg.DB, pg.USER, pg.PASSWORD, SQL, batch)


def broker(text):
    b = Broker(env={"EMQX_LOG__CONSOLE__LEVEL": "warning"}, config_text=text)
    return b.start()


def publish(b, count, clients, interval_ms, duration=None, qos=1, topic="pg/%i"):
    args = [BENCH, "pub", "-h", b.host, "-p", str(b.port), "-c", str(clients), "-i", "0",
            "-t", topic, "-q", str(qos), "-s", "96", "--json-payload", "-I", str(interval_ms), "--json",
            "--quiet", "--prefix", "benchpub"]
    if count:
        args += ["-L", str(count)]
    if duration:
        args += ["--duration", str(duration)]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def rows(pg):
    return int(pg.sql("SELECT count(*) FROM t_mqtt_msg").split()[2])


def wait_rows(pg, n, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rows(pg) >= n:
            return time.monotonic()
        time.sleep(0.1)
    raise RuntimeError("only %d of %d rows in %ds" % (rows(pg), n, timeout))


def metrics(b):
    return get_json(b, "/api/v5/actions/pgsql:to_pg/metrics")["metrics"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50000)
    ap.add_argument("--outage-rate", type=int, default=5000)
    ap.add_argument("--outage-bound", type=int, default=8, help="MB per buffer worker")
    o = ap.parse_args()
    pg = Postgres()
    try:
        pg.sql(TABLE)
        pg.sql("GRANT ALL ON t_mqtt_msg, t_mqtt_msg_id_seq TO %s" % Postgres.USER)
        rates = {}
        for batch in (1, 100):
            pg.sql("TRUNCATE t_mqtt_msg")
            b = broker(conf(pg, batch))
            try:
                t0 = time.monotonic()
                r = publish(b, o.messages, 20, 0)
                t1 = wait_rows(pg, o.messages, 600)
                m = metrics(b)
                rate = o.messages / (t1 - t0)
                rates[batch] = rate
                print("batch_size %d: publish %.0f msg/s, rows %.0f/s (%.2fx the publish "
                      "rate%s), success %d, failed %d, dropped %d"
                      % (batch, r["sent_rate"], rate, rate / r["sent_rate"],
                         ", %.1fx batch_size 1" % (rate / rates[1]) if batch != 1 else "",
                         m["success"], m["failed"], m["dropped"]), flush=True)
            finally:
                b.stop()

        # The outage: with each buffer worker bounded at --outage-bound MB instead of
        # EMQX's 256MB, the time until the first drop is measured, not estimated; it
        # grows linearly with the bound (the buffers only fill), so 256MB lasts 256/bound
        # times as long at the same rate.
        pg.sql("TRUNCATE t_mqtt_msg")
        b = broker(conf(pg, 100).replace(
            "request_ttl = 10m", "request_ttl = 30m, max_buffer_bytes = %dMB" % o.outage_bound))
        try:
            pg.stop()
            while get_json(b, "/api/v5/actions/pgsql:to_pg")["status"] != "disconnected":
                time.sleep(0.2)
            clients = 32
            per_client_ms = 1000.0 * clients / o.outage_rate
            args = [BENCH, "pub", "-h", b.host, "-p", str(b.port), "-c", str(clients), "-i",
                    "0", "-t", "pg/%i", "-q", "1", "-s", "96", "--json-payload", "-I", str(per_client_ms),
                    "--duration", "600", "--quiet", "--prefix", "benchout"]
            pub = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t0 = time.monotonic()
            first_drop = None
            while time.monotonic() - t0 < 600:
                m = metrics(b)
                if m["dropped"] > 0:
                    first_drop = time.monotonic() - t0
                    break
                time.sleep(0.25)
            pub.terminate()
            pub.wait(30)
            time.sleep(1)
            m = metrics(b)
            rate = m["matched"] / (time.monotonic() - t0)
            per_msg = m["queuing_bytes"] / max(m["queuing"], 1)
            print("outage: %d msg/s asked, %.0f msg/s matched; %.0f B a message queued; "
                  "first drop after %s s with %d MB per buffer worker: %s with EMQX's 256MB"
                  % (o.outage_rate, rate, per_msg,
                     "%.1f" % first_drop if first_drop else "no drop in 600",
                     o.outage_bound,
                     "%.0f s (%.1f min)" % (first_drop * 256 / o.outage_bound,
                                             first_drop * 256 / o.outage_bound / 60)
                     if first_drop else "-"), flush=True)
            kept = m["matched"] - m["dropped"]
            t1 = time.monotonic()
            pg.start_again()
            t2 = wait_rows(pg, kept, 1200)
            m = metrics(b)
            print("after the outage: %d rows (every message not dropped: %d) in %.1f s "
                  "(%.0f rows/s); success %d, dropped %d (queue_full %d)"
                  % (rows(pg), kept, t2 - t1, rows(pg) / (t2 - t1), m["success"], m["dropped"],
                     m["dropped.queue_full"]), flush=True)
        finally:
            b.stop()
    finally:
        pg.close()


if __name__ == "__main__":
    main()
