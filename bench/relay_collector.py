"""The relay's ceiling: a HEC collector that only reads the body and answers Success.

No token check, no gzip decoding, no parsing: what is left is aiohttp receiving a request body
and answering, which is all any HEC-like sink must at least do. It also answers the health
check (so a relay pointed at it finds it healthy) and counts what it read, for the checks.

    python -m bench.relay_collector --listen 127.0.0.1:0

Prints ``relay collector listening on http://HOST:PORT`` once ready; ``GET /_counts`` gives
``{"requests": n, "bytes": wire bytes read}``; stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from dataclasses import dataclass

import orjson
from aiohttp import web

READY_LINE = "relay collector listening on"
COUNTS_PATH = "/_counts"
SUCCESS = b'{"text":"Success","code":0}'
HEALTHY = b'{"text":"HEC is healthy","code":17}'


@dataclass(slots=True)
class Counts:
    requests: int = 0
    bytes: int = 0


COUNTS = web.AppKey("counts", Counts)


async def collect(request: web.Request) -> web.Response:
    """Read the whole body (as a collector must), count it, answer Success."""
    body = await request.read()
    counts = request.app[COUNTS]
    counts.requests += 1
    counts.bytes += len(body)
    return web.Response(body=SUCCESS, content_type="application/json")


async def health(request: web.Request) -> web.Response:
    return web.Response(body=HEALTHY, content_type="application/json")


async def counts(request: web.Request) -> web.Response:
    seen = request.app[COUNTS]
    return web.Response(body=orjson.dumps({"requests": seen.requests, "bytes": seen.bytes}),
                        content_type="application/json")


def create_app() -> web.Application:
    app = web.Application()
    app[COUNTS] = Counts()
    app.router.add_get("/services/collector/health", health)
    app.router.add_get(COUNTS_PATH, counts)
    app.router.add_post("/{path:.*}", collect)
    return app


async def serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # As the stand-in does: the body is read as sent (gzip stays gzip), no access log.
    runner = web.AppRunner(create_app(), auto_decompress=False, access_log=None,
                           handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = next(a for a in runner.addresses if isinstance(a, tuple))
    print(f"{READY_LINE} http://{bound[0]}:{bound[1]}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.relay_collector",
        description="A HEC collector that only reads request bodies and answers Success.")
    parser.add_argument("--listen", default="127.0.0.1:0",
                        help="HOST:PORT; port 0 picks a free one (default %(default)s)")
    args = parser.parse_args()
    host, _, port = str(args.listen).rpartition(":")
    asyncio.run(serve(host, int(port)))


if __name__ == "__main__":
    main()
