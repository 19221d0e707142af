"""Regrowth Tracker's domain and services (README, Layout)."""

# Every process that writes gets the listeners that keep the whole-clinic lists' outlook current in the same
# transaction as each write, and start-up's fill of missing outlooks: they are registered on import. Then the
# server's start-up fill of the clinic outcomes store, in the background (``outcome_start`` imports the outlook
# first, so its step runs after the outlook's rebuild; numpy only loads when the fill starts).
from tracker.progress import outcome_start as _outcome_start  # noqa: F401
from tracker.progress import outlook as _outlook  # noqa: F401
