import pytest

from ganzo.errors import GanzoError
from ganzo.experiment import Experiment
from ganzo.options import complete


def experiment(tmp_path):
    return Experiment(complete(model_dir=str(tmp_path), experiment='run'))


def test_delete_refuses_a_folder_that_is_not_a_ganzo_run(tmp_path):
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'precious.txt').write_text('keep me')
    with pytest.raises(GanzoError, match='does not look like a Ganzo run'):
        experiment(tmp_path).delete()
    assert (tmp_path / 'run' / 'precious.txt').exists()


def test_options_round_trip_without_the_run_kind(tmp_path):
    from ganzo.kind import run_kind
    options = complete(model_dir=str(tmp_path), experiment='run', seed=4)
    options.kind = run_kind(options)
    run = Experiment(options)
    run.write_options(options)
    saved = run.read_options()
    assert saved['seed'] == 4 and 'kind' not in saved and 'dry_run' not in saved
    assert run.exists
