"""Typed errors shared by every layer, and the one way the command line reports them.

Every exception type pairlm defines lives here, at the bottom of the layers, so that any
module can raise or catch any of them without importing the layer that raises it. The
modules that used to define them re-export them (`pairlm.data.validation.DataError` is
`pairlm.errors.DataError`).

`run_reporting` is the command line's one error-to-message path: `pairlm`'s `main`, the
search commands and `python -m pairlm.serve.app` turn the errors they expect into one line,
``error: ...`` on stderr, and exit code 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


# ---------------------------------------------------------------------- configuration
class ConfigError(ValueError):
    """A configuration value or key is invalid. `str(e)` is one line naming where: the file,
    the section (table) and the key, ``exp.toml [[runs]] #2 (bert): `max_train` must be an
    integer >= 10, got 5``. `file`, `section` and `key` hold them (None where unknown);
    `at` fills in the file and section as the error passes up through the code that knows
    them (`pairlm.configfile.from_table`)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        section: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.section = section
        self.key = key

    def at(self, file: str | None = None, section: str | None = None) -> ConfigError:
        """This error, with the file and section filled in where they are not yet known."""
        self.file = self.file or file
        self.section = self.section or section
        return self

    def __str__(self) -> str:
        message = super().__str__()
        where = " ".join(p for p in (self.file, self.section) if p)
        return f"{where}: {message}" if where else message


# ---------------------------------------------------------------------- data
class DataError(ValueError):
    """Bad input data. The message names the file, the line and the field."""


class DatasetNotFound(DataError):
    """A named dataset is neither present locally nor downloadable."""


class SplitLeakError(ValueError):
    """A question appears in both the training and the test part of a fold."""


# ---------------------------------------------------------------------- models
class WeightsMismatch(RuntimeError):
    """A packaged weight file is not the one pairlm recorded."""


class BackboneError(RuntimeError):
    """A backbone could not be found, converted or loaded; the message says what to do."""


class TemplateError(ValueError):
    """A prompt template is invalid (missing/unknown placeholder, bad field); names the source."""


# ---------------------------------------------------------------------- evaluation, experiments
class StoreError(RuntimeError):
    """The store holds something that conflicts with what is asked (e.g. a run with another config)."""


class RunFailed(RuntimeError):
    """Some runs of an experiment raised; the others finished (and everything is stored)."""


# ---------------------------------------------------------------------- search
class CorpusError(ValueError):
    """A corpus file cannot be read; the message names the file, row and column."""


class CorpusIndexError(RuntimeError):
    """Base error of the corpus index (named to avoid shadowing the builtin IndexError)."""


class EncoderMismatchError(CorpusIndexError):
    """The index was built with a different encoder than the one asked for."""


class JudgementsError(ValueError):
    """A judgements file cannot be used; the message names the file, row and field."""


# ---------------------------------------------------------------------- the command line
Reported = tuple[type[BaseException], ...]

CLI_ERRORS: Reported = (DataError, ConfigError, StoreError, FileNotFoundError, KeyError)
"""What every `pairlm` command reports as one line (exit 2) instead of a traceback."""

SEARCH_ERRORS: Reported = (
    CorpusError,
    CorpusIndexError,
    JudgementsError,
    FileExistsError,
    FileNotFoundError,
    ValueError,
)
"""What the search commands (index, search, mine, match) report as one line as well: their
bad inputs arrive as ValueErrors of many kinds."""


def error_message(e: BaseException) -> str:
    """The one line the command line prints for an error it reports: ``error: ...`` (a
    KeyError by its message, without the quotes its `str` adds)."""
    msg = e.args[0] if isinstance(e, KeyError) and e.args else e
    return f"error: {msg}"


def run_reporting(reported: Reported, fn: Callable[..., T], *args: Any) -> T | int:
    """`fn(*args)`; an error of a `reported` type is printed as `error_message` on stderr
    and gives exit code 2 instead."""
    try:
        return fn(*args)
    except reported as e:
        print(error_message(e), file=sys.stderr)
        return 2
