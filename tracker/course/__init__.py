"""The expected course after treatment: the milestone engine, protocols, scales and clinical constants.

Pure Python: nothing here reads the database or the disk. Every other room may import it; it imports none of them."""
