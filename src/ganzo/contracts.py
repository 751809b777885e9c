"""What each kind of component must offer: one ``Protocol`` per registry namespace.

A component is a class registered in its namespace (``@register('loss',
'my-loss')``) and built as ``Component(options, *args)``; the arguments after
the options are given below each protocol. Only the methods listed here are
called by Ganzo. The base classes ``ganzo.statistics.Statistics``,
``ganzo.snapshot.Snapshot``, ``ganzo.evaluation.Evaluation``, ``ganzo.hook.Hook``,
``ganzo.regularizer.Regularizer`` and ``ganzo.game.StandardGame`` implement
everything but the one method a plugin must write, and ``examples/templates/``
holds a file per kind to copy. Checkpointed components (data, snapshot,
evaluation, hooks, regularizers, game) also offer ``state_dict()`` and
``load_state_dict(state)``. Arguments shown as optional (``epoch``,
``progress``, a criterion's ``generator``...) are passed only to methods whose
signature takes them (``call``): a plugin may leave them out, as the spec's
loop does.

Generators and discriminators are ``torch.nn.Module``: a generator maps noise
``B x Z`` (or, in translation, images ``B x I x H x W``) to images
``B x C x H x W`` in [-1, 1]; a discriminator maps images to logits ``B``
(or a map of logits per patch). In a conditional run both take the class
labels ``B`` (int64) after that: ``generator(noise, labels)``,
``discriminator(images, labels)`` (see ``ganzo.conditional``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

import torch
from torch import nn

# progress(images in the batch, read_losses): called by a game after each batch;
# read_losses() returns the running means of the losses (it waits for the device).
Progress = Callable[[int, Callable[[], dict]], None]
Result = TypeVar('Result')


def call(function: Callable[..., Result], *args: Any, **optional: Any) -> Result:
    """``function(*args, **optional)``, leaving out the ``optional`` keyword
    arguments that ``function`` does not take. Ganzo calls components this way
    where it has more to give than the spec's signatures, so that a plugin may
    implement just those: ``log(losses)``, ``save(data, noise, generator)``,
    ``run_epoch(data, noise)``, ``__init__(options)`` of a criterion."""
    parameters = inspect.signature(function).parameters
    if not any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters.values()):
        optional = {name: value for name, value in optional.items() if name in parameters}
    return function(*args, **optional)


class Losses(dict):
    """The mean losses (and metrics) of an epoch, by name, which also say how
    many ``images`` the epoch trained on and in how many ``seconds``."""

    def __init__(self, values: dict[str, float] | None = None, images: int = 0,
                 seconds: float = 0.0) -> None:
        super().__init__(values or {})
        self.images, self.seconds = images, seconds


@runtime_checkable
class Data(Protocol):
    """Namespace ``data``, built as ``Data(options)``: an epoch is ``iter(data)``,
    batches of tensors (``(images, labels)`` for generation, ``(inputs,
    targets)`` for translation), ``len(data)`` of them. A data format that
    serves conditional runs has ``classes``, the names of the labels."""

    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


@runtime_checkable
class Noise(Protocol):
    """Namespace ``noise``, built as ``Noise(options)``: latent points ``B x Z``
    on the training device."""

    def sample(self, batch_size: int) -> torch.Tensor: ...


@runtime_checkable
class Loss(Protocol):
    """Namespace ``loss``, built as ``Loss(options, discriminator)``: scalar
    losses of both players from batches of real and generated data. In a
    conditional run ``labels`` are the classes of both, which a loss that
    serves such runs (``kinds``) hands to the discriminator."""

    def for_generator(self, fake_data: torch.Tensor, labels: Any = None) -> torch.Tensor: ...

    def for_discriminator(self, real_data: torch.Tensor, fake_data: torch.Tensor,
                          labels: Any = None) -> torch.Tensor: ...


@runtime_checkable
class Hook(Protocol):
    """Namespace ``hook``, built as ``Hook(options)``: called on a model after
    each of its optimizer steps."""

    def __call__(self, model: nn.Module) -> None: ...


@runtime_checkable
class Regularizer(Protocol):
    """Namespace ``regularizer`` (``--regularizers``), built as
    ``Regularizer(options, discriminator)``: at each discriminator step, a
    penalty (scalar tensor) added to the discriminator's loss, from the real and
    generated batches the loss saw (and ``labels=`` their classes, if it takes
    them), or None at a step it skips; its state (such as a count of steps) is
    checkpointed."""

    def __call__(self, real_data: torch.Tensor, fake_data: torch.Tensor
                 ) -> torch.Tensor | None: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


@runtime_checkable
class Augmentation(Protocol):
    """Namespace ``augmentation`` (``--augment``), built as ``Augmentation(options)``:
    a random, differentiable change of a batch of images ``B x C x H x W`` in
    [-1, 1] (or of (input, image) pairs in translation), to a batch of the same
    shape, drawn per image from torch's random number generator."""

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Game(Protocol):
    """Namespace ``game``, built as ``Game(options, generator, discriminator,
    loss, hooks)``: trains both models for an epoch of ``data``; returns the mean
    losses (``Losses``). ``hooks`` holds, under ``'generator'`` and
    ``'discriminator'``, the lists of hooks to call after each step of that
    model (``ganzo.hook.Hook.from_options``; the ``ganzo`` command builds them,
    so that the moving average of the generator, a hook, is shared with the
    snapshots). Its class attribute ``kind`` names the kind of run it plays (see
    ``ganzo.kind``)."""

    def run_epoch(self, data: Data, noise: Noise, progress: Progress | None = None
                  ) -> dict[str, float]: ...


@runtime_checkable
class Statistics(Protocol):
    """Namespace ``statistics`` (``--log``), built as ``Statistics(options)``:
    records the losses of each epoch (numbered from 1, unless ``epoch`` says)."""

    def log(self, losses: dict[str, float], epoch: int | None = None) -> None: ...


@runtime_checkable
class Snapshot(Protocol):
    """Namespace ``snapshot`` (``--save-images-as``), built as ``Snapshot(options)``:
    saves pictures of what the generator makes after an epoch."""

    def save(self, data: Data, noise: Noise, generator: nn.Module,
             epoch: int | None = None) -> None: ...


@runtime_checkable
class Evaluation(Protocol):
    """Namespace ``evaluation`` (``--evaluation-criterion``), built as
    ``Evaluation(options, generator=None, noise=None, data=None)``: whether the
    models of an epoch are the best so far, and so saved."""

    def has_improved(self, losses: dict[str, float]) -> bool: ...
