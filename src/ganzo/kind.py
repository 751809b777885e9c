"""Kinds of run: what a run trains, decided once from the options.

A kind says what the generator takes and makes, what a batch of the data holds,
and which components fit together:

* ``generation``: noise ``B x Z`` to images ``B x C x H x W``; batches
  ``(images B x C x H x W, labels B)``;
* ``conditional``: noise ``B x Z`` and class labels ``B`` to images of those
  classes ``B x C x H x W``; batches ``(images B x C x H x W, labels B)``; the
  networks take the labels after their usual input (``--conditional``);
* ``translation``: images ``B x I x H x W`` to images ``B x C x H x W``; batches
  ``(inputs B x I x H x W, targets B x C x H x W)`` (pix2pix);
* ``unpaired-translation``: images of a domain A to images of a domain B and
  back, ``B x C x H x W`` both; batches ``(images of A, images of B)``, both
  ``B x C x H x W``, not pairs (CycleGAN). The generator and the discriminator
  are pairs, one network per direction and per domain (``both_ways``, see
  ``ganzo.cycle``).

The game chooses the kind (its class attribute ``kind``; ``generation`` if it
has none); ``--conditional`` makes a generation game conditional, if the game
passes the labels on (its class attribute ``conditional``). Every other
component says which kinds it serves with a class attribute ``kinds`` (a set
of kind names); ``translation = True`` is short for ``kinds = {'translation'}``
(the declaration of the class itself wins over those it inherits).
Data formats and networks that say nothing serve ``generation``; losses,
regularizers (which call the discriminator, so must give it the labels) serve
every kind but ``conditional``; criteria and the rest serve every kind. A
network that serves ``conditional`` says how it can take the labels with a
class attribute ``conditioning`` (modes of ``CONDITIONING``, its default first).

``run_kind(options, classes)`` is the one place that decides: it checks that
every chosen component serves the kind of the chosen game, and finds the
channels of the generator's inputs (the data format's ``input_colors(options)``)
and, in a conditional run, the class names that the data gives. The commands
attach the result to the options as ``options.kind`` before they build
anything; in a conditional run ``Data.from_options`` completes it with the
data's classes, before the networks are built. Components read it with
``kind_of(options)``, which resolves it from the options when nobody attached
it (library use).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Any

from ganzo.errors import GanzoError
from ganzo.options import complete
from ganzo.registry import Registry

GENERATION, CONDITIONAL, TRANSLATION, UNPAIRED = (
    'generation', 'conditional', 'translation', 'unpaired-translation')
DESCRIPTIONS = {
    GENERATION: ('images generated from noise', 'batches (images B x C x H x W, labels B)'),
    CONDITIONAL: ('images of a class generated from noise and a label',
                  'batches (images B x C x H x W, labels B)'),
    TRANSLATION: ('image-to-image translation',
                  'batches (inputs B x I x H x W, targets B x C x H x W)'),
    UNPAIRED: ('unpaired image-to-image translation',
               'batches (images of A B x C x H x W, images of B B x C x H x W), not pairs'),
}
# The components that must serve the kind: (flag, registry namespace, option).
CHOSEN = (('data-format', 'data', 'data_format'), ('generator', 'generator', 'generator'),
          ('discriminator', 'discriminator', 'discriminator'), ('loss', 'loss', 'loss'),
          ('evaluation-criterion', 'evaluation', 'evaluation_criterion'),
          ('regularizers', 'regularizer', 'regularizers'))
# Namespaces whose components serve generation only, unless they say otherwise.
GENERATION_ONLY = ('data', 'generator', 'discriminator')
# Namespaces whose components call the discriminator: they serve a conditional
# run only if they say so (they must pass it the labels).
CALLING_THE_DISCRIMINATOR = ('loss', 'regularizer')
# How conditional networks can take the labels (--generator-conditioning...).
CONDITIONING = {'generator': ('concat', 'batch-norm'),
                'discriminator': ('concat', 'projection', 'auxiliary')}


@dataclass(frozen=True)
class RunKind:
    """The kind of a run.

    ``name``: a key of ``DESCRIPTIONS``; ``image_colors``: channels ``C`` of the
    generated images; ``input_colors``: channels ``I`` of the images the
    generator takes when it translates (``C`` unless the data format says
    otherwise: 1 for colorization); ``classes``: the class names of the data,
    label ``i`` being ``classes[i]``, when the run uses labels (empty otherwise,
    and in a conditional run whose data is not built yet)."""

    name: str
    image_colors: int
    input_colors: int
    classes: tuple[str, ...] = ()

    @property
    def translates(self) -> bool:
        """Whether the generator takes images rather than noise."""
        return self.name in (TRANSLATION, UNPAIRED)

    @property
    def both_ways(self) -> bool:
        """Whether the generator is a pair of networks (A to B and B to A) and the
        discriminator a pair (one per domain): unpaired translation."""
        return self.name == UNPAIRED

    @property
    def conditional(self) -> bool:
        """Whether the networks take class labels."""
        return self.name == CONDITIONAL

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.name][0]

    def condition(self, labels: Any) -> tuple:
        """What the networks take after their noise or images: ``(labels,)`` in a
        conditional run, nothing otherwise (``generator(noise, *condition)``)."""
        return (labels,) if self.conditional else ()

    def labels(self, names: list[str], option: str = '--class') -> list[int]:
        """The labels of the classes ``names`` (class names, or label indices),
        each once, in order; a ``GanzoError`` naming ``option`` and the known
        classes for one that is not."""
        if not self.conditional:
            raise GanzoError(f'{option} is for conditional runs (trained with --conditional), '
                             'and this one is not: leave it out')
        labels = []
        for name in names:
            if name in self.classes:
                labels.append(self.classes.index(name))
            elif name.isdigit() and int(name) < len(self.classes):
                labels.append(int(name))
            else:
                raise GanzoError(f'{option} {name}: no such class; the classes are '
                                 f'{shown(self.classes)}, or an index below {len(self.classes)}')
        return list(dict.fromkeys(labels))

    @property
    def batch(self) -> str:
        """What a batch of the data holds, in words."""
        return DESCRIPTIONS[self.name][1]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), 'classes': list(self.classes)}

    @staticmethod
    def from_dict(values: dict[str, Any]) -> RunKind:
        return RunKind(values['name'], int(values['image_colors']), int(values['input_colors']),
                       tuple(values.get('classes', ())))


def kinds_served(component: Any, namespace: str) -> set[str]:
    """The kinds that a registered component serves (see the module's docstring);
    a game, its own kind."""
    if namespace == 'game':
        return {getattr(component, 'kind', GENERATION)}
    for cls in component.__mro__ if isinstance(component, type) else [component]:
        # the class's own declaration first: a subclass's translation = True wins
        if vars(cls).get('kinds') is not None:
            return set(vars(cls)['kinds'])
        if vars(cls).get('translation', False):
            return {TRANSLATION}
    if namespace in GENERATION_ONLY:
        return {GENERATION}
    if namespace in CALLING_THE_DISCRIMINATOR:
        return set(DESCRIPTIONS) - {CONDITIONAL}
    return set(DESCRIPTIONS)


def shown(names: Any, most: int = 12) -> str:
    """The first ``most`` of ``names``, comma separated."""
    names = list(names)
    return ', '.join(map(str, names[:most])) + (', ...' if len(names) > most else '')


def run_kind(options: argparse.Namespace, classes: Any = None, check: bool = True) -> RunKind:
    """The kind of the run that ``options`` (complete) describe, with the class
    names of its data (``classes``, kept in a conditional run: at least two are
    needed; None while the data is not built). With ``check``, a ``GanzoError``
    naming the option of a chosen component that does not serve it."""
    game = Registry.get('game', options.game)
    name = getattr(game, 'kind', GENERATION)
    conditional = bool(getattr(options, 'conditional', False))
    if check:
        check_conditional(options, game, conditional)
    if conditional:
        name = CONDITIONAL
        if classes is not None and len(classes) < 2:
            raise GanzoError(f'--conditional needs data with labels of 2 classes or more, and '
                             f'--dataset {options.dataset} has {len(classes)} '
                             f'({shown(classes) or "no labels"}): use a dataset with classes '
                             '(a folder with one sub-folder per class), or leave out --conditional')
    data = Registry.get('data', options.data_format)
    input_colors = getattr(data, 'input_colors', lambda options: options.image_colors)(options)
    kind = RunKind(name, options.image_colors, input_colors,
                   tuple(map(str, classes)) if conditional and classes is not None else ())
    if check:
        for flag, namespace, option in CHOSEN:
            for chosen in getattr(options, option) or () if flag == 'regularizers' else [
                    getattr(options, option)]:
                check_serves(kind, options, flag, namespace, chosen)
        if conditional:
            for network in CONDITIONING:
                conditioning(options, network, Registry.get(network, getattr(options, network)))
    return kind


def check_conditional(options: argparse.Namespace, game: Any, conditional: bool) -> None:
    """A ``GanzoError`` for ``--conditional`` with a game that does not pass the
    labels, or a network conditioning without ``--conditional``."""
    if conditional and not getattr(game, 'conditional', False):
        games = [name for name in Registry.names('game')
                 if getattr(Registry.get('game', name), 'conditional', False)]
        raise GanzoError(f'--conditional: --game {options.game} does not pass class labels to '
                         f'the networks; use --game {" or ".join(games) or "standard"}, or leave '
                         'out --conditional')
    for network in CONDITIONING:
        given = getattr(options, f'{network}_conditioning', None)
        if given is not None and not conditional:
            raise GanzoError(f'--{network}-conditioning {given} makes a conditional {network}, '
                             'which needs a conditional run where both networks take the '
                             'labels: add --conditional, or leave the option out')


def conditioning(options: argparse.Namespace, network: str, component: Any) -> str | None:
    """How the ``network`` ('generator' or 'discriminator') class ``component``
    takes the labels: ``--<network>-conditioning``, or its default (the first of
    its class attribute ``conditioning``); None for a network that has no modes
    (a plugin that takes the labels its own way); a ``GanzoError`` if it does
    not have the chosen one."""
    modes = tuple(getattr(component, 'conditioning', ()))
    chosen = getattr(options, f'{network}_conditioning', None)
    if chosen is None:
        return modes[0] if modes else None
    if chosen in modes:
        return chosen
    name = next((name for name in Registry.names(network)
                 if Registry.get(network, name) is component), component.__name__)
    having = [other for other in Registry.names(network) if chosen in getattr(
        Registry.get(network, other), 'conditioning', ())]
    raise GanzoError(f'--{network}-conditioning {chosen}: the {name} {network} takes the labels '
                     f'by {" or ".join(modes) or "no means"}; choose one of those, or a '
                     f'--{network} with {chosen} ({", ".join(having) or "none registered"})')


def check_serves(kind: RunKind, options: argparse.Namespace, flag: str, namespace: str,
                 name: str) -> None:
    """A ``GanzoError`` if the component ``name`` of ``namespace`` does not serve ``kind``."""
    served = kinds_served(Registry.get(namespace, name), namespace)
    if kind.name in served:
        return
    other = sorted(served)[0] if served else None
    games = [game for game in Registry.names('game')
             if getattr(Registry.get('game', game), 'kind', GENERATION) == other]
    if games and kind.name == GENERATION:
        raise GanzoError(f'--{flag} {name} is for {DESCRIPTIONS[other][0]}: use --game {games[0]}')
    fitting = [choice for choice in Registry.names(namespace)
               if kind.name in kinds_served(Registry.get(namespace, choice), namespace)]
    if kind.conditional:
        raise GanzoError(f'--conditional needs a --{flag} that takes class labels '
                         f'({", ".join(fitting) or "none registered"}), not {name}')
    raise GanzoError(f'--game {options.game} is for {kind.description} and needs a --{flag} '
                     f'that serves it ({", ".join(fitting) or "none registered"}), not {name}')


def kind_of(options: argparse.Namespace) -> RunKind:
    """The kind the command attached to ``options``, or the one they describe."""
    kind = getattr(options, 'kind', None)
    if kind is None:
        kind = run_kind(complete(options), check=False)
    return kind
