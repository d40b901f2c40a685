"""Fixtures for relive's tests: the tiny `quick` config on a bundled clip, and once-trained workdirs."""
import pathlib

import keras
import pytest

from relive import configs
from relive import train


@pytest.fixture(scope="session")
def frame_cache(tmp_path_factory):
    """One frame-store cache for the session: the bundled clip is decoded once."""
    return tmp_path_factory.mktemp("relive_frames")


def tiny_config(frame_cache, model="wgan", penalty="gradient", **loop_overrides):
    """configs.quick() on the bundled carphone clip (176x144, 120 frames), a few steps, float32."""
    config = configs.quick()
    config.model = model
    config.critic.penalty = penalty
    config.data.source = "bundled:carphone"
    config.data.cache_dir = str(frame_cache)
    config.loop.num_steps = 3
    config.loop.precision = "float32"
    config.loop.checkpoint_every_steps = 3
    config.loop.log_every_steps = 1
    config.loop.sample_every_steps = 3
    config.loop.histogram_every_steps = 3
    config.loop.update(loop_overrides)
    return config


@pytest.fixture
def config_for(frame_cache):
    """config_for(model, penalty, **loop overrides) -> a tiny config."""
    return lambda *args, **kwargs: tiny_config(frame_cache, *args, **kwargs)


@pytest.fixture(autouse=True)
def float32_policy():
    """Tests that build models directly do so under float32 whatever an earlier test left behind."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy(previous)


def _trained(tmp_path_factory, frame_cache, model, penalty="gradient"):
    workdir = pathlib.Path(tmp_path_factory.mktemp(f"relive_{model}_{penalty}"))
    config = tiny_config(frame_cache, model, penalty)
    if model == "predictor":
        config.data.holdout_fraction = 0.25
        config.eval.clips = 2
    result = train.train_and_evaluate(config, workdir)
    return config, workdir, result


@pytest.fixture(scope="session")
def trained_wgan(tmp_path_factory, frame_cache):
    """(config, workdir, loop Result) of a 3-step WGAN-GP run."""
    return _trained(tmp_path_factory, frame_cache, "wgan")


@pytest.fixture(scope="session")
def trained_conditional(tmp_path_factory, frame_cache):
    """(config, workdir, loop Result) of a 3-step conditional WGAN run with weight clipping."""
    return _trained(tmp_path_factory, frame_cache, "conditional", "clip")


@pytest.fixture(scope="session")
def trained_predictor(tmp_path_factory, frame_cache):
    """(config, workdir, loop Result) of a 3-step LSTM predictor run, evaluated on 2 held-out clips."""
    return _trained(tmp_path_factory, frame_cache, "predictor")
