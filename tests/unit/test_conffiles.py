"""Config-file parsers on the shapes Kolla renders."""

from conformance.conffiles import merge_ini, parse_ini, parse_libvirt_conf, parse_sasl_conf

# libvirtd.conf as roles/nova-cell/templates/libvirtd.conf.j2 renders it with libvirt_tls true
KOLLA_LIBVIRTD_TLS = """listen_tcp = 0
listen_tls = 1
auth_tls = "sasl"
tls_port = "16514"
key_file = "/etc/pki/libvirt/private/serverkey.pem"
cert_file = "/etc/pki/libvirt/servercert.pem"
ca_file = "/etc/pki/CA/cacert.pem"
log_level = 3
log_outputs = "3:file:/var/log/kolla/libvirt/libvirtd.log"
listen_addr = "10.0.0.11"
max_client_requests = 20
max_workers = 50
"""


def test_libvirtd_conf_values_keep_types():
    conf = parse_libvirt_conf(KOLLA_LIBVIRTD_TLS)
    assert conf["listen_tls"] == 1 and conf["auth_tls"] == "sasl" and conf["tls_port"] == "16514"
    assert conf["listen_addr"] == "10.0.0.11" and conf["max_workers"] == 50


def test_libvirt_conf_lists_comments_and_hashes_in_strings():
    conf = parse_libvirt_conf(
        '# comment\nsecurity_driver = [ "selinux",\n  "apparmor" ] # tail\nlog_outputs = "1:file:/x#y"\n'
    )
    assert conf == {"security_driver": ["selinux", "apparmor"], "log_outputs": "1:file:/x#y"}


def test_oslo_ini_default_is_a_plain_section_and_last_key_wins():
    conf = parse_ini(
        "[DEFAULT]\nmy_ip = 10.0.0.11\n[libvirt]\nvirt_type = kvm\nvirt_type = qemu\ncpu_models = a,\n  b\n"
    )
    assert conf["DEFAULT"] == {"my_ip": "10.0.0.11"}
    assert conf["libvirt"]["virt_type"] == "qemu"
    assert conf["libvirt"]["cpu_models"] == "a,\nb"
    assert "my_ip" not in conf["libvirt"]  # configparser would leak DEFAULT into every section


def test_merge_like_kolla_merge_configs():
    merged = merge_ini("[libvirt]\nvirt_type = kvm\ncpu_mode = host-model\n", "[libvirt]\nvirt_type = qemu\n")
    assert merged["libvirt"] == {"virt_type": "qemu", "cpu_mode": "host-model"}


def test_auth_conf_shape():
    conf = parse_ini(
        "[credentials-default]\nauthname=nova\npassword=x\n\n[auth-libvirt-default]\ncredentials=default\n"
    )
    assert conf["credentials-default"]["authname"] == "nova"
    assert conf["auth-libvirt-default"]["credentials"] == "default"


def test_sasl_conf_as_kolla_renders_it():
    assert parse_sasl_conf("mech_list: SCRAM-SHA-256\nsasldb_path: /etc/libvirt/passwd.db\n") == {
        "mech_list": "SCRAM-SHA-256",
        "sasldb_path": "/etc/libvirt/passwd.db",
    }
