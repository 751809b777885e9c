import json

import pytest

from conftest import run_ganzo, tiny_arguments
from ganzo.contracts import Losses
from ganzo.errors import GanzoError
from ganzo.options import complete
from ganzo.statistics import (
    CombinedStatistics,
    ConsoleStatistics,
    FileStatistics,
    History,
    NoStatistics,
    Statistics,
    read_history,
)


def run_epoch(statistics, epoch=1):
    statistics.start_epoch(epoch, batches=3)
    for _ in range(3):
        statistics.update(4, lambda: {'generator': 1.0, 'discriminator': 2.0})
    statistics.log({'generator': 1.0, 'discriminator': 2.0})


def test_file_statistics_write_one_json_line_per_epoch(tmp_path):
    options = complete(model_dir=str(tmp_path), experiment='run', log='file')
    statistics = Statistics.from_options(options)
    assert isinstance(statistics, FileStatistics)
    run_epoch(statistics, 1)
    run_epoch(statistics, 2)
    lines = [json.loads(line) for line in (tmp_path / 'run' / 'statistics.log').open()]
    assert [line['epoch'] for line in lines] == [1, 2]
    assert lines[0]['generator'] == 1.0 and lines[0]['images_per_second'] > 0


def test_log_alone_numbers_the_epochs_and_takes_the_speed_from_the_losses(tmp_path):
    statistics = FileStatistics(complete(log_file=str(tmp_path / 'log.jsonl')))
    for _ in range(2):  # the spec's loop: no start_epoch, no update
        statistics.log(Losses({'generator': 1.0}, images=640, seconds=0.5))
    lines = [json.loads(line) for line in (tmp_path / 'log.jsonl').open()]
    assert [line['epoch'] for line in lines] == [1, 2]
    assert all(line['seconds'] == 0.5 and line['images_per_second'] == 1280 for line in lines)


def test_log_file_option(tmp_path):
    statistics = FileStatistics(complete(log_file=str(tmp_path / 'mine.jsonl')))
    run_epoch(statistics)
    assert json.loads((tmp_path / 'mine.jsonl').read_text())['discriminator'] == 2.0


def test_console_statistics_show_progress_and_a_summary(capsys):
    statistics = ConsoleStatistics(complete())
    statistics.refresh_seconds = 0
    run_epoch(statistics, 7)
    captured = capsys.readouterr()
    assert 'epoch 7' in captured.err and 'generator=1' in captured.err  # the progress bar
    assert captured.out.startswith('epoch 7  generator 1  discriminator 2  images_per_second')


def test_no_statistics_write_nothing(capsys, tmp_path):
    run_epoch(NoStatistics(complete(model_dir=str(tmp_path))))
    assert capsys.readouterr() == ('', '') and not any(tmp_path.iterdir())


def test_tensorboard_statistics_write_events(tmp_path):
    pytest.importorskip('tensorboardX', reason='tensorboardX is an optional extra')
    options = complete(model_dir=str(tmp_path), experiment='run', log='tensorboard')
    statistics = Statistics.from_options(options)
    run_epoch(statistics)
    statistics.close()
    assert list((tmp_path / 'run' / 'tensorboard').glob('events.out.tfevents.*'))


def test_tensorboard_without_tensorboardx_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, 'tensorboardX', None)
    with pytest.raises(GanzoError, match='tensorboardX'):
        Statistics.from_options(complete(log='tensorboard'))


# Several targets, and plugins that implement only log(losses)

class OnlyLog:
    """A plugin that implements only what the spec shows."""

    def __init__(self, options):
        self.logged = []

    def log(self, losses):
        self.logged.append(dict(losses))


def test_several_targets_each_get_the_same_values(tmp_path, capsys):
    options = complete(model_dir=str(tmp_path), experiment='run', log=['console', 'file'])
    statistics = Statistics.from_options(options)
    assert isinstance(statistics, CombinedStatistics)
    run_epoch(statistics, 1)
    (line,) = (tmp_path / 'run' / 'statistics.log').read_text().splitlines()
    printed = capsys.readouterr().out
    speed = json.loads(line)['images_per_second']
    assert printed.startswith('epoch 1  generator 1')
    assert f'images_per_second {speed:.4g}' in printed


