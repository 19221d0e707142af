"""One patient's progress and the clinic's schedule: records read from the database, judged by ``tracker.course``."""
