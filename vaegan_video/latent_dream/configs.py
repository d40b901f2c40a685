"""Presets for the latent sequence model (neural dream videos): default, seed, juliani, world_models, quick, tiny.

Launch with a preset and overrides:
    python -m run_scripts.latent_dream_train --config=vaegan_video/latent_dream/configs.py:default \
        --vaegan_workdir=runs/br --video=blade_runner.mkv --workdir=runs/br_dream
"""

import ml_collections

from videocore import loop


def default():
    """An LSTM with a mixture-density head over the VAE-GAN's z (World Models' MDN-RNN, on a film)."""
    config = ml_collections.ConfigDict()
    config.vaegan_workdir = ""  # the VAE-GAN run whose encoder / decoder give and take the latents

    config.data = ml_collections.ConfigDict()
    config.data.videos = ()  # one stream of latents per video; frames cropped / sized as the VAE-GAN's
    config.data.start = ml_collections.FieldReference(None, field_type=float)  # seconds, in every video
    config.data.end = ml_collections.FieldReference(None, field_type=float)
    config.data.holdout_fraction = 0.1  # the last part of every video: never trained on, used to evaluate
    # z = mu + z_noise * sigma * eps, redrawn every epoch (World Models re-sampled z from its stored mu,
    # sigma). Here the encoder's tanh keeps sigma in [0.61, 1.65] whatever the frame (it carries no
    # information), so unscaled eps would drown mu; the decoder was trained with eps scaled by its
    # noise schedule (dissertation 4.5.1). None = the sigma of that run's last trained batch (read
    # from its checkpoint); 0 = train on mu. Measured (bench/eval_dream_sequence.py, now in git history): mu gave the
    # best held-out likelihood and the liveliest dreams; the decoder's sigma (0.25) made them jitter.
    config.data.z_noise = ml_collections.FieldReference(0.0, field_type=float)
    config.data.resample = True  # new z every epoch (False: one draw, kept)
    config.data.shift_windows = True  # move the truncation points by a random 0..window-1 each epoch
    config.data.cache_dir = ""  # latents (.npz); "" = <vaegan_workdir>/latents
    config.data.encode_batch = 32
    config.data.encode_precision = "auto"  # the encoder's precision when making latents

    config.model = ml_collections.ConfigDict()
    config.model.units = 512  # World Models' Doom MDN-RNN: 512 hidden units
    config.model.num_layers = 1
    config.model.head = "mdn"  # "mdn" (mixture of Gaussians, NLL) or "l2" (one prediction, squared error)
    config.model.num_mixtures = 5  # World Models: 5 Gaussians
    config.model.residual = True  # predict z_{t+1} - z_t (a still shot is the easy case, not a hard one)
    config.model.residual_init_scale = 0.01  # variance scale of the change head's first weights: ~copy-last
    config.model.log_sigma_min = -7.0  # keeps the NLL finite when a latent is almost perfectly predictable
    config.model.log_sigma_max = 2.0
    config.model.dtype = "float32"  # DESIGN.md: an LSTM's small matmuls are slower in bf16 on this CPU

    config.train = ml_collections.ConfigDict()
    config.train.window = 32  # truncated BPTT: time steps per window (= consecutive frames)

    config.loss = ml_collections.ConfigDict()
    # The l2 head's squared error per step: "mean" over the latent dimensions (keeps the scale,
    # and so the learning rate, the same across latent sizes) or "sum" over them (the notebook's).
    # Either way it is averaged over batch and time.
    config.loss.l2_reduction = "mean"

    config.optimizer = ml_collections.ConfigDict()
    config.optimizer.learning_rate = 1e-3
    config.optimizer.decay_per_epoch = 1.0  # learning rate x decay^epoch (a per-epoch schedule); 1 = constant
    config.optimizer.clip_value = 1.0  # per-element bound on the global gradient; 0 = off
    config.optimizer.clip_norm = 0.0  # bound on the global gradient's global norm (after all replicas); 0 = off

    config.loop = loop.loop_config()
    config.loop.batch_size = 16  # lanes: parallel contiguous streams, each carrying its LSTM state
    config.loop.num_steps = 20_000
    config.loop.precision = "float32"
    config.loop.checkpoint_every_steps = 1000
    config.loop.log_every_steps = 50
    config.loop.sample_every_steps = 1000
    # The NLL crosses zero as it learns, so a multiple of its median means nothing: judge spikes on the
    # squared error of the expected next latent (always positive); the NLL is still checked for NaN / Inf.
    config.loop.guard.watch = ("mse",)

    config.sample = ml_collections.ConfigDict()
    config.sample.frames = 8  # frames per row of the TensorBoard dream strip (real | dreamed)

    config.dream = ml_collections.ConfigDict()
    config.dream.num_frames = 250  # frames to dream (any number: written as they are made)
    # Mixture logits / tau, sigmas * sqrt(tau) (World Models); 0 = the mode. Measured: at 1.0 the dreams
    # move about as much as the VAE-GAN's reconstruction of the real video; at 0 they nearly freeze.
    config.dream.temperature = 1.0
    config.dream.noise = 0.0  # extra noise on every latent fed back: its sigma, or a uniform draw's half-width
    config.dream.feedback_noise = "gaussian"  # that noise's distribution: "gaussian" or "uniform" in [-noise, noise]
    config.dream.seed_frames = 8  # real frames whose latents warm the LSTM up
    config.dream.seed_start = 0.0  # seconds into the seed video
    config.dream.reseed_every = 0  # frames between warm-ups on real latents at random places; 0 = never
    config.dream.from_prior = False  # start from z ~ N(0, I) and a zero state instead of real frames
    config.dream.latent_bound = 1.0  # clip dreamed z to [-b, b] (the encoder's tanh range); 0 = off
    config.dream.chunk = 64  # latents rolled out per call, then decoded and written
    config.dream.decode_batch = 32
    config.dream.decode_precision = "auto"
    config.dream.seed = 0

    config.interpolate = ml_collections.ConfigDict()
    config.interpolate.num_frames = 100  # between two frames
    config.interpolate.mode = "linear"  # "linear" or "slerp"
    return config


