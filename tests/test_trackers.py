"""The trackers: TensorBoard, MLflow (a local file store) and Weights & Biases
(offline), each read back through its own files or API after a tiny run."""

import struct
from pathlib import Path

import pytest

from conftest import assert_user_error, run_ganzo, tiny_arguments
from ganzo.files import load

TRACKED = ('--save-images-as', 'folder')


def train(image_folder, model_dir, *arguments, **options):
    result = run_ganzo(*tiny_arguments(image_folder, model_dir, **options), *arguments)
    assert result.returncode == 0, result.stderr
    return result


# TensorBoard: event files are TFRecords of tensorboardX's Event protobufs.

def tensorboard_events(folder: Path) -> list:
    from tensorboardX.proto.event_pb2 import Event
    events = []
    for path in sorted(folder.glob('events.out.tfevents.*')):
        data, offset = path.read_bytes(), 0
        while offset < len(data):
            (length,) = struct.unpack('<Q', data[offset:offset + 8])
            event = Event()
            event.ParseFromString(data[offset + 12:offset + 12 + length])
            events.append(event)
            offset += 12 + length + 4  # length, its CRC, the data, its CRC
    return events


def test_tensorboard_statistics_and_snapshots_share_one_writer(image_folder, tmp_path):
    pytest.importorskip('tensorboardX', reason='tensorboardX is an optional extra')
    train(image_folder, tmp_path, '--log', 'tensorboard', '--save-images-as', 'tensorboard')
    folder = tmp_path / 'tiny' / 'tensorboard'
    assert len(list(folder.glob('events.out.tfevents.*'))) == 1
    values = [(event.step, value) for event in tensorboard_events(folder)
              for value in event.summary.value]
    assert sorted(step for step, value in values if value.tag == 'generator') == [1, 2]
    assert sorted(step for step, value in values if value.tag == 'samples'
                  and value.image.encoded_image_string.startswith(b'\x89PNG')) == [1, 2]


def test_several_snapshots_share_one_picture(image_folder, tmp_path):
    pytest.importorskip('tensorboardX', reason='tensorboardX is an optional extra')
    train(image_folder, tmp_path, '--save-images-as', 'folder', 'tensorboard')
    events = tensorboard_events(tmp_path / 'tiny' / 'tensorboard')
    logged = {event.step: value.image.encoded_image_string for event in events
              for value in event.summary.value if value.tag == 'samples'}
    saved = (tmp_path / 'tiny' / 'samples' / 'epoch-0002.png').read_bytes()
    difference = pixels(logged[2]).astype(int) - pixels(saved).astype(int)
    assert abs(difference).max() <= 1  # the same images (rounded differently)


def pixels(png: bytes):
    import io

    import numpy as np
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert('RGB'))


# MLflow: a local file store, read with MLflow's client.

@pytest.fixture
def mlflow_client(monkeypatch, tmp_path):
    pytest.importorskip('mlflow', reason='mlflow-skinny is an optional extra')
    from mlflow import MlflowClient
    monkeypatch.setenv('MLFLOW_ALLOW_FILE_STORE', 'true')
    monkeypatch.delenv('MLFLOW_TRACKING_URI', raising=False)
    return lambda: MlflowClient(tracking_uri=(tmp_path / 'mlruns').as_uri())


def only_run(client):
    experiment = client.get_experiment_by_name('ganzo')
    (run,) = client.search_runs([experiment.experiment_id])
    return run


def test_mlflow_receives_the_options_the_losses_and_the_images(image_folder, tmp_path,
                                                               mlflow_client):
    train(image_folder, tmp_path, '--log', 'console', 'mlflow', *TRACKED, 'mlflow')
    client = mlflow_client()
    run = only_run(client)
    assert run.data.params['image_size'] == '8' and run.data.params['seed'] == '3'
    assert run.info.run_name == 'tiny' and run.info.status == 'FINISHED'
    history = client.get_metric_history(run.info.run_id, 'generator')
    assert [metric.step for metric in history] == [1, 2]
    assert {'discriminator', 'images_per_second'} <= set(run.data.metrics)
    images = [artifact.path for artifact in client.list_artifacts(run.info.run_id, 'images')]
    assert any(path.endswith('.png') and '+step+2+' in path for path in images), images


def test_a_restored_run_continues_its_mlflow_run(image_folder, tmp_path, mlflow_client):
    train(image_folder, tmp_path, '--log', 'mlflow')
    train(image_folder, tmp_path, '--restore', '--log', 'mlflow', epochs=3)
    client = mlflow_client()
    run = only_run(client)
    assert [m.step for m in client.get_metric_history(run.info.run_id, 'generator')] == [1, 2, 3]


