"""Reading a request body as Splunk measures it: on the wire, then gzip-decoded (I/O edge)."""

from __future__ import annotations

import zlib

from aiohttp import web

from auditstream.server.hec.codes import INVALID_DATA_FORMAT
from auditstream.server.hec.errors import ContentTooLarge, HecRefusal

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_READ_CHUNK = 64 * 1024
# Splunk has no separate cap on what gzip inflates to; a stand-in still refuses bombs.
MAX_DECODED_BYTES = 256 * 1024 * 1024


async def read_body(request: web.Request, max_content_length: int) -> bytes:
    """The body, gzip-decoded if so encoded; 413 when the bytes on the wire pass the limit."""
    declared = request.content_length
    if declared is not None and declared > max_content_length:
        raise ContentTooLarge(max_content_length)
    wire = await _read_capped(request, max_content_length)
    return decode_content(wire, request.headers.get("Content-Encoding", ""))


def decode_content(wire: bytes, encoding: str) -> bytes:
    """``wire`` decoded per Content-Encoding: identity or gzip; anything else is code 6."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return wire
    if encoding not in ("gzip", "x-gzip"):
        raise HecRefusal(INVALID_DATA_FORMAT)
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        decoded = inflater.decompress(wire, MAX_DECODED_BYTES + 1)
    except zlib.error:
        raise HecRefusal(INVALID_DATA_FORMAT) from None
    if len(decoded) > MAX_DECODED_BYTES or inflater.unconsumed_tail:
        raise ContentTooLarge(MAX_DECODED_BYTES)
    if not inflater.eof:
        raise HecRefusal(INVALID_DATA_FORMAT)
    return decoded


async def drain_body(request: web.Request, max_content_length: int) -> None:
    """Read and drop the body (up to the limit) before a fault acts, so a reset or a hang
    comes once the client has sent everything, not while it is still uploading."""
    remaining = max_content_length
    while remaining > 0:
        chunk = await request.content.read(min(_READ_CHUNK, remaining))
        if not chunk:
            return
        remaining -= len(chunk)


async def _read_capped(request: web.Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ContentTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
