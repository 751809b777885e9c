"""Shared fixtures: tiny image folders and tiny training runs on the CPU."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzo.kind import CONDITIONAL, GENERATION, kinds_served, run_kind
from ganzo.options import complete, load_components
from ganzo.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / 'shared' / 'data'

torch.set_num_threads(1)
load_components()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, so that parallel workers (pytest -n) end together."""
    items.sort(key=lambda item: item.get_closest_marker('slow') is None)


def make_image_folder(path: Path, classes: int = 2, per_class: int = 8, size: int = 12,
                      seed: int = 0) -> Path:
    """Sub-folders ``class0``... of random RGB PNG images."""
    rng = np.random.default_rng(seed)
    for label in range(classes):
        folder = path / f'class{label}'
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f'{index}.png')
    return path


def make_lmdb(path: Path, count: int = 8, size: tuple[int, int] = (20, 16), seed: int = 0) -> Path:
    """An LMDB database of ``count`` random RGB JPEG images of ``size`` (width,
    height), keyed as LSUN's are (hex digests): a stand-in for an LSUN category."""
    import lmdb
    rng = np.random.default_rng(seed)
    with lmdb.open(str(path), map_size=1 << 24) as database, database.begin(write=True) as txn:
        for index in range(count):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            encoded = io.BytesIO()
            Image.fromarray(pixels).save(encoded, format='jpeg')
            txn.put(f'{index:040x}'.encode(), encoded.getvalue())
    return path


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp('images'))


def tiny_arguments(image_folder: Path, model_dir: Path, **options) -> list[str]:
    """Command line arguments of a tiny CPU run: 8 px images, tiny models, 2 batches."""
    values = dict(data_dir=image_folder, model_dir=model_dir, experiment='tiny', device='cpu',
                  image_size=8, image_colors=3, batch_size=4, state_size=8,
                  generator_channels=4, discriminator_channels=4, epochs=2,
                  max_batches_per_epoch=2, seed=3, log='none')
    values.update(options)
    arguments = []
    for key, value in values.items():
        flag = '--' + key.replace('_', '-')
        if value is True:
            arguments.append(flag)
        elif value is not False and value is not None:
            arguments.append(f'{flag}={value}')
    return arguments


COMMANDS = {'ganzo': 'ganzo.train', 'ganzo.deh': 'ganzo.deh', 'ganzo.score': 'ganzo.score',
            'ganzo.report': 'ganzo.report'}


def run_ganzo(*arguments: str, module: str = 'ganzo', env: dict | None = None,
              stdin=subprocess.DEVNULL, process: bool = False) -> subprocess.CompletedProcess:
    """Run a Ganzo command as a user would, and what it printed and returned: in
    this process (fast), or in a subprocess (``python -m module``) with
    ``process``, or with ``env`` (variables such as ``GANZO_LOAD_MODULES`` act
    when a process starts)."""
    if process or env is not None:
        return run_process(*arguments, module=module, env=env, stdin=stdin)
    main = importlib.import_module(COMMANDS[module]).main
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main([str(argument) for argument in arguments])
            status = 0
        except SystemExit as exit:
            status = exit.code if isinstance(exit.code, int) else 1
            if isinstance(exit.code, str):
                print(exit.code, file=sys.stderr)
    return subprocess.CompletedProcess(arguments, status, stdout.getvalue(), stderr.getvalue())


def run_process(*arguments: str, module: str = 'ganzo', env: dict | None = None,
                stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """Run a Ganzo command in a subprocess, ``python -m module``."""
    environment = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        [str(ROOT / 'src'), str(ROOT / 'examples'), os.environ.get('PYTHONPATH', '')]),
        'OMP_NUM_THREADS': '1', **(env or {})}
    return subprocess.run([sys.executable, '-m', module, *map(str, arguments)],
                          capture_output=True, text=True, env=environment, stdin=stdin,
                          timeout=300)


