"""JSON files of options (``--from-json``, a run's ``options.json``): read
strictly, and kept from deciding what happens to an existing run."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

from ganzo.errors import GanzoError

COMMAND_LINE_ONLY = ('restore', 'delete')  # never from a file: see run_actions_left_out


class DuplicateKey(ValueError):
    """A key that a JSON object holds twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in pairs:
        if key in values:
            raise DuplicateKey(key)
        values[key] = value
    return values


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON object from ``path`` (a UTF-8 byte order mark is allowed); a
    ``GanzoError`` naming the file if it is missing or malformed, holds a key
    twice, numbers too long or nesting too deep for Python's parser."""
    try:
        with open(path, encoding='utf-8-sig') as file:
            values = json.load(file, object_pairs_hook=_unique_keys)
    except OSError as error:
        raise GanzoError(f'cannot read {path}: {error.strerror}') from None
    except DuplicateKey as error:
        raise GanzoError(f'{path} holds the key {str(error)!r} twice: keep one') from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise GanzoError(f'{path} is not valid JSON: {error}') from None
    except ValueError:  # an integer of more digits than Python converts
        raise GanzoError(f'{path} is not valid JSON for ganzo: it holds a number too long '
                         'to read') from None
    except RecursionError:
        raise GanzoError(f'{path} is not valid JSON for ganzo: it is nested too deeply '
                         'to read') from None
    if not isinstance(values, dict):
        raise GanzoError(f'{path} must hold a JSON object of options')
    return values


def run_actions_left_out(values: dict[str, Any], source: str | None) -> dict[str, Any]:
    """``values`` without ``restore`` and ``delete``: what to do with an existing
    run is decided on the command line only, never by a file. Set in the
    ``--from-json`` file ``source``, they are ignored with a warning."""
    kept = {}
    for key, value in values.items():
        if key.replace('-', '_') not in COMMAND_LINE_ONLY:
            kept[key] = value
        elif source is not None and value is not False:
            warnings.warn(f'{source}: {key!r} is ignored: what to do with an existing run is '
                          f'decided on the command line; pass --{key.replace("_", "-")} '
                          'there', stacklevel=3)
    return kept
