"""One POST to a receiver, its answer as values."""

from __future__ import annotations

import aiohttp


async def post(http: aiohttp.ClientSession, url: str, body: bytes,
               headers: dict[str, str]) -> tuple[int, dict[str, object], dict[str, str]]:
    """Status, JSON answer and headers of one POST."""
    async with http.post(url, data=body, headers=headers) as response:
        return response.status, await response.json(), dict(response.headers)