def test_a_tracker_failing_mid_run_warns_and_training_goes_on(image_folder, tmp_path,
                                                              mlflow_client, monkeypatch):
    from mlflow import MlflowClient
    log_batch = MlflowClient.log_batch

    def failing(self, run_id, metrics=(), **arguments):
        if any(metric.step >= 2 for metric in metrics):
            raise ConnectionError('the tracking server went away')
        return log_batch(self, run_id, metrics=metrics, **arguments)

    monkeypatch.setattr(MlflowClient, 'log_batch', failing)
    result = train(image_folder, tmp_path, '--log', 'mlflow', *TRACKED, 'mlflow', epochs=3)
    warnings = [line for line in result.stderr.splitlines() if 'warning' in line]
    assert len(warnings) == 1 and 'mlflow failed' in warnings[0]
    assert 'the tracking server went away' in warnings[0] and 'training goes on' in warnings[0]
    run = tmp_path / 'tiny'
    assert load(run / 'checkpoint.pt')['epoch'] == 3
    assert sorted(path.name for path in (run / 'samples').iterdir()) == [
        'epoch-0001.png', 'epoch-0002.png', 'epoch-0003.png']
    client = mlflow_client()
    generator = client.get_metric_history(only_run(client).info.run_id, 'generator')
    assert [metric.step for metric in generator] == [1]


def test_an_unreachable_tracking_server_is_one_line_before_any_work(image_folder, tmp_path):
    pytest.importorskip('mlflow', reason='mlflow-skinny is an optional extra')
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path), '--log', 'mlflow',
                       '--mlflow-uri', 'http://127.0.0.1:9')
    assert_user_error(result, '--mlflow-uri http://127.0.0.1:9', 'cannot reach')
    assert not (tmp_path / 'tiny').exists()


def test_an_unwritable_file_store_is_one_line(image_folder, tmp_path):
    pytest.importorskip('mlflow', reason='mlflow-skinny is an optional extra')
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path), '--log', 'mlflow',
                       '--mlflow-uri', str(blocker / 'mlruns'))
    assert_user_error(result, '--mlflow-uri', 'cannot write')


@pytest.mark.parametrize('tracker, package', [('mlflow', 'mlflow'), ('wandb', 'wandb'),
                                              ('tensorboard', 'tensorboardX')])
def test_a_missing_library_is_one_line_saying_what_to_install(image_folder, tmp_path,
                                                              monkeypatch, tracker, package):
    import sys
    monkeypatch.setitem(sys.modules, package, None)
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path), '--log', 'console', tracker)
    assert_user_error(result, package, 'pip install')


# Weights & Biases, offline: the run's .wandb file is a LevelDB-style log of
# W&B's Record protobufs, in blocks of 32 KiB after a 7-byte header.

def wandb_records(path: Path) -> list:
    from wandb.proto.wandb_internal_pb2 import Record
    data, block = path.read_bytes(), 32768
    assert data[:4] == b':W&B'
    records, pending, offset = [], b'', 7
    while offset + 7 <= len(data):
        if block - offset % block < 7:  # a block's trailer
            offset += block - offset % block
            continue
        _, length, kind = struct.unpack('<IHB', data[offset:offset + 7])
        pending += data[offset + 7:offset + 7 + length]
        offset += 7 + length
        if kind in (1, 4):  # a whole record, or its last part
            record = Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b''
    return records


@pytest.mark.slow  # W&B starts its service process
def test_wandb_offline_receives_the_options_the_losses_and_the_images(image_folder, tmp_path):
    wandb = pytest.importorskip('wandb', reason='wandb is an optional extra')
    import json
    train(image_folder, tmp_path, '--log', 'wandb', *TRACKED, 'wandb')
    wandb.teardown()  # its service writes the run's file in the background (at exit for ganzo)
    (path,) = (tmp_path / 'tiny' / 'wandb').glob('offline-run-*/run-*.wandb')
    records = wandb_records(path)
    config = {}  # the run's first record, and any later updates of its config
    for record in records:
        kind = record.WhichOneof('record_type')
        if kind in ('run', 'config'):
            updates = record.run.config.update if kind == 'run' else record.config.update
            config.update({item.key: item.value_json for item in updates})
    kinds = [record.WhichOneof('record_type') for record in records]
    assert 'image_size' in config, (kinds, sorted(config))
    assert json.loads(config['image_size']) == 8 and json.loads(config['experiment']) == 'tiny'
    history = [{item.key or '/'.join(item.nested_key): json.loads(item.value_json)
                for item in record.history.item}
               for record in records if record.WhichOneof('record_type') == 'history']
    assert [row['_step'] for row in history if 'generator' in row] == [1, 2]
    images = [row for row in history if row.get('samples/_type') == 'image-file']
    assert [row['_step'] for row in images] == [1, 2]
    assert (path.parent / 'files' / images[-1]['samples/path']).is_file()
