"""How problems reach the user: ``GanzoError`` for mistakes, one line each."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


class GanzoError(Exception):
    """A mistake in the user's input (an option, a file, a folder).

    The message is a single line that names what is wrong and what to do. The
    commands print it on stderr and exit with status 2, without a traceback.
    """


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line. An error raised in a DataLoader
    worker reaches the main process with the worker's traceback in its
    message; its last line holds the original message."""
    text = str(error)
    if 'Traceback (most recent call last)' in text:
        text = text.strip().splitlines()[-1].split(': ', 1)[-1]
    return ' '.join(text.split())


@contextmanager
def one_line_warnings(prog: str) -> Iterator[None]:
    """Within it, warnings show as one line ``<prog>: warning: message`` on stderr."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f'{prog}: warning: {one_line(message)}', file=sys.stderr)
    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
