"""`make demo`: runs each method's main job on a bundled clip and says where the outputs are.

    python -m run_scripts.demo --workdir=demo_out [--stages=video,vaegan,dream,relive]
"""

import pathlib
import time

from absl import flags

from videocore import cli
from videocore import video

FLAGS = flags.FLAGS
STAGES_ORDER = ("video",)
flags.DEFINE_string("workdir", "demo_out", "Where every output of the demo goes.")
flags.DEFINE_list("stages", list(STAGES_ORDER), "Stages to run, in order.")


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


STAGES = {
    "video": stage_video,
}


def main(argv):
    del argv
    workdir = pathlib.Path(FLAGS.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    unknown = [s for s in FLAGS.stages if s not in STAGES]
    if unknown:
        raise cli.errors.ConfigError(f"--stages: unknown {unknown}; choose from {list(STAGES)}")
    outputs = []
    for name in FLAGS.stages:
        start = time.time()
        print(f"== demo stage {name}: {STAGES[name].__doc__.splitlines()[0]}")
        outputs += STAGES[name](workdir)
        print(f"== stage {name} done in {time.time() - start:.0f} s")
    print("demo outputs:\n" + "\n".join(f"  {p}" for p in outputs))


if __name__ == "__main__":
    cli.run(main)
