"""Where files live: the ``BlobStore`` interface and the crash-safe ingest that photos and batch documents share."""
