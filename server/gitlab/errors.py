"""Errors of the GitLab stand-in.

    GitLabStandInError              base
    ├── GitLabConfigError           a setting or the seed file is wrong (names the key and the
    │                               file); retrying cannot help until it is fixed
    ├── StandInRequestError         a request to the stand-in's own controls (activity, knobs)
    │                               is wrong; names the field. Retrying cannot help
    └── GitLabRefusal               an answer GitLab gives instead of doing the work, in
        │                           GitLab's words; retrying the same request cannot help
        ├── ResourceNotAvailable    GraphQL, top level: the object does not exist or the
        │                           user may not act on it (GitLab does not say which)
        ├── ArgumentError           GraphQL, top level: an argument GitLab refuses before any
        │                           validation (an empty list, two paths, a bad cursor)
        ├── UnknownToken            a token was presented that nobody holds: GitLab answers
        │                           401 before running anything
        └── RestError               REST: an HTTP status and GitLab's JSON body

Validation failures are not errors here: GitLab returns them as values in a payload's
``errors`` array, and so do the stand-in's operations (``server.gitlab.destinations.Outcome``).
"""

from __future__ import annotations

# GitLab's own words for a missing object or a missing permission: it never says which.
RESOURCE_NOT_AVAILABLE = ("The resource that you are attempting to access does not exist or "
                          "you don't have permission to perform this action")


class GitLabStandInError(Exception):
    """Base of the stand-in's errors."""


class GitLabConfigError(GitLabStandInError):
    """A setting or the seed file is wrong; the message names the key and the file."""


class StandInRequestError(GitLabStandInError):
    """A request to the stand-in's controls is wrong; the message names the field."""


class GitLabRefusal(GitLabStandInError):
    """GitLab says no, in its own words (``str(error)`` is the message GitLab gives)."""


class ResourceNotAvailable(GitLabRefusal):
    """Not found or not allowed: a top-level GraphQL error, the mutation's data null."""

    def __init__(self, message: str = RESOURCE_NOT_AVAILABLE) -> None:
        super().__init__(message)


class ArgumentError(GitLabRefusal):
    """An argument refused before validation: a top-level GraphQL error."""


class UnknownToken(GitLabRefusal):
    """A token nobody holds (GraphQL: 401 "Invalid token"; REST: 401 Unauthorized)."""


class RestError(GitLabRefusal):
    """A REST answer other than 200: ``status`` and GitLab's JSON ``body``."""

    def __init__(self, status: int, body: dict[str, str]) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{status} {body}")

    @classmethod
    def message(cls, status: int, text: str) -> RestError:
        """Grape's usual form: ``{"message": "404 Group Not Found"}``."""
        return cls(status, {"message": text})

    @classmethod
    def error(cls, status: int, text: str) -> RestError:
        """Grape's form for a bad parameter: ``{"error": "created_after is invalid"}``."""
        return cls(status, {"error": text})
