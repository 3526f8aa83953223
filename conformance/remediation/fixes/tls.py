"""TLS fixes: key and certificate owners and modes at Kolla's source on the host. Certificate content problems
(missing SAN, expiry, wrong CA, key mismatch) are manual: new certificates come from `kolla-ansible certificates`."""

from __future__ import annotations

from conformance.probes import tls as tls_probes
from conformance.remediation.actions import SetAttrs, restart_container
from conformance.remediation.registry import Manual, Risk, fix

REISSUE = (
    "re-issue the certificates (`kolla-ansible certificates`, or your CA) into "
    "/etc/kolla/config/nova/nova-libvirt/[<host>/], then `kolla-ansible reconfigure -t nova`"
)

for _check_id, _why in {
    "tls.san-covers-host": "the certificate does not name this host's migration_hostname",
    "tls.validity": "the certificate is expired or not yet valid",
    "tls.key-match": "the key does not belong to the certificate",
    "tls.chain": "the certificate is not signed by cacert.pem",
    "tls.leaf-not-ca": "the leaf certificate is marked as a CA",
}.items():

    def _manual(ctx, _why=_why):
        raise Manual(f"{_why}: {REISSUE}")

    fix(_check_id, risk=Risk.SAFE, title="new certificate (manual)", kind="manual")(_manual)


@fix(
    "tls.installed-files",
    risk=Risk.SAFE,
    title="owners and modes of the installed certificates and keys",
    kind="auto (some cases)",
)
def installed_files(ctx):
    exp, facts = ctx.expectation, ctx.facts
    actions, restart = [], set()
    for place, container, directory, names, owner, group, mode in tls_probes.installed_places(exp):
        for name in names:
            path = f"{directory}/{name}" if directory else tls_probes.LIBVIRT_PKI[name]
            found = facts.probe(tls_probes.installed_file, name, path, container, place)
            f = found.fact
            if not f.exists:
                raise Manual(f"{path} {'in ' + container if container else 'on the host'} is missing: {REISSUE}")
            if f.owner == owner and (not group or f.group == group) and not f.mode & ~mode:
                continue
            if container:  # set_configs installs them with config.json's owner and mode on every start
                restart.add(container)
            else:  # Kolla's source on the host: root, 0600 (docs/kolla-provenance.md §3)
                actions.append(SetAttrs(path, mode=mode, owner=f"{owner}:{group or 'root'}"))
    if not exp.libvirt_container:  # the host daemon's own keys at libvirt's default paths: root only
        for name, path in tls_probes.LIBVIRT_PKI.items():
            f = facts.probe(tls_probes.installed_file, name, path, None, "host").fact
            if name.endswith("key.pem") and f.exists and (f.owner != "root" or f.mode & 0o077):
                actions.append(SetAttrs(path, mode=0o600, owner="root:root"))
    ctx.notes.append(
        "content that differs from /etc/kolla/config/nova/nova-libvirt is not changed here: "
        "`kolla-ansible reconfigure -t nova` installs the operator's files"
    )
    return actions + [restart_container(exp.container_engine, c) for c in sorted(restart)]
