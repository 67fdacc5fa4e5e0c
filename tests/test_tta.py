"""Test-time augmentation: the views, the averaging, and `--tta` / `tta=` everywhere a model answers."""

import io
import json

import numpy as np
import pytest

from conftest import run_cli
from mnistlab.data import views as tta
from mnistlab.errors import MnistlabError


def test_shift_moves_ink_and_fills_with_background():
    img = np.zeros((1, 28, 28), np.float32)
    img[0, 10, 12] = 255
    assert tta.shift(img, 1, 0)[0, 11, 12] == 255
    assert tta.shift(img, 0, -2)[0, 10, 10] == 255
    assert tta.shift(img, 0, 0)[0, 10, 12] == 255
    edge = np.zeros((1, 28, 28), np.float32)
    edge[0, 0, :] = 255
    moved = tta.shift(edge, -1, 0)  # the top row leaves the image; nothing wraps round
    assert moved.sum() == 0


def test_views_stack_and_average_in_the_same_order():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (3, 28, 28)).astype(np.float32)
    stacked = tta.stack_views(x, 5)
    assert stacked.shape == (15, 28, 28)
    np.testing.assert_array_equal(stacked[:3], x)  # the first view is the image itself
    np.testing.assert_array_equal(stacked[3:6], tta.shift(x, -1, 0))
    probs = np.repeat(np.eye(3, 10)[None], 5, axis=0).reshape(15, 10)
    np.testing.assert_allclose(tta.average_views(probs, 5), np.eye(3, 10))
    assert tta.stack_views(x, 9).shape == (27, 28, 28)


@pytest.mark.parametrize("bad", [0, 2, 3, "five", None])
def test_unknown_view_counts_are_refused_clearly(bad):
    with pytest.raises(MnistlabError, match="tta must be one of 1, 5, 9"):
        tta.check(bad)


def test_predict_proba_averages_the_models_answers_over_the_views(real_run, mnist):
    from mnistlab.training.evaluate import predict_proba

    model = real_run.load_model()
    x = mnist.x_test[:64].astype(np.float32)
    plain = predict_proba(model, x)
    np.testing.assert_allclose(predict_proba(model, x, tta=1), plain)
    by_hand = np.mean([predict_proba(model, tta.shift(x, dy, dx)) for dy, dx in tta.VIEWS[9]], axis=0)
    np.testing.assert_allclose(predict_proba(model, x, tta=9), by_hand, rtol=1e-5, atol=1e-6)
    assert not np.allclose(by_hand, plain)  # the views do change the answer


def test_evaluate_records_tta_beside_the_plain_numbers(real_run, mnist, tmp_path):
    import shutil

    from mnistlab.runs import RunDir
    from mnistlab.training.evaluate import evaluate_run

    run = RunDir(tmp_path / "copy")
    shutil.copytree(real_run.path, run.path)
    plain = run.metrics["test_accuracy"]
    report = evaluate_run(run, tta=5)
    assert report["tta"] == 5 and 0.8 < report["test_accuracy"] <= 1
    metrics = run.metrics
    assert metrics["test_accuracy"] == plain  # the single-view number is not overwritten
    assert metrics["tta"]["5"]["test_accuracy"] == report["test_accuracy"]
    assert metrics["tta"]["5"]["test_errors"] == report["test_errors"]
    from mnistlab.training.report import write_report

    page = write_report(run).read_text()  # the report's plain evaluation keeps the TTA record
    assert "test accuracy, TTA 5 views" in page and run.metrics["tta"]["5"] == metrics["tta"]["5"]


def test_cli_predict_and_read_take_tta(real_run, mnist, tmp_path):
    from PIL import Image

    img = tmp_path / "seven.png"
    Image.fromarray(255 - mnist.x_test[0]).resize((84, 84)).save(img)
    res = run_cli("predict", real_run.path, img, "--tta", "5", "--json")
    assert res.returncode == 0, res.stderr
    (entry,) = json.loads(res.stdout)
    assert entry["digit"] == 7 and entry["tta"] == 5
    res = run_cli("read", "--run", real_run.path, img, "--tta", "9", "--json")
    assert res.returncode == 0, res.stderr
    (entry,) = json.loads(res.stdout)
    assert entry["text"] == "7" and entry["tta"] == 9
    res = run_cli("predict", real_run.path, img, "--json")
    assert "tta" not in json.loads(res.stdout)[0]  # one view: nothing to record
    res = run_cli("predict", real_run.path, img, "--tta", "4")
    assert res.returncode == 2 and "invalid choice: 4" in res.stderr and "Traceback" not in res.stderr


def test_server_tta_default_and_per_request(real_run, mnist):
    from fastapi.testclient import TestClient
    from PIL import Image

    from mnistlab.serving.app import create_app

    with TestClient(create_app(real_run, tta=5), raise_server_exceptions=False) as client:
        assert client.get("/api/model").json()["tta"]["default"] == 5
        body = client.post("/api/predict", json={"pixels": mnist.x_test[0].tolist()}).json()
        assert body["digit"] == 7 and body["tta"] == 5
        body = client.post("/api/predict?tta=1", json={"pixels": mnist.x_test[0].tolist()}).json()
        assert "tta" not in body
        res = client.post("/api/predict/batch?tta=9", json={"images": [x.tolist() for x in mnist.x_test[:3]]})
        assert [r["tta"] for r in res.json()["results"]] == [9, 9, 9]
        buf = io.BytesIO()
        Image.fromarray(255 - mnist.x_test[1]).resize((84, 84)).save(buf, "PNG")
        res = client.post("/api/read", files={"file": ("two.png", buf.getvalue(), "image/png")})
        assert res.status_code == 200 and res.json()["tta"] == 5 and res.json()["text"] == "2"
        for bad in ("4", "many"):
            res = client.post(f"/api/predict?tta={bad}", json={"pixels": mnist.x_test[0].tolist()})
            assert res.status_code == 422 and "tta" in res.json()["detail"]


def test_python_api_takes_tta(real_run, mnist):
    import mnistlab as ml

    run = ml.open_run(real_run.path)
    (entry,) = run.predict(mnist.x_test[0], tta=5)
    assert entry["digit"] == 7 and entry["tta"] == 5
    big = np.kron(255 - mnist.x_test[1], np.ones((3, 3), np.uint8))
    (reading,) = ml.read(big, run=real_run.path, tta=5)
    assert reading["text"] == "2" and reading["tta"] == 5
    with pytest.raises(MnistlabError, match="tta must be one of"):
        run.predict(mnist.x_test[0], tta=2)
