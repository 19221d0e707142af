"""What is wrong with the import's spreadsheets, as data: each problem names its file, its row as Excel or
LibreOffice shows it (None for the file as a whole), its column (None when it is not about one column) and the
reason, written for a clinician. The command line prints each as one line (``str``); the import page shows them
as a table (``ImportRefused.table``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tracker.errors import ValidationError

# The import page's problems table: its columns, in order.
TABLE_COLUMNS = ("File", "Row", "Column", "Reason")


@dataclass(frozen=True)
class ImportProblem:
    """One problem.

    >>> print(ImportProblem("visits.csv", 2, "density_per_cm2", "density_per_cm2 'abc' is not a number"))
    visits.csv, row 2: density_per_cm2 'abc' is not a number
    >>> print(ImportProblem("patients.xlsx", None, None, "the workbook is password-protected"))
    patients.xlsx: the workbook is password-protected
    """

    file: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}, row {self.row}"
        return f"{where}: {self.reason}"


class ImportRefused(ValidationError):
    """An import (or its check) refused: ``found`` holds every problem, in the order a clinician fixes them;
    ``problems`` holds the same as lines (``str`` of each), as every ``ValidationError`` does."""

    def __init__(self, message: str, found: Iterable[ImportProblem]):
        self.found = tuple(found)
        super().__init__(message, [str(problem) for problem in self.found])

    @property
    def table(self) -> list[dict[str, str]]:
        """The problems as rows of text keyed by ``TABLE_COLUMNS`` (an empty cell where a problem has no row
        or no column), for the page's problems table."""
        return [
            dict(zip(TABLE_COLUMNS, (p.file, "" if p.row is None else str(p.row), p.column or "", p.reason),
                     strict=True))
            for p in self.found
        ]


def file_problem(file_name: str, reason: str) -> ImportRefused:
    """The refusal of a whole file (it cannot be read as a spreadsheet), its message the problem's line.

    >>> str(file_problem("visits.csv", "the file is empty"))
    'visits.csv: the file is empty'
    """
    problem = ImportProblem(file_name, None, None, reason)
    return ImportRefused(str(problem), [problem])
