"""One redis-server for the Redis tests of a session; each test keeps to its own key prefix."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.journal.redis.server import RedisServer, running_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server
