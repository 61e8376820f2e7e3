from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from auditstream.server.gitlab import GitLabConfig, RunningGitLab, running_gitlab


@pytest.fixture
async def gitlab() -> AsyncIterator[RunningGitLab]:
    async with running_gitlab(config=GitLabConfig(activity_seed=3)) as running:
        yield running
