"""Server start-up fills the clinic outcomes store in the background (``tracker.progress.outcome_store``), so that the
page's first click does not wait minutes for the milestone engine to run for every patient.

A start-up step (``tracker.database.at_start_up``, after the outlook's own rebuild, so that the stamps it reads are
current) that starts a daemon thread rather than filling in the step itself: ``initialize`` runs inside the
server's first page run, which would otherwise hold every first visitor for those minutes, and a stale outlook the
rebuild just wrote is already in place. It starts the thread only when start-up runs off the main thread, as in a
Streamlit server (the page script runs on a script thread): a command, a test or a generator runs ``initialize``
on the main thread and exits or goes on writing, and a fill there would be wasted work racing its writes.

Imported by ``tracker/__init__.py`` so that the step is registered in every process; numpy and the engine are only
imported when the thread starts.
"""

from __future__ import annotations

import threading
from datetime import date

from tracker.database import at_start_up
from tracker.progress import outlook as _outlook  # noqa: F401 (imported first: its rebuild is registered before this)


def fill_at_start_up(url: str) -> None:
    """Start filling the outcomes store of the database at ``url`` for today, in a server process only."""
    if threading.current_thread() is threading.main_thread():
        return
    from sqlalchemy import select

    from db import models
    from tracker.database import read_only
    from tracker.progress.outcome_store import fill_in_background, store_for

    with read_only(url) as connection:
        versions = frozenset((row.id, row.version) for row in connection.execute(
            select(models.Protocol.id, models.Protocol.version)))
    fill_in_background(store_for(url, versions, date.today()), url)


at_start_up(fill_at_start_up)
