"""Active probes: ICMP sweeps (root) and service checks, against the lab and local servers."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from scapy.layers.dns import DNS, DNSRR

from collectors.probes import ProbeRefused, check_dns, check_http, check_targets, check_tcp, sweep


def test_targets_outside_loopback_are_refused() -> None:
    assert check_targets(["127.0.0.1", "127.100.1.1"]) == ["127.0.0.1", "127.100.1.1"]
    for bad in ("10.1.1.1", "192.168.1.1", "8.8.8.8", "172.16.0.1", "198.18.0.1"):
        with pytest.raises(ProbeRefused, match="refusing"):
            check_targets([bad])
    # only when the config names the range explicitly
    assert check_targets(["169.254.200.2"], [ipaddress.ip_network("169.254.200.0/24")]) == ["169.254.200.2"]


@pytest.mark.root
@pytest.mark.server
def test_device_down_stops_answering_within_one_sweep(lab, faults, demo) -> None:
    addrs = [str(d.mgmt_address) for d in demo.devices.values() if d.status.polled]
    st = sweep(addrs, count=2, timeout=1.0)
    assert len(st) >= 5000 and all(s.received == 2 and s.rtt is not None for s in st.values())
    faults.fault("device-down", "sch012-rt01")
    st = sweep(addrs, count=2, timeout=1.0)
    gone = {a for a, s in st.items() if s.received == 0}
    campus = {str(d.mgmt_address) for d in demo.devices.values() if d.site == "sch012" and d.status.polled}
    assert gone == campus  # the router and everything behind it, nothing else
    assert all(st[a].loss == 1.0 for a in campus)
    faults.clear()
    st = sweep(sorted(campus), count=1, timeout=1.0)
    assert all(s.received == 1 for s in st.values())


def test_tcp_and_http_checks() -> None:
    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if self.path == "/" else 404)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a) -> None:  # noqa: ANN002
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        ok, secs, _ = asyncio.run(check_tcp("127.0.0.1", port, 2))
        assert ok and secs < 2
        assert asyncio.run(check_http(f"http://127.0.0.1:{port}/", 2))[0]
        ok, _, err = asyncio.run(check_http(f"http://127.0.0.1:{port}/missing", 2))
        assert not ok and "status 404" in err
    finally:
        srv.shutdown()
        srv.server_close()
    ok, _, err = asyncio.run(check_tcp("127.0.0.1", port, 1))
    assert not ok and "tcp" in err


def test_dns_check_against_a_local_responder() -> None:
    """A tiny DNS responder (scapy builds its answers): an A record for one name, NXDOMAIN else."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                data, addr = s.recvfrom(2048)
            except TimeoutError:
                continue
            q = DNS(data)
            qd = q.qd[0]
            name = qd.qname.decode().rstrip(".")
            if name == "learning.example.edu.cn":
                r = DNS(id=q.id, qr=1, aa=1, qd=qd, an=DNSRR(rrname=qd.qname, rdata="127.20.0.10"))
            else:
                r = DNS(id=q.id, qr=1, rcode=3, qd=qd)
            s.sendto(bytes(r), addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        assert asyncio.run(check_dns("127.0.0.1", "learning.example.edu.cn", 2, port))[0]
        ok, _, err = asyncio.run(check_dns("127.0.0.1", "nope.example.edu.cn", 2, port))
        assert not ok and "rcode 3" in err
    finally:
        stop.set()
        t.join(2)
        s.close()