def assert_user_error(result: subprocess.CompletedProcess, *words: str) -> None:
    """Exit status 2, one line on stderr naming the problem, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert 'Traceback' not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


# Components of every kind of run, for tests driven by the registry

CLASSES = ('zero', 'one', 'two')  # the classes of the conditional runs of kind_options


def kind_options(namespace: str, name: str, kind: str | None = None,
                 **values) -> argparse.Namespace:
    """Complete options of a tiny run (16 px colour images, 8 noise numbers, 4
    channels) in which the component ``name`` of ``namespace`` serves: the game
    and the other components are chosen from the registry by the kind of run
    (``kind``, or the one it serves, generation where it can; the default
    component where it fits). A conditional run has the classes ``CLASSES``."""
    served = kinds_served(Registry.get(namespace, name), namespace)
    kind = kind or (GENERATION if GENERATION in served else sorted(served)[0])

    def fitting(other: str) -> str:
        names = [Registry.default(other), *Registry.names(other)]
        return next(choice for choice in names if choice is not None
                    and kind in kinds_served(Registry.get(other, choice), other))

    played = GENERATION if kind == CONDITIONAL else kind
    game = next(game for game in Registry.names('game')
                if getattr(Registry.get('game', game), 'kind', GENERATION) == played
                and (kind != CONDITIONAL or getattr(Registry.get('game', game), 'conditional',
                                                    False)))
    base = dict(image_size=16, image_colors=3, state_size=8, generator_channels=4,
                discriminator_channels=4, device='cpu', game=game,
                data_format=fitting('data'), generator=fitting('generator'),
                discriminator=fitting('discriminator'), loss=fitting('loss'),
                conditional=kind == CONDITIONAL)
    options = complete(**{**base, namespace: name, **values})
    if kind == CONDITIONAL:
        options.kind = run_kind(options, CLASSES, check=False)
    return options


def network_variants(network: str) -> list[tuple[str, str | None]]:
    """Every registered ``network`` ('generator' or 'discriminator') in every way
    it runs: ``(name, None)`` in the kind of run it serves first, and
    ``(name, mode)`` in a conditional run for each of its conditioning modes."""
    return [(name, mode) for name in Registry.names(network)
            for mode in [None, *(getattr(Registry.get(network, name), 'conditioning', ())
                                 if CONDITIONAL in kinds_served(Registry.get(network, name),
                                                                network) else ())]]


def variant_options(network: str, name: str, mode: str | None, **values) -> argparse.Namespace:
    """``kind_options`` of the ``network`` ``name``, in a conditional run that
    conditions it by ``mode`` (unless None)."""
    if mode is None:
        return kind_options(network, name, **values)
    other = {'generator': 'discriminator', 'discriminator': 'generator'}[network]
    return kind_options(network, name, CONDITIONAL, **{
        f'{network}_conditioning': mode, f'{other}_conditioning': None, **values})


def assert_builds_the_registered_class(network: str, name: str, mode: str | None) -> None:
    """``Generator.from_options`` (or ``Discriminator``) builds the registered
    class ``name``, conditioned by ``mode`` (None: not conditioned)."""
    from ganzo.discriminator import Discriminator
    from ganzo.generator import Generator
    factory = Generator if network == 'generator' else Discriminator
    model = factory.from_options(variant_options(network, name, mode))
    assert type(model) is Registry.get(network, name)
    assert getattr(getattr(model, 'conditioner', None), 'mode', None) == mode


def labels_of(options: argparse.Namespace, batch: int) -> tuple[torch.Tensor, ...]:
    """What the networks take after their images or noise: labels ``B`` (every
    class in turn) in a conditional run, nothing otherwise."""
    kind = options.kind if hasattr(options, 'kind') else run_kind(options, check=False)
    return kind.condition(torch.arange(batch) % max(1, len(kind.classes)))


def generator_inputs(options: argparse.Namespace, batch: int = 3) -> tuple[torch.Tensor, ...]:
    """What a generator of ``options`` takes: noise ``B x Z`` (and labels ``B``
    in a conditional run), or images ``B x I x H x W``."""
    kind = run_kind(options, check=False)
    if kind.translates:
        return (torch.rand(batch, kind.input_colors, options.image_size,
                           options.image_size) * 2 - 1,)
    return torch.randn(batch, options.state_size), *labels_of(options, batch)


def discriminator_inputs(options: argparse.Namespace, batch: int = 3) -> tuple[torch.Tensor, ...]:
    """What a discriminator of ``options`` takes: images ``B x C x H x W`` (and
    labels ``B`` in a conditional run), or in paired translation (input, image)
    pairs ``B x (I + C) x H x W``."""
    kind = run_kind(options, check=False)
    paired = kind.translates and not kind.both_ways
    channels = options.image_colors + (kind.input_colors if paired else 0)
    images = torch.rand(batch, channels, options.image_size, options.image_size) * 2 - 1
    return images, *labels_of(options, batch)


@pytest.fixture
def plugins(monkeypatch):
    """Plugins that a test loads (from ``examples/``, on the path) are gone
    afterwards: the registry and the imported modules are as they were."""
    components = {namespace: dict(names) for namespace, names in Registry._components.items()}
    defaults, parsers = dict(Registry._defaults), list(Registry._option_parsers)
    modules = set(sys.modules)
    monkeypatch.syspath_prepend(str(ROOT / 'examples'))
    yield
    Registry._components, Registry._defaults = components, defaults
    Registry._option_parsers = parsers
    for name in set(sys.modules) - modules:
        if str(ROOT / 'examples') in str(getattr(sys.modules[name], '__file__', '')):
            del sys.modules[name]
