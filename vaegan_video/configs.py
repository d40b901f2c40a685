"""Presets for the VAE-GAN: `dissertation()` holds the published values; others override a few.

Launch with a preset and overrides:
    python -m run_scripts.vaegan_train --config=vaegan_video/configs.py:blade_runner \
        --config.data.videos=film.mkv --workdir=runs/blade_runner
"""

import ml_collections

from videocore import loop


def dissertation():
    """Chapter 4 of "Autoencoding Video Frames" (section numbers in the comments)."""
    config = ml_collections.ConfigDict()

    config.model = ml_collections.ConfigDict()
    config.model.kind = "conv"  # the dissertation's conv networks; "mlp": fully connected (vae_mlp)
    config.model.height = 144  # 4.2: 256x144 frames (Table 1 prints 114: a typo)
    config.model.width = 256
    config.model.latent_dim = 200  # 4.2: z has 200 dimensions
    config.model.filters = (80, 160, 320, 640)  # Tables 1-3 (decoder layer 3 is 160, not 180)
    config.model.kernel_size = 5  # 4.2.1: 5x5 filters, stride 2
    config.model.leaky_relu_slope = 0.01  # eq. 4.5 is garbled; 0.01 is the value it prints (Maas et al.)
    config.model.bn_momentum = 0.9  # not given; TF 0.x's batch-norm examples used 0.9
    config.model.bn_epsilon = 1e-5
    # Tables 1 and 3 mark BNorm on every conv layer, the first included.
    config.model.first_layer_batchnorm = True
    # 4.2.1: both outputs of the last encoder layer are tanh; the second is read as log sigma^2.
    config.model.log_var_scale = 1.0
    config.model.init = "keras"  # not given: Keras' defaults (Glorot uniform kernels, BN gamma 1)
    # "moving": BN normalises with moving averages when not training (the usual reading of 4.6);
    # "batch": always with the batch's own statistics.
    config.model.batchnorm_statistics = "moving"

    config.loss = ml_collections.ConfigDict()
    # The decoder's objective has -L_GAN (eq. 4.14) and Dis is trained (4.12); False drops both: a
    # VAE with L_like (the learned similarity still reads Dis's layers, frozen at their start).
    config.loss.adversarial = True
    config.loss.gamma = 2.5  # 4.4: weight of L_like in the decoder's objective (eq. 4.14)
    config.loss.gan_clip_min = 1e-8  # 6.2 footnote 3: Dis output clipped to [1e-8, 1] before the logs
    # Cross entropies from Dis's logits (softplus): equal to the clipped logs wherever those are
    # not clipped, but a saturated Dis keeps a gradient. Measured at 256x144: with the clip, Dis
    # reached ~1e-33 on real and fake frames by step ~100, where the clip's gradient is zero, and
    # never recovered. False = footnote 3's clipped logs.
    config.loss.gan_from_logits = True
    config.loss.gan_reduction = "mean"  # eq. 4.9: the three batch-mean cross entropies summed
    config.loss.kl_reduction = "mean"  # "mean" over batch and latents, or "sum" over latents
    config.loss.kl_clip = 0.0  # no clip on mu / log sigma^2 in eq. 4.8 (the tanh bounds them)
    config.loss.similarity = "learned"  # "learned" (eq. 4.11) or "pixel" (plain MSE, for comparison)
    config.loss.pixel_reduction = "mean"  # the pixel similarity: "mean" over pixels, or "sum" over each frame's
    # 6.2 as written: each network's objective *value* clipped to a range (zero gradient outside):
    # encoder and discriminator to [1e-8-ish, 100] ("restrict ... to positive values"), the
    # decoder to [-100, 100] ("allow the decoder error gradient to be negative"). The ranges are
    # the released code's. Gradient-element clipping is the separate optimizer.clip_value.
    config.loss.objective_clip = True
    config.loss.encoder_range = (1e-10, 100.0)
    config.loss.decoder_range = (-100.0, 100.0)
    config.loss.discriminator_range = (1e-10, 100.0)
    # "separate": Dis sees x, x_bar and x_p as three batches (4.5; each with its own BN
    # statistics, so L_like barely sees a batch-wide brightness change of x_bar); "joint": one
    # batch of all three, as Larsen et al.'s reference code does.
    config.loss.dis_batches = "separate"
    config.loss.prior = "normal"  # Algorithm 1 line 9: z_p ~ N(0, I); "uniform" = U(-1, 1)
    # A warning in the log once Dis's mean output on x, x_bar and x_p has been saturated
    # (< 1e-6 or > 1 - 1e-6, all three) for this many steps in a row; 0 = never.
    config.loss.saturation_steps = 100
    # Not in the dissertation: Larsen et al.'s equilibrium rule (train.VaeGanTask.equilibrium_updates)
    # skips Dis's update while it is far ahead and Dec's while Dis is far behind. 0 = off (published).
    config.loss.equilibrium_margin = 0.0
    config.loss.equilibrium = 0.68

    config.optimizer = ml_collections.ConfigDict()
    config.optimizer.learning_rate = 2e-4  # 4.5: Adam, learning rate 0.0002
    config.optimizer.beta_1 = 0.5  # 4.5: "momentum of 0.5"
    # 6.2: "clip the error gradients to a fixed range (0.00000001 - 100)" was an early attempt that
    # "did not rectify the problem" (the tanh and the clipped Dis output did); off by default since
    # it cost ~35 % of a full-size step here. 100.0 turns it on (|g| <= 100 per element).
    config.optimizer.clip_value = 0.0
    # The released code's variable lists were swapped (its encoder optimizer updated the decoder
    # with the encoder's objective and vice versa), and its 'g_' substring also caught the encoder's
    # log sigma^2 head ("log_sigma"), which both optimizers then moved. True reproduces that bug,
    # head included; never for real runs.
    config.optimizer.reproduce_swapped_updates = False

    config.data = ml_collections.ConfigDict()
    config.data.videos = ()  # one or several films
    config.data.aspect = "16:9"  # 5.1: Blade Runner's 2.35:1 cropped to 16:9
    config.data.start = ml_collections.FieldReference(None, field_type=float)  # seconds; trims credits (5.1)
    config.data.end = ml_collections.FieldReference(None, field_type=float)
    # One 'start:end' in seconds per video (either side may be empty), in place of start / end for
    # all: e.g. (":9.6", ":") trains on the first 9.6 s of one film and all of another. () = start / end.
    config.data.spans = ()
    config.data.cache_dir = ""  # frame stores; "" = ~/.cache/neural_video/frames
    # Train steps per "epoch" (the unit the noise schedule advances by); 0 = one pass over the
    # frames (4.5). A fixed count stretches a schedule over a step budget on a short clip.
    config.data.steps_per_epoch = 0

    # 4.5.1: the noise eps ~ N(0, sigma^2) in z = mu + sigma_z * eps, one sigma per epoch
    # (the Blade Runner run's, 5.1; a constant 0.25 is the "original build" improved on).
    config.noise_schedule = (0.25, 0.25, 0.01, 0.01, 0.05, 0.05)
    config.noise_range = ()  # (low, high) clips the epoch's sigma; () = as given

    config.loop = loop.loop_config()
    config.loop.batch_size = 12  # 4.1: mini-batches of 12
    config.loop.num_epochs = 6  # 5.1: six epochs
    config.loop.sample_every_steps = 1000
    # GAN losses swing by orders of magnitude in normal training; only NaN/Inf stops count for it.
    config.loop.guard.watch = ("kl", "like")

    config.num_samples = 6  # frames per row in the sample grids (x, x_bar, x_p: Figures 5.1-5.6)
    # The task's evaluate hook: the last `frames` frames of the first video are kept out of
    # training, reconstructed every loop.eval_every_steps and after the last step, and scored
    # (PSNR, temporal collapse ratio). 0 = none: Algorithm 1 trains on every frame of the film.
    config.eval = ml_collections.ConfigDict()
    config.eval.frames = 0
    config.reconstruct = ml_collections.ConfigDict()
    config.reconstruct.batch_size = 12
    config.reconstruct.noise = 0.0  # 4.6: no noise when running the model (0.0001 for a little variation)
    return config


