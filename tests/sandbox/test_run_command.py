"""`storefront run` with no token serves the sandbox, as `make run` does on a fresh clone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_without_a_token_serves_the_sandbox_until_interrupted(tmp_path: Path) -> None:
    """It says it is in sandbox mode, prints the URL, serves the API, and stops on Ctrl-C."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREFRONT_")}
    env.update(
        STOREFRONT_WEB__PORT=str(port),
        STOREFRONT_WEB__PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("open "):
                break
        assert any("sandbox mode: no Discord token" in line for line in lines), lines
        url = lines[-1].split()[1]
        assert url == f"http://127.0.0.1:{port}/sandbox"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/sandbox/api/state") as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    stderr = process.stderr.read() if process.stderr else ""
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert (tmp_path / "storefront.db").exists()
