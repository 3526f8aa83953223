"""One libvirt login, run as a child process: `python -m conformance.libvirt_login` with a JSON request on stdin.

A child process because libvirt's client reads its settings from the environment (auth file, debug log) and can
block in connect; the parent gives it a private environment and a deadline. The password arrives on stdin only,
never in argv or the environment. The answer (JSON on stdout) carries no secret: success, libvirt's error text,
the SASL mechanisms the server advertised (from libvirt's client debug log) and the server's hostname.
"""

from __future__ import annotations

import json
import os
import re
import sys


def advertised_mechanisms(log_text: str) -> list[str]:
    """libvirt's remote driver logs `Client start negotiation mechlist 'A,B'` before SASL starts."""
    match = re.search(r"mechlist '([^']*)'", log_text)
    return [m for m in re.split(r"[\s,]+", match.group(1)) if m] if match else []


def login(uri: str, authname: str, password: str) -> dict:
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
    try:
        conn = libvirt.openAuth(uri, auth, 0)
    except libvirt.libvirtError as exc:
        return {"ok": False, "error": exc.get_error_message() or str(exc)}
    try:
        return {"ok": True, "error": "", "hostname": conn.getHostname()}
    finally:
        conn.close()


def main() -> int:
    request = json.loads(sys.stdin.read())
    answer = login(request["uri"], request["authname"], request["password"])
    log = os.environ.get("LIBVIRT_LOG_OUTPUTS", "").partition(":file:")[2]
    if log and os.path.exists(log):
        with open(log, errors="replace") as handle:
            answer["mechanisms"] = advertised_mechanisms(handle.read())
        os.unlink(log)  # a debug log is no place to keep anything
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
