"""No request can hurt the server, on any route: picture bombs on every route and in the CLI, held
connections, metric-label floods, hostile JSON and headers, preflights, forged log lines, probes
by IP, the token kept out of `ps` and the workers' environment, and damaged run files."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

import mnistlab as ml
from conftest import REPO, run_cli
from mnistlab.runs import RunDir
from mnistlab.serving.app import create_app
from scenes import sheet
from serving import running_server


@pytest.fixture(scope="module")
def bundled():
    return RunDir(ml.bundled_path())


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """Small files that decode to about 40 Mpixels: a lossless WebP (200 KB), a transparent PNG and
    a 16-bit PNG, each with one thick stroke (a 1)."""
    folder = tmp_path_factory.mktemp("bombs")
    made = {}
    for name, mode, size, paper, ink, kwargs in (
        ("bomb.webp", "L", (6600, 6000), 255, 0, {"lossless": True, "quality": 0, "method": 0}),
        ("phone.webp", "L", (4000, 3000), 255, 0, {"lossless": True, "quality": 0, "method": 0}),
        ("clear.png", "RGBA", (6600, 6000), (0, 0, 0, 0), (0, 0, 0, 255), {"compress_level": 1}),
        ("deep.png", "I;16", (7000, 5700), 65535, 0, {"compress_level": 1}),
    ):
        img = Image.new(mode, size, paper)
        ImageDraw.Draw(img).line([(size[0] // 2, size[1] // 6), (size[0] // 2, 5 * size[1] // 6)], fill=ink, width=300)
        path = folder / name
        img.save(path, **kwargs)
        made[name] = path
    return made


def _peak_mb(code: str) -> float:
    """Peak memory (MB) of a fresh Python running `code`: its VmHWM (ru_maxrss would carry this
    process's own peak over from the fork)."""
    report = "\nprint([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0])"
    out = subprocess.run([sys.executable, "-c", code + report], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1]) / 1024


@pytest.mark.timeout(300)
def test_a_single_digit_is_decoded_straight_to_a_small_size(bombs):
    # Before: a 40-Mpixel picture became a 40-Mpixel float array: 1.7 GB for one `predict` of a
    # 200 KB WebP; the transparent PNG's alpha was flattened at full size.
    code = (
        f"from mnistlab.images import image_bytes_to_array\n"
        f"a = image_bytes_to_array(open({str(bombs['clear.png'])!r}, 'rb').read())\n"
        f"assert a.shape == (28, 28) and a.max() > 100"
    )
    assert _peak_mb(code) < 600
    res = run_cli("predict", bombs["phone.webp"], "--json", timeout=120)  # a 12-Mpixel WebP is read
    assert res.returncode == 0 and json.loads(res.stdout)[0]["digit"] == 1
    # A WebP is decoded whole (0.66 GB for this one): over 16 Mpixels it is refused from its header.
    code = (
        f"from mnistlab.images import ImageError, image_bytes_to_array\n"
        f"try:\n    image_bytes_to_array(open({str(bombs['bomb.webp'])!r}, 'rb').read())\n"
        f"except ImageError as exc:\n    assert 'send it as JPEG or PNG' in str(exc)\n"
        f"else:\n    raise SystemExit('decoded')"
    )
    assert _peak_mb(code) < 200
    res = run_cli("predict", bombs["bomb.webp"], timeout=120)
    assert res.returncode == 2 and "send it as JPEG or PNG" in res.stderr


def test_sixteen_bit_pictures_are_read_when_shrunk(bombs, bundled):
    client = TestClient(create_app(bundled))
    res = client.post("/api/read", files={"file": ("deep.png", bombs["deep.png"].read_bytes(), "image/png")})
    assert res.status_code == 200, res.text  # before: 400 "image has wrong mode"
    assert run_cli("read", bombs["deep.png"], timeout=120).returncode == 0


def test_a_batch_of_bombs_is_refused_before_any_is_decoded(bombs, bundled):
    client = TestClient(create_app(bundled))
    data = bombs["bomb.webp"].read_bytes()
    start = time.perf_counter()
    res = client.post("/api/predict/batch", files=[("files", (f"{k}.webp", data, "image/webp")) for k in range(4)])
    assert res.status_code == 413 and "pixels" in res.json()["detail"]
    assert time.perf_counter() - start < 5  # nothing was decoded
    digits = [("files", (f"{k}.png", _png("7"), "image/png")) for k in range(3)]
    assert client.post("/api/predict/batch", files=digits).status_code == 200


def test_only_the_formats_a_reader_needs_are_parsed(bundled):
    client = TestClient(create_app(bundled))
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    psd = (
        b"8BPS" + b"\x00\x01" + b"\x00" * 6 + b"\x00\x03" + b"\x00\x00\x00\x0a" * 2 + b"\x00\x08\x00\x03" + b"\x00" * 40
    )
    for name, blob in (("x.eps", eps), ("x.psd", psd)):
        res = client.post("/api/predict", files={"file": (name, blob, "application/octet-stream")})
        assert res.status_code == 400 and "not an image in a format" in res.json()["detail"], name


