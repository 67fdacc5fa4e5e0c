"""The server on a network: bounded heavy work, health and readiness, metrics, access log, offline
docs, bearer token, CORS, trusted hosts, security headers, stalled bodies, several workers."""

import asyncio
import io
import json
import time

import httpx
import numpy as np
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from PIL import Image

import mnistlab as ml
from conftest import run_cli
from mnistlab.runs import RunDir
from mnistlab.serving.app import create_app
from mnistlab.serving.operations import Heavy, Metrics, Operations
from scenes import sheet
from serving import running_server


def _png(text="42") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(sheet([text]).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def bundled():
    return RunDir(ml.bundled_path())


def test_heavy_work_beyond_the_bound_waits_briefly_then_gets_retry_after():
    heavy = Heavy(1, Metrics({"run": "x"}), wait=0.1)

    async def scenario():
        first = asyncio.ensure_future(heavy.run(time.sleep, 0.5))
        await asyncio.sleep(0.05)
        with pytest.raises(HTTPException) as refused:
            await heavy.run(lambda: None)  # waited 0.1 s for the slot held 0.5 s
        await first
        assert await heavy.run(lambda: 7) == 7  # the slot is free again
        return refused.value

    refused = asyncio.run(scenario())
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert heavy.busy == 0 and heavy.metrics.refused._value.get() == 1


def test_health_readiness_and_metrics(bundled):
    client = TestClient(create_app(bundled))
    assert client.get("/livez").json() == {"status": "alive"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["limit"] >= 1
    assert client.post("/api/read", files={"file": ("n.png", _png(), "image/png")}).json()["text"] == "42"
    client.post("/api/read", files={"file": ("n.png", b"junk", "image/png")})
    text = client.get("/metrics").text
    assert 'mnistlab_requests_total{endpoint="/api/read",method="POST",status="200"} 1.0' in text
    assert 'mnistlab_requests_total{endpoint="/api/read",method="POST",status="400"} 1.0' in text
    assert "mnistlab_request_seconds_bucket" in text and "mnistlab_requests_in_flight" in text
    assert 'mnistlab_model_info{engine="onnx"' in text and "mnistlab_refused_total 0.0" in text


def test_docs_are_served_from_the_package(bundled):
    client = TestClient(create_app(bundled))
    page = client.get("/docs").text
    assert "/docs/static/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/static/swagger-ui.css").status_code == 200
    assert "/api/read" in client.get("/openapi.json").json()["paths"]
    page = client.get("/redoc").text
    assert "/redoc/static/redoc.standalone.js" in page
    assert "cdn" not in page.lower() and "googleapis" not in page.lower()
    js = client.get("/redoc/static/redoc.standalone.js")
    assert js.status_code == 200 and len(js.content) > 500_000


def test_bearer_token_guards_the_api_not_health(bundled):
    client = TestClient(create_app(bundled, token="s3cret"))
    files = {"file": ("n.png", _png(), "image/png")}
    res = client.post("/api/read", files=files)
    assert res.status_code == 401 and "bearer token" in res.json()["detail"]
    assert client.post("/api/read", files=files, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/api/read", files=files, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/api/health").status_code == 200 and client.get("/livez").status_code == 200


def test_cors_trusted_hosts_and_security_headers(bundled):
    client = TestClient(
        create_app(
            bundled, cors_origins=["https://app.example.org"], trusted_hosts=["testserver", "digits.example.org"]
        )
    )
    res = client.get("/api/health", headers={"Origin": "https://app.example.org"})
    assert res.headers["access-control-allow-origin"] == "https://app.example.org"
    res = client.get("/api/health", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in res.headers
    assert client.get("/api/model", headers={"Host": "evil.example.com"}).status_code == 400
    page = client.get("/")
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_stalled_body_gets_408():
    async def app(scope, receive, send):
        await receive()  # waits for a body that never comes
        raise AssertionError("unreachable")

    sent = []

    async def scenario():
        ops = Operations(app, Metrics({"run": "x"}), body_seconds=0.2)

        async def never():
            await asyncio.sleep(10)

        async def send(message):
            sent.append(message)

        await ops({"type": "http", "method": "POST", "path": "/api/read", "headers": []}, never, send)

    asyncio.run(asyncio.wait_for(scenario(), 5))
    assert sent[0]["status"] == 408 and b"did not arrive" in sent[1]["body"]


def test_binding_beyond_loopback_needs_trusted_hosts():
    res = run_cli("serve", "--host", "0.0.0.0", timeout=60)
    assert res.returncode == 2 and "--trusted-host" in res.stderr and "Traceback" not in res.stderr


def test_one_access_line_per_request(bundled, capsys):
    client = TestClient(create_app(bundled, log_format="json"))
    client.get("/api/health")
    client.post("/api/read", files={"file": ("n.png", b"junk", "image/png")})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [(entry["method"], entry["path"], entry["status"]) for entry in lines] == [
        ("GET", "/api/health", 200),
        ("POST", "/api/read", 400),
    ]
    assert all(entry["ms"] >= 0 for entry in lines)


@pytest.mark.timeout(300)
def test_two_workers_answer():
    with running_server(ml.bundled_path(), args=["--workers", "2", "--log-format", "json"]) as url:
        answers = [
            httpx.post(f"{url}/api/read", files={"file": ("n.png", _png("2026"), "image/png")}, timeout=30)
            for _ in range(6)
        ]
        assert all(a.status_code == 200 and a.json()["text"] == "2026" for a in answers)


@pytest.mark.timeout(120)
def test_headers_that_never_finish_are_cut_off(monkeypatch):
    """A client that opens connections and never completes its headers (slowloris) loses them after
    the header deadline, while a well-behaved client is answered throughout."""
    import socket
    import time

    monkeypatch.setenv("MNISTLAB_HEADER_SECONDS", "2")
    with running_server(ml.bundled_path()) as url:
        port = int(url.rsplit(":", 1)[1])
        stalled = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            stalled.append(s)
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)  # sends nothing at all
        assert httpx.get(f"{url}/api/health", timeout=5).status_code == 200
        time.sleep(3.5)
        for s in stalled + [idle]:
            assert s.recv(100) == b""  # closed by the server
            s.close()
        assert httpx.get(f"{url}/api/health", timeout=5).status_code == 200
