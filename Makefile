# The two set-up commands (README): `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
PORT ?= 8501
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run lint test bench chromium clean-data

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests and reports need: Chromium (browser tests), poppler-utils (PDF to PNG),
# DejaVu, Noto core and WenQuanYi Micro Hei (report fonts; Noto for the scripts DejaVu lacks, such as Devanagari,
# the last for Chinese, Japanese and Korean names) and Noto emoji (status badges in headless screenshots).
# Installed when missing.
DEBIAN_NEEDS := /usr/bin/chromium:chromium /usr/bin/pdftoppm:poppler-utils \
	/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:fonts-dejavu-core \
	/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf:fonts-noto-core \
	/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf:fonts-noto-color-emoji \
	/usr/share/fonts/truetype/wqy/wqy-microhei.ttc:fonts-wqy-microhei

chromium:
	@missing=""; for need in $(DEBIAN_NEEDS); do [ -e "$${need%%:*}" ] || missing="$$missing $${need#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	  || echo "WARNING: could not install$$missing; browser tests will say they were skipped"; \
	fi

run: install
	$(PY) -m tracker init
	$(PY) -m tracker demo --if-empty
	$(PY) -m streamlit run serve.py --server.address localhost --server.port $(PORT) \
	  --server.maxUploadSize $${TRACKER_MAX_UPLOAD_MB:-25}  # the server's cap follows the photo store's

# The checks (settings in pyproject.toml): lint rules, type hints, dead code. All three run, so that one
# run shows every finding; any finding fails the target.
lint: install
	@status=0; \
	$(PY) -m ruff check --quiet . || status=1; \
	$(PY) -m mypy || status=1; \
	$(PY) -m vulture || status=1; \
	exit $$status

# --dist loadgroup: each test to the worker that is free, a browser file's tests together (tests/conftest.py).
test: install chromium lint
	$(PY) -m pytest tests tracker ui/messages.py --doctest-modules -q -ra --durations=25 -n 2 --dist loadgroup

bench: install
	$(PY) tests/bench/bench_photos.py
	$(PY) tests/bench/bench_progress.py
	$(PY) tests/bench/bench_progress_page.py
	$(PY) tests/bench/bench_backup.py
	$(PY) tests/bench/bench_audit_export.py
	$(PY) tests/bench/bench_import.py
	$(PY) tests/bench/bench_check.py
