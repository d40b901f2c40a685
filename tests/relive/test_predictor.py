"""relive's issue-13 predictor: source lists, the flow warp, roll-out scores against copying, roll-out training."""
import numpy as np
import pytest
import tensorflow as tf

from relive import configs
from relive import evaluate
from relive import export
from relive import inputs
from relive import models
from relive import motion
from relive import train
from tests import synthetic
from tests.relive.test_train import StubContext
from tests.relive.test_train import _setup
from videocore import checkpoint
from videocore import data
from videocore import errors


def _motion_config(cache=None):
    """configs.predictor() shrunk to 9 frames of 16x16 (2 given + up to 7 rolled out), a 2-level U-Net."""
    config = configs.predictor()
    config.clip.frame_size = 16
    config.clip.num_frames = 9  # not a power of two: the GANs' latent code does not constrain a predictor
    config.predictor.motion_filters = (8, 8)
    config.data.source = "bundled:carphone"
    config.data.holdout_fraction = 0.25
    if cache is not None:
        config.data.cache_dir = str(cache)
    config.eval.rollout_steps = (1, 3, 6)
    config.sample.num_clips = 2
    config.sample.rollout_frames = 4
    config.loop.batch_size = 2
    config.loop.precision = "float32"
    config.loop.num_steps = 4
    config.loop.eval_every_steps = 2
    config.loop.checkpoint_every_steps = 2
    config.loop.sample_every_steps = 4
    return config


def _randomise_output(predictor, scale=0.05, seed=0):
    """Gives the zero-initialised output convolution small random weights, so the predictor moves pixels."""
    layer = predictor.network.get_layer("flow_residual_gate")
    rng = np.random.default_rng(seed)
    layer.kernel.assign(rng.normal(0, scale, layer.kernel.shape).astype(np.float32))


def test_source_list_reads_every_entry_and_names_a_bad_one(tmp_path):
    clip = synthetic.write_video(tmp_path / "pattern.mp4", num_frames=12, width=32, height=24)
    config = configs.quick()
    config.data.cache_dir = str(tmp_path / "cache")
    config.data.source = f"bundled:carphone, {clip},bundled:carphone"  # a repeat is read once
    stores, held_out = inputs.frame_stores(config, progress=False)
    assert [len(store) for store in stores] == [120, 12] and held_out == []
    config.data.holdout_fraction = 0.25
    stores, held_out = inputs.frame_stores(config, progress=False)
    assert [len(store) for store in held_out] == [30, 3]
    for source, message in ((f"bundled:carphone,{tmp_path / 'missing.mp4'}", r"missing\.mp4: no such file"),
                            ("bundled:carphone,bundled:nope", r"^bundled:nope: unknown sample clip"),
                            ("bundled:carphone,,bundled:bikes", "empty entry"),
                            ("bundled:carphone,tfds:ucf101", "^tfds:ucf101: a tfds: source cannot be part")):
        config.data.source = source
        with pytest.raises(errors.VideoError, match=message):
            inputs.frame_stores(config, progress=False)


def test_warp_samples_bilinearly_and_a_zero_flow_is_exact():
    image = tf.constant(np.random.default_rng(0).uniform(-1, 1, (1, 4, 5, 1)), tf.float32)
    flow = np.zeros((1, 4, 5, 2), np.float32)
    np.testing.assert_array_equal(motion.warp(image, tf.constant(flow)).numpy(), image.numpy())
    pixels = image.numpy()[0, :, :, 0]
    flow[..., 0] = 1.0  # every pixel takes its right neighbour; the last column its own (border)
    right = np.concatenate([pixels[:, 1:], pixels[:, -1:]], axis=1)
    np.testing.assert_allclose(motion.warp(image, tf.constant(flow)).numpy()[0, :, :, 0], right, atol=1e-6)
    flow[..., 0] = 0.5  # halfway: the mean of a pixel and its right neighbour
    np.testing.assert_allclose(motion.warp(image, tf.constant(flow)).numpy()[0, :, :, 0], (pixels + right) / 2,
                               atol=1e-6)
    flow[..., 0], flow[..., 1] = 0.0, -1.0  # the pixel above; the top row its own
    above = np.concatenate([pixels[:1], pixels[:-1]], axis=0)
    np.testing.assert_allclose(motion.warp(image, tf.constant(flow)).numpy()[0, :, :, 0], above, atol=1e-6)


def _texture(size=32, seed=0):
    """A smooth random grey-level texture (1, size, size, 3) in [-1, 1]: Lucas-Kanade needs gradients everywhere."""
    noise = np.random.default_rng(seed).normal(0, 1, (size + 8, size + 8)).astype(np.float32)
    taps = np.exp(-np.arange(-4, 5) ** 2 / 4.0)
    smooth = np.apply_along_axis(lambda row: np.convolve(row, taps, "valid"), 1, noise)
    smooth = np.apply_along_axis(lambda column: np.convolve(column, taps, "valid"), 0, smooth)
    smooth = (smooth / np.abs(smooth).max() * 0.9).astype(np.float32)
    return tf.constant(np.repeat(smooth[None, :, :, None], 3, axis=-1))


