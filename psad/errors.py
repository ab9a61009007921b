"""Domain errors, one shallow tree per boundary, each carrying its facts."""

from __future__ import annotations


class PsadError(Exception):
    """Base of every error psad raises on purpose."""


class ConfigError(PsadError):
    """The configuration is invalid; ``problems`` are ``key.path: message`` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class PsaError(PsadError):
    """A PSA call failed. ``integration`` names whose PSA it was."""

    def __init__(self, message: str, *, integration: str = "", url: str = "") -> None:
        super().__init__(message)
        self.integration = integration
        self.url = url


class PsaAuthError(PsaError):
    """The PSA refused the credentials (401) or the role's rights (403)."""


class PsaNotFound(PsaError):
    """The PSA says the object does not exist."""


class PsaInvalidId(PsaError):
    """An id or filter value has a shape this PSA's ids never have (so nothing can match).

    Raised before any call is made; the live ticket API answers it as "no such
    ticket" or as an empty match, never as a PSA failure.
    """


class PsaRateLimited(PsaError):
    """The PSA kept throttling past the retry budget."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: str) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class PsaUnavailable(PsaError):
    """The PSA could not be reached, timed out or kept answering 5xx."""


class PsaTimeout(PsaUnavailable):
    """The PSA did not answer within the client timeout."""


class PsaCircuitOpen(PsaUnavailable):
    """Calls to this PSA are paused after repeated failures."""


class PsaBadResponse(PsaError):
    """The PSA answered with something psad cannot use."""

    def __init__(self, message: str, *, status: int = 0, body_excerpt: str = "", **kw: str) -> None:
        super().__init__(message, **kw)
        self.status = status
        self.body_excerpt = body_excerpt


class PsaListingChanged(PsaError):
    """A list kept changing while it was read (twice); an id listing with a record
    missing would delete it, so the entity's sweep waits for the next run."""


class SyncInterrupted(PsadError):
    """The daemon is stopping; the run ends after its current page."""