def blade_runner():
    """Section 5.1: six epochs with the noise schedule of its table."""
    config = dissertation()
    config.noise_schedule = (0.25, 0.25, 0.01, 0.01, 0.05, 0.05)
    return config


def scanner_darkly():
    """Section 5.2: already 16:9; six epochs with its own noise schedule."""
    config = dissertation()
    config.noise_schedule = (0.25, 0.1, 0.1, 0.05, 0.05, 0.05)
    return config


def released_code():
    """The author's released TF 0.7 code (model.py / ops.py), which made the published results.

    Each value that differs from the text is one field, with "text:" and "code:" in its comment.
    Not copied: the swapped variable lists (optimizer.reproduce_swapped_updates=True does).
    """
    config = dissertation()
    config.model.leaky_relu_slope = 0.2  # text: 0.01 (eq. 4.5); code: DCGAN's lrelu, 0.2
    config.model.first_layer_batchnorm = False  # text: BNorm on conv 1 (Tables 1, 3); code: none there
    config.model.log_var_scale = 0.5  # text: tanh; code: log sigma^2 = 0.5 * tanh(fc)
    # text: not given; code: N(0, 0.02) weights (truncated for convs), biases 0, gamma ~ N(1, 0.02)
    config.model.init = "dcgan"
    config.model.batchnorm_statistics = "batch"  # text: not given; code: batch statistics always
    config.model.bn_epsilon = 1e-5  # code: 1e-5 (as the text's preset)
    config.loss.gan_from_logits = False  # text: Dis clipped to [1e-8, 1] (6.2 fn. 3); code: clipped probabilities
    # text: eq. 4.9 summed; code: clip(Dis, 1e-10, 1) + 1e-12 in the logs, each batch mean divided
    # by the batch size again, and the three summed and divided by 6.
    config.loss.gan_reduction = "released"
    config.loss.kl_clip = 5.0  # text: eq. 4.8; code: mu and log sigma^2 clipped to [-5, 5] in the KL
    config.loss.objective_clip = True  # text: 6.2; code: the three ranges below
    config.loss.encoder_range = (1e-10, 100.0)
    config.loss.decoder_range = (-100.0, 100.0)
    config.loss.discriminator_range = (1e-10, 100.0)
    config.loss.dis_batches = "separate"  # text and code: three calls of Dis
    config.loss.prior = "uniform"  # text: z_p ~ N(0, I) (Algorithm 1); code: U(-1, 1)
    config.noise_range = (1e-10, 1.0)  # text: sigma per epoch; code: sigma clipped to [1e-10, 1]
    return config


