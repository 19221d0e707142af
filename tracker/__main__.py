import sys

from tracker.operations.cli import main

sys.exit(main())
