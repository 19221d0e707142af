# The two set-up commands (README): `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
PORT ?= 8501
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run test bench chromium clean-data

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests and the PDF report's chart rendering.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Debian's chromium (browser tests, report charts)…"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null \
	  || echo "WARNING: could not install chromium; browser tests will be skipped"; \
	fi
	@command -v pdftoppm >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null || true

run: install chromium
	$(PY) -m tracker init
	$(PY) -m tracker demo --if-empty
	$(PY) -m streamlit run app.py --server.address localhost --server.port $(PORT)

test: install chromium
	$(PY) -m pytest tests tracker --doctest-modules -q -ra

bench: install
	$(PY) tests/bench/bench_photos.py
	$(PY) tests/bench/bench_progress.py
