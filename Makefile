# Two commands do all setup on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
BUNDLED_PRESET ?= best
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup system-deps run test bench bench-quick bench-reading bench-start bench-batch bench-hostile bundled-model bundled-line-model bundled-photo-line-model bundled-detector serve screenshots docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[train,dev,ray]'
	touch $(STAMP)

# The tutorial end to end: fetch + verify MNIST, train the `seed` preset, evaluate, predict, plot.
run: setup
	$(BIN)/mnistlab data fetch
	$(BIN)/mnistlab train --preset seed
	$(BIN)/mnistlab evaluate runs/latest
	$(BIN)/mnistlab predict runs/latest --test-index 0:5
	$(BIN)/mnistlab read examples/number-2026.png
	@echo
	@echo "The report: $$($(BIN)/mnistlab report runs/latest)"
	@echo "Everything is in runs/latest/ (model.keras, model.onnx, metrics.json, history.json, plots/, logs/)."
	@echo "The last line was read by the model that ships with mnistlab: try mnistlab read YOUR-PICTURE.png"

# Debian packages the tests use (Chromium, Fashion-MNIST, fonts): installed when run as root,
# otherwise named so you can install them.
system-deps: setup
	@tools/system-deps.sh $(BIN)/python

test: setup system-deps
	$(BIN)/mnistlab data fetch
	$(BIN)/python -m pytest -q

# The references once, `seed` against the tutorial in 3 alternating pairs, `fast` x5: about 16 minutes
# on a 2-core machine that fits keras-io's convnet in 7 of them.
bench-quick: setup system-deps
	$(BIN)/mnistlab data fetch
	$(BIN)/python benchmarks/bench.py --quick

# Everything: adds `best` x3 and their ensemble read with TTA (37 minutes on a 2-core machine).
bench: setup system-deps
	$(BIN)/mnistlab data fetch
	$(BIN)/python benchmarks/bench.py

# The photo set (500 generated phone photos) read by the bundled reader, Tesseract and RapidOCR (both
# installed here for the comparison only; mnistlab never uses them); then each line reader on 300
# composed numbers and 200 photos; then mnistlab against RapidOCR's recognizer in alternating pairs;
# then the photos' writing alone on clean pages, read by all three. About 30 minutes.
bench-reading: setup system-deps
	@command -v tesseract >/dev/null || (apt-get install -y -qq tesseract-ocr >/dev/null 2>&1 || echo "tesseract-ocr not installed: its column is left out")
	$(BIN)/python -m pip install --quiet --disable-pip-version-check rapidocr==3.10.0
	@apt-get install -y -qq fonts-kaushanscript fonts-leckerli-one fonts-klee fonts-kiloji >/dev/null 2>&1 || echo "the field fonts are not installed: the field photos use pen hands only"
	$(BIN)/python benchmarks/reading.py --photos 500 --out benchmarks/results/reading-photos-$$(date +%F).json
	$(BIN)/python benchmarks/reading.py --field 400 --out benchmarks/results/reading-field-$$(date +%F).json
	$(BIN)/python benchmarks/reading.py --line-readers --numbers 300 --photos 200 --out benchmarks/results/reading-lines-$$(date +%F).json
	$(BIN)/python benchmarks/reading.py --speed-pairs 5 --numbers 300 --out benchmarks/results/line-speed-pairs-$$(date +%F).json
	$(BIN)/python benchmarks/reading.py --photos 500 --clean-pages --out benchmarks/results/reading-clean-pages-$$(date +%F).json

# Cold starts of `mnistlab read` and `serve` beside Tesseract, throughput, and the core install's size.
bench-start: setup
	$(BIN)/python benchmarks/cold_start.py --pairs 5

# Folders read with --jobs 1 and 2 (alternating pairs) and on a local Ray instance, and memory over
# 100,000 pictures: about 45 minutes on 2 cores.
bench-batch: setup system-deps
	$(BIN)/python benchmarks/batch.py --rounds 2 --flat 100000

# Seven attacks on the server, 16 clients each, 20 s each: about 3 minutes.
bench-hostile: setup
	$(BIN)/python benchmarks/serve_load.py src/mnistlab/bundled --hostile --seconds 20 \
		--out benchmarks/results/serve-hostile-$$(date +%F).json

# Re-train the reader that ships inside the package, then bundle it with its model card.
bundled-model: setup system-deps
	$(BIN)/mnistlab data fetch
	rm -rf runs/bundled
	$(BIN)/mnistlab train --preset $(BUNDLED_PRESET) --seed 0 --out runs/bundled
	$(BIN)/python tools/bundle_model.py runs/bundled --command "make bundled-model"

# The line model `read` uses beside the classifier (about 18 minutes on 2 cores).
bundled-line-model: setup system-deps
	$(BIN)/mnistlab data fetch
	rm -rf runs/bundled-line
	$(BIN)/mnistlab train --preset line --seed 0 --out runs/bundled-line --no-latest
	$(BIN)/python tools/bundle_line_model.py runs/bundled-line

# The bundled photo line model (src/mnistlab/bundled/photoline/): about 2 hours on 2 CPU cores
# (a base trained 6 epochs, 50 minutes; fine-tuned 2 epochs on fresh lines, 20; its partner fine-tuned
# 6 epochs, 40; the verdict on 2,400 calibration photos, read by the pair, 30).
bundled-photo-line-model: setup system-deps
	$(BIN)/mnistlab data fetch
	rm -rf runs/bundled-photo-line-base runs/bundled-photo-line runs/bundled-photo-line-partner runs/bundled-photo-line-pair
	$(BIN)/mnistlab train --preset photo-line --seed 0 --out runs/bundled-photo-line-base --no-latest
	$(BIN)/mnistlab train --preset photo-line --seed 1 --epochs 2 --start-from runs/bundled-photo-line-base --out runs/bundled-photo-line --no-latest
	$(BIN)/mnistlab train --preset photo-line --seed 2 --epochs 6 --start-from runs/bundled-photo-line-base --out runs/bundled-photo-line-partner --no-latest
	$(BIN)/python tools/pair_line_runs.py runs/bundled-photo-line-pair runs/bundled-photo-line runs/bundled-photo-line-partner
	$(BIN)/python tools/fit_verdict.py runs/bundled-photo-line-pair
	$(BIN)/python tools/bundle_line_model.py runs/bundled-photo-line-pair

# The bundled text detector (src/mnistlab/bundled/detector/): about 15 minutes on 2 CPU cores.
bundled-detector: setup system-deps
	$(BIN)/mnistlab data fetch
	rm -rf runs/bundled-detector
	$(BIN)/mnistlab train --preset detector --seed 0 --out runs/bundled-detector --no-latest
	$(BIN)/python tools/bundle_detector.py runs/bundled-detector

# The docs site (MkDocs + Material, API reference from the docstrings, CLI reference from the parser)
# into site/; it opens from the files, offline. `make test` builds it strictly too.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The README's pictures of the page (a laptop and a phone, a sure and a not-sure reading), taken by
# the same Chromium test that checks what they show.
screenshots: setup system-deps
	MNISTLAB_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/test_page.py

serve: setup
	$(BIN)/mnistlab serve

clean:
	rm -rf $(VENV) build site src/*.egg-info .pytest_cache
