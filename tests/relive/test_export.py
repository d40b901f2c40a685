"""relive SavedModels: loaded in a fresh process with TensorFlow alone, they give the Keras models' outputs."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from relive import export
from relive import sample
from videocore import data

FRESH_PROCESS = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    folder, inputs, outputs = sys.argv[1:4]
    given = np.load(inputs)
    generator = tf.saved_model.load(f"{folder}/generator").signatures["serving_default"]
    conditional = tf.saved_model.load(f"{folder}/conditional_generator").signatures["serving_default"]
    predictor = tf.saved_model.load(f"{folder}/predictor")
    result = {
        "clips": generator(noise=tf.constant(given["noise"]))["clips"],
        "conditional": conditional(photos=tf.constant(given["photos"]), noise=tf.constant(given["noise"]))["clips"],
        "rollout": predictor.signatures["serving_default"](photos=tf.constant(given["photos"]))["frames"],
        "next": predictor.signatures["next_frames"](frames=tf.constant(given["frames"]))["frames"],
    }
    np.savez(outputs, **{name: value.numpy() for name, value in result.items()})
    print("relive imported:", any(name.startswith(("relive", "videocore")) for name in sys.modules))
""")


def _close(actual, expected):
    assert actual.shape == expected.shape and actual.dtype == np.uint8
    difference = np.abs(actual.astype(int) - expected.astype(int))
    assert difference.max() <= 1 and difference.mean() < 0.01  # float rounding at .5 only


@pytest.mark.slow  # three trainings and three exports: ~2 min here (test_scripts covers relive_export)
def test_saved_models_round_trip_in_a_fresh_process(trained_wgan, trained_conditional, trained_predictor, tmp_path):
    folder = tmp_path / "export"
    paths = [export.export_trained(config, workdir, folder) for config, workdir, _ in
             (trained_wgan, trained_conditional, trained_predictor)]
    assert sorted(path.name for path in paths) == ["conditional_generator", "generator", "predictor"]
    config = trained_wgan[0]
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((2, config.generator.noise_dim)).astype(np.float32)
    frames = rng.integers(0, 256, (2, 5, config.clip.frame_size, config.clip.frame_size, 3), dtype=np.uint8)
    photos = frames[:, 0]
    np.savez(tmp_path / "inputs.npz", noise=noise, photos=photos, frames=frames)
    script = tmp_path / "load.py"
    script.write_text(FRESH_PROCESS)
    run = subprocess.run([sys.executable, str(script), str(folder), str(tmp_path / "inputs.npz"),
                          str(tmp_path / "outputs.npz")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "relive imported: False" in run.stdout
    loaded = np.load(tmp_path / "outputs.npz")

    generator = sample.load_networks(config, trained_wgan[1])["generator"]
    _close(loaded["clips"], data.to_uint8_numpy(generator(noise, training=False)))
    conditional = sample.load_networks(trained_conditional[0], trained_conditional[1])["generator"]
    as_float = data.to_float(photos).numpy()
    _close(loaded["conditional"], data.to_uint8_numpy(conditional([as_float, noise], training=False)))
    predictor = sample.load_networks(trained_predictor[0], trained_predictor[1])["predictor"]
    rollout = predictor.rollout(tf.constant(as_float), trained_predictor[0].sample.rollout_frames)
    _close(loaded["rollout"], data.to_uint8_numpy(rollout))
    _close(loaded["next"], data.to_uint8_numpy(predictor(data.to_float(frames), training=False)))
