"""A third-party Splunk HEC client library works against the stand-in unchanged."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from splunk_handler import SplunkHandler

from auditstream.server.hec import running_hec


async def test_splunk_handler_logs_arrive_as_envelopes() -> None:
    async with running_hec() as hec:
        handler = SplunkHandler(host=hec.host, port=hec.port, token=hec.token, index="main",
                                protocol="http", flush_interval=0.05, retry_count=0,
                                sourcetype="third-party", timeout=5)
        logger = logging.getLogger("third-party-client-test")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            # The library queues records and posts them from its own timer thread with
            # requests, so the stand-in in this loop is free to answer.
            for number in range(5):
                logger.warning("audit line %d", number)
            received = await hec.received.wait_for(5, within=10)
        finally:
            logger.removeHandler(handler)
            await asyncio.to_thread(handler.close)
    assert [e.envelope["sourcetype"] for e in received] == ["third-party"] * 5
    assert [e.index for e in received] == ["main"] * 5
    assert all(f"audit line {n}" in str(e.event) for n, e in enumerate(received))


# Splunk's own Node.js library, installed from the npm registry when the tests start.
NPM_CLIENT = "splunk-logging@0.11.1"
NODE_SENDER = """
const SplunkLogger = require("splunk-logging").Logger;
const logger = new SplunkLogger({token: process.env.HEC_TOKEN, url: process.env.HEC_URL,
                                 maxRetries: 0});
logger.error = (err) => { console.error("splunk-logging error: " + err.message);
                          process.exitCode = 1; };
let left = 3;
for (let n = 0; n < 3; n++) {
  logger.send({message: {id: 5000 + n, event_type: "member_created", count: n},
               metadata: {source: "npm", sourcetype: "third-party-npm", index: "main"}},
              (err, resp, body) => {
                if (err || resp.statusCode !== 200) {
                  console.error("refused: " + (err ? err.message : JSON.stringify(body)));
                  process.exitCode = 1;
                }
                if (--left === 0) { process.exit(); }
              });
}
"""


@pytest.fixture(scope="module")
def npm_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node and npm are not installed")
    folder = tmp_path_factory.mktemp("npm-client")
    try:
        installed = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent",
                                    NPM_CLIENT], cwd=folder, capture_output=True, text=True,
                                   timeout=180, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm could not install {NPM_CLIENT} in time (registry unreachable?)")
    if installed.returncode != 0:
        pytest.skip(f"npm could not install {NPM_CLIENT}: "
                    f"{(installed.stderr.strip().splitlines() or ['?'])[-1]}")
    (folder / "send.js").write_text(NODE_SENDER)
    return folder


@pytest.mark.timeout(300)
async def test_splunks_node_library_sends_envelopes_the_stand_in_takes(
        npm_client: Path) -> None:
    async with running_hec() as hec:
        node = await asyncio.create_subprocess_exec(
            "node", "send.js", cwd=npm_client, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "HEC_TOKEN": hec.token, "HEC_URL": hec.url})
        _, stderr = await asyncio.wait_for(node.communicate(), 60)
        assert node.returncode == 0, stderr.decode()
        received = await hec.received.wait_for(3, within=10)
    assert sorted(e.event["message"]["id"] for e in received) == [5000, 5001, 5002]
    assert {e.envelope["sourcetype"] for e in received} == {"third-party-npm"}
