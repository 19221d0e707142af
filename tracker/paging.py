"""One page of a long list read from the database (the whole-clinic lists: 50 rows a page)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select

from tracker.errors import ValidationError

Row = TypeVar("Row")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[Row]):
    """``rows``: page ``number`` (1-based) of ``total`` rows, ``size`` rows a page. Iterates, counts and indexes
    like its rows. ``more``: there are more than ``total`` rows (a search counts its matches only so far past the
    page: ``counted_to``); one more page is offered, and each page further counts further.

    >>> page = Page(("a", "b"), total=52, number=2, size=50)
    >>> page.pages, page.showing(), list(page), len(page)
    (2, 'Showing 51–52 of 52', ['a', 'b'], 2)
    >>> page = Page(("a",) * 50, total=100, number=1, size=50, more=True)
    >>> page.pages, page.showing()
    (3, 'Showing 1–50 of more than 100')
    """

    rows: tuple[Row, ...]
    total: int
    number: int = 1
    size: int = PAGE_SIZE
    more: bool = False

    @property
    def pages(self) -> int:
        return last_page(self.total, self.size) + (1 if self.more else 0)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def showing(self) -> str:
        """Which rows of how many, e.g. "Showing 51–100 of 12,345"."""
        of = f"more than {self.total:,}" if self.more else f"{self.total:,}"
        if not self.rows:
            return f"None of {of}"
        return f"Showing {self.offset + 1:,}–{self.offset + len(self.rows):,} of {of}"

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Row:
        return self.rows[index]


MAX_PAGE = 1_000_000  # no list of the clinic comes near it; a larger number is a typing slip or a probe
MAX_PAGE_SIZE = 500  # rows a page: more is no longer a page to read


def page_number(page: object) -> int:
    """A requested page number: a whole number from 1 to ``MAX_PAGE`` (text is refused). Raises ValidationError
    otherwise.

    >>> page_number(3)
    3
    """
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise ValidationError(f"Page {page!r} does not exist: pages are numbered from 1 to {MAX_PAGE:,}.")
    return page


def page_size(size: object) -> int:
    """A requested page size: a whole number of rows from 1 to ``MAX_PAGE_SIZE``. Raises ValidationError otherwise.

    >>> page_size(50)
    50
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationError(f"A page shows from 1 to {MAX_PAGE_SIZE} rows, not {size!r}.")
    return size


COUNTED_PAST = 50  # a search counts its matches this far past the page shown, no further (``counted_to``)


def counted_to(number: int, size: int) -> int:
    """How far a search counts its matches when it shows page ``number``: to ``COUNTED_PAST`` rows past the page.
    Counting every match of "garcia" grew with the clinic (925 at 50,000 patients); the clinician looking for one
    patient needs the first pages, and "more than 100" says to type more.

    >>> counted_to(1, 50)
    100
    """
    return number * size + COUNTED_PAST


def last_page(total: int, size: int) -> int:
    """The last page of ``total`` rows, ``size`` a page (1 when there are none): where a page past it is shown.

    >>> last_page(101, 50), last_page(0, 50)
    (3, 1)
    """
    return max(1, -(-total // size))


def nearer_end(statement: Select[Any], order: Sequence[Any], skip: int, wanted: int,
               total: int) -> tuple[Select[Any], bool]:
    """``statement`` cut to its rows ``skip`` … ``skip + wanted − 1`` in ``order`` (a total order) of ``total``
    rows, read from whichever end of the index is nearer: an OFFSET reads every row it skips, so the last page of
    50,000 read from the end costs what the first does. True: the statement returns them last first."""
    wanted = max(0, min(wanted, total - skip))  # the last page holds what is left
    after = max(0, total - skip - wanted)  # a page past the end: none
    if after < skip:  # reversing an order reverses where NULLs go too, on both databases
        return statement.order_by(*(column.desc() for column in order)).limit(wanted).offset(after), True
    return statement.order_by(*order).limit(wanted).offset(skip), False
