"""Import spreadsheets (clinicians and admins): the clinic's three spreadsheets (patients, treatment sessions,
visits) uploaded, checked (every problem in a table with file, row, column and reason, or what the import will
add), then imported all or nothing with a progress bar, through the service ``python -m tracker import`` uses
(``tracker.exchange.spreadsheet_import``).

"Import" is offered only after a clean check of the very files chosen (their names and content): a file changed
or chosen again is checked again first. The check's counts and the import's summary are plain data kept in the
session; the files stay in the uploaders, which are emptied after an import.
"""

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from tracker.clinic_dates import date_format
from tracker.exchange.import_rows import (
    PATIENT_COLUMNS,
    PATIENT_OPTIONAL_COLUMNS,
    SESSION_COLUMNS,
    VISIT_COLUMNS,
    VISIT_OPTIONAL_COLUMNS,
)
from tracker.exchange.spreadsheet_import import ImportResult, import_spreadsheets, preview_import
from tracker.exchange.spreadsheets import UploadedSheet
from ui.messages import call, plain
from ui.signed_in import require_actor

T = TypeVar("T")
CHECKED, DONE, ROUND, RUNNING = "import_checked", "import_done", "import_round", "import_running"
# What a run that stopped before its service answered was doing: the page was used meanwhile, and Streamlit stops
# a run inside the service's progress report, always before it commits (nothing was imported).
INTERRUPTED = {
    "check": "The check was interrupted because the page was used before it finished. Check the files again.",
    "import": "The import was interrupted because the page was used before it finished: nothing was imported. "
              "Check the files and import them again.",
}
# What the uploaders offer: text files (Excel's "Unicode text" is a .txt), workbooks; an old .xls is let through
# so that the import can say what to do with it.
FILE_TYPES = ["csv", "txt", "tsv", "xlsx", "xlsm", "xls", "ods"]
# (uploader key, label, columns, optional columns, what else to know), in the service's order of the files.
FILES = (
    ("patients", "Patients", PATIENT_COLUMNS, PATIENT_OPTIONAL_COLUMNS, ""),
    ("sessions", "Treatment sessions", SESSION_COLUMNS, (), ""),
    ("visits", "Visits", VISIT_COLUMNS, VISIT_OPTIONAL_COLUMNS, "each row gives density_per_cm2 or salt, or both"),
)


def columns_line(required: tuple[str, ...], optional: tuple[str, ...], remark: str) -> str:
    line = "Columns: " + ", ".join(required) + ("; optional: " + ", ".join(optional) if optional else "")
    return line + (f" ({remark})" if remark else "")


def fingerprint(uploads: list[UploadedSheet]) -> str:
    """The files as checked: their names and content, in order."""
    digest = hashlib.sha256()
    for upload in uploads:
        for part in (upload.name.encode(), upload.data):
            digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def with_progress_bar(step: str, words: str, keep: Callable[[T], None], service: Callable[..., T], *args: Any,
                      **kwargs: Any) -> T | None:
    """``call(service, …)`` with a progress bar that the service moves (``progress=``), removed once it is done:
    what it found (its counts, its problems) takes its place. ``keep`` stores the answer in the session before
    anything is drawn again (drawing is where Streamlit stops a run when the page is used meanwhile); until then
    ``RUNNING`` names the ``step``, so that a run stopped inside the service is told on the next run."""
    slot = st.empty()
    bar = slot.progress(0.0, text=words)

    def advance(fraction: float, text: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=text)

    st.session_state[RUNNING] = step
    answer = call(service, *args, progress=advance, **kwargs)
    if answer is not None:
        keep(answer)
    st.session_state.pop(RUNNING, None)
    slot.empty()
    return answer


def keep_check(chosen: str | None) -> Callable[[ImportResult], None]:
    """Keeps a clean check's counts with the files it was made of."""
    def keep(preview: ImportResult) -> None:
        st.session_state[CHECKED] = (chosen, preview)

    return keep


def keep_import(result: ImportResult) -> None:
    """Keeps the summary for the next run, with empty uploaders: the same files are not imported twice by mistake."""
    st.session_state[DONE] = result.summary()
    st.session_state[ROUND] += 1


def show_counts(result: ImportResult) -> None:
    st.dataframe([{"Records": records, "New (to be added)": added, "Already present (left as they are)": present}
                  for records, added, present in result.counts()], hide_index=True, key="import_preview")
    for line in result.repeated():
        st.caption(line)
    for note in result.notes:
        st.warning(plain(note))


actor = require_actor()
st.title("Import spreadsheets")
st.caption("Add the patients, treatment sessions and visits kept in the clinic's spreadsheets (CSV, Excel .xlsx or "
           "LibreOffice .ods; the first sheet of a workbook). Check the files first: nothing is imported until you "
           "press Import, and then everything is imported or nothing. Records already in the tracker are left as "
           f"they are. Dates: {date_format()}.")

st.session_state.setdefault(ROUND, 0)
summary = st.session_state.pop(DONE, None)  # shown once, on the run after the import
if summary:
    st.success("  \n".join(plain(line) for line in summary.splitlines()))
interrupted = st.session_state.pop(RUNNING, None)
if interrupted in INTERRUPTED:
    st.warning(INTERRUPTED[interrupted])

uploads: list[UploadedSheet] = []
for column, (key, label, required, optional, remark) in zip(st.columns(3), FILES, strict=True):
    file = column.file_uploader(f"{label} file", type=FILE_TYPES, key=f"import_{key}_{st.session_state[ROUND]}")
    column.caption(columns_line(required, optional, remark))
    if file is not None:
        uploads.append(UploadedSheet(file.name, file.getvalue()))

ready = len(uploads) == len(FILES)
chosen = fingerprint(uploads) if ready else None
if not ready:
    st.caption("Choose the three files to check them. For a kind of record the clinic has none of, a file with only "
               "its header row will do.")
if st.button("Check files", disabled=not ready, key="import_check"):
    st.session_state.pop(CHECKED, None)
    with_progress_bar("check", "Checking the files…", keep_check(chosen), preview_import, *uploads, actor=actor)

checked = st.session_state.get(CHECKED)
if checked is not None and checked[0] == chosen:
    outcome = st.empty()  # the check's counts, replaced by the import's progress and outcome
    with outcome.container():
        st.success("The files passed every check. Importing them now would give:")
        show_counts(checked[1])
    if st.button("Import", type="primary", key="import_run"):
        outcome.empty()
        st.session_state.pop(CHECKED, None)  # whatever happens, the next import is checked again
        if with_progress_bar("import", "Importing…", keep_import, import_spreadsheets, *uploads, actor=actor):
            st.rerun()
elif checked is not None:
    st.info("The files changed since they were checked: check them again before importing.")
