"""Scalp photos: what an upload is, the copies the app shows, where they are kept, and how they are looked at."""
