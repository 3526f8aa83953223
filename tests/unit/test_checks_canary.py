"""Every branch of libvirt.canary-guest on recorded canary results. The results are the ones real lab hosts gave
(tests/integration/test_virt.py and test_ovs_mode_cleanup.py run the canary itself, on correct hosts and on the
existing virt and ovs faults); the words below are libvirt's and OVS's own, copied from those runs."""

from __future__ import annotations

import pytest

from conformance.errors import ReadTimedOut
from conformance.model import Status
from conformance.probes import canary
from tests.unit.recorded import NOT_JUDGED, case, recording
from tests.unit.test_checks_ovs import ct, vsctl

PASS, FAIL, NA = Status.PASS, Status.FAIL, Status.NOT_APPLICABLE
ON = {"canary": True}
NAME = "kolla-conformance-canary-ba8e53cd"
CREATED = ("created", f"{NAME} (kvm, paused), uuid 0e8ce50a-11e6-4d84-9fc7-f85a93abe6e3")
PORT = (
    "port kccba8e53cd in OVS",
    'on br-int, external_ids {attached-mac="52:54:00:79:f8:71", iface-id="083fe810-27d2-484b-8d31-a0220809acf3", '
    'iface-status=active, vm-id="0e8ce50a-11e6-4d84-9fc7-f85a93abe6e3"}',
)
GONE = (("destroyed", "yes, no canary defined"), ("QEMU logs", "removed in nova_libvirt"))
PLUGGED = canary.Canary(True, "", "", (CREATED, PORT, *GONE, ("left behind", "nothing (no port, no tap)")), 3.9)
UNPLUGGED = canary.Canary(True, "", "", (CREATED, *GONE), 3.0)


def _asked_with(facts, plugs, vsctl):
    """The canary ran once, through nova's URI and credentials, plugging (with libvirt's ovs-vsctl) or not."""
    (args,) = facts.asked_for(canary.run_canary)
    uri, authname, _password, pki, virt_type, got_plugs, got_vsctl, container = args
    assert (uri, authname, pki, virt_type, container) == (
        "qemu+tcp://10.0.0.11/system",
        "nova",
        None,
        "kvm",
        "nova_libvirt",
    )
    assert (got_plugs, got_vsctl) == (plugs, vsctl)


def failed(stage, error, *steps):
    return canary.Canary(False, stage, error, steps, 1.2)


def hybrid(result):
    """compute01 as recorded (docker, hybrid firewall: os-vif plugs ports, the canary has no interface)."""
    return lambda: recording("container_tls").facts({canary.run_canary: result})


def native(result):
    """compute01 on the native firewall: libvirt plugs the canary's port into br-int itself."""
    return lambda: ct({canary.run_canary: result})


KVM_DENIED = (
    "internal error: process exited while connecting to monitor: Could not access KVM kernel module: Permission "
    "denied\nqemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied"
)
DB_SOCKET = (
    "internal error: Unable to add port kcc859b2b92 to OVS bridge br-int (ovs-vsctl as libvirt runs it: exit 1: "
    "ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed (No such file or directory))"
)
WRAPPER = (
    "internal error: Unable to add port kcc6d6e1780 to OVS bridge br-int (ovs-vsctl as libvirt runs it: exit 125: "
    'Error: no container with name or ID "openvswitch_vswitchd" found: no such container)'
)
NO_VSCTL = (
    "internal error: Unable to add port kcc6fe7c651 to OVS bridge br-int (ovs-vsctl as libvirt runs it: not found "
    "in libvirt's PATH /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin (/proc/302/environ (libvirtd)))"
)
REFUSED = "unable to connect to server at '10.77.1.11:16509': Connection refused"

