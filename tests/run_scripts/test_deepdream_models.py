"""The deepdream scripts' model options: --list_layers without a video, and the offline weights message."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def test_list_layers_prints_the_models_layers_and_exits():
    completed = subprocess.run([sys.executable, "-m", "run_scripts.deepdream_video", "--model=vgg16", "--list_layers"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stdout.strip().splitlines()
    assert lines[0] == "vgg16: dreamable layers (stride, smallest image side, channels)"
    assert lines[-1].split()[:3] == ["block5_conv3", "stride", "16"] and len(lines) == 14


@pytest.mark.slow  # a subprocess: ~8 s; --list_layers keeps the script in make test
def test_imagenet_weights_offline_are_one_line_saying_how_to_get_them(tmp_path):
    source = tmp_path / "photo.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(source)
    # An empty Keras cache and a proxy nobody listens on: offline, whatever the machine.
    env = dict(os.environ, KERAS_HOME=str(tmp_path / "keras"), HTTPS_PROXY="http://127.0.0.1:9",
               https_proxy="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9")
    output = tmp_path / "dream.jpg"
    completed = subprocess.run([sys.executable, "-m", "run_scripts.deepdream_image", f"--input={source}",
                                f"--output={output}", "--model=vgg16", "--weights=imagenet"],
                               capture_output=True, text=True, timeout=300, env=env)
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1] == (
        f"error: weights 'imagenet' for vgg16 need a download: run once online (Keras keeps them in "
        f"{tmp_path / 'keras' / 'models'}) or pass --weights=FILE")
    assert not output.exists()
