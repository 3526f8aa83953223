"""Errors a user can cause, and the exit codes the suite promises.

A user error is always one line naming the file, key or host; it is never shown as a traceback.
"""

import enum


class ExitCode(enum.IntEnum):
    """Documented exit codes of a conformance run (pytest's own codes where they exist)."""

    OK = 0  # every check passed (warnings allowed)
    CHECK_FAILED = 1  # at least one check failed on a reachable host
    INTERRUPTED = 2  # pytest: interrupted
    INTERNAL_ERROR = 3  # pytest: a bug in the suite
    PROFILE_ERROR = 4  # bad profile, Kolla config or command line (pytest's usage error)
    NO_CHECKS = 5  # pytest: nothing selected
    HOSTS_UNREACHABLE = 6  # no check failed, but some hosts could not be checked


class ConformanceError(Exception):
    """Base of all errors the user can cause; str() is the one line shown."""


class ProfileError(ConformanceError):
    """The profile or the Kolla configuration it points at cannot be used."""

    def __init__(self, source, key, problem):
        self.source, self.key, self.problem = str(source), key, problem
        where = f"{self.source}: {key}: " if key else f"{self.source}: "
        super().__init__(where + problem)


class HostUnreachable(ConformanceError):
    """A host could not be reached or a command on it could not run (not a check failure)."""

    def __init__(self, host, problem):
        self.host, self.problem = host, problem
        super().__init__(f"host {host}: {problem}")


class NotRead(Exception):
    """What a check needs could not be read now (not a user error): the check is not judged, never passed or
    failed on an answer that never came. str() names the cause."""


class ReadTimedOut(NotRead):
    """A read on the host did not answer within the profile's command_timeout, or was not tried because what it
    needs had already hung on this host (so a hung host costs about one timeout, not one per check)."""


class ContainerUnavailable(NotRead):
    """A command inside a container did not run to its end: the container is absent, stopped, restarting, or died
    during the command. What it would have read is unknown, so no check may judge from it (not a user error)."""

    def __init__(self, container, problem):
        self.container, self.problem = container, problem
        super().__init__(f"cannot look inside {container} now: {problem}")


class EngineUnavailable(NotRead):
    """A listing of the container engine (`ps`, `volume ls`, `container inspect`) exited non-zero: the engine is
    down, restarting, or refuses this user. What it would have listed is unknown, so no check may pass or be n/a
    on it; the checks made for what the engine lists fail with the engine's own error (not a user error)."""

    def __init__(self, engine, command, problem, output=""):
        self.engine, self.command, self.problem, self.output = engine, command, problem, output
        super().__init__(f"{engine} cannot list now: `{command}` failed: {problem}")

    def evidence(self) -> str:
        """As engine.Listing.evidence: the command, and what the engine said instead of a listing."""
        return f"$ {self.command}\n{self.output.strip() or self.problem}"
