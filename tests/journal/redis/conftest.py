"""The Redis scale-out tests: one journal config on the test's Redis, and the processes they
start, each stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from auditstream.journal import JournalConfig
from tests.journal.redis.server import RedisServer, redis_journal_config


@pytest.fixture
def shared_config(redis_server: RedisServer) -> JournalConfig:
    return redis_journal_config(redis_server)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as processes:
        yield processes