def test_lucas_kanade_measures_a_subpixel_shift_and_zero_for_a_still_frame():
    previous = _texture()
    velocity = np.array([0.4, -0.3], np.float32)  # pixels per frame, (x, y)
    last = motion.warp(previous, tf.constant(np.broadcast_to(-velocity, (1, 32, 32, 2))))  # last(p) = previous(p - v)
    measured = motion.lucas_kanade(previous, last).numpy()[0, 6:-6, 6:-6].reshape(-1, 2)
    np.testing.assert_allclose(np.median(measured, axis=0), velocity, atol=0.05)
    assert np.all(motion.lucas_kanade(previous, previous).numpy() == 0.0)
    flat = tf.zeros((1, 16, 16, 3))  # no texture: the regulariser keeps the solve finite, and zero
    assert np.all(motion.lucas_kanade(flat, flat + 0.1).numpy() == 0.0)


def test_untrained_velocity_predictor_carries_the_motion_on_and_beats_copying():
    config = _motion_config()
    config.clip.frame_size = 32
    assert config.predictor.velocity == "lucas_kanade" and config.predictor.velocity_gain == 0.75
    config.predictor.velocity_gain = 1.0  # a steady pan continues at full speed
    predictor = models.frame_predictor(config)
    texture, shift = _texture(48, seed=3), 0.5
    frames = [motion.warp(texture, tf.fill((1, 48, 48, 2), -shift * index))[:, 8:40, 8:40] for index in range(8)]
    clip = data.to_uint8_numpy(tf.stack(frames, axis=1))
    scores = evaluate.rollout_scores(predictor, clip, context_frames=2, steps=(1, 3, 6))
    for step in (1, 3, 6):
        assert scores["predictor"][f"psnr_{step}"] > scores["copy_last"][f"psnr_{step}"] + 3
        assert scores["predictor"][f"ssim_{step}"] > scores["copy_last"][f"ssim_{step}"]


