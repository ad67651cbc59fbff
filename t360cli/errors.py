"""The exception tree: every failure a user can meet, each knowing its exit code.

    T360Error                 (1, a bug if it ever escapes untyped)
     +-- UsageError           2  bad flags or arguments
     +-- ConfigError          3  no API key, unreadable config file, unwritable output
     |    +-- AuthError       3  HTTP 401/403
     +-- APIError             4  other HTTP errors, an error event in the stream
     |    +-- StreamError     4  a malformed or truncated stream
     +-- NetworkError         5  cannot connect, timeout, connection lost, a proxy refused
     |    +-- TLSError        5  the gateway's certificate is not trusted (never retried)
     +-- GuardError           6  refused by a local guard: budget, --max-cost, context length
     +-- SchemaError          7  the answer does not match --schema (it is still printed)

Ctrl-C, SIGTERM and SIGHUP are not errors: a turn ends "interrupted" and exits 130.
SIGTERM and SIGHUP arrive as ``Terminated``, a KeyboardInterrupt that also ends a REPL.

Modules below the CLI only raise these; ``cli.py`` is the one place that turns them
into a stderr line and an exit code. Foreign exceptions (httpx, OSError, JSON) are
translated where they enter, in the module that imports the foreign library.
"""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFIG = 3
    API = 4
    NETWORK = 5
    GUARD = 6
    SCHEMA = 7
    INTERRUPTED = 130


class T360Error(Exception):
    """Base of every error t360 reports to the user."""

    exit_code: ExitCode = ExitCode.INTERNAL
    #: The ``error.type`` reported in ``--json`` when the server gave none.
    kind: str = "internal_error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def line(self) -> str:
        """The one stderr line: what happened, and what to do."""
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(T360Error):
    exit_code = ExitCode.USAGE
    kind = "usage_error"


class ConfigError(T360Error):
    exit_code = ExitCode.CONFIG
    kind = "config_error"


#: The errors of a write the system refused (``> /dev/full``, a full disk, a quota, a file
#: too big, a failing device, an output opened for reading): not bugs, nothing to retry.
UNWRITABLE = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS, errno.EBADF}
)


def unwritable(exc: OSError) -> ConfigError:
    """The error for output the system would not take."""
    where = exc.filename if isinstance(exc.filename, str) else "the output"
    return ConfigError(
        f"cannot write {where}: {exc.strerror or exc}", "check the disk, or where the output goes"
    )


class APIError(T360Error):
    """The gateway answered with an error (HTTP status or an error event)."""

    exit_code = ExitCode.API
    kind = "api_error"

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.type = type
        self.code = code
        self.retry_after = retry_after


class AuthError(APIError):
    """401/403: the key is missing, wrong or not allowed; a configuration problem."""

    exit_code = ExitCode.CONFIG
    kind = "authentication_error"


class StreamError(APIError):
    """The stream broke the protocol: bad JSON, truncated, oversized lines."""

    kind = "stream_error"


class NetworkError(T360Error):
    exit_code = ExitCode.NETWORK
    kind = "network_error"


class TLSError(NetworkError):
    """The certificate could not be verified: retrying cannot help, configuration can."""

    kind = "tls_error"


class GuardError(T360Error):
    """A local guard refused the request before anything was sent."""

    exit_code = ExitCode.GUARD
    kind = "guard_error"


class SchemaError(T360Error):
    """The answer is not JSON matching ``--schema``; the answer itself was shown."""

    exit_code = ExitCode.SCHEMA
    kind = "schema_error"


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop like Ctrl-C (partial text saved), then leave."""
