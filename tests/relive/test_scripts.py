"""relive's run_scripts: config overrides reach the code, outputs are printed, bad input is one line and exit 1."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(script, *args):
    return subprocess.run([sys.executable, "-m", f"run_scripts.{script}", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def _one_line_error(run, *fragments):
    assert run.returncode == 1
    lines = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, run.stderr[-2000:]
    assert all(fragment in lines[0] for fragment in fragments), lines[0]


def test_train_with_a_missing_source_fails_in_one_line(tmp_path):
    run = _run("relive_train", "--config=relive/configs.py:quick", f"--workdir={tmp_path / 'run'}",
               f"--config.data.source={tmp_path / 'nowhere'}")
    _one_line_error(run, "nowhere", "no such file")


def test_sample_script_writes_gif_and_mp4(trained_wgan, tmp_path):
    _, workdir, _ = trained_wgan
    run = _run("relive_sample", f"--workdir={workdir}", f"--output={tmp_path / 'grid'}", "--num_clips=2")
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "grid.gif").exists() and (tmp_path / "grid.mp4").exists()
    assert str(tmp_path / "grid.mp4") in run.stdout


def test_photo_script_with_a_file_that_is_not_an_image(trained_predictor, tmp_path):
    _, workdir, _ = trained_predictor
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG but not really")
    run = _run("relive_photo", f"--photo={photo}", f"--output_dir={tmp_path}", f"--predictor_workdir={workdir}")
    _one_line_error(run, "photo.png", "not a readable image")
