"""TensorBoard writing: grids, the Writer's kinds of summary (hparams, GIF clips too), and what the loop writes."""
import io

import ml_collections
import numpy as np
import PIL.Image
import pytest

from tests.videocore import events
from tests.videocore import tiny_task
from videocore import loop
from videocore import summaries


def test_image_grid_places_each_image_and_scales_floats():
    images = np.zeros((5, 4, 6, 3), np.float32)
    for index in range(5):
        images[index] = -1.0 + 0.5 * index  # index 4 is +1.0 -> 255
    grid = summaries.image_grid(images, columns=3, padding=2)
    assert grid.shape == (2 * (4 + 2) + 2, 3 * (6 + 2) + 2, 3)
    assert grid.dtype == np.uint8
    # image 4 sits in row 1, column 1; its top-left pixel is at (2 + 6, 2 + 8).
    assert grid[8, 10, 0] == 255
    assert grid[2, 2, 0] == 0  # image 0 is -1.0
    assert grid[2, 2 + 8, 0] == round(0.5 * 127.5)  # image 1 is -0.5
    # The sixth cell is empty padding.
    assert not grid[8:12, 18:24].any()


def test_image_grid_accepts_uint8_and_grey():
    grey = np.full((2, 3, 3, 1), 200, np.uint8)
    grid = summaries.image_grid(grey, padding=0)
    assert grid.shape == (3, 6, 3)
    assert (grid == 200).all()
    with pytest.raises(ValueError, match="shape"):
        summaries.image_grid(np.zeros((2, 3, 3, 2), np.uint8))


def test_save_png_round_trips(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "deep" / "grid.png"
    summaries.save_png(path, image)
    assert np.array_equal(np.asarray(PIL.Image.open(path)), image)
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]  # no temp file left