CASES = [
    case("libvirt.canary-guest", "n/a: opt-in", NA, hybrid(UNPLUGGED), actual="the canary is opt-in: --canary"),
    case(
        "libvirt.canary-guest",
        "n/a: live probes off",
        NA,
        hybrid(UNPLUGGED),
        exp={**ON, "live_probes": False},
        actual="live_probes is false",
    ),
    case(
        "libvirt.canary-guest",
        "n/a: a virt type nova maps to no QEMU guest",
        NA,
        hybrid(UNPLUGGED),
        exp={**ON, "virt_type": "lxc"},
        actual="knows kvm and qemu",
    ),
    case(
        "libvirt.canary-guest",
        "pass: hybrid plugging, no interface",
        PASS,
        hybrid(UNPLUGGED),
        exp=ON,
        actual="guest created, destroyed, nothing left",
        evidence=("interface",),
        says={"interface": "plugged by os-vif", "created": "(kvm, paused)"},
        then=lambda _v, facts: _asked_with(facts, plugs=False, vsctl=None),
    ),
    case(
        "libvirt.canary-guest",
        "pass: native firewall, port on br-int as libvirt adds it",
        PASS,
        native(PLUGGED),
        exp=ON,
        actual="guest created, plugged, destroyed, nothing left",
        expected="its port on br-int as libvirt adds it",
        says={"port kccba8e53cd in OVS": "vm-id=", "left behind": "nothing"},
        then=lambda _v, facts: _asked_with(facts, plugs=True, vsctl=vsctl()),
    ),
    case(
        "libvirt.canary-guest",
        "fail: QEMU cannot open /dev/kvm",
        FAIL,
        hybrid(failed("create", KVM_DENIED)),
        exp=ON,
        actual=("libvirt refused to create the guest", "Could not access KVM kernel module: Permission denied"),
        hint="see virt.dev-kvm and virt.dev-kvm-access",
    ),
    case(
        "libvirt.canary-guest",
        "fail: no /dev/kvm at all",
        FAIL,
        hybrid(
            failed(
                "create", "invalid argument: could not get preferred machine for /usr/bin/qemu-system-x86_64 type=kvm"
            )
        ),
        exp=ON,
        hint="see virt.dev-kvm and virt.libvirt-kvm-domain",
    ),
    case(
        "libvirt.canary-guest",
        "fail: br-int missing",
        FAIL,
        native(failed("create", "Cannot get interface MTU on 'br-int': No such device")),
        exp=ON,
        hint="see ovs.br-int-present",
    ),
    case(
        "libvirt.canary-guest",
        "fail: no ovsdb where libvirt runs",
        FAIL,
        native(failed("create", DB_SOCKET)),
        exp=ON,
        actual="database connection failed",
        hint="see ovs.db-socket",
    ),
    case(
        "libvirt.canary-guest",
        "fail: the wrapper calls a missing container",
        FAIL,
        native(failed("create", WRAPPER)),
        exp=ON,
        hint="see ovs.wrapper-engine",
    ),
    case(
        "libvirt.canary-guest",
        "fail: ovsdb-server hung (ovs-vsctl's own timeout)",
        FAIL,
        native(
            failed(
                "create",
                "internal error: Unable to add port kcc68f426ad to OVS bridge br-int (ovs-vsctl as "
                "libvirt runs it: exit 142: Alarm clock)",
            )
        ),
        exp=ON,
        hint="ovsdb-server does not answer, see ovs.daemons-healthy",
    ),
    case(
        "libvirt.canary-guest",
        "fail: ovs-vswitchd hung (ovsdb answers)",
        FAIL,
        native(
            failed(
                "create",
                "internal error: Unable to add port kcc777f76d4 to OVS bridge br-int (ovs-vsctl as "
                "libvirt runs it: `ovs-vsctl show` answers, so ovsdb is up: ovs-vswitchd did not take the port)",
            )
        ),
        exp=ON,
        hint="ovs-vswitchd does not answer: see ovs.daemons-healthy",
    ),
    case(
        "libvirt.canary-guest",
        "fail: no ovs-vsctl in libvirt's PATH",
        FAIL,
        native(failed("create", NO_VSCTL)),
        exp=ON,
        hint="see ovs.vsctl-in-libvirt-path",
    ),
    case(
        "libvirt.canary-guest",
        "fail: libvirtd not listening (nova_libvirt stopped)",
        FAIL,
        hybrid(failed("connect", REFUSED)),
        exp=ON,
        actual=("cannot open nova's URI", "Connection refused"),
        hint="see libvirt.container-healthy",
    ),
    case(
        "libvirt.canary-guest",
        "fail: destroying the guest left its port",
        FAIL,
        native(failed("port-left", "port kcc0 still on br-int", CREATED, ("left behind", "port kcc0 still on br-int"))),
        exp=ON,
        actual="destroying the guest left its port in OVS",
        says={"left behind": "still on br-int"},
    ),
    case(
        "libvirt.canary-guest",
        "not judged: libvirtd accepts and never answers",
        NOT_JUDGED,
        hybrid(ReadTimedOut("creating a canary guest through qemu+tcp://10.0.0.11/system got no answer within 60s")),
        exp=ON,
        actual="got no answer within 60s",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_branch(case):
    case.run()


def test_the_guest_never_runs_and_plugs_only_where_libvirt_plugs():
    import xml.etree.ElementTree as ET

    plugged = ET.fromstring(canary.domain_xml(canary.PREFIX + "ab", "kvm", "kccab", "iface-1"))
    assert plugged.get("type") == "kvm" and plugged.find("devices/disk") is None
    assert plugged.find("memory").text == str(canary.MEMORY_MIB)
    assert plugged.find("devices/interface/virtualport").get("type") == "openvswitch"
    assert plugged.find("devices/interface/source").get("bridge") == "br-int"
    assert plugged.find("devices/interface/virtualport/parameters").get("interfaceid") == "iface-1"
    bare = ET.fromstring(canary.domain_xml(canary.PREFIX + "ab", "qemu", None, "iface-1"))
    assert bare.find("devices/interface") is None and bare.get("type") == "qemu"
    # A hostile value is text in the XML, never markup.
    odd = ET.fromstring(canary.domain_xml(canary.PREFIX + "<x/>", "qemu", None, ""))
    assert odd.find("name").text == canary.PREFIX + "<x/>"
