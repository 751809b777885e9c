import math

from ganzo.evaluation import Evaluation, GeneratorLoss, Latest
from ganzo.options import complete


def test_latest_always_improves():
    latest = Evaluation.from_options(complete(evaluation_criterion='latest'))
    assert isinstance(latest, Latest)
    assert latest.has_improved({'generator': 5.0}) and latest.has_improved({'generator': 9.0})


def test_generator_loss_improves_when_lower_and_keeps_its_best_across_restores():
    criterion = Evaluation.from_options(complete(evaluation_criterion='generator-loss'))
    assert isinstance(criterion, GeneratorLoss) and criterion.best == math.inf
    assert [criterion.has_improved({'generator': value}) for value in (3, 2, 2.5, 1)] == [
        True, True, False, True]
    restored = GeneratorLoss(complete())
    restored.load_state_dict(criterion.state_dict())
    assert not restored.has_improved({'generator': 1.5})
    assert restored.has_improved({'generator': 0.5})
    assert criterion.evaluate(1) == {}
