"""Reading a request body within the size limit, gzip included (the receiver's I/O edge)."""

from __future__ import annotations

import asyncio
import zlib

from aiohttp import web

from receiver.errors import BadRequest, PayloadTooLarge

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_READ_CHUNK = 64 * 1024


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, decoded, or ``PayloadTooLarge`` as soon as it passes ``limit`` bytes."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the limit of {limit} bytes")
    try:
        raw = await _read_capped(request, declared, limit)
    except ConnectionResetError as exc:
        # The client went away mid-body (aiohttp says "Connection lost"): a refusal, not a
        # server error; nobody will read the answer, but the log gets one line, no traceback.
        raise BadRequest("the connection closed before the body was complete") from exc
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding in ("gzip", "x-gzip"):
        return gunzip_capped(raw, limit)
    raise BadRequest(f"unsupported Content-Encoding {encoding[:40]!r}: send identity or gzip")


def gunzip_capped(data: bytes, limit: int) -> bytes:
    """Decode a gzip body, refusing to inflate past ``limit`` bytes (no gzip bombs)."""
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        decoded = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid gzip: {exc}") from exc
    if len(decoded) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"gzip body inflates past the limit of {limit} bytes")
    if not inflater.eof:
        raise BadRequest("body is not valid gzip: the stream is truncated")
    return decoded


async def _read_capped(request: web.Request, declared: int | None, limit: int) -> bytes:
    if declared == 0:
        return b""
    if declared is not None:  # within the limit (checked above)
        content = request.content
        if content.is_eof():
            # The usual case: the whole body came with the headers, and the parser has seen
            # its end. Take what is buffered without the two coroutines of readexactly/read
            # (1-2 us a request at the receiver's pace).
            body = content.read_nowait()
            if len(body) == declared:
                return body
            raise BadRequest(f"body ended after {len(body)} of the {declared} bytes "
                             "its Content-Length announced")
        try:
            return await content.readexactly(declared)
        except asyncio.IncompleteReadError as exc:
            raise BadRequest(f"body ended after {len(exc.partial)} of the {declared} bytes "
                             "its Content-Length announced") from exc
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
