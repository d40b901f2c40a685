"""relive outputs: sample grids, photo loading (sizes, modes, bad files), "relive a photo", restoring runs."""
import numpy as np
import PIL.Image
import pytest

from relive import configs
from relive import sample
from videocore import errors
from videocore import video


def test_clip_grid_and_strip_layout():
    clips = np.zeros((3, 5, 4, 6, 3), np.float32)
    clips[1] = 1.0
    grid = sample.clip_grid(clips, columns=2)
    assert grid.shape == (5, 2 * (4 + 2) + 2, 2 * (6 + 2) + 2, 3) and grid.dtype == np.uint8
    # Clip 1 is white, clip 0 mid-grey (0.0 -> 127.5, rounded to even: 128).
    assert grid[0, 2, 10, 0] == 255 and grid[0, 2, 2, 0] == 128
    image = sample.strip(clips, num_frames=3)
    assert image.shape == (1, 3 * (4 + 2) + 2, 3 * (6 + 2) + 2, 3)


def test_load_photo_converts_modes_and_resizes_with_a_note(tmp_path, capsys):
    gray = tmp_path / "gray.png"
    PIL.Image.fromarray(np.full((30, 40), 200, np.uint8), mode="L").save(gray)
    photo = sample.load_photo(gray, 16)
    assert photo.shape == (16, 16, 3) and photo.dtype == np.float32
    np.testing.assert_allclose(photo, 200 / 127.5 - 1.0, atol=1e-2)
    printed = capsys.readouterr().out
    assert "converted to RGB" in printed and "40x30" in printed and "16x16" in printed

    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:8, ..., 3] = 255  # top half opaque red, bottom half transparent
    path = tmp_path / "rgba.png"
    PIL.Image.fromarray(rgba, mode="RGBA").save(path)
    photo = sample.load_photo(path, 16)
    np.testing.assert_allclose(photo[0, 0], [1.0, -1.0, -1.0])
    np.testing.assert_allclose(photo[-1, -1], [1.0, 1.0, 1.0])  # composited on white
    assert "transparency" in capsys.readouterr().out

    exact = tmp_path / "exact.png"
    PIL.Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(exact)
    sample.load_photo(exact, 16)
    assert capsys.readouterr().out == ""


def test_bad_photos_are_video_errors(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(errors.VideoError, match="notes.jpg"):
        sample.load_photo(text, 16)
    with pytest.raises(errors.VideoError, match="no such file"):
        sample.load_photo(tmp_path / "missing.png", 16)


def test_sample_grid_from_a_trained_run(trained_wgan, tmp_path):
    config, workdir, _ = trained_wgan
    outputs = sample.sample_grid(configs.quick(), workdir, tmp_path / "grid", num_clips=4)
    assert sorted(p.name for p in outputs) == ["grid.gif", "grid.mp4"]
    info = video.probe(tmp_path / "grid.mp4")
    side = 2 * (config.clip.frame_size + 2) + 2
    assert (info.width, info.height, info.frame_count) == (side, side, config.clip.num_frames)
    # Same noise seed, same clips; another seed, other clips.
    again = sample.clip_grid(sample.generate(sample.load_networks(config, workdir)["generator"],
                                             sample.fixed_noise(config, 4)))
    first = video.read_all(tmp_path / "grid.mp4")
    assert np.abs(first.astype(int) - again[:, :side, :side].astype(int)).mean() < 4  # H.264 at CRF 18


def test_relive_a_photo_with_both_models(trained_conditional, trained_predictor, tmp_path, capsys):
    config, conditional_workdir, _ = trained_conditional
    _, predictor_workdir, _ = trained_predictor
    photo = tmp_path / "frame.jpg"
    PIL.Image.fromarray(next(video.read_frames(video.sample_clip("carphone")))).save(photo)  # 176x144
    outputs = sample.relive_photo(configs.quick(), photo, tmp_path / "out", conditional_workdir, predictor_workdir,
                                  num_variations=2)
    assert "176x144" in capsys.readouterr().out
    names = sorted(p.name for p in outputs)
    assert names == ["frame_conditional.gif", "frame_conditional.mp4", "frame_rollout.gif", "frame_rollout.mp4"]
    conditional = video.probe(tmp_path / "out" / "frame_conditional.mp4")
    assert conditional.frame_count == config.clip.num_frames
    assert conditional.width == 2 * (config.clip.frame_size + 2) + 2  # two variations side by side
    rollout = video.probe(tmp_path / "out" / "frame_rollout.mp4")
    assert rollout.frame_count == 1 + config.sample.rollout_frames
    with pytest.raises(errors.UserInputError, match="workdir"):
        sample.relive_photo(config, photo, tmp_path / "out")


def test_restoring_needs_a_fitting_checkpoint(trained_wgan, tmp_path):
    config, workdir, _ = trained_wgan
    with pytest.raises(errors.CheckpointError, match="an empty folder, not a relive run"):
        sample.load_networks(config, tmp_path, "wgan")
    # The sizes saved with the run win over the config passed in ...
    other = configs.quick()
    other.generator.filters = (32, 8)
    assert sample.load_networks(other, workdir)["generator"].count_params() == \
        sample.load_networks(config, workdir)["generator"].count_params()
    # ... and a run without saved sizes must match the config.
    (workdir / sample.RUN_CONFIG).rename(tmp_path / "saved.json")
    try:
        with pytest.raises(errors.CheckpointError, match="does not fit"):
            sample.load_networks(other, workdir, "wgan")
    finally:
        (tmp_path / "saved.json").rename(workdir / sample.RUN_CONFIG)


def test_gif_and_mp4_get_the_permissions_of_a_plain_open(tmp_path):
    # mkstemp creates its file 0600; the outputs must not stay private (they did, for the GIF).
    frames = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    written = sample.write_clip(tmp_path / "clip", frames, fps=8)
    with open(tmp_path / "plain", "w"):
        pass
    plain_mode = (tmp_path / "plain").stat().st_mode & 0o777
    assert sorted(path.name for path in written) == ["clip.gif", "clip.mp4"]
    assert {path.name: path.stat().st_mode & 0o777 for path in written} == {
        "clip.gif": plain_mode, "clip.mp4": plain_mode}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clip.gif", "clip.mp4", "plain"]  # no temp left
