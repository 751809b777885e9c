"""Options: one declaration per option serves the command line, JSON files and
library defaults.

Each component module declares its options in an ``add_options(parser, train)``
function registered with ``with_option_parser``. From those declarations:

* ``build_parser(train)`` makes the command line parser, one group per module;
* ``parse(argv, base)`` resolves options with the precedence
  command line > ``--from-json`` file > ``base`` (a saved ``options.json``) > defaults,
  by turning the JSON values into arguments so that they are validated the same way;
* ``complete(options)`` fills a partial ``Namespace`` (library use) with the defaults.

A game may change the defaults of other options (its class attribute
``defaults``, such as the cycle game's ``{'loss': 'least-squares'}``): both
take them for the options that were not given (``game_defaults``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import warnings
from functools import cache
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch

from ganzo.errors import GanzoError
from ganzo.json_files import read_json, run_actions_left_out
from ganzo.registry import Registry, load_modules, with_option_parser

COMPONENT_MODULES = (
    'ganzo.data', 'ganzo.data.translation', 'ganzo.data.unpaired', 'ganzo.generator',
    'ganzo.discriminator', 'ganzo.resnet', 'ganzo.loss', 'ganzo.regularizer', 'ganzo.augment',
    'ganzo.hook', 'ganzo.noise', 'ganzo.statistics', 'ganzo.snapshot', 'ganzo.evaluation',
    'ganzo.game', 'ganzo.cycle', 'ganzo.acceleration',
)
_loaded = False


def load_components() -> None:
    """Import Ganzo's component modules, then the user's ``GANZO_LOAD_MODULES``."""
    global _loaded
    if not _loaded:
        _loaded = True
        for name in COMPONENT_MODULES:
            importlib.import_module(name)
        load_modules()


# Value types: each checks a range and says what is expected.

def number_type(convert: Callable[[str], Any], check: Callable[[Any], bool], expected: str):
    """An argparse ``type``: ``convert`` the text, accept it if ``check`` holds,
    otherwise an error saying that ``expected`` was expected."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not check(value):
            raise argparse.ArgumentTypeError(f'expected {expected}, got {text!r}')
        return value
    parse.__name__ = expected
    return parse


# Counts and sizes stop at a C int (torch's, PIL's): more would fail deep inside.
LARGEST = 2**31 - 1
positive_int = number_type(int, lambda x: 0 < x <= LARGEST,
                           f'a positive integer (at most {LARGEST})')
non_negative_int = number_type(int, lambda x: 0 <= x <= LARGEST,
                               f'an integer >= 0 (at most {LARGEST})')
seed_int = number_type(int, lambda x: 0 <= x < 2**63, 'an integer from 0 to 2**63 - 1')
positive_float = number_type(float, lambda x: x > 0 and x != float('inf'), 'a positive number')
non_negative_float = number_type(float, lambda x: 0 <= x < float('inf'), 'a number >= 0')
probability = number_type(float, lambda x: 0 <= x <= 1, 'a number between 0 and 1')
beta = number_type(float, lambda x: 0 <= x < 1, 'a number in [0, 1)')


def component_option(group: argparse._ArgumentGroup, namespace: str, help: str,
                     flag: str | None = None, aliases: tuple[str, ...] = (),
                     several: bool = False) -> None:
    """``--<flag>`` (default ``--<namespace>``, or any of ``aliases``): which
    registered component of ``namespace`` to use (with ``several``, one or more:
    a list, see ``chosen``)."""
    default = Registry.default(namespace)
    group.add_argument(f'--{flag or namespace}', *(f'--{alias}' for alias in aliases),
                       choices=Registry.names(namespace),
                       default=[default] if several else default, nargs='+' if several else None,
                       metavar='NAME' if several else None,
                       help=f'{help}: {", ".join(Registry.names(namespace))} (default: {default})'
                       if several else f'{help} (default: %(default)s)')


def chosen(value: str | list[str]) -> list[str]:
    """The names that an option of several components holds (a name, from a
    library call or an older options.json, or a list), each once; ``none``
    counts only alone."""
    names = list(dict.fromkeys(_as_list(value)))
    return [name for name in names if name != 'none'] or names


