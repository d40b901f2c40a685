"""Presets for `video.dream_video`: functions returning ml_collections ConfigDicts.

`default()` is the first seed (DeepDreamVideo): 5 iterations, 4 octaves at 1.4, jitter 32, the
previous dreamed frame blended in with alpha looping 0.5 -> 1 -> 0.5, layers moving from
inception_4c up to inception_5b and back. `flow()` is the second seed (Deepdream Video
Transfer): the dream carried along the optical flow. The others change only what differs.
Field names follow the seeds' parameters (model, learning_rate, num_iterations, num_octaves,
dream_layers, channels, predefined_start).
"""
import ml_collections

from deepdream_video import layers as layers_lib
from videocore import errors


def default():
    """The first seed's settings (frame blending and the layer schedule)."""
    config = ml_collections.ConfigDict()
    # Network.
    # inception_v3 (the seeds' GoogLeNet names map onto it, layers.py), or vgg16, vgg19, resnet50v2,
    # inception_resnet_v2, efficientnet_b0 (applications.py; their layers: --list_layers).
    config.model = "inception_v3"
    # inception_v3: "auto" = converted offline ImageNet weights (videocore.inception). Others: "auto" =
    # "imagenet" (Keras's download, once, online). Any model: a weights file, or "random" (tests).
    config.weights = "auto"
    config.precision = "auto"  # videocore.precision: bfloat16 where the CPU has bf16 kernels
    # The dream (seeds' names). First seed: "iterations: 5, jitter: 32, octaves: 4".
    config.dream_layers = "mixed3,mixed5"  # used when layer_schedule is empty
    config.channels = ""  # comma-separated channel indices maximised in every layer; "" = all
    # The reference notebook's and the first seed's objective_L2: with one layer "mean" gives faint
    # noise where "l2" gives the classic patterns, so the schedule's layers all dream.
    config.objective = "l2"  # "l2" or "mean" (the TensorFlow tutorial's mean activation)
    # Guided dreaming: an image whose features the frame's are pushed towards (the reference
    # notebook's guided objective, dream.guided_objective; replaces `objective`). Its features are
    # taken once with the guide at longer side guide_size px (deepdream_video/guide.py).
    config.guide = ""
    config.guide_size = 224
    # The reference notebook's step of 1.5 grey levels (of 255) per iteration, in [-1, 1] units.
    config.learning_rate = 1.5 / 127.5
    config.num_iterations = 5
    # "auto": the seeds' 4, fewer (with a printed notice) where the frame is too small for the
    # deepest dream layer at the smallest octave; an int is used as given or refused before any work.
    config.num_octaves = ml_collections.FieldReference("auto", field_type=object)
    config.octave_scale = 1.4  # the reference notebook's default
    config.jitter = 32
    # Gradient tiles (pixels, multiples of 16): 0 = untiled unless the frame does not fit in
    # memory_budget_gb, then the largest tiles that do; margin = overlap each tile sees beyond its part.
    config.tile_size = 0
    config.tile_margin = 64
    config.memory_budget_gb = 0.0  # 0 = half the memory available at start

    # Video modes.
    config.mode = "blend"  # "independent" | "blend" | "flow" | "zoom"
    # Zoom mode: `frames` frames from one picture (predefined_start, else the video's frame at
    # `start`), each the previous dream zoomed `zoom` times and turned `zoom_rotate` degrees, at `fps`.
    config.zoom = 1.05
    config.zoom_rotate = 0.0
    config.frames = 100
    config.fps = 25.0
    config.blend = "loop"  # "constant" | "loop" | "random"; alpha = weight of the raw frame
    config.blend_value = 0.5  # constant alpha
    config.blend_low = 0.5  # first seed: "moving the alpha from 0.5 to 1 and back again"
    config.blend_high = 1.0
    config.blend_step = 0.1
    # First seed: "layers locked to moving upwards from inception_4c/output to inception_5b/output
    # and back again"; one layer per frame. "" = dream_layers on every frame.
    config.layer_schedule = "inception_4c,inception_4d,inception_4e,inception_5a,inception_5b"
    config.layer_every = 1  # frames per layer-schedule step
    config.flow_method = "dis"  # videocore.flow: "dis" or "farneback"
    # Flow mode: the previous dream's residual is carried with weight flow_decay, and frames after
    # the first dream at flow_refresh x learning_rate (the carried dream only needs refreshing).
    # 0.9 / 0.5 halve the warping error of independent frames at the same mean change from the
    # source (bench/eval_dream.py); flow_refresh 1 is the second seed's plain re-dreaming.
    config.flow_decay = 0.9
    config.flow_refresh = 0.5
    config.predefined_start = ""  # image the first frame's dream starts from; "" = the first frame
    config.keyframes = ""  # e.g. "0: learning_rate=0.01; 2s: learning_rate=0.03" (schedules.parse_keyframes)

    # What to read and write.
    config.start = 0.0  # seconds
    config.end = 0.0  # seconds; 0 = to the end of the video
    config.size = ""  # "WIDTHxHEIGHT" to resize frames to; "" = the source's size
    config.preview = False  # lower resolution and only the first seconds, to try settings
    config.preview_scale = 0.5
    config.preview_seconds = 3.0
    config.quality = 18  # H.264 CRF of the output
    config.seed = 0  # jitter and random blend are drawn from (seed, frame index)
    config.checkpoint_every = 10  # frames between saved run states
    config.workdir = ""  # frames and run state; "" = "<output>.work" next to the output
    config.keep_workdir = False
    config.preview_every = 0  # > 0: rewrite <output>.partial.mp4 (frames so far + audio) every N frames
    config.side_by_side = False  # output source | dream, side by side
    # Long films across machines: "i/N" dreams the i-th (0-based) of N contiguous frame ranges into
    # <output stem>.shard-i-of-N<suffix>; run_scripts/deepdream_merge.py joins them. In blend and flow
    # modes a shard first dreams `warmup` frames before its range (not written) so the carried
    # dream is established at the seam.
    config.shard = ""
    config.warmup = 10
    config.warping_error = True  # measure (and print) the result's temporal warping error
    return config


