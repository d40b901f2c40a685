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
        # One per run_scripts module (tests/run_scripts/test_entry_points.py checks none is missing).
        "console_scripts": [
            "nv-demo=run_scripts.demo:run",
            "nv-probe=run_scripts.probe:run",
            "nv-transcode=run_scripts.transcode:run",
            "nv-metrics=run_scripts.metrics:run",
            "nv-vaegan-train=run_scripts.vaegan_train:run",
            "nv-vaegan-reconstruct=run_scripts.vaegan_reconstruct:run",
            "nv-vaegan-figures=run_scripts.vaegan_figures:run",
            "nv-vaegan-export=run_scripts.vaegan_export:run",
            "nv-latent-dream-train=run_scripts.latent_dream_train:run",
            "nv-latent-dream=run_scripts.latent_dream:run",
            "nv-latent-dream-export=run_scripts.latent_dream_export:run",
            "nv-deepdream=run_scripts.deepdream_video:run",
            "nv-deepdream-merge=run_scripts.deepdream_merge:run",
            "nv-deepdream-image=run_scripts.deepdream_image:run",
            "nv-relive-train=run_scripts.relive_train:run",
            "nv-relive-sample=run_scripts.relive_sample:run",
            "nv-relive-photo=run_scripts.relive_photo:run",
            "nv-relive-export=run_scripts.relive_export:run",
        ],
    },
)
