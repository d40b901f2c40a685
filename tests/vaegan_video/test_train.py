"""Training on the shared loop: gradient routing, per-epoch noise, resume, reconstruction, export, bad input."""

import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import synthetic
from videocore import errors
from videocore import framestore
from videocore import loop
from videocore import summaries
from videocore import video
from vaegan_video import configs
from vaegan_video import export
from vaegan_video import losses
from vaegan_video import reconstruct
from vaegan_video import train


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """A 24-frame, 25 fps clip with a sine soundtrack: 6 batches of 4 per epoch."""
    folder = tmp_path_factory.mktemp("film")
    return synthetic.write_video(folder / "film.mp4", num_frames=24, width=64, height=36, fps=25, audio_seconds=1.2)


def tiny_config(film, cache):
    config = configs.tiny()
    config.data.videos = (str(film),)
    config.data.cache_dir = str(cache)
    config.loop.precision = "float32"
    return config


@pytest.fixture(scope="module")
def trained(film, tmp_path_factory):
    """Two epochs (12 steps) of the tiny preset, trained once for the tests below."""
    root = tmp_path_factory.mktemp("run")
    config = tiny_config(film, root / "cache")
    result = train.train_and_evaluate(config, root / "work", progress=False)
    return config, root / "work", result


def _setup(batch=4):
    return loop.Setup(strategy=tf.distribute.get_strategy(), policy="float32", global_batch=batch, num_replicas=1,
                      is_chief=True, workdir=pathlib.Path("."), seed=0)


def test_each_network_gets_the_gradient_of_its_own_objective(film, tmp_path):
    keras.mixed_precision.set_global_policy("float32")
    config = tiny_config(film, tmp_path)
    task = train.VaeGanTask(config, _setup(), train.load_stores(config, progress=False))
    rng = np.random.default_rng(1)
    x = tf.constant(rng.uniform(-1, 1, (4, 32, 32, 3)), tf.float32)
    eps = tf.constant(rng.normal(size=(4, 16)) * 0.25, tf.float32)
    z_prior = tf.constant(rng.normal(size=(4, 16)), tf.float32)

    with tf.GradientTape(persistent=True) as tape:
        values = task.objectives(x, eps, z_prior)
    # The same forward pass, written out from the networks and eqs. 4.8, 4.9 and 4.11 directly.
    enc, dec, dis = (task.networks[n] for n in train.NETWORKS)
    with tf.GradientTape(persistent=True) as reference:
        mu, log_var = enc(x, training=True)
        x_bar = dec(mu + tf.exp(0.5 * log_var) * eps, training=True)
        x_p = dec(z_prior, training=True)
        *f_real, d_real = dis(x, training=True)
        *f_bar, d_bar = dis(x_bar, training=True)
        d_p = dis(x_p, training=True)[-1]
        kl = losses.kl_divergence(mu, log_var)
        like = losses.learned_similarity(f_real, f_bar)
        gan = tf.add_n(losses.gan_terms_from_logits(d_real, d_bar, d_p))  # Dis returns logits
        own = {"encoder": kl + like, "decoder": 2.5 * like - gan, "discriminator": gan}
    for name in train.NETWORKS:
        variables = task.networks[name].trainable_variables
        got = tape.gradient(values[name], variables)
        want = reference.gradient(own[name], variables)
        assert all(g is not None for g in got), name
        assert all(w is not None for w in want), (name, [v.path for v, w in zip(variables, want) if w is None])
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=2e-4, atol=1e-6, err_msg=name)
    # The objectives differ, so routing one to the wrong network would show: e.g. the decoder's
    # gradient is not that of L_like alone, nor of L_GAN alone.
    dec_vars = task.networks["decoder"].trainable_variables
    wrong = reference.gradient(like, dec_vars)
    right = tape.gradient(values["decoder"], dec_vars)
    assert not np.allclose(wrong[0].numpy(), right[0].numpy(), rtol=1e-2)


@pytest.mark.parametrize("learner", ["encoder", "decoder", "discriminator"])
def test_each_optimizer_updates_only_its_own_network(film, tmp_path, learner):
    config = tiny_config(film, tmp_path / "cache")
    config.loop.num_steps, config.loop.num_epochs = 2, 0
    config.loop.sample_every_steps = 0
    stores = train.load_stores(config, progress=False)
    before = {}

    def make_task(setup):
        task = train.VaeGanTask(config, setup, stores)
        for name, optimizer in task.optimizers.items():
            if name != learner:
                optimizer.learning_rate = 0.0
        for name, network in task.networks.items():
            before[name] = [v.numpy().copy() for v in network.trainable_variables]
        return task

    result = loop.train(make_task, config, tmp_path / "work")
    for name, network in result.task.networks.items():
        changed = [not np.array_equal(a, v.numpy()) for a, v in zip(before[name], network.trainable_variables)]
        if name == learner:
            assert all(changed), f"{name} should train every variable (the TF 0.7 bug left the decoder frozen)"
        else:
            assert not any(changed), f"{name} changed although only {learner} learns"


