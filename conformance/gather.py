"""Gather, then judge: every read the checks will ask of a host, fetched in a few batches before the first check.

Probes stay plain functions that read what they need as they go; nothing declares a read twice. The gatherer
runs the host's checks with reads deferred (Facts.deferring): each check goes as far as the answers it has, and
the read it stops at is noted. Every noted read of the host is then made in one round trip, side by side on the
host (Facts.fetch_pending), and the checks go again, now one read further. A probe that needs an earlier answer
(the container that a listing names, the file a config points to) so costs one more round trip, never one per
command. Judging afterwards reads only the cache; a read that gathering did not foresee is made on its own, as
before.

Hosts are gathered side by side, `forks` at a time (the profile's key, as Ansible's). Resolving a host's
expectation runs under one lock: ansible-core is not made for threads, and the work is CPU-bound anyway.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterable

from conformance.facts import Deferred

MAX_ROUNDS = 8  # a probe chain deeper than this reads the rest on its own while judged
RESOLVING = threading.Lock()


def gather_host(expectation, facts, checks: Iterable) -> int:
    """Fetch every read `checks` make on this host, in rounds; returns the number of round trips used."""
    checks = list(checks)
    rounds = 0
    while rounds < MAX_ROUNDS:
        with facts.deferring():
            for check in checks:
                try:
                    check.judge(expectation, facts)
                except Deferred:
                    pass  # its next read is noted
                except Exception:  # noqa: BLE001 - whatever it is, judging meets it again and reports it
                    pass
        if not facts.pending:
            break
        rounds += 1
        try:
            facts.fetch_pending()
        except Exception:  # noqa: BLE001 - an unreachable host: judging reports it, once per check
            break
    facts.gathered = True
    return rounds


def gather_hosts(names: list[str], gather_one: Callable[[str], object], forks: int) -> None:
    """`gather_one(name)` for every host, `forks` at a time. An interrupt stops waiting at once: what is in flight
    ends within its own time limits (and with the SSH masters when the run closes them)."""
    if not names:
        return
    workers = max(1, min(forks, len(names)))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gather")
    try:
        for future in [pool.submit(gather_one, name) for name in names]:
            future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
