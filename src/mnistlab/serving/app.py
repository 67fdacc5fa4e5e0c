"""FastAPI app: a draw-a-digit page and a REST API over the same prediction code the CLI uses.

The model is loaded once; inference runs in a worker thread so the event loop stays responsive.
Every bad request gets a 4xx JSON body `{"detail": "..."}`; the server never answers 5xx for input.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from mnistlab.data.views import CHOICES as TTA_CHOICES
from mnistlab.images import ImageError, decode_gray, decode_picture, image_bytes_to_array, picture_cost, pixels_to_array
from mnistlab.reading.predictor import Predictor
from mnistlab.runs import RunDir

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_BATCH = 256
# JSON pixels: a 28x28 image written out is under 10 KB; 256 of them well under 1 MB. Bigger JSON is
# refused before parsing (it is parsed off the event loop even so).
MAX_JSON_BYTES = {False: 64 * 1024, True: 1024 * 1024}
MAX_BATCH_PIXELS = 48_000_000  # what a batch's pictures may declare in all (a digit needs a few hundred)
DECODE_SECONDS = 10.0  # a request's pictures are decoded within this long, or the rest are refused


class Prediction(BaseModel):
    digit: int
    label: str
    confidence: float
    accepted: bool
    probabilities: list[float]
    note: str | None = Field(None, description="present when the prediction is not sure: why, for people")
    tta: int | None = None


class BatchItem(BaseModel):
    digit: int | None = None
    label: str | None = None
    confidence: float | None = None
    accepted: bool | None = None
    probabilities: list[float] | None = None
    note: str | None = None
    tta: int | None = None
    error: str | None = None


class ReadDigit(BaseModel):
    digit: int
    confidence: float
    accepted: bool
    box: list[int]


class ReadSeparator(BaseModel):
    char: str
    box: list[int]


class ReadLine(BaseModel):
    text: str
    box: list[int]
    digits: list[ReadDigit]
    separators: list[ReadSeparator]


class ReadResponse(BaseModel):
    text: str
    accepted: bool
    digits: list[ReadDigit]
    separators: list[ReadSeparator] = []
    lines: list[ReadLine] = []
    reason: str | None = Field(
        None,
        description="why the reading is not sure: a stable key for programs (cut_off, unclear_digit, too_close, ...)",
    )
    note: str | None = Field(None, description="why the reading is not sure, and what to do, in words for people")
    confidence: float | None = Field(
        None,
        description="where the marks and the photo line model both read the picture: the probability, "
        "learned on development photos, that the whole reading is right",
    )
    tta: int | None = None
    inputs: list[list[list[int]]] | None = None


class BatchResponse(BaseModel):
    results: list[BatchItem]


class Health(BaseModel):
    status: str = "ok"


class BodyLimit:
    """ASGI middleware: refuse bodies over `limit` bytes (declared or streamed) with a 413."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await _send_json(send, 413, f"request body over {self.limit // (1024 * 1024)} MB")
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        started = False

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, f"request body over {self.limit // (1024 * 1024)} MB")


class _TooLarge(Exception):
    pass


