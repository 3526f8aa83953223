"""Secrets are masked in every text bound for output."""

import logging

from conformance.redact import MASK, Redactor, secret_leaves

KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


def test_known_secrets_keys_password_lines_and_urls():
    redact = Redactor(["S3cret-pw"])
    text = redact(f"auth ok S3cret-pw\n{KEY}\npassword=other\nrabbit://openstack:rabbitpw@10.0.0.1:5672//")
    assert "S3cret-pw" not in text and "MIIEvQ" not in text and "other" not in text and "rabbitpw" not in text
    assert text.count(MASK) == 3 and "[redacted]" in text


def test_rsa_and_ec_keys_and_truncated_keys():
    redact = Redactor()
    assert "AAA" not in redact("-----BEGIN RSA PRIVATE KEY-----\nAAA\n-----END RSA PRIVATE KEY-----")
    assert "BBB" not in redact("-----BEGIN EC PRIVATE KEY-----\nBBB")


def test_secret_leaves_of_passwords_yml():
    assert sorted(secret_leaves({"a": "x1", "b": {"private_key": "k", "n": 3}, "c": ["y"]})) == ["k", "x1", "y"]


def test_logging_filter_masks_testinfra_debug_output(caplog):
    Redactor(["S3cret-pw"]).install_logging_filter("testinfra-test")
    with caplog.at_level(logging.DEBUG, logger="testinfra-test"):
        logging.getLogger("testinfra-test").debug("RUN %s", "cat auth.conf -> S3cret-pw")
    assert "S3cret-pw" not in caplog.text and MASK in caplog.text