def _png(text="42") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(sheet([text]).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_metrics_stay_small_whatever_paths_and_methods_are_sent(bundled):
    client = TestClient(create_app(bundled, token="t0ken"))
    rng = np.random.default_rng(0)
    for k in range(2000):
        path = "/" + "".join(chr(c) for c in rng.integers(97, 123, 12))
        method = ["GET", "POST", "BREW", "PROPFIND"][k % 4]
        client.request(method, path if k % 3 else "/api" + path)
    text = client.get("/metrics").text
    assert len(text) < 20_000, len(text)  # before: every path and method a label, 7 MB at 5,000
    assert 'endpoint="other"' in text and 'method="other"' in text and "BREW" not in text


def test_hostile_json_numbers_and_headers_are_4xx_never_500(bundled):
    client = TestClient(create_app(bundled, token="s3cret"), raise_server_exceptions=False)
    auth = {"Authorization": "Bearer s3cret"}
    for number in (b"1e400", b"-1e400", b"1" * 400, b"NaN", b"Infinity"):
        first = b"[" + b",".join([number] + [b"0"] * 27) + b"]"  # one cell is enough
        body = b'{"pixels": [' + b",".join([first] + [b"[" + b",".join([b"0"] * 28) + b"]"] * 27) + b"]}"
        res = client.post("/api/predict", content=body, headers={**auth, "content-type": "application/json"})
        assert res.status_code == 422, (number[:10], res.status_code, res.text[:200])
    big = b'{"pixels": [' + b"0," * (1024 * 1024) + b"0]}"  # 2 MB: before, parsed on the event loop
    res = client.post("/api/predict", content=big, headers={**auth, "content-type": "application/json"})
    assert res.status_code == 413 and "JSON" in res.json()["detail"]
    for value in (b"Bearer \xe9", b"Bearer ", b"", b"Basic czNjcmV0", b"Bearer s3cret\xe9", b"Bearer " + b"x" * 8000):
        res = client.post("/api/predict", json={"pixels": [[0] * 28] * 28}, headers={"Authorization": value})
        assert res.status_code == 401, (value, res.status_code)


def test_a_browser_preflight_reaches_a_server_with_a_token(bundled):
    client = TestClient(create_app(bundled, token="s3cret", cors_origins=["https://app.example.org"]))
    origin = {"Origin": "https://app.example.org"}
    pre = client.options(
        "/api/read",
        headers={**origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
    )
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://app.example.org"
    denied = client.post("/api/read", headers=origin, files={"file": ("n.png", _png(), "image/png")})
    assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == "https://app.example.org"


def test_control_characters_never_reach_the_text_log(bundled, capsys):
    client = TestClient(create_app(bundled, log_format="text"))
    client.get("/x%0A127.0.0.1%20%22GET%20/admin%22%20200%1B[2J")
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "/x" in line]
    assert len(lines) == 1 and "\x1b" not in err and "\\n127.0.0.1" in lines[0]


def test_health_answers_any_host_the_api_only_trusted_ones(bundled):
    client = TestClient(create_app(bundled, trusted_hosts=["digits.example.org"]))
    for path in ("/livez", "/readyz", "/api/health"):
        assert client.get(path, headers={"Host": "127.0.0.1"}).status_code == 200, path
    assert client.get("/api/model", headers={"Host": "127.0.0.1"}).status_code == 400
    assert client.get("/api/model", headers={"Host": "digits.example.org"}).status_code == 200


@pytest.mark.timeout(180)
def test_connections_that_hold_a_body_back_are_closed(monkeypatch):
    monkeypatch.setenv("MNISTLAB_BODY_SECONDS", "2")
    monkeypatch.setenv("MNISTLAB_CONNECTIONS_PER_CLIENT", "40")
    monkeypatch.setenv("MNISTLAB_LINGER_SECONDS", "1")
    with running_server(ml.bundled_path()) as url:
        port = int(url.rsplit(":", 1)[1])

        def connect():
            return socket.create_connection(("127.0.0.1", port), timeout=10)

        def until_closed(s, seconds=5.0):
            """What the server sends until it closes the connection (None: still open after `seconds`)."""
            s.settimeout(seconds)
            got = b""
            try:
                while chunk := s.recv(4096):
                    got += chunk
            except TimeoutError:
                return None
            return got

        # A GET declaring a body it never sends: answered, then closed after lingering a second
        # (before: held for ever).
        for extra in (b"", b"x"):  # and one byte of it after the headers
            s = connect()
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" + extra)
            answer = until_closed(s)
            assert answer is not None and b"200 OK" in answer, answer
            s.close()
        # A body dripped a byte at a time: 408 once the whole body's deadline has passed (before: 400
        # "malformed multipart body", or never while each byte came in time).
        s = connect()
        s.sendall(
            b"POST /api/read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
            b"Content-Type: multipart/form-data; boundary=xx\r\n\r\n--xx\r\n"
        )
        start, answer = time.monotonic(), b""
        s.settimeout(0.5)
        while time.monotonic() - start < 10 and b"HTTP/1.1" not in answer:
            try:
                s.sendall(b"a")
                answer += s.recv(4096)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                pass
        assert b"408" in answer, answer[:200]
        s.close()
        # One client holds at most its share of connections; the server answers throughout.
        held = [connect() for _ in range(60)]
        time.sleep(0.5)
        closed = 0
        for c in held:
            c.settimeout(0.2)
            try:
                closed += c.recv(10) == b""
            except TimeoutError:
                pass
        assert closed >= 15, closed
        for c in held:
            c.close()
        time.sleep(0.5)
        assert httpx.get(f"{url}/api/health", timeout=5).status_code == 200


@pytest.mark.timeout(300)
def test_the_token_stays_out_of_ps_and_the_workers_environment(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("t0p-s3cret\n")
    with running_server(ml.bundled_path(), args=["--workers", "2", "--token-file", token_file]) as url:
        assert httpx.get(f"{url}/api/model", timeout=10).status_code == 401
        ok = httpx.get(f"{url}/api/model", headers={"Authorization": "Bearer t0p-s3cret"}, timeout=10)
        assert ok.status_code == 200
        pids = subprocess.run(["pgrep", "-f", "mnistlab"], capture_output=True, text=True).stdout.split()
        for pid in pids:
            try:
                seen = open(f"/proc/{pid}/environ", "rb").read() + open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            assert b"t0p-s3cret" not in seen, pid
    res = run_cli("serve", "--token-file", tmp_path / "missing", timeout=60)
    assert res.returncode == 2 and "missing" in res.stderr and "Traceback" not in res.stderr


DAMAGE = {
    "no recipe": lambda cfg, m: (cfg.pop("recipe"), m),
    "no dataset spec": lambda cfg, m: (cfg["dataset"].pop("spec"), m),
    "recipe a string": lambda cfg, m: (cfg.__setitem__("recipe", "fast"), m),
    "five classes": lambda cfg, m: (cfg["dataset"].__setitem__("classes", list("abcde")), m),
    "metrics a list": lambda cfg, m: (None, [1, 2]),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_run_files_are_one_sentence_never_a_500(tmp_path, damage):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(ml.bundled_path(), run)
    cfg = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    _, metrics = DAMAGE[damage](cfg, metrics)
    (run / "config.json").write_text(json.dumps(cfg))
    (run / "metrics.json").write_text(json.dumps(metrics))
    picture = tmp_path / "n.png"
    picture.write_bytes(_png("7"))
    for args in (("predict", run, picture), ("serve", run, "--port", "1")):
        res = run_cli(*args, timeout=60)
        assert res.returncode == 2, (damage, args[0], res.stderr)
        assert "unexpected error" not in res.stderr and "Traceback" not in res.stderr
        assert str(run) in res.stderr, res.stderr


def test_a_full_disk_names_the_file_and_keeps_what_was_read(tmp_path, monkeypatch):
    import errno

    from mnistlab import atomic
    from mnistlab.batch.rowfiles import RowFile
    from mnistlab.errors import MnistlabError

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "metrics.json"
    target.write_text("{}")
    monkeypatch.setattr("pathlib.Path.write_bytes", full)
    with pytest.raises(MnistlabError, match=f"{target} cannot be written: the disk is full"):
        atomic.write_text(target, '{"a": 1}')
    assert target.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    monkeypatch.undo()
    rows = RowFile(tmp_path / "out.jsonl", "jsonl")
    rows.write({"file": "a.png", "text": "1"})
    monkeypatch.setattr("os.write", full)
    with pytest.raises(MnistlabError, match="out.jsonl: the disk is full; free some space and go on with --resume"):
        rows.write({"file": "b.png", "text": "2"})
    monkeypatch.undo()
    rows.close()
    assert (tmp_path / "out.jsonl").read_text() == '{"file": "a.png", "text": "1"}\n'


def test_a_batch_stops_decoding_when_its_time_is_up():
    from mnistlab.serving.app import _decode_all

    blobs = [(_png("7"), f"{k}.png") for k in range(3)]
    done = _decode_all(blobs, batch=True, seconds=-1)  # no time at all: nothing is decoded
    assert all("took over" in str(item) for item in done)
    assert [getattr(a, "shape", None) for a in _decode_all(blobs, batch=True)] == [(28, 28)] * 3


def test_a_batch_whose_client_left_is_not_decoded_further():
    import threading

    from mnistlab.serving.app import _decode_all

    gone = threading.Event()
    gone.set()
    blobs = [(_png("7"), f"{k}.png") for k in range(3)]
    assert all("client went away" in str(item) for item in _decode_all(blobs, batch=True, gone=gone))


def test_a_client_that_leaves_is_noticed_while_its_pictures_are_decoded():
    import asyncio
    import threading

    from mnistlab.serving.app import _watch_disconnect

    class Leaving:
        asked = 0

        async def is_disconnected(self):
            self.asked += 1
            return self.asked >= 3  # there for two checks, then gone

    gone = threading.Event()
    asyncio.run(asyncio.wait_for(_watch_disconnect(Leaving(), gone), 5))
    assert gone.is_set()