async def _send_json(send, status: int, detail: str):
    import json

    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(
    run: RunDir,
    tta: int = 1,
    engine: str = "onnx",
    token: str | None = None,
    cors_origins: list[str] | None = None,
    trusted_hosts: list[str] | None = None,
    log_format: str | None = None,
    max_heavy: int | None = None,
) -> FastAPI:
    """The app for `run`'s model; `tta` is the default number of views, `?tta=N` overrides it.

    `token`: a bearer token every `/api/*` request must carry (health, readiness and metrics stay
    open); `cors_origins`: origins allowed to call the API from a browser; `trusted_hosts`: the Host
    names answered (others get 400); `log_format`: "text" or "json" access lines on stderr;
    `max_heavy`: pictures decoded and read at once (default: two per CPU), beyond which 503.
    """
    import os

    from mnistlab.serving.operations import Heavy, Metrics, install, limit_malloc_arenas

    limit_malloc_arenas()

    predictor = Predictor(run, tta, engine)
    cfg, metrics = run.config, run.metrics
    classes = run.class_names
    _warm_up(predictor)
    ops = Metrics({"run": run.name, "preset": cfg.get("recipe", {}).get("preset", "?"), "engine": engine})
    heavy = Heavy(max_heavy or 2 * (os.cpu_count() or 1), ops)

    from mnistlab.version import __version__

    app = FastAPI(
        title="mnistlab", version=__version__, description=f"Model: {run.name}", docs_url=None, redoc_url=None
    )
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    install(app, ops, token, cors_origins or [], trusted_hosts, log_format)

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc):
        return JSONResponse(status_code=422, content={"detail": _validation_message(exc)})

    async def _classify(arrays: list[np.ndarray], views: int) -> list[dict]:
        return await heavy.run(predictor.entries, np.stack(arrays), views)

    def _views(tta: int | None) -> int:
        if tta is None:
            return predictor.tta
        if tta not in TTA_CHOICES:
            raise HTTPException(422, f"tta must be one of {', '.join(map(str, TTA_CHOICES))} views, not {tta}")
        return tta

    async def _upload(request: Request) -> tuple[bytes, str]:
        """The bytes of the one uploaded file of a multipart body."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            if not await request.body():
                raise HTTPException(400, "empty request: send an image as multipart field 'file'")
            raise HTTPException(415, "send multipart/form-data with the image in the field 'file'")
        form = await _form(request, max_files=1, max_fields=8)
        files = [v for k, v in form.multi_items() if hasattr(v, "read") and k in ("file", "image")]
        if not files:
            raise HTTPException(400, "no image file in the upload (use the form field 'file')")
        return await files[0].read(), getattr(files[0], "filename", "") or "upload"

    async def _inputs(request: Request, batch: bool) -> list:
        """Arrays (or ImageErrors, per item in a batch) from a multipart upload or a JSON body."""
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            form = await _form(request, max_files=MAX_BATCH, max_fields=MAX_BATCH)
            files = [(k, v) for k, v in form.multi_items() if hasattr(v, "read")]
            uploads = [v for _, v in files] if batch else [v for k, v in files if k in ("file", "image")][:1]
            if not uploads:
                raise HTTPException(400, "no image file in the upload (use the form field 'file')")
            blobs = [(await up.read(), getattr(up, "filename", "") or "upload") for up in uploads]
            # What the pictures declare bounds the work before any is decoded: a batch of picture
            # bombs is refused whole, and decoding holds at most the server's pixel budget at once.
            pixels = await run_in_threadpool(lambda: sum(picture_cost(data) for data, _ in blobs))
            if batch and pixels > MAX_BATCH_PIXELS:
                raise HTTPException(
                    413,
                    f"the pictures declare about {pixels:,} pixels in all, more than the "
                    f"{MAX_BATCH_PIXELS:,} a batch may: send digits, not photos",
                )
            # Decoding runs off the event loop, within the bound on heavy work.
            gone = threading.Event()  # set when the client leaves: the pictures left are not decoded
            watch = asyncio.ensure_future(_watch_disconnect(request, gone))
            try:
                return await heavy.run(_decode_all, blobs, batch, None, gone, pixels=pixels)
            finally:
                gone.set()
                watch.cancel()
        if ctype.startswith("application/json"):
            body = await _json_body(request, MAX_JSON_BYTES[batch])
            key = "images" if batch else "pixels"
            if not isinstance(body, dict) or key not in body:
                raise HTTPException(422, f"JSON must be an object with a '{key}' field")
            payload = body[key] if batch else [body[key]]
            if not isinstance(payload, list) or not payload:
                raise HTTPException(422, f"'{key}' must be a non-empty list")
            if len(payload) > MAX_BATCH:
                raise HTTPException(413, f"at most {MAX_BATCH} images per batch")
            return [_pixels(p, batch) for p in payload]
        if not await request.body():
            raise HTTPException(400, "empty request: send an image as multipart field 'file' or JSON {\"pixels\": ...}")
        raise HTTPException(415, "send multipart/form-data (field 'file') or application/json")

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/health", response_model=Health)
    async def health():
        return {"status": "ok"}

    @app.get("/livez", include_in_schema=False)
    async def livez():
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz():
        # The model was loaded and compiled before the app existed; not ready = no room for work.
        if heavy.busy >= heavy.limit:
            return JSONResponse(
                {"status": "busy", "in_work": heavy.busy}, status_code=503, headers={"Retry-After": "1"}
            )
        return {"status": "ready", "in_work": heavy.busy, "limit": heavy.limit}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics():
        from fastapi.responses import Response

        body, ctype = await run_in_threadpool(ops.exposition)  # a scrape never holds the event loop
        return Response(body, media_type=ctype)

    @app.get("/docs", include_in_schema=False)
    async def docs():
        # Swagger UI 5.35.0 (Apache-2.0, from npm's swagger-ui-dist), shipped in the package: reads
        # the OpenAPI 3.1 schema FastAPI writes, and works offline.
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="mnistlab API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc():
        # ReDoc 2.5.0's standalone bundle (MIT), shipped in the package: works offline (its one
        # outside address, a logo at cdn.redoc.ly, is replaced there by an empty inline picture).
        from fastapi.openapi.docs import get_redoc_html

        return get_redoc_html(
            openapi_url="/openapi.json",
            title="mnistlab API",
            redoc_js_url="/redoc/static/redoc.standalone.js",
            with_google_fonts=False,
            redoc_favicon_url="/docs/static/favicon-32x32.png",
        )

    _mount_docs_static(app)

    # What /api/model answers: the served run, fixed once it is loaded (and the docs' sample).
    description = {
        "run": run.name,
        "preset": cfg["recipe"]["preset"],
        "dataset": cfg["dataset"]["spec"],
        "classes": classes,
        "test_accuracy": metrics.get("test_accuracy"),
        "params": metrics.get("params"),
        "epochs": metrics.get("epochs"),
        "calibration": {"temperature": predictor.calibration.temperature, "threshold": predictor.calibration.threshold},
        "line_model": None
        if predictor.lines is None
        else {
            "path": predictor.lines.path.name,
            "threshold": predictor.lines.threshold,
            "mode": predictor.mode,
            "how": "/api/read reads each line whole with it beside the digit-by-digit reader",
        },
        "tta": {
            "default": predictor.tta,
            "choices": list(TTA_CHOICES),
            "how": "?tta=N averages the image and its 1-px (5) or 1- and 2-px (9) shifts",
        },
        "input": {
            "pixels": "28x28 numbers 0..255, bright ink on black (MNIST polarity)",
            "file": "any image (PNG, JPEG, BMP, GIF, ...); prepared like MNIST: "
            "polarity, contrast, crop, 20x20 fit, centre of mass",
        },
    }

    @app.get("/api/model", responses={200: {"content": {"application/json": {"example": description}}}})
    async def model_info():
        return description

    @app.post(
        "/api/predict",
        response_model=Prediction,
        response_model_exclude_none=True,
        openapi_extra=_openapi_body(batch=False),
    )
    async def predict(request: Request, tta: int | None = None):
        views = _views(tta)
        (array,) = await _inputs(request, batch=False)
        return (await _classify([array], views))[0]

    @app.post(
        "/api/predict/batch",
        response_model=BatchResponse,
        response_model_exclude_none=True,
        openapi_extra=_openapi_body(batch=True),
    )
    async def predict_batch(request: Request, tta: int | None = None):
        views = _views(tta)
        items = await _inputs(request, batch=True)
        good = [a for a in items if not isinstance(a, ImageError)]
        preds = iter(await _classify(good, views)) if good else iter(())
        return {"results": [{"error": str(a)} if isinstance(a, ImageError) else next(preds) for a in items]}

    @app.post(
        "/api/read", response_model=ReadResponse, response_model_exclude_none=True, openapi_extra=_openapi_read_body()
    )
    async def read(request: Request, inputs: bool = False, tta: int | None = None, digits_only: bool = False):
        """Read the numbers in an uploaded picture or photo: lines of 1-20 digits with `.` `,` `/` `-`
        `:` between them (a date, a time, a price), top to bottom.

        `text` joins the lines with a newline and has `?` where a mark is not a digit the model
        accepts; `accepted` is true only when every digit is and the layout is clear; a reading that is
        not sure says why in `note` (a sentence to show a user: what was seen and what to do) and
        `reason` (a stable key for programs). `lines` gives each line's text, box, digits and separators; `digits_only=true`
        leaves the separators out of `text`; `inputs=true` adds the 28x28 images the model saw, in
        reading order; `tta=5` or `9` averages shifted views of each digit.
        """
        views = _views(tta)
        data, name = await _upload(request)

        def work():
            # Decoding and reading both run off the event loop: a large picture never stalls the
            # other requests.
            try:
                gray, scale = decode_picture(data)  # straight to the working size
            except ImageError as exc:
                return exc
            return predictor.read(gray, views, scale, data)

        result = await heavy.run(work, pixels=await run_in_threadpool(picture_cost, data))
        if isinstance(result, ImageError):
            raise HTTPException(400, f"{name}: {result}")
        if digits_only:
            from mnistlab.reading import digits_only as strip_separators

            result = strip_separators(result)
        arrays = result.pop("inputs")
        if inputs:
            result["inputs"] = [np.round(a).astype(int).tolist() for a in arrays]
        return result

    return app


def _warm_up(predictor: Predictor) -> None:
    """Run every step of a request once before the first one arrives (imports, decoders, the model's
    first call), so that the first answer is as fast as the next."""
    import io

    from PIL import Image, ImageDraw

    picture = Image.new("L", (120, 60), 255)
    ImageDraw.Draw(picture).line([(30, 10), (30, 50)], fill=0, width=5)
    ImageDraw.Draw(picture).ellipse([(60, 10), (90, 50)], outline=0, width=5)
    buf = io.BytesIO()
    picture.save(buf, "PNG")
    predictor.read(decode_gray(buf.getvalue()))
    predictor.entries(np.stack([image_bytes_to_array(buf.getvalue())]))


def _mount_docs_static(app) -> None:
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs/static", StaticFiles(directory=Path(__file__).parent / "swagger"), name="docs-static")
    app.mount("/redoc/static", StaticFiles(directory=Path(__file__).parent / "redoc"), name="redoc-static")


def _openapi_read_body() -> dict:
    form = {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": form}}}}


async def _form(request: Request, max_files: int, max_fields: int):
    """The multipart form, or 400 for a malformed one (a stalled body stays a 408)."""
    from mnistlab.serving.operations import Stalled

    try:
        return await request.form(max_files=max_files, max_fields=max_fields, max_part_size=MAX_BODY_BYTES)
    except Stalled:
        raise
    except Exception as exc:
        raise HTTPException(400, f"malformed multipart body: {exc}") from None


async def _json_body(request: Request, limit: int):
    """The JSON body, at most `limit` bytes, parsed off the event loop; numbers too big for a float
    (1e400) or NaN / Infinity are refused, never carried on."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"JSON body over {limit // 1024} KB: send fewer images, or pictures as multipart")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise HTTPException(413, f"JSON body over {limit // 1024} KB: send fewer images, or pictures as multipart")
    try:
        return await run_in_threadpool(_parse_json, raw)
    except NotAPixel as exc:
        raise HTTPException(422, f"{exc}: pixels are numbers from 0 to 255") from None
    except ValueError as exc:
        raise HTTPException(400, f"the body is not valid JSON ({exc})") from None


class NotAPixel(ValueError):
    """A JSON number no pixel can be (NaN, Infinity, 1e400, a 400-digit integer)."""


def _parse_json(raw: bytes):
    def no_constant(name):
        raise NotAPixel(f"{name} is not a number")

    def finite(text):
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise NotAPixel(f"{text[:20]} is too big to be a pixel value")
        return value

    def small_int(text):
        if len(text.lstrip("-")) > 6:  # no pixel value needs more digits
            raise NotAPixel(f"{text[:20]}... is too big to be a pixel value")
        return int(text)

    return json.loads(raw, parse_constant=no_constant, parse_float=finite, parse_int=small_int)


async def _watch_disconnect(request: Request, gone: threading.Event) -> None:
    """Set `gone` when the client disconnects (checked every 0.1 s while its pictures are decoded)."""
    try:
        while not gone.is_set():
            if await request.is_disconnected():
                gone.set()
                return
            await asyncio.sleep(0.1)
    except Exception:  # a closing connection can end the watch in several ways: decoding goes on
        return


def _decode_all(blobs: list, batch: bool, seconds: float | None = None, gone: threading.Event | None = None) -> list:
    """Each upload decoded in turn, for at most `seconds` in all, and only while the client is
    there (`gone` unset): what is left then gets an error of its own (a batch never holds a work
    slot for long, whatever its pictures cost)."""
    import time

    stop = time.monotonic() + (DECODE_SECONDS if seconds is None else seconds)
    out = []
    for data, name in blobs:
        if gone is not None and gone.is_set() and batch:
            out.append(ImageError(f"{name}: not decoded: the client went away"))
            continue
        if time.monotonic() > stop:
            if not batch:
                raise HTTPException(503, f"{name}: decoding took over {DECODE_SECONDS:.0f} s")
            out.append(ImageError(f"{name}: not decoded: the batch's pictures took over {DECODE_SECONDS:.0f} s"))
            continue
        out.append(_decode(data, name, batch))
    return out


def _decode(data: bytes, name: str, batch: bool):
    try:
        return image_bytes_to_array(data)
    except ImageError as exc:
        if batch:
            return ImageError(f"{name}: {exc}")
        raise HTTPException(400, f"{name}: {exc}") from None


def _pixels(p, batch: bool):
    try:
        return pixels_to_array(p)
    except ImageError as exc:
        if batch:
            return exc
        raise HTTPException(422, str(exc)) from None


def _validation_message(exc: RequestValidationError) -> str:
    errs = exc.errors()
    if not errs:
        return "invalid request"
    e = errs[0]
    return f"{'.'.join(str(x) for x in e.get('loc', []))}: {e.get('msg', 'invalid')}"


def _openapi_body(batch: bool) -> dict:
    pixels = {
        "type": "array",
        "items": {
            "type": "array",
            "items": {"type": "number", "minimum": 0, "maximum": 255},
            "minItems": 28,
            "maxItems": 28,
        },
        "minItems": 28,
        "maxItems": 28,
    }
    if batch:
        json_schema = {
            "type": "object",
            "required": ["images"],
            "properties": {"images": {"type": "array", "items": pixels, "maxItems": MAX_BATCH}},
        }
        form = {
            "type": "object",
            "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
        }
    else:
        json_schema = {"type": "object", "required": ["pixels"], "properties": {"pixels": pixels}}
        form = {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": json_schema}, "multipart/form-data": {"schema": form}},
        }
    }


