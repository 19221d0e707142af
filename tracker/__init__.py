"""Regrowth Tracker's domain and services (README, Layout)."""

# Every process that writes gets the listeners that keep the whole-clinic lists' outlook current in the same
# transaction as each write, and start-up's fill of missing outlooks: they are registered on import.
from tracker.progress import outlook as _outlook  # noqa: F401
