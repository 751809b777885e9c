import json

import pytest

from ganzo.contracts import Losses
from ganzo.options import complete
from ganzo.statistics import ConsoleStatistics, FileStatistics, NoStatistics, Statistics


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

    from ganzo.errors import GanzoError
    monkeypatch.setitem(sys.modules, 'tensorboardX', None)
    with pytest.raises(GanzoError, match='tensorboardX'):
        Statistics.from_options(complete(log='tensorboard'))