def owned_by(action: argparse.Action, selectors: str | tuple[str, ...],
             *names: str) -> argparse.Action:
    """Declare that the option of ``action`` is read only by the components
    ``names`` chosen by the option ``selectors`` (its name, such as ``'loss'``
    or ``'data_format'``, or several names). Setting it while none of them is
    chosen gets a one-line warning: the option would have no effect. Declared
    again with other selectors, the option has several kinds of owners."""
    action.owners = [*getattr(action, 'owners', []),  # type: ignore[attr-defined]
                     ((selectors,) if isinstance(selectors, str) else selectors, names)]
    return action


class Factory:
    """The main class of a component module (``Loss``, ``Data``, ``Snapshot``...).

    ``class Loss(Factory, namespace='loss', option='loss')`` gives it
    ``from_options(options, *args)``, which builds the component of the registry
    namespace that the option names, as ``Component(options, *args)``; its
    ``add_options(parser, train)`` is registered as an option parser."""

    namespace: ClassVar[str]
    option: ClassVar[str]

    def __init_subclass__(cls, namespace: str | None = None, option: str | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if namespace is not None:
            cls.namespace, cls.option = namespace, option or namespace
        if 'add_options' in vars(cls):
            with_option_parser(cls.add_options)

    @classmethod
    def from_options(cls, options: argparse.Namespace, *args: Any) -> Any:
        return build(cls.namespace, cls.option, options, *args)


class OptionParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are ``GanzoError``: one line, exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise GanzoError(f'{message} (see --help)')


@with_option_parser
def add_global_options(parser: argparse.ArgumentParser, train: bool) -> None:
    group = parser.add_argument_group('global')
    group.add_argument('--experiment', help='name of the experiment: its files go to '
                       '<model-dir>/<experiment> (default: a hash of the options)')
    group.add_argument('--model-dir', default='runs',
                       help='directory of the experiments (default: %(default)s)')
    group.add_argument('--device', help='torch device such as cpu, cuda, cuda:1 or mps '
                       '(default: cuda if available, then mps, then cpu)')
    group.add_argument('--seed', type=seed_int,
                       help='seed of every random number generator (default: drawn at random '
                       'and saved in options.json)')
    if not train:  # deh and ganzo-eval
        group.add_argument('--checkpoint', choices=('best', 'last'), default='best',
                           help='which weights: the best (generator.pt) or those of the last '
                           'checkpoint (checkpoint.pt) (default: %(default)s)')
        return
    group.add_argument('--epochs', type=positive_int, default=10,
                       help='train until this epoch (default: %(default)s)')
    group.add_argument('--start-epoch', type=positive_int,
                       help='number of the first epoch of a new run (default: 1); a restored '
                       'run continues after its checkpoint')
    group.add_argument('--restore', action=argparse.BooleanOptionalAction, default=False,
                       help='if the experiment exists, continue it from its checkpoint '
                       '(on the command line only)')
    group.add_argument('--delete', action=argparse.BooleanOptionalAction, default=False,
                       help='if the experiment exists, delete it and start again (on the '
                       'command line only; takes precedence over --restore)')
    group.add_argument('--from-json', metavar='FILE',
                       help='read options from this JSON file (command line flags take '
                       'precedence over it)')
    group.add_argument('--parallel', action=argparse.BooleanOptionalAction, default=False,
                       help='distribute training across all visible GPUs (CUDA_VISIBLE_DEVICES)')
    group.add_argument('--dry-run', action=argparse.BooleanOptionalAction, default=False,
                       help='check the options, build every component, print what would be '
                       'trained (components, parameters, images per epoch) and stop; nothing '
                       'is written')


class Ignored(argparse.Action):
    """An option that is accepted, its value checked (``type``, ``choices``),
    and dropped: it sets nothing in the options. Declare it with
    ``help=argparse.SUPPRESS`` to leave it out of ``--help``."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.pop('default', None)
        super().__init__(option_strings, argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        pass


def make_parser(train: bool = True, prog: str = 'ganzo',
                description: str | None = None) -> OptionParser:
    """A new parser with every registered option, one group per component. An
    option declared without dashes (a positional argument) is a ``GanzoError``
    that names the module which declared it."""
    load_components()
    parser = OptionParser(prog=prog, description=description, allow_abbrev=False)
    order = (__name__, *COMPONENT_MODULES)
    for add_options in sorted(Registry.option_parsers, key=lambda function: order.index(
            function.__module__) if function.__module__ in order else len(order)):
        known = len(parser._actions)
        add_options(parser, train)
        for action in parser._actions[known:]:
            if not action.option_strings:
                flag = '--' + action.dest.replace('_', '-')
                raise GanzoError(
                    f'{add_options.__module__}.{add_options.__name__} declares the option '
                    f'{action.dest!r} without dashes, as a positional argument, which cannot '
                    f"work beside Ganzo's options: declare it as add_argument('{flag}', ...)")
    return parser


def accept_training_options(parser: argparse.ArgumentParser) -> None:
    """Let ``parser`` (of an inference command) accept the options that only
    training has: their values are checked, then ignored."""
    known = {string for action in parser._actions for string in action.option_strings}
    group = parser.add_argument_group('training options (accepted and ignored)')
    for action in build_parser(train=True)._actions:
        if action.option_strings and not known & set(action.option_strings):
            group.add_argument(*action.option_strings, action=Ignored, nargs=action.nargs,
                               type=action.type, choices=action.choices, help=argparse.SUPPRESS)


def build_parser(train: bool = True, prog: str = 'ganzo') -> OptionParser:
    """The parser of ``make_parser``, made once per state of the registry: do
    not add to it."""
    load_components()
    return _parser(train, prog, Registry.version)


@cache
def _parser(train: bool, prog: str, version: int) -> OptionParser:
    parser = make_parser(train, prog)
    if not train:
        accept_training_options(parser)
    return parser


def _option_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {action.dest: action for action in parser._actions if action.option_strings}


def to_arguments(values: dict[str, Any], parser: argparse.ArgumentParser, source: str,
                 strict: bool = True) -> list[str]:
    """Command line arguments equivalent to ``values`` (keys in either
    ``dash-case`` or ``snake_case``). Unknown keys are an error when ``strict``,
    and skipped otherwise; ``None`` stands for the default."""
    actions = _option_actions(parser)
    arguments: list[str] = []
    for key, value in values.items():
        dest = key.replace('-', '_')
        if dest == 'ganzo_version':
            continue
        action = actions.get(dest)
        if action is None or dest in ('from_json', 'help'):
            if strict:
                raise GanzoError(f'{source}: unknown option {key!r}; see --help for the options')
            continue
        flag = action.option_strings[0]
        if isinstance(action, argparse.BooleanOptionalAction):
            if not isinstance(value, bool):
                raise GanzoError(f'{source}: option {key!r} must be true or false')
            arguments.append(flag if value else '--no-' + flag[2:])
        elif value is None:
            continue
        elif isinstance(value, list):
            if action.nargs not in ('*', '+'):
                raise GanzoError(f'{source}: option {key!r} takes one value, not a list')
            arguments += [flag, *map(str, value)]
        elif isinstance(value, (dict, bool)):
            raise GanzoError(f'{source}: option {key!r} has the wrong type {type(value).__name__}')
        else:
            arguments.append(f'{flag}={value}')
    return arguments


def parse(argv: list[str] | None = None, train: bool = True,
          base: dict[str, Any] | None = None, prog: str = 'ganzo') -> argparse.Namespace:
    """Options from the command line ``argv``, its ``--from-json`` file and
    ``base``, in that order of precedence, then the defaults. An option set for
    a component that is not chosen (see ``owned_by``) gets a warning: on the
    command line always, in the JSON file when it differs from its default (a
    saved ``options.json`` holds every option)."""
    parser = build_parser(train, prog)
    argv = list(argv if argv is not None else [])
    given = parser.parse_args(argv)
    arguments = (to_arguments(run_actions_left_out(base, None), parser, 'options.json',
                              strict=False) if base else [])
    from_json: list[str] = []
    in_json: set[str] = set()
    if getattr(given, 'from_json', None):
        values = run_actions_left_out(read_json(given.from_json), given.from_json)
        from_json = to_arguments(values, parser, given.from_json)
        try:  # the file's values alone, so that a bad one is told with the file's name
            in_json = explicit(parser, from_json)
        except GanzoError as error:
            raise GanzoError(f'{given.from_json}: {error}') from None
    options = parser.parse_args(arguments + from_json + argv)
    game_defaults(options, explicit(parser, arguments + from_json + argv))
    defaults = _defaults(parser)
    changed = {dest for dest in in_json if getattr(options, dest) != defaults.get(dest)}
    warn_about_unused(parser, options, explicit(parser, argv) | changed)
    return options


class _Explicit(argparse.Namespace):
    """A namespace that claims to have every attribute, so that argparse sets
    no defaults in it: what it holds after parsing was given explicitly."""

    def __getattr__(self, name: str) -> None:
        if name.startswith('_'):  # argparse's own bookkeeping
            raise AttributeError(name)
        return None


def explicit(parser: argparse.ArgumentParser, arguments: list[str]) -> set[str]:
    """The names of the options that ``arguments`` set."""
    return set(vars(parser.parse_args(arguments, namespace=_Explicit())))


def warn_about_unused(parser: argparse.ArgumentParser, options: argparse.Namespace,
                      given: set[str]) -> None:
    """Warn about each option in ``given`` whose owning components (``owned_by``)
    are not chosen in ``options``."""
    actions = _option_actions(parser)
    for dest in sorted(given):
        owners = getattr(actions.get(dest), 'owners', [])
        chosen = [name for selectors, _ in owners for selector in selectors
                  for name in _as_list(getattr(options, selector))]
        if not owners or set(chosen) & {name for _, names in owners for name in names}:
            continue
        kinds = ', or of '.join(
            f'{" or ".join(actions[selector].option_strings[0] for selector in selectors)} '
            f'{" or ".join(names)}' for selectors, names in owners)
        warnings.warn(f'{actions[dest].option_strings[0]} is an option of {kinds}, not of the '
                      f'chosen {", ".join(dict.fromkeys(chosen)) or "none"}: it has no effect',
                      stacklevel=2)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def defaults() -> dict[str, Any]:
    """Every option's default, by name."""
    return dict(_defaults(build_parser(train=True)))


@cache
def _defaults(parser: argparse.ArgumentParser) -> dict[str, Any]:
    return vars(parser.parse_args([]))


def complete(options: argparse.Namespace | None = None, **overrides: Any) -> argparse.Namespace:
    """``options`` with every missing option set to its default (library use)."""
    given = {**(vars(options) if options is not None else {}), **overrides}
    return game_defaults(argparse.Namespace(**{**defaults(), **given}), set(given))


def game_defaults(options: argparse.Namespace, given: set[str]) -> argparse.Namespace:
    """``options`` (changed in place) with the defaults of the chosen game (its
    class attribute ``defaults``, by option name) for the options not ``given``."""
    game = getattr(options, 'game', None)
    if game in Registry.names('game'):
        for name, value in getattr(Registry.get('game', game), 'defaults', {}).items():
            if name not in given and hasattr(options, name):
                setattr(options, name, value)
    return options


def build(namespace: str, option: str, options: argparse.Namespace, *args: Any) -> Any:
    """The component of ``namespace`` named by the option ``option``, built as
    ``Component(options, *args)``; missing options take their defaults."""
    options = complete(options)
    return Registry.build(namespace, getattr(options, option), options, *args)


def device(options: argparse.Namespace) -> torch.device:
    """The device named by ``--device``, or the best one available."""
    if options.device is None:
        if torch.cuda.is_available():
            return torch.device('cuda')
        if getattr(torch.backends, 'mps', None) and torch.backends.mps.is_available():
            return torch.device('mps')
        return torch.device('cpu')
    try:
        chosen = torch.device(options.device)
    except RuntimeError:
        raise GanzoError(f'--device {options.device!r} is not a device name '
                         '(try cpu, cuda, cuda:1 or mps)') from None
    if chosen.type not in ('cpu', 'cuda', 'mps'):
        raise GanzoError(f'--device {options.device}: Ganzo trains and samples on cpu, cuda '
                         '(cuda:1...) or mps, not on this kind of device')
    if chosen.type == 'cuda' and (not torch.cuda.is_available()
                                  or (chosen.index or 0) >= torch.cuda.device_count()):
        raise GanzoError(f'--device {options.device}: no such CUDA device here; use --device cpu')
    if chosen.type == 'mps' and not torch.backends.mps.is_available():
        raise GanzoError('--device mps: MPS is not available here; use --device cpu')
    return chosen


def path_is_writable(path: str | os.PathLike) -> bool:
    """Whether ``path`` can be created or written: itself or its nearest existing parent."""
    path = Path(path).absolute()
    while not path.exists():
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
