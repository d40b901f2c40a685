"""The VAE-GAN's evaluate hook: held-out frames kept out of training, PSNR and collapse ratio of their reconstructions."""
import numpy as np
import pytest

from tests import synthetic
from videocore import errors
from videocore import metrics
from videocore import summaries
from vaegan_video import configs
from vaegan_video import train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two epochs of the tiny preset on a 24-frame clip whose last 8 frames are held out."""
    root = tmp_path_factory.mktemp("evaluated")
    film = synthetic.write_video(root / "film.mp4", num_frames=24, width=64, height=36, fps=25)
    config = configs.tiny()
    config.data.videos = (str(film),)
    config.data.cache_dir = str(root / "cache")
    config.loop.precision = "float32"
    config.loop.sample_every_steps = 0
    config.eval.frames = 8
    config.loop.eval_every_steps = 4
    result = train.train_and_evaluate(config, root / "work", progress=False)
    return config, root / "work", result


def test_held_out_frames_are_not_trained_on_and_are_scored(run):
    config, _, result = run
    whole = train.load_stores(config, progress=False)[0].frames
    task = result.task
    assert sum(len(store) for store in task.stores) == 16  # 24 - 8 held out
    assert result.step == 8  # 2 epochs of 16 frames in batches of 4
    np.testing.assert_array_equal(task._eval_frames, whole[16:])
    figures = result.evaluation
    assert set(figures) == {"psnr", "collapse_ratio"}
    assert 0 < figures["psnr"] < 60 and figures["collapse_ratio"] > 0
    # The figures are those of the trained networks' reconstructions Dec(mu(x)) of the held-out frames.
    networks = task.networks
    mu, _ = networks["encoder"](whole[16:].astype(np.float32) / 127.5 - 1, training=False)
    decoded = np.clip(np.round((np.asarray(networks["decoder"](mu, training=False)) + 1) * 127.5), 0, 255)
    assert figures["psnr"] == pytest.approx(metrics.psnr(decoded.astype(np.uint8), whole[16:]), abs=0.05)


def test_figures_go_to_the_runs_tensorboard_every_n_steps(run):
    _, workdir, result = run
    written = summaries.read_back(workdir / "tensorboard")
    assert [step for step, *_ in written["eval/psnr"]] == [4, 8]
    assert float(written["eval/psnr"][-1][2]) == pytest.approx(result.evaluation["psnr"])
    assert [step for step, *_ in written["eval/collapse_ratio"]] == [4, 8]


def test_holding_out_too_many_frames_is_a_config_error(run, tmp_path):
    config, _, _ = run
    config = config.copy_and_resolve_references()
    config.eval.frames = 24
    with pytest.raises(errors.ConfigError, match="eval.frames=24"):
        train.train_and_evaluate(config, tmp_path / "work", progress=False)