def test_one_name_or_a_list_of_one_builds_that_statistics(tmp_path):
    for value in ('file', ['file'], ['none', 'file', 'file']):
        assert type(Statistics.from_options(complete(log=value))) is FileStatistics
    assert type(Statistics.from_options(complete(log=['none']))) is NoStatistics


def test_a_plugin_with_only_log_is_given_the_losses_among_others(tmp_path, capsys):
    plugin = OnlyLog(None)
    statistics = CombinedStatistics(complete(), [ConsoleStatistics(complete()), plugin])
    run_epoch(statistics, 1)
    statistics.log({'generator': 3.0}, 2)
    statistics.close()
    assert plugin.logged == [{'generator': 1.0, 'discriminator': 2.0}, {'generator': 3.0}]
    assert 'epoch 2  generator 3' in capsys.readouterr().out


def test_log_takes_several_names_and_a_saved_string_still_restores(image_folder, tmp_path):
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path), '--log', 'console', 'file')
    assert result.returncode == 0, result.stderr
    run = tmp_path / 'tiny'
    assert json.loads((run / 'options.json').read_text())['log'] == ['console', 'file']
    assert result.stdout.count('epoch ') == 2 and (run / 'statistics.log').is_file()
    saved = json.loads((run / 'options.json').read_text())
    (run / 'options.json').write_text(json.dumps({**saved, 'log': 'file'}))  # an older run
    arguments = [a for a in tiny_arguments(image_folder, tmp_path, epochs=3) if '--log' not in a]
    result = run_ganzo(*arguments, '--restore')
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)['epoch'] for line in (run / 'statistics.log').open()] == [1, 2, 3]


# The history that training keeps whatever --log says, and its plots

def test_training_keeps_the_history_and_its_plots_whatever_log_says(image_folder, tmp_path):
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path, log='none', epochs=3))
    assert result.returncode == 0, result.stderr
    run = tmp_path / 'tiny'
    records = read_history(run)
    assert [record['epoch'] for record in records] == [1, 2, 3]
    assert {'generator', 'discriminator', 'images_per_second', 'seconds'} <= set(records[0])
    assert (run / 'plots.png').read_bytes().startswith(b'\x89PNG')


def test_logging_an_epoch_again_replaces_it_and_the_later_ones(tmp_path):
    options = complete(model_dir=str(tmp_path), experiment='run')
    history = History(options)
    for epoch in (1, 2, 3):
        history.log({'generator': float(epoch)}, epoch)
    restored = History(options)  # a run restored from the checkpoint of epoch 1
    restored.log({'generator': 20.0}, 2)
    assert [(r['epoch'], r['generator']) for r in read_history(tmp_path / 'run')] == [
        (1, 1.0), (2, 20.0)]
    assert not (tmp_path / 'run' / 'plots.png').exists()  # drawn at the end, or once a minute
    restored.close()
    assert (tmp_path / 'run' / 'plots.png').is_file()


def test_the_history_of_an_older_run_is_its_statistics_log(tmp_path):
    lines = [{'epoch': 1, 'generator': 1.0}, {'epoch': 2, 'generator': 2.0},
             {'epoch': 2, 'generator': 5.0}]  # epoch 2 logged again after a restore
    (tmp_path / 'statistics.log').write_text(''.join(json.dumps(x) + '\n' for x in lines))
    assert read_history(tmp_path) == [lines[0], lines[2]]
    (tmp_path / 'history.json').write_text('{"epochs": [')
    with pytest.raises(GanzoError, match='history.json is not a statistics file'):
        read_history(tmp_path)


def test_a_history_that_cannot_be_written_is_a_warning(tmp_path, capsys):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    history = History(complete(model_dir=str(blocker), experiment='run'))
    history.log({'generator': 1.0}, 1)
    assert 'warning: cannot write' in capsys.readouterr().err
