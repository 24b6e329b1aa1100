#!/usr/bin/env python3
"""idle_conns.py PORT COUNT BROKER_PID: opens COUNT idle MQTT 3.1.1 connections and prints
the broker RSS before and after (bytes per connection) and the connect rate."""
import socket, sys, time
port=int(sys.argv[1]); n=int(sys.argv[2]); pid=int(sys.argv[3])
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
def connect_pkt(cid):
    cid=cid.encode(); vh=b"\x00\x04MQTT\x04\x02\x00\x3c"; body=vh+len(cid).to_bytes(2,"big")+cid
    return bytes([0x10,len(body)])+body
time.sleep(0.5); r0=rss(); socks=[]; t0=time.monotonic()
for i in range(n):
    s=socket.create_connection(("127.0.0.1",port)); s.sendall(connect_pkt("c%d"%i)); socks.append(s)
for s in socks: assert s.recv(4)==b"\x20\x02\x00\x00"
t1=time.monotonic(); time.sleep(1); r1=rss()
print("idle_rss_kb=%d rss_kb=%d per_conn_bytes=%.0f connect_rate=%.0f/s" % (r0, r1, (r1-r0)*1024/n, n/(t1-t0)))
