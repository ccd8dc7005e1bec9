"""``Admission`` on its own: which source a connection counts against, the caps, idempotent
release, and the open files limit (in a child process, so this one's limit is untouched)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from facegate.stream.admission import Admission, AdmissionLimits, address_key
from facegate.stream.protocol import ProtocolError


@pytest.mark.parametrize(
    ("peername", "key"),
    [
        (("192.0.2.7", 50000), "192.0.2.7"),
        (("::ffff:192.0.2.7", 50000, 0, 0), "192.0.2.7"),  # IPv4-mapped: the IPv4 address
        (("2001:db8:1:2:aaaa::1", 50000, 0, 0), "2001:db8:1:2::/64"),  # one host's /64
        (("2001:db8:1:2:ffff::9", 50000, 0, 0), "2001:db8:1:2::/64"),
        (("fe80::1%eth0", 50000, 0, 2), "fe80::/64"),
        ("/run/facegate.sock", "/run/facegate.sock"),  # not IP: the name itself
    ],
)
def test_the_source_a_connection_counts_against(peername, key):
    assert address_key(peername) == key


def test_caps_are_checked_in_order_and_released_once():
    admission = Admission(AdmissionLimits(max_pending=3, max_pending_per_address=2,
                                          max_connections=4))  # fmt: skip
    a1, a2 = admission.admit(("10.0.0.1", 1)), admission.admit(("10.0.0.1", 2))
    with pytest.raises(ProtocolError) as per_address:
        admission.admit(("10.0.0.1", 3))
    b1 = admission.admit(("10.0.0.2", 1))
    with pytest.raises(ProtocolError) as pending:
        admission.admit(("10.0.0.3", 1))
    assert (per_address.value.code, pending.value.code) == ("busy", "busy")
    a1.greeted()
    a1.greeted()  # idempotent: one pending slot freed, not two
    assert (admission.pending, admission.pending_from(("10.0.0.1", 9))) == (2, 1)
    b1.greeted()
    c1 = admission.admit(("10.0.0.3", 1))
    with pytest.raises(ProtocolError):  # 4 open connections: greeted ones count too
        admission.admit(("10.0.0.4", 1))
    assert admission.refused == {"per_address": 1, "pending": 1, "connections": 1}
    for ticket in (a1, a2, b1, c1, a2):
        ticket.release()
    counts = (admission.connections, admission.pending, admission.pending_from(("10.0.0.1", 1)))
    assert counts == (0, 0, 0)


RAISE = """
import resource
from facegate.limits import raise_open_files_limit
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
first, second = raise_open_files_limit(), raise_open_files_limit()
print(first == second == hard == resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def test_the_open_files_limit_is_raised_to_the_hard_limit():
    done = subprocess.run([sys.executable, "-c", RAISE], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True", done.stderr
