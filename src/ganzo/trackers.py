"""Trackers: TensorBoard, MLflow and Weights & Biases.

A tracker is opened once per run directory and shared by the statistics
(``--log``) and the snapshots (``--save-images-as``) that name it: one
TensorBoard writer, one MLflow run, one W&B run. It is checked when it is
built (its library installed, its URI reachable: a ``GanzoError`` otherwise),
opened on first use, and it logs the options once, the values of each epoch
(one step per epoch) and the snapshot grids.

A tracker that fails during training (a server gone, a full disk) is one
warning, and is not used again: training goes on, and its checkpoints and
samples are not touched. The ids of the MLflow and W&B runs are kept in
``<run-dir>/trackers.json``, so that ``--restore`` continues the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch

from ganzo.errors import GanzoError
from ganzo.experiment import experiment_name, run_directory, saved
from ganzo.files import atomic_write, warn
from ganzo.options import complete, path_is_writable

IDS = 'trackers.json'


class Tracker:
    """A tracker's run, for the run directory of ``options``. Subclasses
    ``check`` the options, ``open`` the run and write ``values`` and ``image``;
    the public methods wrap them so that a failure warns instead of raising."""

    name: ClassVar[str]
    extra: ClassVar[str]  # the pip extra that installs the library

    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.directory = run_directory(options)
        self.opened = self.failed = False
        self.check(options)

    def check(self, options: argparse.Namespace) -> None:
        """Raise a ``GanzoError`` if the tracker cannot work with ``options``."""

    def open(self) -> None:
        raise NotImplementedError

    def values(self, epoch: int, values: dict[str, float]) -> None:
        raise NotImplementedError

    def image(self, epoch: int, picture: torch.Tensor) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        pass

    def log_values(self, epoch: int, values: dict[str, float]) -> None:
        """Log the values of ``epoch``, one step per epoch."""
        self._safely(self.values, epoch, values)

    def log_image(self, epoch: int, picture: torch.Tensor) -> None:
        """Log a snapshot, a picture ``C x H x W`` in [0, 1], at the step of ``epoch``."""
        self._safely(self.image, epoch, picture)

    def close(self) -> None:
        _opened.pop((self.name, self.directory), None)
        if self.opened and not self.failed:
            self._safely(self.finish)
        self.opened = False

    def _safely(self, action: Callable[..., None], *arguments: Any) -> None:
        if self.failed:
            return
        try:
            if not self.opened:
                self.opened = True
                self.open()
            action(*arguments)
        except Exception as error:  # noqa: BLE001 - any failure of a tracker is one warning
            self.failed = True
            reason = ' '.join(str(error).split())[:300] or type(error).__name__
            warn(f'{self.name} failed ({reason}); nothing more is logged to it, and '
                 'training goes on')

    def library(self, module: str) -> None:
        """A ``GanzoError`` saying what to install if ``module`` is missing
        (found without importing it: the trackers' libraries are slow to import)."""
        if sys.modules.get(module) is not None:
            return
        try:
            found = module not in sys.modules and importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise GanzoError(f'--log or --save-images-as {self.name} needs {module}: '
                             f'pip install "ganzo[{self.extra}]"')

    def options_to_log(self) -> dict[str, Any]:
        """The options as ``options.json`` holds them, in JSON types."""
        return json.loads(json.dumps(saved(self.options), default=str))

    def run_id(self) -> str | None:
        """The id of this tracker's run that a previous session of the run kept."""
        try:
            return json.loads((self.directory / IDS).read_text()).get(self.name)
        except (OSError, ValueError, AttributeError):
            return None

    def keep_run_id(self, identifier: str) -> None:
        path = self.directory / IDS
        try:
            ids = json.loads(path.read_text())
        except (OSError, ValueError):
            ids = {}
        text = json.dumps({**ids, self.name: identifier}, indent=2) + '\n'
        atomic_write(path, lambda file: file.write(text), mode='w')


_opened: dict[tuple[str, Path], Tracker] = {}


def shared(tracker: type[Tracker], options: argparse.Namespace) -> Tracker:
    """The tracker of the run directory of ``options``, made on first use and
    shared until it is closed."""
    options = complete(options)
    key = (tracker.name, run_directory(options))
    if key not in _opened:
        _opened[key] = tracker(options)
    return _opened[key]


def close_trackers(directory: Path) -> None:
    """Close every tracker of the run in ``directory`` (those that only the
    snapshots used too)."""
    for (_, opened_for), tracker in list(_opened.items()):
        if opened_for == directory:
            tracker.close()


def pixels(picture: torch.Tensor) -> Any:
    """A picture ``C x H x W`` in [0, 1] as an ``H x W x C`` uint8 numpy array."""
    picture = picture.detach().float().cpu()
    if picture.shape[0] == 1:
        picture = picture.expand(3, -1, -1)
    return picture.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


class TensorBoard(Tracker):
    """Scalars and images in ``<run-dir>/tensorboard``, through one tensorboardX
    writer per run (two writers would write event files of the same name)."""

    name, extra = 'tensorboard', 'tensorboard'

    def check(self, options: argparse.Namespace) -> None:
        self.library('tensorboardX')

    def open(self) -> None:
        from tensorboardX import SummaryWriter
        self.writer = SummaryWriter(str(self.directory / 'tensorboard'))

    def values(self, epoch: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, epoch)
        self.writer.flush()

    def image(self, epoch: int, picture: torch.Tensor) -> None:
        self.writer.add_image('samples', picture, epoch)
        self.writer.flush()

    def finish(self) -> None:
        self.writer.close()


def mlflow_uri(options: argparse.Namespace) -> str:
    """``--mlflow-uri``, else ``MLFLOW_TRACKING_URI``, else the file store
    ``<output-dir>/mlruns`` (``--model-dir`` without ``--output-dir``)."""
    return (options.mlflow_uri or os.environ.get('MLFLOW_TRACKING_URI')
            or str((run_directory(options).parent / 'mlruns').absolute()))


def file_store(uri: str) -> Path | None:
    """The folder of an MLflow file store URI (a path or ``file:``), None for other stores."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == 'file':
        return Path(urllib.parse.unquote(parsed.path))
    return Path(uri) if parsed.scheme == '' else None


def unreachable(uri: str) -> str | None:
    """Why the MLflow server at the http(s) ``uri`` cannot be reached, None if it can."""
    try:
        with urllib.request.urlopen(uri.rstrip('/') + '/health', timeout=10):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError, ValueError) as error:
        return str(getattr(error, 'reason', error))


class MLflow(Tracker):
    """A run of the MLflow experiment ``--tracker-project`` named after the
    Ganzo experiment, in the tracking store of ``mlflow_uri``: the options as
    parameters, the values as metrics (step: the epoch), the snapshots as
    images (key ``samples``). Needs ``mlflow-skinny`` (or ``mlflow``)."""

    name, extra = 'mlflow', 'mlflow'

    def check(self, options: argparse.Namespace) -> None:
        self.library('mlflow')
        self.uri = mlflow_uri(options)
        store = file_store(self.uri)
        if store is not None and not path_is_writable(store):
            raise GanzoError(f'--mlflow-uri {self.uri}: cannot write there; choose another '
                             'folder or tracking URI')
        if urllib.parse.urlparse(self.uri).scheme in ('http', 'https'):
            reason = unreachable(self.uri)
            if reason is not None:
                raise GanzoError(f'--mlflow-uri {self.uri}: cannot reach the tracking server '
                                 f'({reason}); start it, or choose another --mlflow-uri')

    def open(self) -> None:
        from mlflow import MlflowClient
        uri, store = self.uri, file_store(self.uri)
        if store is not None:
            # MLflow keeps its file store in "maintenance mode": Ganzo opts in to it.
            os.environ.setdefault('MLFLOW_ALLOW_FILE_STORE', 'true')
            uri = store.absolute().as_uri()
        self.client = MlflowClient(tracking_uri=uri)
        self.id = self.resumed()
        if self.id is None:
            project = self.options.tracker_project
            found = self.client.get_experiment_by_name(project)
            experiment = found.experiment_id if found else self.client.create_experiment(project)
            run = self.client.create_run(experiment, run_name=experiment_name(self.options),
                                         tags={'ganzo.run_directory': str(self.directory)})
            self.id = run.info.run_id
            self.keep_run_id(self.id)
            self.log_options()

    def resumed(self) -> str | None:
        """The run of an earlier session of this run, marked running again."""
        identifier = self.run_id()
        if identifier is None:
            return None
        try:
            self.client.update_run(identifier, status='RUNNING')
        except Exception:  # noqa: BLE001 - a run gone from the store: start a new one
            return None
        return identifier

    def log_options(self) -> None:
        from mlflow.entities import Param
        params = [Param(key, str(value)[:6000]) for key, value in self.options_to_log().items()]
        for start in range(0, len(params), 100):  # MLflow's limit per batch
            self.client.log_batch(self.id, params=params[start:start + 100])

    def values(self, epoch: int, values: dict[str, float]) -> None:
        from mlflow.entities import Metric
        now = int(time.time() * 1000)
        self.client.log_batch(self.id, metrics=[Metric(key, float(value), now, epoch)
                                                for key, value in values.items()])

    def image(self, epoch: int, picture: torch.Tensor) -> None:
        self.client.log_image(self.id, pixels(picture), key='samples', step=epoch)

    def finish(self) -> None:
        self.client.set_terminated(self.id)


class Wandb(Tracker):
    """A Weights & Biases run of the project ``--tracker-project`` named after
    the Ganzo experiment, in ``<run-dir>/wandb``: the options as its config,
    the values and the snapshots (key ``samples``) at the step of each epoch.
    ``--wandb-mode offline`` (the default) needs no network or account;
    ``wandb sync <run-dir>/wandb/offline-run-*`` uploads it later."""

    name, extra = 'wandb', 'wandb'

    def check(self, options: argparse.Namespace) -> None:
        self.library('wandb')
        if options.wandb_mode == 'offline' and not path_is_writable(self.directory):
            raise GanzoError(f'--log wandb: cannot write {self.directory}')

    def open(self) -> None:
        import wandb
        settings = wandb.Settings(silent=True, console='off', save_code=False,
                                  disable_git=True, x_disable_stats=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=self.options.tracker_project, id=self.run_id(),
                              resume='allow', name=experiment_name(self.options),
                              dir=str(self.directory), mode=self.options.wandb_mode,
                              config=self.options_to_log(), settings=settings)
        self.keep_run_id(self.run.id)

    def values(self, epoch: int, values: dict[str, float]) -> None:
        self.run.log(dict(values), step=epoch)

    def image(self, epoch: int, picture: torch.Tensor) -> None:
        import wandb
        self.run.log({'samples': wandb.Image(pixels(picture))}, step=epoch)

    def finish(self) -> None:
        self.run.finish()


TRACKERS = {tracker.name: tracker for tracker in (TensorBoard, MLflow, Wandb)}
