import io

from PIL import Image

from ganzo.plots import draw, panels

RECORDS = [{'epoch': 1, 'generator': 2.0, 'discriminator': 1.0, 'images_per_second': 90.0,
            'seconds': 3.0},
           {'epoch': 2, 'generator': 1.5, 'discriminator': 1.2, 'fid': 40.0,
            'images_per_second': 95.0, 'seconds': 2.9}]


def test_one_run_shows_its_losses_together_then_each_metric_then_the_speed():
    found = panels({'run': RECORDS})
    assert [title for title, _ in found] == ['losses', 'fid', 'images per second']
    losses = found[0][1]
    assert [label for label, _, _ in losses] == ['generator', 'discriminator']
    assert losses[0][1:] == ([1, 2], [2.0, 1.5])
    assert found[1][1] == [('fid', [2], [40.0])]  # measured on epoch 2 only


def test_several_runs_get_a_panel_per_value_and_a_curve_per_run():
    other = [{**record, 'generator': 9.0} for record in RECORDS]
    found = dict(panels({'a': RECORDS, 'b': other}))
    assert list(found) == ['generator', 'discriminator', 'fid', 'images per second']
    assert found['generator'] == [('a', [1, 2], [2.0, 1.5]), ('b', [1, 2], [9.0, 9.0])]


def test_draw_makes_a_png_with_three_panels_a_row():
    image = Image.open(io.BytesIO(draw({'run': RECORDS})))
    assert image.format == 'PNG' and image.size == (3 * 420, 290)
    image = Image.open(io.BytesIO(draw({'run': RECORDS[:1]})))  # losses and speed
    assert image.size == (2 * 420, 290)