def test_save_jpeg_stays_under_the_size_limit(tmp_path):
    smooth = np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (48, 1, 3))
    path = summaries.save_jpeg(tmp_path / "smooth.jpg", smooth, max_bytes=20_000)
    assert PIL.Image.open(path).size == (64, 48)  # small enough at full size and quality 90
    assert np.abs(np.asarray(PIL.Image.open(path), np.int16) - smooth).mean() < 3
    # Noise does not compress: the figure is shrunk until it fits.
    noise = np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    path = summaries.save_jpeg(tmp_path / "noise.jpg", noise, max_bytes=60_000)
    assert path.stat().st_size < 60_000 and PIL.Image.open(path).width < 600
    with pytest.raises(ValueError, match="under 100 bytes"):
        summaries.save_jpeg(tmp_path / "never.jpg", noise, max_bytes=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.jpg", "smooth.jpg"]  # nothing half-written


def test_median_step_time_leaves_out_the_compiling_step(tmp_path):
    writer = summaries.Writer(tmp_path / "run" / "tensorboard")
    for step, seconds in ((1, 30.0), (2, 0.5), (3, 0.25), (4, 2.0)):
        writer.scalars(step, {"perf/step_time_s": seconds})
    writer.close()
    assert summaries.median_step_time(tmp_path / "run") == 0.5
    assert summaries.median_step_time(tmp_path / "run", skip_steps=0) == pytest.approx(1.25)
    empty = summaries.Writer(tmp_path / "other" / "tensorboard")
    empty.scalars(1, {"loss": 1.0})
    empty.close()
    assert summaries.median_step_time(tmp_path / "other") is None


def test_writer_writes_four_kinds_read_back_by_tensorboard(tmp_path):
    writer = summaries.Writer(tmp_path / "run")
    writer.scalars(3, {"loss/a": 1.5, "loss/b": -2.0})
    writer.scalars(4, {"loss/a": 0.25})
    image = np.random.default_rng(1).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    writer.images(4, {"grid": image})
    writer.text(0, {"notes": "# hello\n`code`"})
    writer.histograms(4, {"weights": np.arange(10, dtype=np.float32)})
    writer.close()
    values = events.read(tmp_path / "run")
    assert [(step, float(v)) for step, v in values["loss/a"]] == [(3, 1.5), (4, 0.25)]
    assert [(step, float(v)) for step, v in values["loss/b"]] == [(3, -2.0)]
    assert np.array_equal(events.decode_image(values["grid"][0][1]), image)
    assert values["notes"][0][1].item().decode() == "# hello\n`code`"
    buckets = values["weights"][0][1]  # (buckets, 3): left edge, right edge, count
    assert buckets[:, 2].sum() == 10
    assert buckets[0, 0] == 0 and buckets[-1, 1] == 9


def test_disabled_writer_writes_nothing(tmp_path):
    writer = summaries.Writer(tmp_path / "run", enabled=False)
    writer.scalars(1, {"x": 1.0})
    writer.close()
    assert not (tmp_path / "run").exists()


def test_loop_writes_losses_rates_speed_text_and_samples_at_intervals(tmp_path):
    config = tiny_task.tiny_config(num_steps=12, log_every_steps=3, sample_every_steps=5,
                                   histogram_every_steps=6)
    result = loop.train(lambda setup: tiny_task.TinyTask(config, setup), config, tmp_path)
    values = events.read(tmp_path / "tensorboard")

    assert [step for step, _ in values["losses/mse"]] == [3, 6, 9, 12]
    assert float(values["losses/mse"][-1][1]) == pytest.approx(result.losses["mse"], rel=1e-6)
    # The schedule's value at step s is that of the epoch its batch came from (7 batches / epoch).
    for step, value in values["losses/noise"]:
        assert float(value) == pytest.approx(config.noise_schedule[(step - 1) // 7])
    assert all(float(v) == pytest.approx(config.learning_rate) for _, v in values["learning_rate/net"])
    assert all(float(v) > 0 for _, v in values["perf/step_time_s"])
    assert all(float(v) > 0 for _, v in values["perf/frames_per_s"])

    environment = values["environment"][0][1].item().decode()
    assert "float32" in environment and "tensorflow" in environment and "keras" in environment
    assert "num_steps" in values["config"][0][1].item().decode()

    # Samples at the interval and at the end only, as TensorBoard images and PNG files.
    assert [step for step, _ in values["samples/inputs"]] == [5, 10, 12]
    grid = events.decode_image(values["samples/inputs"][0][1])
    png = np.asarray(PIL.Image.open(tmp_path / "samples" / "inputs" / "00000005.png"))
    assert np.array_equal(grid, png)
    assert np.array_equal(png, summaries.image_grid(result.task.images[:4]))
    assert sorted(p.name for p in (tmp_path / "samples" / "inputs").iterdir()) == [
        "00000005.png", "00000010.png", "00000012.png"]
    # Layer names carry Keras' process-wide counters (conv2d_3...): match the tags loosely.
    histograms = [tag for tag in values if tag.startswith("weights/net/")]
    assert len(histograms) == len(result.task.networks["net"].trainable_variables)
    assert all([step for step, _ in values[tag]] == [6, 12] for tag in histograms)


def _session_hparams(logdir):
    """The hparams TensorBoard's HParams tab shows for the run in `logdir`: {name: value}."""
    from tensorboard.plugins.hparams import metadata as hparams_metadata

    plugin, content = events.plugin_content(logdir, hparams_metadata.SESSION_START_INFO_TAG)
    assert plugin == hparams_metadata.PLUGIN_NAME
    info = hparams_metadata.parse_session_start_info_plugin_data(content)
    return {name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
            for name, value in info.hparams.items()}


def _gif_frames(value):
    """An image summary's value (width, height, GIF bytes) -> its frames, uint8 (T, H, W, 3)."""
    gif = PIL.Image.open(io.BytesIO(np.asarray(value)[2]))
    assert gif.format == "GIF"
    frames = []
    for index in range(gif.n_frames):
        gif.seek(index)
        frames.append(np.asarray(gif.convert("RGB")))
    return np.stack(frames)


def test_writer_writes_hparams_and_animated_clips(tmp_path):
    config = ml_collections.ConfigDict({"model": "wgan", "loop": {"num_steps": 7, "learning_rate": 1e-3,
                                                                  "jit": False, "sizes": (2, 3)}})
    # Four frames, each one flat colour: a GIF palette holds them exactly.
    frames = np.zeros((4, 6, 10, 3), np.uint8)
    for index in range(4):
        frames[index] = (60 * index, 255 - 60 * index, 17)
    writer = summaries.Writer(tmp_path / "run")
    writer.hparams(config)
    writer.animations(5, {"samples/clip": frames}, fps=8)
    writer.close()

    assert _session_hparams(tmp_path / "run") == {"model": "wgan", "loop.num_steps": 7, "loop.learning_rate": 1e-3,
                                                  "loop.jit": False, "loop.sizes": "(2, 3)"}
    values = events.read(tmp_path / "run")
    [(step, value)] = values["samples/clip"]
    assert step == 5
    assert np.asarray(value)[:2].tolist() == [b"10", b"6"]  # the image plugin's width, height
    assert np.array_equal(_gif_frames(value), frames)


class ClipTask(tiny_task.TinyTask):
    """TinyTask whose samples also hold a clip (its input images played as frames)."""

    def sample(self, step):
        return {**super().sample(step), "played": summaries.Clip(self.images[:3], fps=5)}


def test_loop_writes_hparams_at_the_start_and_clip_samples_animated(tmp_path):
    config = tiny_task.tiny_config(num_steps=4, sample_every_steps=4)
    result = loop.train(lambda setup: ClipTask(config, setup), config, tmp_path)
    hparams = _session_hparams(tmp_path / "tensorboard")
    assert hparams["loop.num_steps"] == 4
    assert hparams["learning_rate"] == pytest.approx(config.learning_rate)
    values = events.read(tmp_path / "tensorboard")
    [(step, value)] = values["samples/played"]
    assert step == 4
    played = _gif_frames(value)
    assert played.shape == (3,) + result.task.images.shape[1:3] + (3,)
    assert "samples/inputs" in values  # the image samples are still written beside the clip
    assert not (tmp_path / "samples" / "played").exists()  # clips go to TensorBoard only
