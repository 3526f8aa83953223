"""The run's libvirt client child (conformance.libvirt_helper), with the real libvirt client and real sockets on
loopback: a port where nothing listens, and one that accepts and never answers (a hung libvirtd as a client meets
it). Logins against real SASL servers, side by side, are in tests/integration/test_sasl_tls.py."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from conformance.libvirt_helper import LibvirtHelper


@pytest.fixture
def helper():
    helper = LibvirtHelper()
    yield helper
    helper.close()


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_login_that_never_answers_holds_only_itself(helper, silent_port):
    started = time.monotonic()
    assert helper.login(f"qemu+tcp://127.0.0.1:{silent_port}/system", "nova", "pw", timeout=2) is None
    assert 2 <= time.monotonic() - started < 4
    # The stuck login still sits in the child: the next one is answered at once all the same.
    started = time.monotonic()
    answer = helper.login(f"qemu+tcp://127.0.0.1:{_closed_port()}/system", "nova", "pw", timeout=10)
    assert answer is not None and not answer["ok"] and "Connection refused" in answer["error"]
    assert time.monotonic() - started < 2


def test_one_child_answers_every_login_of_the_run(helper):
    uri = f"qemu+tcp://127.0.0.1:{_closed_port()}/system"
    for _ in range(3):
        assert "Connection refused" in helper.login(uri, "nova", "pw", timeout=10)["error"]
    child = helper._child
    assert child is not None and child.poll() is None


def test_a_child_that_dies_answers_its_waiting_logins_at_once_and_the_next_login_starts_another(helper, silent_port):
    answers = []
    waiting = threading.Thread(
        target=lambda: answers.append(helper.login(f"qemu+tcp://127.0.0.1:{silent_port}/system", "n", "p", 30))
    )
    waiting.start()
    time.sleep(1)
    first = helper._child
    first.kill()
    waiting.join(timeout=5)
    assert not waiting.is_alive() and answers[0]["ok"] is False
    assert answers[0]["error"].startswith("libvirt client crashed")
    answer = helper.login(f"qemu+tcp://127.0.0.1:{_closed_port()}/system", "nova", "pw", timeout=10)
    assert "Connection refused" in answer["error"] and helper._child is not first


def test_closing_removes_the_childs_private_folder(helper):
    helper.login(f"qemu+tcp://127.0.0.1:{_closed_port()}/system", "nova", "pw", timeout=10)
    folder = helper._folder
    assert os.stat(folder).st_mode & 0o777 == 0o700
    helper.close()
    assert not os.path.exists(folder)