def test_training_writes_checkpoints_summaries_and_sample_grids(trained):
    config, workdir, result = trained
    assert result.step == 12 and result.position.epoch == 2
    assert all(np.isfinite(v) for v in result.losses.values())
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints"))
    grids = sorted((workdir / "samples" / "x_xbar_xp").glob("*.png"))
    assert grids
    from PIL import Image
    grid = np.asarray(Image.open(grids[-1]))
    # Rows x, x_bar, x_p of num_samples frames each (the loop frames the grid with 2 more pixels).
    assert grid.shape == (3 * (32 + 2) + 2 + 4, 4 * (32 + 2) + 2 + 4, 3)
    tags = list(summaries.read_back(workdir / "tensorboard"))
    for name in ("kl", "like", "gan"):
        assert any(name in tag for tag in tags), (name, tags)


@pytest.mark.slow  # three training runs: ~20 s
def test_noise_schedule_follows_the_epoch_and_survives_resume(film, tmp_path):
    config = tiny_config(film, tmp_path / "cache")
    config.noise_schedule = (0.5, 0.125)
    config.loop.num_epochs = 1
    seen = []

    class Recording(train.VaeGanTask):
        def train_step(self, x, ctx):
            out = super().train_step(x, ctx)
            out["noise_sigma"] = ctx.value("noise")
            return out

    def run(num_epochs):
        config.loop.num_epochs = num_epochs
        result = loop.train(lambda setup: Recording(config, setup, train.load_stores(config, progress=False)),
                            config, tmp_path / "work")
        seen.append(result.losses["noise_sigma"])
        return result

    first = run(1)
    assert first.step == 6 and seen[-1] == 0.5
    second = run(2)  # resumes at epoch 1 from the checkpoint
    assert second.step == 12 and seen[-1] == 0.125


def test_reconstruction_keeps_every_frame_the_rate_and_the_audio(trained, film, tmp_path):
    config, workdir, _ = trained
    output = tmp_path / "recon.mp4"
    info = reconstruct.reconstruct(config, workdir, film, output, progress=False)
    source = video.probe(film)
    assert (info.frame_count, info.fps, info.has_audio) == (24, source.fps, True)
    assert (info.width, info.height) == (32, 32)
    assert abs(synthetic.audio_duration(output) - 24 / 25) < 0.03
    side = reconstruct.reconstruct(config, workdir, film, tmp_path / "side.mp4", side_by_side=True, start=0.2,
                                   progress=False)
    assert (side.width, side.height, side.frame_count) == (64, 32, 19)


