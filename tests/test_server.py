"""The REST API through FastAPI's TestClient: good requests answer, bad ones are 4xx JSON, never 5xx."""

import io

import pytest
from PIL import Image, ImageDraw


@pytest.fixture(scope="module")
def client(real_run):
    from fastapi.testclient import TestClient

    from mnistlab.serving.app import create_app

    with TestClient(create_app(real_run), raise_server_exceptions=False) as c:
        yield c


def _png_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_health_model_page_and_docs(client):
    assert client.get("/api/health").json() == {"status": "ok"}
    info = client.get("/api/model").json()
    assert info["preset"] == "seed" and info["classes"] == [str(d) for d in range(10)]
    assert "28x28" in info["input"]["pixels"]
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/predict" in spec["paths"] and "/api/predict/batch" in spec["paths"]


def test_predict_json_pixels_gives_the_right_digit(client, mnist):
    res = client.post("/api/predict", json={"pixels": mnist.x_test[0].tolist()})
    assert res.status_code == 200
    body = res.json()
    assert body["digit"] == 7 and len(body["probabilities"]) == 10
    assert abs(sum(body["probabilities"]) - 1) < 1e-4


def test_predict_upload(client, mnist):
    img = Image.fromarray(255 - mnist.x_test[1]).resize((140, 140))  # dark on light, 5x larger
    res = client.post("/api/predict", files={"file": ("two.png", _png_bytes(img), "image/png")})
    assert res.status_code == 200, res.text
    assert res.json()["digit"] == 2


def test_batch(client, mnist):
    res = client.post("/api/predict/batch", json={"images": [x.tolist() for x in mnist.x_test[:5]]})
    assert [r["digit"] for r in res.json()["results"]] == [7, 2, 1, 0, 4]
    files = [
        ("files", ("a.png", _png_bytes(Image.fromarray(mnist.x_test[0])), "image/png")),
        ("files", ("b.txt", b"not an image", "text/plain")),
    ]
    res = client.post("/api/predict/batch", files=files)
    assert res.status_code == 200
    results = res.json()["results"]
    assert results[0]["digit"] == 7 and "not an image" in results[1]["error"]


def _truncated_png():
    img = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(img).line([(10, 10), (90, 90)], fill=0, width=8)
    return _png_bytes(img)[:200]


BAD_REQUESTS = [
    ("non-image bytes", dict(files={"file": ("x.png", b"hello", "image/png")}), 400),
    ("empty upload", dict(files={"file": ("x.png", b"", "image/png")}), 400),
    ("truncated png", dict(files={"file": ("x.png", _truncated_png(), "image/png")}), 400),
    ("empty body", dict(content=b""), 400),
    ("wrong content type", dict(content=b"abc", headers={"content-type": "text/plain"}), 415),
    ("invalid json", dict(content=b"{not json", headers={"content-type": "application/json"}), 400),
    ("json without pixels", dict(json={"image": 1}), 422),
    ("json list", dict(json=[1, 2, 3]), 422),
    ("wrong shape", dict(json={"pixels": [[0] * 28] * 27}), 422),
    ("ragged", dict(json={"pixels": [[0] * 28] * 27 + [[0] * 3]}), 422),
    ("negative", dict(json={"pixels": [[-5] * 28] * 28}), 422),
    ("over 255", dict(json={"pixels": [[300] * 28] * 28}), 422),
    ("strings", dict(json={"pixels": [["a"] * 28] * 28}), 422),
    ("multipart without file", dict(data={"x": "1"}, files={"other": ("a", b"1", "text/plain")}), 400),
]


