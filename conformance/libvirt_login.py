"""libvirt from the suite's machine, in a child process: `python -m conformance.libvirt_login [serve]`.

A child process because libvirt's client reads its settings from the environment (auth file, debug log) and can
block in connect; the parent gives it a private environment and deadlines. Passwords arrive on stdin only, never
in argv or the environment. Answers (JSON lines on stdout) carry no secret.

- `serve`: the run's login helper (conformance.libvirt_helper). Login requests as JSON lines, each with an `id`,
  run side by side (a thread each: a libvirtd that never answers holds only its own login) and are answered with
  that id as each ends: success, libvirt's error text, the SASL mechanisms the server advertised and the server's
  hostname. A login's mechanisms are in the lines its own thread wrote to libvirt's client debug log (each line
  names its thread) after the login began.
- no argument: one canary request on stdin's first line. The child removes the canaries an earlier run left
  (domains named with the request's prefix), creates the request's transient domain paused and answers; then
  waits for one more line on stdin (or its end, if the parent died) and destroys the domain. A transient domain
  leaves no definition behind once destroyed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading


def advertised_mechanisms(log_text: str) -> list[str]:
    """libvirt's remote driver logs `Client start negotiation mechlist 'A,B'` before SASL starts."""
    match = re.search(r"mechlist '([^']*)'", log_text)
    return [m for m in re.split(r"[\s,]+", match.group(1)) if m] if match else []


def _open(uri: str, authname: str, password: str):
    import libvirt

    def fill(credentials, _data):
        for credential in credentials:
            if credential[0] == libvirt.VIR_CRED_AUTHNAME:
                credential[4] = authname
            elif credential[0] == libvirt.VIR_CRED_PASSPHRASE:
                credential[4] = password
        return 0

    libvirt.registerErrorHandler(lambda *_: None, None)  # keep libvirt from printing errors to stderr
    auth = [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE], fill, None]
    return libvirt.openAuth(uri, auth, 0)


def _error(exc) -> str:
    return exc.get_error_message() or str(exc)


def login(uri: str, authname: str, password: str) -> dict:
    import libvirt

    try:
        conn = _open(uri, authname, password)
    except libvirt.libvirtError as exc:
        return {"ok": False, "error": _error(exc)}
    try:
        return {"ok": True, "error": "", "hostname": conn.getHostname()}
    finally:
        conn.close()


def _say(answer: dict) -> None:
    print(json.dumps(answer), flush=True)


def canary(uri: str, authname: str, password: str, xml: str, prefix: str) -> None:
    import libvirt

    try:
        conn = _open(uri, authname, password)
    except libvirt.libvirtError as exc:
        return _say({"stage": "connect", "ok": False, "error": _error(exc)})
    try:
        removed = []
        for leftover in conn.listAllDomains():
            if leftover.name().startswith(prefix):
                try:
                    leftover.destroy()
                    removed.append(leftover.name())
                except libvirt.libvirtError as exc:
                    return _say({"stage": "leftover", "ok": False, "error": _error(exc), "removed": removed})
        try:
            domain = conn.createXML(xml, libvirt.VIR_DOMAIN_START_PAUSED)
        except libvirt.libvirtError as exc:
            return _say({"stage": "create", "ok": False, "error": _error(exc), "removed": removed})
        state = {libvirt.VIR_DOMAIN_PAUSED: "paused", libvirt.VIR_DOMAIN_RUNNING: "running"}
        _say(
            {
                "stage": "create",
                "ok": True,
                "uuid": domain.UUIDString(),
                "state": state.get(domain.state()[0], str(domain.state()[0])),
                "removed": removed,
            }
        )
        sys.stdin.readline()  # the parent has looked at the host; "" if it died: destroy all the same
        try:
            domain.destroy()
        except libvirt.libvirtError as exc:
            return _say({"stage": "destroy", "ok": False, "error": _error(exc)})
        left = [d.name() for d in conn.listAllDomains() if d.name().startswith(prefix)]
        _say({"stage": "destroy", "ok": not left, "error": f"still defined: {', '.join(left)}" if left else ""})
    finally:
        conn.close()


def _log_path() -> str:
    return os.environ.get("LIBVIRT_LOG_OUTPUTS", "").partition(":file:")[2]


def _own_lines(log: str, start: int, thread: int) -> str:
    """What `thread` wrote to libvirt's log from offset `start` on (`<time>: <thread id>: <level> : ...`)."""
    if not log or not os.path.exists(log):
        return ""
    with open(log, errors="replace") as handle:
        handle.seek(start)
        mark = f": {thread}: "
        return "".join(line for line in handle if mark in line[:64])


def serve() -> int:
    import libvirt  # noqa: F401 - initialised here, once, before any login thread starts

    log, say = _log_path(), threading.Lock()

    def one(request: dict) -> None:
        start = os.path.getsize(log) if log and os.path.exists(log) else 0
        answer = login(request["uri"], request["authname"], request["password"])
        answer["mechanisms"] = advertised_mechanisms(_own_lines(log, start, threading.get_native_id()))
        answer["id"] = request["id"]
        with say:
            print(json.dumps(answer), flush=True)

    for line in sys.stdin:
        threading.Thread(target=one, args=(json.loads(line),), daemon=True).start()
    # stdin ended: the run is over (or its process died). A login still stuck in libvirt ends with this process;
    # the debug log goes now, whatever became of the parent: it is no place to keep anything.
    if log and os.path.exists(log):
        os.unlink(log)
    return 0


def main() -> int:
    if sys.argv[1:] == ["serve"]:
        return serve()
    request = json.loads(sys.stdin.readline())
    canary(request["uri"], request["authname"], request["password"], request["xml"], request["prefix"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
