"""SASL fixes: Kolla's mech list in sasl.conf, a missing SASL user (password through stdin), auth.conf."""

from __future__ import annotations

import hashlib

from conformance.command import engine_name, shell
from conformance.kolla.expectations import Secret
from conformance.probes import sasl as sasl_probes
from conformance.remediation.actions import Command, WriteFile, restart_container
from conformance.remediation.fixes import current, drift_note, kolla_source
from conformance.remediation.fixes.libvirt_mode import restart_host_libvirt
from conformance.remediation.registry import Manual, Risk, fix

LIBVIRT_READY = "virsh version --daemon"  # nova_libvirt's healthcheck in Kolla
TRANSPORT_DEFAULT = {True: "SCRAM-SHA-256", False: "DIGEST-MD5"}  # libvirt_sasl_mech_list's default per libvirt_tls


def render_sasl_conf(mechs) -> str:
    """roles/nova-cell/templates/sasl.conf.j2, exactly."""
    return f"mech_list: {' '.join(mechs)}\nsasldb_path: {sasl_probes.SASLDB}\n"


def render_auth_conf(authname: str, password: str) -> str:
    """roles/nova-cell/templates/auth.conf.j2."""
    return (
        f"[credentials-default]\nauthname={authname}\npassword={password}\n\n"
        "[auth-libvirt-default]\ncredentials=default\n"
    )


@fix("sasl.mech-list", risk=Risk.SAFE, title="restore Kolla's SASL mech list in sasl.conf")
@fix(
    "sasl.mech-matches-tls",
    risk=Risk.SAFE,
    title="restore a SASL mech list that works on this transport",
    kind="auto (some cases)",
)
def mech_list(ctx):
    exp = ctx.expectation
    mechs = list(exp.sasl_mech_list)
    unusable = [] if exp.libvirt_tls else sasl_probes.mechs_without_security_layer(mechs)
    if unusable:  # the operator's own setting is what breaks: fixing the host alone would be undone
        drift_note(ctx, "libvirt_sasl_mech_list", mechs, [TRANSPORT_DEFAULT[exp.libvirt_tls]])
        raise Manual(
            f"libvirt_sasl_mech_list {mechs} cannot work on plain TCP ({' '.join(unusable)} has no "
            f"security layer): set it to ['DIGEST-MD5'] or set libvirt_tls: true, then run "
            f"`kolla-ansible reconfigure -t nova`"
        )
    content = render_sasl_conf(mechs)
    if not exp.libvirt_container:
        path = sasl_probes.SASL_CONF
        if current(ctx, path) == content:
            return []
        return [WriteFile(path, content, current(ctx, path))] + restart_host_libvirt(ctx, "it reads sasl.conf on start")
    path = kolla_source(exp, "nova-libvirt", "sasl.conf")
    before = current(ctx, path)
    actions = [WriteFile(path, content, before)] if before != content else []
    # libvirtd reads the mech list when it starts, and Kolla copies sasl.conf in on start.
    return actions + [restart_container(exp.container_engine, "nova_libvirt", LIBVIRT_READY)]


@fix("sasl.user-exists", risk=Risk.SAFE, title="create the SASL user as Kolla's handler does")
def user_exists(ctx):
    exp = ctx.expectation
    if not exp.sasl_password:
        raise Manual(
            "libvirt_sasl_password is not in passwords.yml: run `kolla-genpwd`, then `kolla-ansible deploy -t nova`"
        )
    name = exp.sasl_authname
    where = "inside nova_libvirt" if exp.libvirt_container else "on the host"
    if exp.libvirt_container:
        ctx.notes.append(
            "the sasldb lives in nova_libvirt's writable layer: re-creating the container outside "
            "Kolla loses the user again"
        )
    # Kolla's handler: `echo <password> | <engine> exec -i nova_libvirt saslpasswd2 -c -p -a libvirt <authname>`.
    # The name is one quoted word after `--`: whatever the variable holds, it is only ever a user name.
    if exp.libvirt_container:
        engine = engine_name(exp.container_engine)
        create = shell("%s exec -i nova_libvirt saslpasswd2 -c -p -a libvirt -- %s", engine, name)
        delete = shell("%s exec nova_libvirt saslpasswd2 -d -a libvirt -- %s", engine, name)
    else:
        create = shell("saslpasswd2 -c -p -a libvirt -- %s", name)
        delete = shell("saslpasswd2 -d -a libvirt -- %s", name)
    return [
        Command(
            create,
            f"create SASL user {name!r} {where}",
            undo=delete,
            stdin=Secret(exp.sasl_password.reveal() + "\n"),
            stdin_hint='< "$SASL_PASSWORD_FILE"',
        )
    ]


@fix("sasl.auth-conf", risk=Risk.DISRUPTIVE, title="re-render auth.conf from passwords.yml")
def auth_conf(ctx):
    exp = ctx.expectation
    if not exp.sasl_password:
        raise Manual("libvirt_sasl_password is not in passwords.yml: run `kolla-genpwd`, then reconfigure")
    content = render_auth_conf(exp.sasl_authname, exp.sasl_password.reveal())
    want = hashlib.sha256(exp.sasl_password.reveal().encode()).hexdigest()
    services = [("nova-compute", "nova_compute")] + (
        [("nova-libvirt", "nova_libvirt")] if exp.libvirt_container else []
    )
    actions = []
    for service, container in services:
        path = kolla_source(exp, service, "auth.conf")
        # Compared by hash on the host (the check's own probe): the current password never travels.
        now = sasl_probes.auth_conf(ctx.facts, None, path)
        if (
            not now.exists
            or now.password_sha256 != want
            or sasl_probes.auth_conf_credentials(now.sections).get("authname") != exp.sasl_authname
        ):
            actions += [
                WriteFile(path, content, "" if now.exists else None, secret=True),
                restart_container(exp.container_engine, container),
            ]
    return actions