@pytest.mark.parametrize("name, kwargs, status", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_are_4xx_json(client, name, kwargs, status):
    res = client.post("/api/predict", **kwargs)
    assert res.status_code == status, res.text
    assert isinstance(res.json()["detail"], str) and res.json()["detail"]
    assert client.get("/api/health").status_code == 200


def test_nan_in_json_is_refused(client):
    body = b'{"pixels": [' + b",".join([b"[" + b",".join([b"NaN"] * 28) + b"]"] * 28) + b"]}"
    res = client.post("/api/predict", content=body, headers={"content-type": "application/json"})
    assert res.status_code in (400, 422) and "detail" in res.json()


def test_huge_image_is_refused_before_decoding(client):
    buf = io.BytesIO()
    Image.new("1", (20000, 20000), 0).save(buf, "PNG", optimize=True)
    res = client.post("/api/predict", files={"file": ("big.png", buf.getvalue(), "image/png")})
    assert res.status_code == 400 and "pixels" in res.json()["detail"]


def test_oversize_body_is_413(client):
    res = client.post(
        "/api/predict", content=b"0" * (9 * 1024 * 1024), headers={"content-type": "application/octet-stream"}
    )
    assert res.status_code == 413 and "MB" in res.json()["detail"]


def test_batch_limits(client):
    res = client.post("/api/predict/batch", json={"images": [[[0] * 28] * 28] * 257})
    assert res.status_code == 413
    res = client.post("/api/predict/batch", json={"images": []})
    assert res.status_code == 422


def test_predictions_carry_confidence_and_acceptance(client, mnist):
    body = client.post("/api/predict", json={"pixels": mnist.x_test[0].tolist()}).json()
    assert body["accepted"] is True and 0.5 < body["confidence"] <= 1.0
    cal = client.get("/api/model").json()["calibration"]
    assert cal["temperature"] > 0 and 0 < cal["threshold"] < 1


@pytest.fixture(scope="module")
def reader_client(reader_run):
    from fastapi.testclient import TestClient

    from mnistlab.serving.app import create_app

    with TestClient(create_app(reader_run), raise_server_exceptions=False) as c:
        yield c


def test_read_a_number(reader_client, mnist):
    import numpy as np

    from conftest import compose_number

    picture = compose_number([mnist.x_test[i].astype(float) for i in (0, 1, 2, 3)], [5, 2, 8], np.random.default_rng(0))
    png = _png_bytes(Image.fromarray(picture.astype("uint8")))
    res = reader_client.post("/api/read", files={"file": ("n.png", png, "image/png")})
    assert res.status_code == 200, res.text
    body = res.json()
    # A clean canvas is a drawing (reading/drawing.py): the marks alone read it, with no verdict.
    assert body["text"] == "7210" and body["accepted"] is True, body
    assert body.get("confidence") is None
    assert [set(d) for d in body["digits"]] == [{"digit", "confidence", "accepted", "box"}] * 4
    # Photographed (sensor noise, JPEG), both readers read it and the verdict says how likely the
    # reading is right: read right, sure or not sure with a reason (it is cautious on composed numbers).
    from tests.scenes import jpeg

    noisy = picture + np.random.default_rng(1).normal(0, 6, picture.shape)
    photo = reader_client.post("/api/read", files={"file": ("n.jpg", jpeg(noisy), "image/jpeg")}).json()
    assert photo["text"] == "7210" and (photo["accepted"] is True or photo["reason"]), photo
    assert 0 <= photo["confidence"] <= 1  # the verdict's probability that the reading is right
    assert "inputs" not in body
    with_inputs = reader_client.post("/api/read?inputs=true", files={"file": ("n.png", png, "image/png")}).json()
    assert len(with_inputs["inputs"]) == 4 and len(with_inputs["inputs"][0]) == 28
    assert "/api/read" in reader_client.get("/openapi.json").json()["paths"]


def test_read_blank_and_bad_input(reader_client):
    blank = _png_bytes(Image.new("L", (100, 50), 255))
    body = reader_client.post("/api/read", files={"file": ("b.png", blank, "image/png")}).json()
    assert body["text"] == "" and body["accepted"] is False and body["digits"] == []
    for files, status in [
        ({"file": ("x.png", b"junk", "image/png")}, 400),
        ({"other": ("x.png", blank, "image/png")}, 400),
        ({"file": ("x.png", b"", "image/png")}, 400),
    ]:
        res = reader_client.post("/api/read", files=files)
        assert res.status_code == status and "detail" in res.json(), res.text
    res = reader_client.post("/api/read", json={"pixels": [[0] * 28] * 28})
    assert res.status_code == 415 and "multipart" in res.json()["detail"]
    assert reader_client.post("/api/read").status_code == 400
    assert reader_client.get("/api/health").json() == {"status": "ok"}
