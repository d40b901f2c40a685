"""Package metadata for the video-with-neural-networks toolkit."""
import pathlib

import setuptools

HERE = pathlib.Path(__file__).parent


def _requirements():
    lines = (HERE / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


setuptools.setup(
    name="neural-video",
    version="0.1.0",
    description="Making video with neural networks: VAE-GAN film reconstruction, DeepDream video, 3D GANs.",
    python_requires=">=3.10",
    packages=["videocore", "vaegan_video", "vaegan_video.latent_dream", "deepdream_video", "relive", "run_scripts"],
    install_requires=_requirements(),
    entry_points={
        "console_scripts": [
            "nv-probe=run_scripts.probe:run",
            "nv-transcode=run_scripts.transcode:run",
            "nv-metrics=run_scripts.metrics:run",
        ],
    },
)
