# SPDX-License-Identifier: LGPL-2.1-or-later
"""A hand-made DNS A query for test-vm.py: asks banger's dnsmasq without
any resolver configuration of this host."""

import socket
import struct


def dns_query(server, name):
    """A hand-made DNS A query; returns the addresses, or None on NXDOMAIN."""
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(q, (server, 53))
    data, _ = s.recvfrom(512)
    s.close()
    rcode = data[3] & 0x0F
    if rcode == 3:
        return None
    ancount = struct.unpack(">H", data[6:8])[0]
    pos = len(q)
    addrs = []
    for _ in range(ancount):
        if data[pos] & 0xC0:
            pos += 2
        else:
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 1:
            addrs.append(socket.inet_ntoa(data[pos:pos + 4]))
        pos += rdlen
    return addrs