# The scale rule of the reduced-size reproductions (docs/reproduction/vaegan.md): a published preset
# with exactly two knobs changed, the frame size (four stride-2 layers still divide it exactly:
# 144x80 is 9x5 at the bottleneck, 1.25 % wider than 16:9) and one multiplier on every filter count.
# Everything else (latent 200, gamma, Adam, the schedule's shape, BNorm, the losses) stays published.
SMALL_SIZE = (144, 80)  # (width, height); the published 256x144
SMALL_WIDTH = 0.4  # filters (80, 160, 320, 640) -> (32, 64, 128, 256)


def scaled(config, size=SMALL_SIZE, multiplier=SMALL_WIDTH):
    """`config` at frame size `size` (width, height) with every filter count times `multiplier`."""
    config.model.width, config.model.height = size
    config.model.filters = tuple(max(1, int(round(f * multiplier))) for f in config.model.filters)
    return config


def dissertation_small():
    """`dissertation` at the reduced scale (SMALL_SIZE, SMALL_WIDTH): trains thousands of steps on 2 cores."""
    return scaled(dissertation())


def released_code_small():
    """`released_code` at the same reduced scale as dissertation_small."""
    return scaled(released_code())


def vae_mlp():
    """Neural Dream Videos' own autoencoder (awjuliani/NeuralDreamVideos, NeuralDream.ipynb): a plain VAE.

    Fully connected: 128x128x3 frames flattened (49,152 inputs), encoder 256-256, decoder 256-256,
    z of 64; a pixel loss and no adversarial term; Adam 1e-4, batch 50, 100 epochs. What the
    notebook does not fix is named as such below.
    """
    config = dissertation()
    config.model.kind = "mlp"
    config.model.height = 128
    config.model.width = 128
    config.model.latent_dim = 64
    config.model.mlp_encoder_units = (256, 256)
    config.model.mlp_decoder_units = (256, 256)
    config.model.mlp_activation = "softplus"  # model_vae.py's transfer function (the notebook keeps its default)
    config.data.aspect = ""  # whole frames resized to 128x128 (no crop)
    config.loss.adversarial = False
    config.loss.similarity = "pixel"
    # model_vae.py sums both terms per frame and averages over the batch: the per-frame cross entropy
    # over 49,152 values plus the KL over 64. Here the squared error summed over the frame's values in
    # [-1, 1] (a Gaussian likelihood; about the cross entropy's curvature at mid-grey). Averaging both
    # ("mean") would weigh the KL 768x (49,152 / 64) more than the notebook does.
    config.loss.pixel_reduction = "sum"
    config.loss.kl_reduction = "sum"
    config.loss.gamma = 1.0  # encoder and decoder follow the same L_like (+ L_KL for the encoder): the ELBO
    config.loss.objective_clip = False  # the dissertation's 6.2 ranges belong to its GAN
    config.optimizer.learning_rate = 1e-4
    config.optimizer.beta_1 = 0.9  # Adam's default (the dissertation's 0.5 is for its GAN)
    config.loop.batch_size = 50
    config.loop.num_epochs = 100
    config.loop.checkpoint_every_minutes = 5.0
    # A plain VAE samples z = mu + sigma * eps with eps ~ N(0, I): no noise schedule (4.5.1).
    config.noise_schedule = (1.0,) * 100
    return config


