"""The framework ceiling: an aiohttp server whose POST handler answers 200 without reading.

It runs on the same aiohttp, in the same ``AppRunner`` style as the receiver (access log off,
signals handled by us), so the receiver's requests/s can be read as a fraction of what aiohttp
itself can do on this machine. Prints ``bare handler listening on http://HOST:PORT`` once ready
and stops cleanly on SIGTERM or SIGINT.

    python -m bench.bare_handler --listen 127.0.0.1:0
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import web

READY_LINE = "bare handler listening on"


async def answer_ok(request: web.Request) -> web.Response:
    """200 at once; the body is left unread (aiohttp discards it before the next request)."""
    return web.Response(status=200)


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/{path:.*}", answer_ok)
    return app


async def serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(create_app(), access_log=None, handle_signals=False)
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
        prog="python -m bench.bare_handler",
        description="An aiohttp server whose POST handler answers 200 without reading the body.")
    parser.add_argument("--listen", default="127.0.0.1:0",
                        help="HOST:PORT; port 0 picks a free one (default %(default)s)")
    args = parser.parse_args()
    host, _, port = str(args.listen).rpartition(":")
    asyncio.run(serve(host, int(port)))


if __name__ == "__main__":
    main()
