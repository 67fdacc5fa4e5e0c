"""Start `mnistlab serve` as a real uvicorn process on a free loopback port (for browser and load tests)."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(run_path, timeout=120, args=()):
    """The server's URL while it runs; its access log goes to a file (a pipe nobody reads would fill
    up and stall it)."""
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", prefix="mnistlab-serve-", suffix=".log")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnistlab.cli", "serve", str(run_path), "--port", str(port), *map(str, args)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited: {log.read()[-2000:]}")
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def launch_chromium(pw):
    """Debian's Chromium under Playwright, headless, asking nothing of the network on its own."""
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )
