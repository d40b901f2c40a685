"""`make demo`: runs each method's main job on a bundled clip and says where the outputs are.

    python -m run_scripts.demo --workdir=demo_out [--stages=video,vaegan,dream,relive] [--budget=tiny]

--budget=tiny runs every stage at the smallest sizes and a few steps (a smoke test of the whole path,
used by the tests); the outputs are then noise, not pictures.
"""

import pathlib
import time

from absl import flags

from videocore import cli
from videocore import video

FLAGS = flags.FLAGS
STAGES_ORDER = ("video", "deepdream", "vaegan", "dream", "relive")
flags.DEFINE_string("workdir", "demo_out", "Where every output of the demo goes.")
flags.DEFINE_list("stages", list(STAGES_ORDER), "Stages to run, in order.")
flags.DEFINE_enum("budget", "full", ["full", "tiny"], "tiny: smallest sizes and a few steps per stage.")


def _tiny():
    return FLAGS.budget == "tiny"


def stage_video(workdir: pathlib.Path) -> list:
    """Probe the bundled 720p clip, crop/resize it to 256x144 and re-encode it with its audio."""
    source = video.sample_clip("bigbuckbunny")
    info = video.probe(source)
    print(f"source: {source.name} {info.width}x{info.height}, {info.frame_count} frames at {info.fps} fps, "
          f"{'with' if info.has_audio else 'no'} audio")
    output = workdir / "bigbuckbunny_256x144.mp4"
    out = video.transcode(source, output, size=(256, 144), aspect="16:9")
    print(f"wrote {output}: {out.width}x{out.height}, {out.frame_count} frames at {out.fps} fps, "
          f"{'with' if out.has_audio else 'no'} audio")
    return [output]


def stage_vaegan(workdir: pathlib.Path) -> list:
    """Train the VAE-GAN `quick` preset on the bundled 720p clip, then reconstruct it (and another clip)."""
    from vaegan_video import configs
    from vaegan_video import figures
    from vaegan_video import reconstruct
    from vaegan_video import train

    source = video.sample_clip("bigbuckbunny")
    config = configs.quick()
    if _tiny():
        config = configs.tiny()
        config.loop.num_epochs, config.loop.num_steps = 0, 4
    config.data.videos = (str(source),)
    run = workdir / "vaegan"
    train.train_and_evaluate(config, run)
    outputs = []
    for name, side in (("bigbuckbunny_vaegan.mp4", False), ("bigbuckbunny_vaegan_side_by_side.mp4", True)):
        info = reconstruct.reconstruct(config, run, source, workdir / name, side_by_side=side)
        print(f"wrote {workdir / name}: {info.frame_count} frames at {info.fps} fps, "
              f"{'with' if info.has_audio else 'no'} audio")
        outputs.append(workdir / name)
    # Section 5.3: another video through the same model.
    other = workdir / "bikes_through_bigbuckbunny_vaegan.mp4"
    reconstruct.reconstruct(config, run, video.sample_clip("bikes"), other, side_by_side=True)
    figure, ratio = figures.comparison_figure(config, run, source, workdir / "vaegan_real_vs_reconstructed.png",
                                              every=16, count=8)
    print(f"wrote {figure} (temporal collapse ratio {ratio:.2f}; 1 = motion kept, 0 = frozen)")
    samples = sorted((run / "samples" / "x_xbar_xp").glob("*.png"))
    return outputs + [other, figure] + samples[-1:]


def stage_dream(workdir: pathlib.Path) -> list:
    """Dream new video from the demo VAE-GAN: an LSTM over its latents, rolled out and decoded."""
    from vaegan_video.latent_dream import dream

    if not (workdir / "vaegan" / "checkpoints").is_dir():
        raise cli.errors.ConfigError("the dream stage needs the vaegan stage's model: run --stages=vaegan,dream")
    return dream.demo(workdir / "vaegan", workdir, tiny=_tiny())


def stage_deepdream(workdir: pathlib.Path) -> list:
    """DeepDream three seconds of the bundled 720p clip in flow mode at reduced size, audio kept."""
    from deepdream_video import configs
    from deepdream_video import video as dream_video

    output = workdir / "bigbuckbunny_deepdream_flow.mp4"
    config = configs.demo()
    if _tiny():
        config = configs.tiny()
        config.end, config.keep_workdir = 0.4, False
    result = dream_video.dream_video(config, video.sample_clip("bigbuckbunny"), output)
    info = video.probe(output)
    print(f"wrote {output}: {info.frame_count} frames at {info.fps} fps, {'with' if info.has_audio else 'no'} audio; "
          f"warping error {result.warping_error:.5f}")
    return [output]


def stage_relive(workdir: pathlib.Path) -> list:
    """Train a small 3D-conv WGAN-GP on a bundled clip and write a sample grid; relive a photo from another clip.

    The photo (a frame of the bundled bikes clip, saved as a JPEG) is relived by a small conditional
    WGAN-GP and an LSTM predictor trained on the same clip: relive_photo.gif / .mp4.
    """
    from relive import train as relive_train

    return relive_train.demo(workdir, num_steps=2 if _tiny() else None)


STAGES = {
    "video": stage_video,
    "deepdream": stage_deepdream,
    "vaegan": stage_vaegan,
    "dream": stage_dream,
    "relive": stage_relive,
}


def main(argv):
    del argv
    workdir = pathlib.Path(FLAGS.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    unknown = [s for s in FLAGS.stages if s not in STAGES]
    if unknown:
        raise cli.errors.ConfigError(f"--stages: unknown {unknown}; choose from {list(STAGES)}")
    outputs, seconds = [], {}
    for name in FLAGS.stages:
        start = time.time()
        print(f"== demo stage {name}: {STAGES[name].__doc__.splitlines()[0]}")
        outputs += STAGES[name](workdir)
        seconds[name] = time.time() - start
        print(f"== stage {name} done in {seconds[name]:.0f} s")
    print(summary(seconds, outputs))


def summary(seconds, outputs):
    """The closing lines: each stage's time and the total, then every file written (with its size)."""
    total = sum(seconds.values())
    lines = ["demo stage times: " + ", ".join(f"{name} {value:.0f} s" for name, value in seconds.items())
             + f"; total {int(total // 60)}:{int(total % 60):02d}", "demo outputs:"]
    for path in outputs:
        path = pathlib.Path(path)
        size = f"{path.stat().st_size / 1e6:.1f} MB" if path.is_file() else "missing"
        lines.append(f"  {path} ({size})")
    return "\n".join(lines)


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