def test_untrained_motion_predictor_scores_exactly_as_copying_and_a_still_video_is_perfect():
    config = _motion_config()
    config.predictor.velocity = "none"
    predictor = models.frame_predictor(config)
    assert isinstance(predictor, motion.MotionPredictor)
    clips = np.random.default_rng(1).integers(0, 256, (3, 8, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(predictor(data.to_float(clips)).numpy(), data.to_float(clips).numpy())
    scores = evaluate.rollout_scores(predictor, clips, context_frames=2, steps=(1, 3, 6))
    assert scores["predictor"] == scores["copy_last"]
    assert set(scores["copy_last"]) == {"psnr_1", "psnr_3", "psnr_6", "ssim_1", "ssim_3", "ssim_6"}
    still = evaluate.video_windows(np.repeat(clips[0, :1], 10, axis=0), 8)
    assert still.shape == (3, 8, 16, 16, 3)
    still_scores = evaluate.rollout_scores(predictor, still, context_frames=2, steps=(1, 6))
    for row in still_scores.values():
        assert row["psnr_1"] == np.inf and row["psnr_6"] == np.inf
        assert row["ssim_1"] == pytest.approx(1.0) and row["ssim_6"] == pytest.approx(1.0)


class _Grey:
    """A predictor that always says mid-grey (value 0.0), with the step interface of relive's predictors."""

    def step(self, frames, state=None, training=False):
        return tf.zeros_like(frames), state


def test_rollout_scores_match_hand_computed_psnr_and_refuse_short_clips():
    clips = np.random.default_rng(2).integers(0, 256, (5, 6, 12, 12, 3), dtype=np.uint8)
    scores = evaluate.rollout_scores(_Grey(), clips, context_frames=2, steps=(1, 4), batch_size=2)
    truth = clips.astype(np.float64)
    grey = float(data.to_uint8_numpy(np.zeros(1, np.float32))[0])
    for step in (1, 4):
        target = truth[:, 1 + step]
        grey_mse = np.mean((grey - target) ** 2)
        copy_mse = np.mean((truth[:, 1] - target) ** 2)
        assert scores["predictor"][f"psnr_{step}"] == pytest.approx(10 * np.log10(255 ** 2 / grey_mse), rel=1e-5)
        assert scores["copy_last"][f"psnr_{step}"] == pytest.approx(10 * np.log10(255 ** 2 / copy_mse), rel=1e-5)
        copy_ssim = tf.image.ssim(clips[:, 1], clips[:, 1 + step], max_val=255).numpy().mean()
        assert scores["copy_last"][f"ssim_{step}"] == pytest.approx(float(copy_ssim), abs=1e-5)
    with pytest.raises(errors.UserInputError, match="T >= 2 given \\+ 5 predicted"):
        evaluate.rollout_scores(_Grey(), clips, context_frames=2, steps=(5,))
    with pytest.raises(errors.UserInputError, match="shorter than one window of 7"):
        evaluate.video_windows(clips[0], 7)


def test_motion_predictor_is_causal_and_its_rollout_feeds_back_its_frames():
    predictor = models.frame_predictor(_motion_config())
    _randomise_output(predictor)
    clips = tf.random.uniform([2, 5, 16, 16, 3], -1, 1, seed=3)
    predicted = predictor(clips).numpy()
    assert np.abs(predicted - clips.numpy()).max() > 1e-3  # it no longer copies
    changed = predictor(tf.concat([clips[:, :3], -clips[:, 3:]], axis=1)).numpy()
    np.testing.assert_array_equal(changed[:, :3], predicted[:, :3])  # output t sees frames <= t only
    rolled = predictor.rollout(clips[:, 0], 4).numpy()
    fed_back = tf.concat([clips[:, :1], rolled[:, :3]], axis=1)
    np.testing.assert_allclose(predictor(fed_back).numpy(), rolled, atol=1e-5)


def test_rollout_training_predicts_from_its_own_frames_and_augments(tmp_path, frame_cache):
    config = _motion_config(frame_cache)
    task = train.PredictorTask(config, _setup(tmp_path, 2))
    predictor = task.networks["predictor"]
    _randomise_output(predictor)
    clips = tf.random.uniform([2, 8, 16, 16, 3], -1, 1, seed=4)
    inputs_ = clips[:, :-1]
    # The same roll-out by teacher forcing on a growing sequence: 2 given frames, then its own predictions.
    sequence = inputs_[:, :2]
    while sequence.shape[1] < inputs_.shape[1]:
        sequence = tf.concat([sequence, predictor(sequence)[:, -1:]], axis=1)
    np.testing.assert_allclose(task._predict(inputs_, training=False).numpy(), predictor(sequence).numpy(),
                               atol=1e-5)
    batch = tf.random.uniform([16, 8, 16, 16, 3], -1, 1, seed=5)
    augmented = task._augment(batch, StubContext()).numpy()
    kinds = set()
    for clip, result in zip(batch.numpy(), augmented):
        variants = [clip, clip[:, :, ::-1], clip[::-1], clip[::-1, :, ::-1]]
        matches = [index for index, variant in enumerate(variants) if np.array_equal(variant, result)]
        assert len(matches) == 1
        kinds.add(matches[0])
    assert len(kinds) >= 3  # each of flip and reverse is drawn per clip


def test_predictor_preset_evaluates_rollouts_and_keeps_its_best_checkpoint(tmp_path, frame_cache):
    config = _motion_config(frame_cache)
    result = train.train_and_evaluate(config, tmp_path)
    figures = result.evaluation
    for name in ("predictor", "copy_last"):
        for key in ("psnr_1", "psnr_6", "ssim_3"):
            assert np.isfinite(figures[f"rollout_{name}_{key}"])
    best_error = float(result.task.state["best_rollout_error"].numpy())
    assert best_error <= np.float32(figures["rollout_error"])  # the best is kept as a float32 variable
    # The kept networks score the lowest validation roll-out error seen (not necessarily the last ones).
    kept = models.frame_predictor(config)
    restored = checkpoint.Checkpointer(tmp_path / train.BEST, {checkpoint.NETWORKS: {"predictor": kept}},
                                       is_chief=False).restore()
    assert restored is not None
    scores = evaluate.rollout_scores(kept, result.task.eval_clips, 2, (1, 3, 6))
    error = np.mean([10 ** (-scores["predictor"][f"psnr_{k}"] / 10) for k in (1, 3, 6)])
    assert error == pytest.approx(best_error, rel=1e-4)
    assert (tmp_path / "checkpoints").is_dir() and len(result.outputs) == 2


def test_motion_predictor_exports_as_a_saved_model(tmp_path):
    config = _motion_config()
    predictor = models.frame_predictor(config)
    _randomise_output(predictor)
    path = export.export_predictor(config, predictor, tmp_path / "predictor")
    loaded = tf.saved_model.load(str(path))
    frames = np.random.default_rng(6).integers(0, 256, (2, 3, 16, 16, 3), dtype=np.uint8)
    following = loaded.signatures["next_frames"](frames=tf.constant(frames))["frames"].numpy()
    expected = data.to_uint8_numpy(predictor(data.to_float(frames)))
    assert following.shape == frames.shape and np.abs(following.astype(int) - expected).max() <= 1
    rollout = loaded.signatures["serving_default"](photos=tf.constant(frames[:, 0]))["frames"].numpy()
    assert rollout.shape == (2, config.sample.rollout_frames, 16, 16, 3)