def vae_mlp_tiny():
    """vae_mlp at test size: 32x32 frames, 32-unit layers, z of 8, a few steps."""
    config = vae_mlp()
    config.model.height = 32
    config.model.width = 32
    config.model.latent_dim = 8
    config.model.mlp_encoder_units = (32, 32)
    config.model.mlp_decoder_units = (32, 32)
    config.optimizer.learning_rate = 1e-3
    config.loop.batch_size = 8
    config.loop.num_epochs = 2
    config.loop.sample_every_steps = 4
    config.loop.checkpoint_every_steps = 100
    config.loop.log_every_steps = 1
    config.loop.guard.min_history = 1000
    config.num_samples = 4
    config.reconstruct.batch_size = 5
    config.noise_schedule = (1.0, 1.0)
    return config


def quick():
    """Small enough to train meaningfully in minutes on a 2-core CPU (80x48 frames, latent 64)."""
    config = dissertation()
    config.model.height = 48
    config.model.width = 80
    config.model.filters = (32, 64, 128, 256)
    config.model.latent_dim = 64
    config.loop.batch_size = 12
    # Sized for a short clip: 100 epochs of the bundled 132-frame clip are ~1,100 steps, about
    # 2.5 minutes here. On a whole film one epoch is already thousands of steps: lower it.
    config.loop.num_epochs = 100
    config.loop.sample_every_steps = 200
    config.loop.checkpoint_every_steps = 400
    config.loop.checkpoint_every_minutes = 5.0
    config.loop.log_every_steps = 20
    # The dissertation's shape of schedule (4.5.1): large noise first, then finer and finer.
    config.noise_schedule = (0.25,) * 25 + (0.1,) * 25 + (0.05,) * 25 + (0.01,) * 25
    config.eval.frames = 16  # held out of the 132-frame clip: fidelity on frames never trained on
    config.loop.eval_every_steps = 200
    return config


def tiny():
    """For tests: a few seconds per dozen steps."""
    config = quick()
    config.model.height = 32
    config.model.width = 32
    config.model.filters = (8, 16, 16, 32)
    config.model.latent_dim = 16
    config.loop.batch_size = 4
    config.loop.num_epochs = 2
    config.loop.sample_every_steps = 4
    config.loop.checkpoint_every_steps = 4
    config.loop.log_every_steps = 1
    config.loop.guard.min_history = 1000
    config.num_samples = 4
    config.reconstruct.batch_size = 5
    config.noise_schedule = (0.25, 0.1)
    config.eval.frames = 0  # tests that want the evaluation turn it on
    config.loop.eval_every_steps = 0
    return config


def get_config(name="dissertation"):
    """For `ml_collections.config_flags`: --config=vaegan_video/configs.py:quick."""
    presets = {"dissertation": dissertation, "blade_runner": blade_runner, "scanner_darkly": scanner_darkly,
               "released_code": released_code, "dissertation_small": dissertation_small,
               "released_code_small": released_code_small, "vae_mlp": vae_mlp, "vae_mlp_tiny": vae_mlp_tiny, "quick": quick,
               "tiny": tiny}
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(presets)}")
    return presets[name]()
