"""One error type that every stage raises for problems a user can fix."""

from __future__ import annotations


class C360Error(Exception):
    """A user-facing failure: what went wrong, where, and how to fix it.

    The CLI prints it as one line; the full traceback is shown only with ``--debug``.
    """

    def __init__(self, what: str, *, where: str = "", fix: str = "") -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        parts = [self.what]
        if self.where:
            parts.append(f"[{self.where}]")
        text = " ".join(parts)
        return f"{text} — {self.fix}" if self.fix else text


class ExpectationFailed(C360Error):
    """A `fail` expectation was broken: the stage stops and writes nothing."""


class ReconciliationError(C360Error):
    """Source counts do not equal bronze + quarantine counts."""