def seed():
    """The blog post's model: an LSTM on the latent codes with an L2 loss, z = mu, predicting z directly."""
    config = default()
    config.model.head = "l2"
    config.model.residual = False
    config.data.z_noise = 0.0
    config.data.resample = False
    config.dream.temperature = 0.0
    return config


def juliani():
    """The author's released notebook (awjuliani/NeuralDreamVideos, NeuralDream.ipynb, model_rnn.py).

    Meant over the seed's own plain VAE (vaegan_video/configs.py:vae_mlp, z of 64); over any other
    VAE-GAN run the latent size is that run's. Everything the notebook fixes is set here.
    """
    config = seed()
    config.model.units = 256  # 2 LSTM layers of 256 units
    config.model.num_layers = 2
    config.model.head = "l2"  # a linear output to the latent
    config.model.residual = False
    config.loss.l2_reduction = "sum"  # squared error summed over dimensions, averaged over batch and time
    config.loop.batch_size = 5
    config.train.window = 50  # sequences of 50
    config.loop.num_steps = 0
    config.loop.num_epochs = 150
    config.loop.checkpoint_every_steps = 500
    config.optimizer.learning_rate = 2e-2  # Adam, 2e-2 x 0.97^epoch
    config.optimizer.decay_per_epoch = 0.97
    config.optimizer.clip_value = 0.0
    config.optimizer.clip_norm = 5.0  # gradients clipped by global norm 5
    # The state is carried across the consecutive batches of an epoch (input_pipeline's lanes) and
    # starts from zero every epoch; the notebook cut its windows at fixed places.
    config.data.shift_windows = False
    config.data.z_noise = 0.0  # trained on the encoder's mean
    config.data.resample = False
    config.data.holdout_fraction = 0.1  # not the notebook's (it trained on every frame): scores against copy-last
    config.loop.guard.watch = ("loss",)
    config.dream.num_frames = 1000  # generation: 1,000 frames
    config.dream.temperature = 0.0
    config.dream.noise = 0.1  # each predicted latent fed back with uniform noise in [-0.1, 0.1]
    config.dream.feedback_noise = "uniform"
    config.dream.seed_frames = 1  # started from one real latent
    config.dream.reseed_every = 0  # optional: 100 resets the state to a real latent every 100 frames
    config.dream.latent_bound = 0.0  # a plain VAE's z is not bounded by a tanh
    return config


def world_models():
    """As World Models trained its MDN-RNN: z re-drawn every epoch, here with the VAE-GAN's last noise sigma."""
    config = default()
    config.data.z_noise = None
    config.data.resample = True
    return config


def quick():
    """Trains in well under a minute on a short clip here (e.g. the 132-frame bundled one)."""
    config = default()
    config.model.units = 256
    config.train.window = 16
    config.data.holdout_fraction = 0.0
    config.loop.batch_size = 4
    config.loop.num_steps = 600
    config.loop.checkpoint_every_steps = 300
    config.loop.checkpoint_every_minutes = 5.0
    config.loop.log_every_steps = 20
    config.loop.sample_every_steps = 300
    config.dream.num_frames = 125
    return config


def tiny():
    """For tests: a few steps on a few dozen frames."""
    config = quick()
    config.model.units = 16
    config.model.num_mixtures = 2
    config.train.window = 4
    config.loop.batch_size = 2
    config.loop.num_steps = 4
    config.loop.checkpoint_every_steps = 2
    config.loop.log_every_steps = 1
    config.loop.sample_every_steps = 0
    config.loop.guard.min_history = 1000
    config.sample.frames = 4
    config.data.encode_batch = 8
    config.data.encode_precision = "float32"
    config.dream.num_frames = 20
    config.dream.seed_frames = 3
    config.dream.chunk = 8
    config.dream.decode_batch = 5
    config.dream.decode_precision = "float32"
    config.interpolate.num_frames = 6
    return config


def get_config(name="default"):
    """For `ml_collections.config_flags`: --config=vaegan_video/latent_dream/configs.py:quick."""
    presets = {"default": default, "seed": seed, "juliani": juliani, "world_models": world_models, "quick": quick,
               "tiny": tiny}
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(presets)}")
    return presets[name]()
