"""The clinical record: patients, visits, treatment sessions, concurrent therapies, lots, corrections with history."""
