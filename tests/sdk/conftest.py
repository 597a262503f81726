"""Fixtures: real gatewayd processes on loopback ports.

`upstream` is a gatewayd serving only the built-in loopback model; `gateway`
is the gatewayd under test, routing `claude-*` models to `upstream` as an
*Anthropic* provider and `gpt-*` models to it as an *OpenAI* provider, so the
official SDKs exercise both translation directions end to end; `native-*`
models go to it as an OpenAI provider that serves `/responses` itself
(passed through); `gem-*` models go to it as a *Gemini* provider (its native
`/v1beta` endpoints).
"""

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("GATEWAYD_BIN", ROOT / "target" / "debug" / "gatewayd"))


def _start(config_text: str):
    tmp = tempfile.TemporaryDirectory()
    cfg = Path(tmp.name)
    (cfg / "setting.ini").write_text(config_text)
    env = {"HOME": tmp.name, "PATH": os.environ.get("PATH", ""), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [str(BIN), "--config", str(cfg), "--listen", "127.0.0.1:0", "--set", "log.format=json"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 30
    url = None
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"gatewayd listening on (http://[0-9.]+:[0-9]+)", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        proc.kill()
        raise RuntimeError(f"gatewayd did not start: {proc.stderr.read()}")
    return proc, url, tmp


def _stop(proc):
    proc.terminate()
    try:
        assert proc.wait(timeout=15) == 0, "gatewayd exits 0 on SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="session")
def upstream():
    proc, url, tmp = _start("")
    yield url
    _stop(proc)
    tmp.cleanup()


@pytest.fixture(scope="session")
def gateway(upstream):
    config = f"""
[provider.claude]
type = anthropic
base_url = {upstream}
api_key = test-anthropic-key

[provider.gpt]
type = openai
base_url = {upstream}/v1
api_key = test-openai-key

[provider.native]
type = openai
base_url = {upstream}/v1
api_key = test-openai-key
responses = true

[provider.gem]
type = gemini
base_url = {upstream}
api_key = test-gemini-key

[routes]
claude-* = claude
gpt-* = gpt
native-* = native
gem-* = gem

[aliases]
claude-test = loopback
gpt-test = loopback
native-test = loopback
gem-test = loopback
"""
    proc, url, tmp = _start(config)
    yield url
    _stop(proc)
    tmp.cleanup()
