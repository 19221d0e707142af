# Names vulture reports as unused that a framework or another process uses: each with who uses it.
# Read by vulture only (`make lint`); never imported. Dead code is deleted, not listed here.

# Alembic reads these from every revision module, and calls downgrade() on `alembic downgrade`.
down_revision
branch_labels
depends_on
downgrade

# SQLAlchemy: created_at is a column of the schema (written by its default, read by SQL and backups); so is
# refreshed_at (the outlook's, tracker.progress.outlook writes it for whoever reads the table) and maintenance_state's
# updated_at.
created_at
refreshed_at
updated_at

# SQLAlchemy: session events tracker.progress.outlook registers (@event.listens_for) to keep the outlook current.
track_flush
refresh_tracked
forget_tracked

# sqlite3: the connection attribute db.engine sets so that SQLAlchemy decides when transactions begin.
_.isolation_level

# fpdf2: calls footer() on every page; reads core_fonts_encoding when no TrueType font is found.
_.footer
_.core_fonts_encoding

# pytest: a hook of tests/conftest.py, and a fixture the schedule page tests request by name.
pytest_terminal_summary
scheduled
# pytest: the fixture the date-format tests request by name (usefixtures), a clinic writing dates DD/MM/YYYY.
day_first
# pytest: the other hooks of tests/conftest.py (pytest_testnodedown is pytest-xdist's, on its controller), and
# its autouse fixture that closes a browser module's shared Chromium.
pytest_configure
pytest_collection_modifyitems
pytest_sessionfinish
pytest_testnodedown
_browser_per_module

# urllib: calls redirect_request on the handler tests/test_browser_session_cookie.py installs.
_.redirect_request

# tests/test_crash_safety.py: the child process runs it from its command line (`-c "...child_main(...)"`).
child_main

# openpyxl: the cell format tests/test_import_rows.py sets on a worksheet cell.
_.number_format

# hmac (tracker/access/signing.py) reads these of the counting SHA-256 in tests/test_upload_hashing.py.
_.block_size
_.digest_size

# Streamlit reads it before each script run (runtime/scriptrunner/script_runner.py); serve.py switches it off.
_.uses_pages_directory
# pytest: the object-store fixtures of tests/swift_server.py, which tests/test_s3_*.py load as a plugin
# (pytest_plugins) and request by name (usefixtures).
pytest_plugins
s3_environment
# openpyxl: writes a sheet's frozen header row from it (tracker/exchange/safe_workbook.py).
_.freeze_panes
