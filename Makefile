# The two set-up commands (README): `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
PORT ?= 8501
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run lint test bench chromium swift nginx clean-data

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

# OpenStack Swift (its S3 API over a one-node ring on a temporary folder) for the object-store tests
# (tests/swift_server.py starts and stops it); its daemons run on Debian's python3. Installed when missing;
# without it those tests say they were skipped and why.
SWIFT_PACKAGES := swift-proxy swift-object swift-container swift-account

swift:
	@if ! command -v swift-proxy-server >/dev/null || ! command -v swift-object-server >/dev/null \
	  || ! command -v swift-container-server >/dev/null || ! command -v swift-account-server >/dev/null; then \
	  echo "Installing Debian packages: $(SWIFT_PACKAGES)"; \
	  ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(SWIFT_PACKAGES) >/dev/null) \
	  || echo "WARNING: could not install $(SWIFT_PACKAGES); object-store tests will say they were skipped"; \
	fi

# Debian's nginx and openssl for the two-replica test (tests/test_chain_deployment.py: TLS with a certificate it
# makes, the shipped deploy/nginx-chain.conf in front of two app servers). The test starts its own nginx on
# free ports with a configuration in a temporary folder; the package's own service is not used by it.
nginx:
	@missing=""; for need in /usr/sbin/nginx:nginx /usr/bin/openssl:openssl; do \
	  [ -e "$${need%%:*}" ] || missing="$$missing $${need#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	  || echo "WARNING: could not install$$missing; the two-replica test will say it was skipped"; \
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
test: install chromium swift nginx lint
	$(PY) -m pytest tests tracker ui/messages.py --doctest-modules -q -ra --durations=25 -n 2 --dist loadgroup

# Whole-clinic benchmarks (issue #13) on generated clinics, cached in bench-data/ (SQLite) and bench_<size>
# databases on TEST_DATABASE_URL's server: `make bench BENCH_SIZES=2000` for a quick run.
BENCH_SIZES ?= 2000,20000,50000
comma := ,

bench: install chromium
	for size in $(subst $(comma), ,$(BENCH_SIZES)); do $(PY) tests/bench/generate_clinic.py --patients $$size || exit 1; done
	$(PY) tests/bench/bench_clinic_scale.py --sizes $(BENCH_SIZES)
	$(PY) tests/bench/bench_sqlite_lock.py --patients $(lastword $(subst $(comma), ,$(BENCH_SIZES)))
	$(PY) tests/bench/bench_patients_browser.py --patients $(if $(filter 20000,$(subst $(comma), ,$(BENCH_SIZES))),20000,$(firstword $(subst $(comma), ,$(BENCH_SIZES))))
	$(PY) tests/bench/bench_photos.py
	$(PY) tests/bench/bench_progress.py
	$(PY) tests/bench/bench_progress_page.py
	$(PY) tests/bench/bench_backup.py
	$(PY) tests/bench/bench_audit_export.py
	$(PY) tests/bench/bench_s3_store.py
	$(PY) tests/bench/bench_import.py
	$(PY) tests/bench/bench_check.py
	$(PY) tests/bench/bench_hair_count.py
	$(PY) tests/bench/bench_alignment.py
	$(PY) tests/bench/bench_photo_quality.py
	$(PY) tests/bench/bench_fhir.py --sizes $(BENCH_SIZES)
	$(PY) tests/bench/bench_fhir_import_memory.py
	$(PY) tests/bench/bench_exports.py --sizes $(BENCH_SIZES)
	$(PY) tests/bench/bench_outcomes.py --sizes $(BENCH_SIZES)
