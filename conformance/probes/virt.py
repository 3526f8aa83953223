"""Probes for hardware virtualisation: CPU flags, KVM modules, /dev/kvm, libvirt's kvm domain support."""

from __future__ import annotations

import dataclasses
import re

from conformance.facts import Facts, FileFact

VT_FLAGS = ("vmx", "svm")
# Vendor modules that provide KVM: Intel VT-x, AMD-V, and kvm_pvm (paravirtualised KVM, no VT flags).
KVM_VENDOR_MODULES = ("kvm_intel", "kvm_amd", "kvm_pvm")


@dataclasses.dataclass(frozen=True)
class CpuInfo:
    flags: frozenset[str]
    model: str

    @property
    def vt_flags(self) -> list[str]:
        return [flag for flag in VT_FLAGS if flag in self.flags]


def parse_cpuinfo(text: str) -> CpuInfo:
    flags = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    model = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
    return CpuInfo(
        frozenset(flags.group(1).split()) if flags else frozenset(), model.group(1).strip() if model else "unknown"
    )


def cpuinfo(facts: Facts) -> CpuInfo:
    # The first processor's block is enough: flags are uniform across cores.
    return parse_cpuinfo(facts.run("sed -n '1,/^$/p' /proc/cpuinfo").stdout)


def kvm_modules(facts: Facts) -> list[str]:
    """KVM modules present, loadable or built in (built-in ones show in /sys/module, not /proc/modules)."""
    out = facts.run(
        "{ awk '{print $1}' /proc/modules 2>/dev/null; ls -1 /sys/module 2>/dev/null; } | grep -E '^kvm' | sort -u"
    ).stdout
    return out.split()


def dev_kvm(facts: Facts) -> FileFact:
    return facts.file("/dev/kvm", read=False)


QEMU_CONF = "/etc/libvirt/qemu.conf"
DEFAULT_QEMU_USER = "libvirt-qemu"
ID_GROUPS = "id -G -- %s 2>/dev/null"


def qemu_user(facts: Facts) -> tuple[str, list[int]]:
    """The user a host libvirt runs guests as (qemu.conf `user`, Debian default libvirt-qemu) and its groups."""
    # Debian's default user's groups beside the file that may name another: one batch, as a rule.
    facts.prefetch((lambda: facts.file(QEMU_CONF), lambda: facts.run(ID_GROUPS, DEFAULT_QEMU_USER)))
    conf = facts.file(QEMU_CONF)
    match = re.search(r'^\s*user\s*=\s*"([^"]+)"', conf.content, re.M) if conf.exists else None
    user = match.group(1) if match else DEFAULT_QEMU_USER
    groups = facts.run(ID_GROUPS, user).stdout.split()
    return user, [int(g) for g in groups if g.isdigit()]


def group_id(facts: Facts, group: str) -> str:
    """A group's gid from the host's group database ("" when it has none)."""
    return facts.run("getent group -- %s | cut -d: -f3", group).stdout.strip()


@dataclasses.dataclass(frozen=True)
class KvmDomainSupport:
    offered: bool
    where: str
    detail: str
    answered: bool = True  # False: libvirtd never answered (not running, or died during the call)


# libvirt's client-side errors when the daemon is unreachable or goes away mid-call (virsh, virnetsocket.c,
# virnetclient.c): no statement about KVM can be read from them.
_NO_ANSWER = (
    "failed to connect to the hypervisor",
    "Failed to connect socket",
    "Cannot recv data",
    "Cannot write data",
    "End of file while reading data",
    "Connection reset by peer",
    "Broken pipe",
)


def libvirt_kvm_domain(facts: Facts, container: str | None) -> KvmDomainSupport:
    """Ask libvirt (inside nova_libvirt in container mode) whether it can run domains of type kvm."""
    command = "virsh -c qemu:///system domcapabilities --virttype kvm 2>&1"
    # The first capabilities call probes qemu and can take ~10 s cold (LAB-NOTES §2): within command_timeout.
    result = facts.run_in(container, command) if container else facts.run(command)
    where = f"virsh in container {container}" if container else "virsh on the host"
    offered = result.ok and "<domain>kvm</domain>" in result.stdout
    detail = _domain_summary(result.stdout) if offered else (result.stdout.strip() or result.stderr.strip())
    # Not offered is a statement about KVM only when libvirt made one: capabilities without kvm, or an error that
    # speaks of kvm. Anything else (seen in a restart loop: libvirtd up, its drivers not yet) says nothing about it.
    about_kvm = result.ok or "kvm" in detail.lower()
    answered = offered or (about_kvm and not any(marker in detail for marker in _NO_ANSWER))
    return KvmDomainSupport(offered, where, detail, answered)


def _domain_summary(xml: str) -> str:
    picks = [re.search(rf"<{tag}>([^<]*)</{tag}>", xml) for tag in ("path", "domain", "machine", "arch")]
    return ", ".join(m.group(0) for m in picks if m)
