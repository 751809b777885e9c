"""Kinds of run: what a run trains, decided once from the options.

A kind says what the generator takes and makes, what a batch of the data holds,
and which components fit together:

* ``generation``: noise ``B x Z`` to images ``B x C x H x W``; batches
  ``(images B x C x H x W, labels B)``;
* ``translation``: images ``B x I x H x W`` to images ``B x C x H x W``; batches
  ``(inputs B x I x H x W, targets B x C x H x W)`` (pix2pix);
* ``unpaired-translation``: images of a domain A to images of a domain B and
  back, ``B x C x H x W`` both; batches ``(images of A, images of B)``, both
  ``B x C x H x W``, not pairs (CycleGAN). The generator and the discriminator
  are pairs, one network per direction and per domain (``both_ways``, see
  ``ganzo.cycle``).

The game chooses the kind (its class attribute ``kind``; ``generation`` if it
has none). Every other component says which kinds it serves with a class
attribute ``kinds`` (a set of kind names); ``translation = True`` is short for
``kinds = {'translation'}``. Data formats and networks that say nothing serve
``generation``; losses, criteria and the rest serve every kind.

``run_kind(options)`` is the one place that decides: it checks that every
chosen component serves the kind of the chosen game, and finds the channels of
the generator's inputs (the data format's ``input_colors(options)``). The
commands attach the result to the options as ``options.kind`` before they
build anything, and components read it with ``kind_of(options)``, which
resolves it from the options when nobody attached it (library use).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Any

from ganzo.errors import GanzoError
from ganzo.options import complete
from ganzo.registry import Registry

GENERATION, TRANSLATION, UNPAIRED = 'generation', 'translation', 'unpaired-translation'
DESCRIPTIONS = {
    GENERATION: ('images generated from noise', 'batches (images B x C x H x W, labels B)'),
    TRANSLATION: ('image-to-image translation',
                  'batches (inputs B x I x H x W, targets B x C x H x W)'),
    UNPAIRED: ('unpaired image-to-image translation',
               'batches (images of A B x C x H x W, images of B B x C x H x W), not pairs'),
}
# The components that must serve the kind: (flag, registry namespace, option).
CHOSEN = (('data-format', 'data', 'data_format'), ('generator', 'generator', 'generator'),
          ('discriminator', 'discriminator', 'discriminator'), ('loss', 'loss', 'loss'),
          ('evaluation-criterion', 'evaluation', 'evaluation_criterion'))
# Namespaces whose components serve generation only, unless they say otherwise.
GENERATION_ONLY = ('data', 'generator', 'discriminator')


@dataclass(frozen=True)
class RunKind:
    """The kind of a run.

    ``name``: a key of ``DESCRIPTIONS``; ``image_colors``: channels ``C`` of the
    generated images; ``input_colors``: channels ``I`` of the images the
    generator takes when it translates (``C`` unless the data format says
    otherwise: 1 for colorization); ``classes``: the class names of the data,
    label ``i`` being ``classes[i]``, when the run uses labels (empty otherwise)."""

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
    def description(self) -> str:
        return DESCRIPTIONS[self.name][0]

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
    kinds = getattr(component, 'kinds', None)
    if kinds is not None:
        return set(kinds)
    if getattr(component, 'translation', False):
        return {TRANSLATION}
    return {GENERATION} if namespace in GENERATION_ONLY else set(DESCRIPTIONS)


def run_kind(options: argparse.Namespace, classes: tuple[str, ...] = (),
             check: bool = True) -> RunKind:
    """The kind of the run that ``options`` (complete) describe; with ``check``,
    a ``GanzoError`` naming the option of a chosen component that does not serve it."""
    name = getattr(Registry.get('game', options.game), 'kind', GENERATION)
    data = Registry.get('data', options.data_format)
    input_colors = getattr(data, 'input_colors', lambda options: options.image_colors)(options)
    kind = RunKind(name, options.image_colors, input_colors, tuple(classes))
    if check:
        for flag, namespace, option in CHOSEN:
            check_serves(kind, options, flag, namespace, getattr(options, option))
    return kind


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
    raise GanzoError(f'--game {options.game} is for {kind.description} and needs a --{flag} '
                     f'that serves it ({", ".join(fitting) or "none registered"}), not {name}')


def kind_of(options: argparse.Namespace) -> RunKind:
    """The kind the command attached to ``options``, or the one they describe."""
    kind = getattr(options, 'kind', None)
    if kind is None:
        kind = run_kind(complete(options), check=False)
    return kind
