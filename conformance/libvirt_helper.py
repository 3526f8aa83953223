"""The run's libvirt client: one long-lived child (`python -m conformance.libvirt_login serve`) for every live
login this process makes.

A child, not this process: libvirt's client takes its settings (an empty auth file, so that only the request's
credentials count, and the debug log where the advertised mechanisms are read) from the environment, and its
calls cannot be interrupted. One child, not one per login: a Python child importing libvirt costs 0.4-0.8 s,
twice per host. Logins reach it as JSON lines on its stdin (the password too: never argv or the environment) and
run there side by side; each answer is waited for with its own deadline, so a libvirtd that never answers costs
its own login that deadline and holds nothing else. The child's folder (auth file, debug log) is private (0700)
and goes with it.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

CHILD = (sys.executable, "-m", "conformance.libvirt_login", "serve")
LOG_FILTERS = "1:rpc.netclient 1:remote 4:*"


class LibvirtHelper:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._folder = ""
        self._waiting: dict[int, tuple[threading.Event, list[dict]]] = {}
        self._ids = itertools.count(1)

    def login(self, uri: str, authname: str, password: str, timeout: float) -> dict | None:
        """The child's answer ({"ok", "error", "mechanisms", "hostname"}), or None when none came in `timeout`."""
        done, box = threading.Event(), list[dict]()
        with self._lock:
            child = self._running()
            request_id = next(self._ids)
            self._waiting[request_id] = (done, box)
            request = {"id": request_id, "uri": uri, "authname": authname, "password": password}
            try:
                assert child.stdin is not None
                child.stdin.write(json.dumps(request) + "\n")
                child.stdin.flush()
            except OSError:  # it died just now: the reader answers every login it held
                pass
        if not done.wait(timeout):
            with self._lock:
                self._waiting.pop(request_id, None)
            return None
        return box[0]

    def _running(self) -> subprocess.Popen:
        """The child, started on first use (and again if it died). Under the lock."""
        if self._child is not None and self._child.poll() is None:
            return self._child
        self._folder = tempfile.mkdtemp(prefix="kc-libvirt-")  # 0700
        Path(self._folder, "auth.conf").touch(mode=0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIBVIRT_")}
        env["LIBVIRT_AUTH_FILE"] = os.path.join(self._folder, "auth.conf")
        env["LIBVIRT_LOG_FILTERS"] = LOG_FILTERS
        env["LIBVIRT_LOG_OUTPUTS"] = "1:file:" + os.path.join(self._folder, "client.log")
        with open(os.path.join(self._folder, "stderr"), "wb") as stderr:
            child = subprocess.Popen(
                CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
            )
        threading.Thread(target=self._answers, args=(child, self._folder), daemon=True, name="libvirt-helper").start()
        self._child = child
        return child

    def _answers(self, child: subprocess.Popen, folder: str) -> None:
        """Hands each answer to the login waiting for it; when the child ends, every login still waiting learns
        why at once instead of at its deadline."""
        assert child.stdout is not None
        for line in child.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                waiter = self._waiting.pop(answer.get("id"), None)
            if waiter is not None:
                waiter[1].append(answer)
                waiter[0].set()
        child.wait()
        why = _last_line(os.path.join(folder, "stderr")) or f"exit {child.returncode}"
        with self._lock:
            if self._child is not child:
                return  # closed on purpose
            self._child = None
            waiting, self._waiting = self._waiting, {}
        for done, box in waiting.values():
            box.append({"ok": False, "error": f"libvirt client crashed: {why}", "mechanisms": []})
            done.set()
        shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """End the child (its stdin ends; a login stuck in libvirt does not hold it) and remove its folder."""
        with self._lock:
            child, folder, self._child = self._child, self._folder, None
        if child is None:
            return
        try:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            child.kill()
            child.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _last_line(path: str) -> str:
    try:
        lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


HELPER = LibvirtHelper()
atexit.register(HELPER.close)