def independent():
    """Every frame dreamed on its own (the baseline that flickers)."""
    config = default()
    config.mode = "independent"
    config.layer_schedule = ""
    return config


def blend():
    """The first seed's blending with the fixed layers mixed3 + mixed5 instead of the schedule."""
    config = default()
    config.layer_schedule = ""
    return config


def flow():
    """The second seed: the previous dream carried along the optical flow, layers mixed3 + mixed5."""
    config = default()
    config.mode = "flow"
    config.layer_schedule = ""
    return config


def preview():
    """`flow()` at half size on the first 3 seconds, to try settings quickly."""
    config = flow()
    config.preview = True
    return config


def demo():
    """A few seconds of a bundled clip in flow mode at reduced size (for `make demo`).

    Call: video.dream_video(configs.demo(), videocore.video.sample_clip("bigbuckbunny"), output).
    """
    config = flow()
    config.size = "384x216"
    config.end = 3.0
    config.keep_workdir = False
    return config


def zoom():
    """The feedback "infinite zoom" from one picture, layers mixed3 + mixed5."""
    config = default()
    config.mode = "zoom"
    config.layer_schedule = ""
    return config


def tiny():
    """Small and fast: for tests and smoke runs (96x64 frames, 2 octaves, 2 iterations)."""
    config = flow()
    config.dream_layers = "mixed2"
    config.size = "96x64"
    config.num_octaves = 2
    config.num_iterations = 2
    config.jitter = 8
    config.learning_rate = 0.05
    config.checkpoint_every = 2
    return config


def apply_overrides(config, values):
    """Sets explicitly given fields (e.g. command-line flags) on `config`; returns one-line notices.

    An explicit `dream_layers` wins over an active layer schedule (unless `layer_schedule` is given
    too): the schedule is turned off, and a notice says so. A `model` other than inception_v3 given
    without `dream_layers` takes that model's default layers (layers.DEFAULT_LAYERS), noted too.
    num_octaves may be "auto" or a number's text.
    """
    notices = []
    values = {name: value for name, value in values.items() if value is not None}
    model = values.get("model")
    if model in layers_lib.DEFAULT_LAYERS and model != config.model and "dream_layers" not in values:
        values["dream_layers"] = layers_lib.DEFAULT_LAYERS[model]
        notices.append(f"model={model}: dream_layers={values['dream_layers']} (its default; --list_layers shows "
                       "the others)")
    if "num_octaves" in values and str(values["num_octaves"]).strip().isdigit():
        values["num_octaves"] = int(values["num_octaves"])
    if "dream_layers" in values and "layer_schedule" not in values and config.layer_schedule.strip():
        notices.append(f"dream_layers={values['dream_layers']} given: the preset's layer schedule "
                       f"({config.layer_schedule}) is turned off")
        values["layer_schedule"] = ""
    for name, value in values.items():
        config[name] = value
    return notices


PRESETS = {"default": default, "independent": independent, "blend": blend, "flow": flow, "preview": preview,
           "demo": demo, "zoom": zoom, "tiny": tiny}


def get_config(name="default"):
    """For `ml_collections.config_flags`: --config=deepdream_video/configs.py:flow."""
    name = name or "default"
    if name not in PRESETS:
        raise errors.ConfigError(f"--config preset {name!r} is not one of {', '.join(PRESETS)}")
    return PRESETS[name]()