def serve(
    run: RunDir,
    host: str = "127.0.0.1",
    port: int = 8000,
    tta: int = 1,
    engine: str = "onnx",
    workers: int = 1,
    token: str | None = None,
    cors_origins: list[str] | None = None,
    trusted_hosts: list[str] | None = None,
    log_format: str = "text",
) -> None:
    """Serve `run` with uvicorn: one process, or `workers` processes each with the model."""
    import os

    import uvicorn

    from mnistlab.serving.deadline import HeaderDeadline

    if host not in ("127.0.0.1", "localhost", "::1") and not trusted_hosts:
        from mnistlab.errors import MnistlabError

        raise MnistlabError(
            f"bound to {host}, the server answers other machines: name the host names it "
            "answers to with --trusted-host NAME (repeatable), e.g. --trusted-host digits.example.org"
        )
    _check_address(host, port)
    settings = {
        "run": str(run.path),
        "tta": tta,
        "engine": engine,
        "token": token,
        "cors_origins": cors_origins or [],
        "trusted_hosts": trusted_hosts,
        "log_format": log_format,
    }
    views = f", test-time augmentation {tta} views" if tta > 1 else ""
    print(
        f"serving {run.path}{views} on http://{host}:{port}/ with {workers} worker{'s' * (workers > 1)} "
        f"(API docs: http://{host}:{port}/docs)",
        flush=True,
    )
    common = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "timeout_keep_alive": 5,
        "timeout_graceful_shutdown": 10,
        "limit_concurrency": 4000,
        "http": HeaderDeadline,
    }
    if workers > 1:
        import tempfile

        # The settings (the token among them) reach each worker in a file only this user can read;
        # the environment, which other users may see, carries its path alone.
        fd, path = tempfile.mkstemp(prefix="mnistlab-serve-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(settings, f)
            os.environ["MNISTLAB_SERVE_SETTINGS"] = path
            uvicorn.run("mnistlab.serving.app:app_from_environment", factory=True, workers=workers, **common)
        finally:
            os.unlink(path)
    else:
        uvicorn.run(_app_from(settings), **common)


def _check_address(host: str, port: int) -> None:
    """One sentence, before anything is printed, where the server could not listen at host:port."""
    import errno
    import socket

    from mnistlab.errors import MnistlabError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, OverflowError) as exc:
        raise MnistlabError(f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise MnistlabError(
                    f"port {port} on {host} is already in use by another program: choose "
                    f"another with --port, e.g. --port {port + 1 if port < 65535 else 8000}"
                ) from None
            if exc.errno == errno.EACCES:
                raise MnistlabError(
                    f"port {port} needs administrator rights: choose one above 1023 with --port, e.g. --port 8000"
                ) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise MnistlabError(
                    f"this machine has no address {host}: use --host 127.0.0.1, or 0.0.0.0 for every address"
                ) from None
            raise MnistlabError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def app_from_environment() -> FastAPI:
    """The app each `serve --workers N` process builds (its settings come from a private file)."""
    import os

    with open(os.environ["MNISTLAB_SERVE_SETTINGS"]) as f:
        return _app_from(json.load(f))


def _app_from(settings: dict) -> FastAPI:
    return create_app(
        RunDir(Path(settings["run"])),
        settings["tta"],
        settings["engine"],
        settings["token"],
        settings["cors_origins"],
        settings["trusted_hosts"],
        settings["log_format"],
    )