@pytest.mark.slow  # a fresh process: ~12 s
def test_saved_models_match_keras_in_a_fresh_process(trained, tmp_path):
    config, workdir, _ = trained
    paths = export.export_models(config, workdir, tmp_path / "export")
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "frames.npy", frames)
    code = f"""
import numpy as np, tensorflow as tf
frames = np.load({str(tmp_path / 'frames.npy')!r})
auto = tf.saved_model.load({str(paths['autoencoder'])!r}).signatures['serving_default']
enc = tf.saved_model.load({str(paths['encoder'])!r}).signatures['serving_default']
dec = tf.saved_model.load({str(paths['decoder'])!r}).signatures['serving_default']
mu = enc(frames=tf.constant(frames))['latents']
np.save({str(tmp_path / 'auto.npy')!r}, auto(frames=tf.constant(frames))['frames'].numpy())
np.save({str(tmp_path / 'mu.npy')!r}, mu.numpy())
np.save({str(tmp_path / 'dec.npy')!r}, dec(latents=mu)['frames'].numpy())
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, capture_output=True)
    model = reconstruct.Autoencoder(config, workdir)
    expected = model(tf.constant(frames)).numpy()
    mu = model.encoder(tf.cast(frames, tf.float32) / 127.5 - 1.0, training=False)[0].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "mu.npy"), mu, atol=1e-5)
    assert np.abs(np.load(tmp_path / "auto.npy").astype(int) - expected.astype(int)).max() <= 1
    np.testing.assert_array_equal(np.load(tmp_path / "dec.npy"), np.load(tmp_path / "auto.npy"))


def test_a_video_shorter_than_one_batch(tmp_path):
    short = synthetic.write_video(tmp_path / "short.mp4", num_frames=3, width=32, height=32)
    config = tiny_config(short, tmp_path / "cache")
    with pytest.raises(errors.ConfigError, match="shorter than one batch"):
        train.train_and_evaluate(config, tmp_path / "work", progress=False)


def test_a_schedule_shorter_than_the_epochs(film, tmp_path):
    config = tiny_config(film, tmp_path / "cache")
    config.loop.num_epochs = 3
    with pytest.raises(errors.ConfigError, match="noise_schedule has 2 values"):
        train.train_and_evaluate(config, tmp_path / "work", progress=False)


def test_an_empty_time_range(film, tmp_path):
    config = tiny_config(film, tmp_path / "cache")
    config.data.start, config.data.end = 0.5, 0.5
    with pytest.raises(errors.ConfigError, match="empty time range"):
        train.train_and_evaluate(config, tmp_path / "work", progress=False)


def test_a_checkpoint_of_another_size(trained, film, tmp_path):
    config, workdir, _ = trained
    other = tiny_config(film, tmp_path / "cache")
    other.model.latent_dim = 8
    with pytest.raises(errors.CheckpointError, match="latent_dim 16 \\(checkpoint\\) vs 8"):
        train.train_and_evaluate(other, workdir, progress=False)
    # Reconstruction reads the model's size from the run, whatever preset is passed.
    info = reconstruct.reconstruct(other, workdir, film, tmp_path / "r.mp4", end=0.2, progress=False)
    assert info.frame_count == 5


@pytest.mark.slow  # a subprocess: ~8 s; the faults tests keep vaegan_reconstruct's one-line errors in make test
def test_script_reports_bad_input_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "run_scripts.vaegan_train", f"--workdir={tmp_path}",
                             f"--video={tmp_path / 'missing.mp4'}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'missing.mp4'}: no such file"
    assert "Traceback" not in result.stderr


def test_spans_give_each_video_its_own_time_range(film, tmp_path):
    """config.data.spans: the first 0.4 s of one film and all of another (the reproduction's footage mix)."""
    config = tiny_config(film, tmp_path / "cache")
    config.data.videos = (str(film), str(film))
    config.data.spans = (":0.4", ":")
    assert [len(store) for store in train.load_stores(config, progress=False)] == [10, 24]
    config.data.spans = (":0.4",)
    with pytest.raises(errors.ConfigError, match="spans has 1 entries for 2 videos"):
        train.load_stores(config, progress=False)
    config.data.spans = ("0.4-1", ":")
    with pytest.raises(errors.ConfigError, match=r"'0.4-1' is not 'start:end'"):
        train.load_stores(config, progress=False)


@pytest.mark.parametrize("real_cost, fake_cost, dis, dec", [
    (0.70, 0.60, True, True),    # balanced: both learn
    (0.01, 0.60, False, True),   # Dis far ahead on real frames: Dis waits
    (0.60, 1.50, True, False),   # Dis far behind on fakes: Dec waits
    (0.01, 1.50, True, True),    # both rules fire: both learn
])
def test_the_equilibrium_rule_skips_the_side_far_ahead(film, tmp_path, real_cost, fake_cost, dis, dec):
    config = tiny_config(film, tmp_path / "cache")
    task = train.VaeGanTask(config, _setup(), train.load_stores(config, progress=False))
    values = {"real_cost": tf.constant(real_cost), "fake_cost": tf.constant(fake_cost)}
    assert task.equilibrium_updates(values) == {}  # off in every published preset
    config.loss.equilibrium_margin = 0.35
    updates = task.equilibrium_updates(values)
    assert (bool(updates["discriminator"]), bool(updates["decoder"])) == (dis, dec)


def test_a_skipped_update_leaves_the_network_and_its_optimizer_alone(film, tmp_path):
    """Training with the rule on: at a step where Dis is far ahead its weights and Adam's moments stay put."""
    config = tiny_config(film, tmp_path / "cache")
    config.loop.num_steps, config.loop.num_epochs = 1, 0
    config.loop.sample_every_steps = 0
    config.loss.equilibrium_margin = 0.35
    config.loss.equilibrium = 10.0  # every cross entropy is far below 10 - 0.35: Dis never updates
    before = {}

    def make_task(setup):
        task = train.VaeGanTask(config, setup, train.load_stores(config, progress=False))
        before.update({name: [v.numpy().copy() for v in net.trainable_variables] for name, net in task.networks.items()})
        return task

    result = loop.train(make_task, config, tmp_path / "work")
    for name, network in result.task.networks.items():
        changed = any(not np.array_equal(a, v.numpy()) for a, v in zip(before[name], network.trainable_variables))
        assert changed == (name != "discriminator"), name
    assert int(result.task.optimizers["discriminator"].iterations.numpy()) == 0
    logged = summaries.read_back(tmp_path / "work" / "tensorboard", "losses/discriminator_updated")
    assert [float(value) for _, _, value in logged] == [0.0]


def test_the_small_presets_change_only_frame_size_and_widths():
    published, small = configs.dissertation(), configs.dissertation_small()
    assert (small.model.width, small.model.height) == (144, 80) and small.model.filters == (32, 64, 128, 256)
    for config in (small, configs.released_code_small()):
        assert all(side % 16 == 0 for side in (config.model.width, config.model.height))  # four stride-2 layers
    same = lambda a, b: {k: v for k, v in a.to_dict().items() if k != "model"} == {  # noqa: E731
        k: v for k, v in b.to_dict().items() if k != "model"}
    assert same(small, published) and same(configs.released_code_small(), configs.released_code())
    changed = {k for k, v in small.model.to_dict().items() if published.model[k] != v}
    assert changed == {"width", "height", "filters"}
