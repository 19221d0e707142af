"""Benchmark: how long the Patients and Schedule pages take to draw in a real browser on the 20,000-patient
clinic (issue #13: "The page itself renders in under 1 s").

Copies the generated SQLite clinic (``generate_clinic.py``) into a fresh data folder, starts the app as
``tests/browser.py`` does (``streamlit run serve.py``), signs in as a clinician in Debian's Chromium (Playwright,
headless) and times, from the click on "Patients" in the menu until the page's table is drawn and the page has
stopped changing (the time of its last change), then the same for "Schedule"; one warm-up round, then the
median of ``--runs``. Screenshots of both pages go to ``test-artifacts/bench-patients-browser/``. Figures only.

    python tests/bench/bench_patients_browser.py [--patients 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy.engine import make_url  # noqa: E402 (after the sys.path line)

from tests.bench import generate_clinic  # noqa: E402 (after the sys.path line)
from tests.browser import (  # noqa: E402 (after the sys.path line)
    CHROMIUM,
    RENDERING,
    browser_page,
    close_shared_browser,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)

JOURNEY = "bench-patients-browser"
CLINICIAN = next(name for role, name in generate_clinic.ACCOUNTS if role == "clinician")
# Drawn: the page's title is the one clicked, its table is there, nothing is still running, a placeholder or left
# over from the previous page, and no element has been added or replaced for QUIET_MS (the elements after the
# table, such as the patient chooser, arrive after it). The time taken is that of the last change.
QUIET_MS = 600
WATCH = """() => {
    window.__benchLastChange = performance.now();
    window.__benchObserver?.disconnect();
    window.__benchObserver = new MutationObserver(() => { window.__benchLastChange = performance.now(); });
    window.__benchObserver.observe(document.body, {subtree: true, childList: true, attributes: true,
                                                   attributeFilter: ["data-stale"]});
    return performance.now();
}"""
DRAWN = """([title, rendering, quiet]) => {
    const heading = document.querySelector('[data-testid="stMain"] h1');
    return heading !== null && heading.textContent.trim() === title
        && document.querySelector('[data-testid="stMain"] [data-testid="stDataFrame"]') !== null
        && !document.querySelector(rendering)
        && performance.now() - window.__benchLastChange > quiet;
}"""


def time_click(page, title: str) -> float:
    """Seconds from the click on ``title`` in the sidebar menu until that page is drawn (its last change)."""
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True)
    clicked = page.evaluate(WATCH)
    link.click()
    page.wait_for_function(DRAWN, arg=[title, RENDERING, QUIET_MS], polling="raf", timeout=300_000)
    return (page.evaluate("() => window.__benchLastChange") - clicked) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"Browser render time: not measured ({CHROMIUM} is missing; `make chromium` installs it)")
        return
    source = Path(make_url(generate_clinic.clinic(args.patients)).database or "")
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        data_dir.mkdir(mode=0o700)
        shutil.copyfile(source, data_dir / "tracker.db")
        timings: dict[str, list[float]] = {"Patients": [], "Schedule": []}
        with streamlit_server(data_dir) as base, browser_page() as page:
            sign_in(page, base, CLINICIAN, generate_clinic.ACCOUNT_PASSWORD)
            wait_rendered(page, timeout=300_000)
            for round_number in range(args.runs + 1):  # round 0 warms up
                for title in ("Schedule", "Patients"):
                    seconds = time_click(page, title)
                    if round_number:
                        timings[title].append(seconds)
                    else:
                        shot(page, JOURNEY, f"{title.lower()}-{args.patients}")
        close_shared_browser()
    print(f"Browser (Chromium, headless), SQLite clinic of {args.patients} patients: from the click in the menu "
          f"until the page's table is drawn (median of {args.runs} after one warm-up)")
    for title, samples in timings.items():
        print(f"  {title:<9} median {statistics.median(samples):6.2f} s  "
              f"(min {min(samples):.2f}, max {max(samples):.2f}; target under 1 s)")
    print(f"  screenshots: test-artifacts/{JOURNEY}/")


if __name__ == "__main__":
    main()
