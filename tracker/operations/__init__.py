"""Running an installation: configuration, the database, backups, the consistency check, the demo clinic, the CLI."""
