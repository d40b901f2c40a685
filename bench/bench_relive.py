"""relive at the seed's sizes: seconds per generator step (5 critic + 1 generator update, batch 16 clips of
32x64x64) for WGAN and WGAN-GP, and per LSTM predictor step (batch 16, 32 frames); prints medians. Also the
3D convolutions' two forms (config.conv3d): TF's Conv3D ops against sums of 2D convolutions.

    python bench/bench_relive.py [--steps=4] [--only=gp,clip,lstm] [--precisions=auto,float32] [--naive]
    python bench/bench_relive.py --only=layers,forms [--presets=demo,seed] [--jobs=wgan,gp,conditional,predictor]

First the machine line (videocore.machine: CPU, ISA, TensorFlow, oneDNN and its ISA cap, compute dtype, measured
peak); every table gives the ratio against its straightforward baseline, and % of that peak where the FLOPs
have an honest count: the 3D (de)convolution layers, counted from their shapes (machine.conv3d_flops). The
training steps have no FLOP count yet (recurrent layers, the critic's double backward): their rows say "—".

1. Our step: the real training loop (relive.train through videocore.loop) on the bundled bikes clip,
   per-step times read back from the TensorBoard event file (median after the first, traced, step),
   under each precision asked for.
2. Baseline, built in the same run (--naive, default on): a straightforward Keras step as one writes
   it from the papers (Keras BatchNormalization, LeakyReLU, Conv3D(Transpose) / Conv2D(Transpose),
   a float32 Keras LSTM, Keras' Adam; real and fake clips scored in separate critic calls; one
   tf.function per generator step), under the auto policy.
3. --only=layers: every 3D (de)convolution shape of the presets' WGANs (batch loop.batch_size), Keras'
   layer against relive.layers.Conv3DAs2D / Conv3DTransposeAs2D (and the space-to-depth pixel layers):
   median ms of forward, forward + backward (input and weight gradients) and the gradient penalty's
   double backward, with the ratio 2D / native; GFLOP/s and % of peak for forward and forward + backward (3x the
   forward count) from the native layer's FLOPs, whatever a form computes (the pixel form multiplies zeros too).
4. --only=forms: the real loop's generator step of each preset (WGAN, WGAN-GP, conditional, predictor)
   with config.conv3d=native (before) and conv2d (after), one after the other in this run.
TensorFlow uses oneDNN only on CPUs with AVX512_VNNI / AVX512_BF16 / AVX_VNNI / AMX by default; run with
TF_ENABLE_ONEDNN_OPTS=0 to see on such a CPU what an AVX2-only CPU runs (Eigen's kernels), or with
ONEDNN_MAX_CPU_ISA=AVX2 to cap oneDNN's instruction set. The machine line names the CPU and the setting.
Goals, as shares of the measured peak: the form a device uses (native with oneDNN or on a GPU, 2d without)
>= 50 % forward + backward on layers with >= 64 channels in and out; steps, until they have a FLOP count:
ours no slower than the straightforward step (x baseline >= 1).
Other processes on the machine make every figure slower: say so when quoting them (the "others" column).
"""

import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from absl import flags  # noqa: E402

from videocore import cli  # noqa: E402  (before TensorFlow loads: it quiets TF's start-up chatter)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from relive import configs  # noqa: E402
from relive import layers  # noqa: E402
from relive import losses  # noqa: E402
from relive import models  # noqa: E402
from relive import train  # noqa: E402
from videocore import device  # noqa: E402
from videocore import machine  # noqa: E402
from videocore import precision  # noqa: E402
from videocore import summaries  # noqa: E402

GOALS = {"layers": 50.0, "steps": 1.0}  # % of the measured peak (wide layers' fwd+bwd); x baseline (steps)
JOBS = {"gp": ("wgan", "gradient"), "clip": ("wgan", "clip"), "lstm": ("predictor", "clip")}
KERAS_OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}


def bench_config(job, policy):
    model, penalty = JOBS[job]
    config = configs.seed()
    config.model = model
    config.critic.penalty = penalty
    config.data.source = "bundled:bikes"
    config.loop.precision = policy
    config.loop.log_every_steps = 1
    config.loop.sample_every_steps = 0
    config.loop.histogram_every_steps = 0
    config.loop.checkpoint_every_steps = 10**9
    config.loop.checkpoint_every_minutes = 10**6
    return config


def loop_step_times(config, steps):
    """Runs `steps` + 1 loop steps in a temp workdir; returns the step times after the first."""
    config.loop.num_steps = steps + 1
    with tempfile.TemporaryDirectory(prefix="bench_relive_") as workdir:
        train.train_and_evaluate(config, workdir)
        events = summaries.read_back(pathlib.Path(workdir) / "tensorboard", "perf/step_time_s")
        return [float(value) for _, _, value in events][1:]


class _Straightforward:
    """Builds the seed's networks from plain Keras layers (the baseline), restoring relive's afterwards.

    Keras' BatchNormalization and LSTM and plain 3D convolutions are what videocore.device picks for
    a GPU, so building under `device.forced("gpu")` gives them; the CPU-only layers are swapped here.
    """

    NAMES = ("PixelConv3D", "PixelConv3DTranspose", "SmallMapConv2D", "SmallMapConv2DTranspose", "LeakyReLU")

    def __enter__(self):
        self.saved = {name: getattr(layers, name) for name in self.NAMES}
        self.forced = device.forced("gpu")
        self.forced.__enter__()
        layers.PixelConv3D, layers.PixelConv3DTranspose = keras.layers.Conv3D, keras.layers.Conv3DTranspose
        layers.SmallMapConv2D, layers.SmallMapConv2DTranspose = keras.layers.Conv2D, keras.layers.Conv2DTranspose
        layers.LeakyReLU = keras.layers.LeakyReLU
        return self

    def __exit__(self, *exc_info):
        for name, value in self.saved.items():
            setattr(layers, name, value)
        return self.forced.__exit__(*exc_info)


def naive_step_times(job, steps):
    """The straightforward Keras step under the auto policy, on random clips; returns per-step seconds."""
    config = bench_config(job, "auto")
    with precision.policy_scope("auto") as policy:
        batch, frames, size = config.loop.batch_size, config.clip.num_frames, config.clip.frame_size
        with _Straightforward():
            if job == "lstm":
                step, inputs = _naive_predictor_step(config), tf.random.uniform([batch, frames, size, size, 3], -1, 1)
            else:
                step = _naive_gan_step(config)
                inputs = tf.random.uniform([config.critic.steps, batch, frames, size, size, 3], -1, 1)
        inputs = tf.cast(inputs, keras.mixed_precision.global_policy().compute_dtype)
        step(inputs).numpy()  # trace and warm up
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step(inputs).numpy()
            times.append(time.perf_counter() - start)
        return times, policy


def _naive_gan_step(config):
    generator, critic = models.video_generator(config), models.video_critic(config)
    spec = dict(config.optimizers[config.critic.penalty])
    name = spec.pop("name")
    g_opt, c_opt = (KERAS_OPTIMIZERS[name](**spec) for _ in range(2))
    batch, noise_dim = config.loop.batch_size, config.generator.noise_dim
    gradient_penalty = config.critic.penalty == "gradient"

    @tf.function
    def step(real_batches):
        for index in range(config.critic.steps):
            real = real_batches[index]
            with tf.GradientTape() as tape:
                fake = generator(tf.random.normal([batch, noise_dim]), training=True)
                loss = losses.wasserstein_critic_loss(critic(real, training=True), critic(fake, training=True))
                if gradient_penalty:
                    mixed = losses.interpolate(real, fake, tf.random.uniform([batch]))
                    loss += config.critic.gp_weight * losses.gradient_penalty(lambda x: critic(x, training=True),
                                                                              mixed)
            c_opt.apply_gradients(zip(tape.gradient(loss, critic.trainable_variables), critic.trainable_variables))
        with tf.GradientTape() as tape:
            fake = generator(tf.random.normal([batch, noise_dim]), training=True)
            g_loss = losses.wasserstein_generator_loss(critic(fake, training=True))
        g_opt.apply_gradients(zip(tape.gradient(g_loss, generator.trainable_variables),
                                  generator.trainable_variables))
        return g_loss

    return step


def _naive_predictor_step(config):
    predictor = models.frame_predictor(config)
    spec = dict(config.optimizers.predictor)
    optimizer = KERAS_OPTIMIZERS[spec.pop("name")](**spec)

    @tf.function
    def step(clips):
        with tf.GradientTape() as tape:
            loss = losses.l2_prediction_loss(predictor(clips[:, :-1], training=True), clips[:, 1:])
        optimizer.apply_gradients(zip(tape.gradient(loss, predictor.trainable_variables),
                                      predictor.trainable_variables))
        return loss

    return step



# ----------------------------------------------------------------------------- 3D convolutions: native vs 2D form


def conv3d_layer_shapes(preset):
    """The 3D (de)convolutions of a preset's WGAN: [(what, input shape (B, T, H, W, C), filters, transposed)].

    B is loop.batch_size (the GP's joint scoring of real and fake clips doubles it in a real step)."""
    config = configs.get_config(preset)
    batch, steps = config.loop.batch_size, models.upsampling_steps(config)
    frames, size = config.clip.num_frames, config.clip.frame_size
    shapes = []
    channels = 3
    for index, filters in enumerate(config.critic.filters):
        scale = 2 ** index
        shapes.append((f"critic conv{index + 1}", (batch, frames // scale, size // scale, size // scale, channels),
                       filters, False))
        channels = filters
    latent = tuple(config.generator.latent_shape)
    for index, filters in enumerate(tuple(config.generator.filters) + (3,)):
        scale = 2 ** (steps - index)
        channels = latent[3] if index == 0 else config.generator.filters[index - 1]
        shapes.append((f"generator deconv{index + 1}",
                       (batch, frames // scale, size // scale, size // scale, channels), filters, True))
    return shapes


def _layer_for(form, filters, transposed):
    """Keras' layer ("native"), the 2D form ("2d") or the space-to-depth block form ("pixel"), 4x4x4 stride 2."""
    if form == "2d":
        layer_class = layers.Conv3DTransposeAs2D if transposed else layers.Conv3DAs2D
    elif form == "pixel":
        layer_class = layers.PixelConv3DTranspose if transposed else layers.PixelConv3D
    else:
        layer_class = keras.layers.Conv3DTranspose if transposed else keras.layers.Conv3D
    return layer_class(filters, 4, strides=2, padding="same", use_bias=not transposed)


def _median_ms(run, repeats):
    run()  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def time_conv3d_layer(layer, shape, repeats, penalty):
    """Median ms of forward, forward + backward (input and weight gradients) and, if `penalty`, the gradient
    penalty's double backward (penalty of leaky_relu(layer(x)) summed, its gradient w.r.t. the weights)."""
    dtype = keras.mixed_precision.global_policy().compute_dtype
    x = tf.cast(tf.random.uniform(shape, -1, 1, seed=1), dtype)
    layer.build(shape)

    @tf.function
    def forward(x):
        return layer(x)

    @tf.function
    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(tf.cast(layer(x), tf.float32)))
        return tape.gradient(loss, [x, layer.kernel])

    @tf.function
    def double_backward(x):
        with tf.GradientTape() as tape:
            score = losses.gradient_penalty(
                lambda v: tf.reduce_sum(tf.cast(layers.leaky_relu(layer(v), 0.2), tf.float32), axis=[1, 2, 3, 4]), x)
        return tape.gradient(score, layer.kernel)

    def run(function):
        return lambda: [tf.reduce_sum(tf.cast(t, tf.float32)).numpy() for t in tf.nest.flatten(function(x))]

    times = [_median_ms(run(forward), repeats), _median_ms(run(forward_backward), repeats)]
    times.append(_median_ms(run(double_backward), repeats) if penalty else float("nan"))
    return times


def conv3d_layer_flops(shape, filters, transposed):
    """FLOPs of one forward pass of a 4x4x4 stride-2 'same' (de)convolution of input `shape` (B, T, H, W, C)."""
    batch, frames, height, width, channels = shape
    if transposed:  # the work of the convolution it mirrors: one 4x4x4 window per input position
        return machine.conv3d_flops(batch, frames, height, width, 4, 4, 4, channels, filters)
    return machine.conv3d_flops(batch, -(-frames // 2), -(-height // 2), -(-width // 2), 4, 4, 4, channels, filters)


def conv3d_layer_table(presets, precision_name, repeats, peak):
    """Prints Keras' layers (native) against the 2D form per layer shape of the presets' WGANs; for the
    3-channel layers also the block form the native models use on CPU (relive.layers.PixelConv3D...)."""
    with precision.policy_scope(precision_name) as policy:
        print(f"\n3D convolution layers, {policy}, median ms of {repeats}; % of the {peak.policy} peak from the "
              f"layer's FLOPs (fwd+bwd: 3x fwd; the GP's double backward has no count):")
        print("| preset | layer | input | out | form | GFLOP fwd | fwd ms | fwd % peak | fwd+bwd ms | fwd+bwd % peak "
              "| GP ms | 2D / native (fwd, fwd+bwd, GP) |\n|---|---|---|---:|---|" + "---:|" * 7)
        for preset in presets:
            for what, shape, filters, transposed in conv3d_layer_shapes(preset):
                forms = ["native", "2d"] + (["pixel"] if 3 in (shape[-1], filters) else [])
                flops = conv3d_layer_flops(shape, filters, transposed)
                results = {}
                for form in forms:
                    layer = _layer_for(form, filters, transposed)
                    results[form] = time_conv3d_layer(layer, shape, repeats, penalty=not transposed)
                for form in forms:
                    ratio = ""
                    if form == "2d":
                        ratio = ", ".join(f"{two / native:.2f}" for two, native in zip(results["2d"], results["native"])
                                          if native == native)
                    fwd, both, penalty = results[form]
                    fwd_share = machine.percent_of_peak(fwd / 1e3, flops, peak)
                    both_share = machine.percent_of_peak(both / 1e3, 3 * flops, peak)
                    cells = (preset, what, "x".join(map(str, shape)), filters, form, f"{flops / 1e9:.3g}", f"{fwd:.1f}",
                             f"{fwd_share:.1f} %", f"{both:.1f}", f"{both_share:.1f} %",
                             "—" if penalty != penalty else f"{penalty:.1f}", ratio)
                    print("| " + " | ".join(map(str, cells)) + " |", flush=True)
        print(f"goal: the form this device uses >= {GOALS['layers']:.0f} % of the peak forward + backward on layers "
              f"with >= 64 channels in and out")


FORM_JOBS = ("wgan", "gp", "conditional", "predictor")
FORMS = {"native": "native", "2d": "conv2d"}


def form_config(preset, job, form, policy):
    """The preset's config for one job of the before / after table: wgan (weight clipping), gp (WGAN-GP),
    conditional (the preset's conditional model: demo_conditional for demo) or predictor (demo_predictor)."""
    if job == "conditional":
        config = configs.get_config("demo_conditional" if preset == "demo" else preset)
        config.model = "conditional"
    elif job == "predictor":
        config = configs.get_config("demo_predictor" if preset == "demo" else preset)
        config.model = "predictor"
    else:
        config = configs.get_config(preset)
        config.model = "wgan"
        config.critic.penalty = "gradient" if job == "gp" else "clip"
    config.conv3d = FORMS[form]
    config.loop.precision = policy
    config.loop.log_every_steps = 1
    config.loop.sample_every_steps = 0
    config.loop.histogram_every_steps = 0
    config.loop.checkpoint_every_steps = 10**9
    config.loop.checkpoint_every_minutes = 10**6
    config.loop.eval_every_steps = 0
    config.loop.eval_at_start = False
    config.eval.clips = 0
    config.eval.rollout_steps = ()
    config.eval.keep_best = False
    config.eval.fid_frames = 0
    return config


def form_table(presets, jobs, policies, steps, peak):
    """Seconds per generator step (5 critic + 1 generator update; one step for the predictor) through the real
    loop, native 3D convolutions (before) and the 2D form (after), one after the other in this run."""
    rows = []
    for policy in policies:
        for preset in presets:
            for job in jobs:
                medians, loads = {}, {}
                for form in FORMS:
                    with machine.OtherLoad() as load:
                        times = loop_step_times(form_config(preset, job, form, policy), steps)
                    medians[form], loads[form] = statistics.median(times), load.fraction
                    print(f"{preset} {job} {form} {policy}: {[round(t, 3) for t in times]} "
                          f"(others {load.fraction:.0%})", flush=True)
                for form in FORMS:
                    rows.append(machine.row(f"{precision.choose_policy(policy)} {preset} {job} {form}", medians[form],
                                            None, peak, medians["native"], extra=(f"{loads[form]:.0%}",)))
    print(f"\ngenerator step, median of {steps} after the traced one; baseline: the native form "
          "(no FLOP count for steps: no % of peak):")
    print(machine.table_header("others"))
    print("\n".join(rows))


FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 4, "Timed steps after the traced one.")
flags.DEFINE_string("only", "gp,clip,lstm", "Any of gp (WGAN-GP), clip (WGAN), lstm (seed sizes, ours against "
                    "the naive step); layers (3D convolution layers, native vs 2D form); forms (generator steps "
                    "with native 3D convolutions and with the 2D form).")
flags.DEFINE_string("presets", "demo,seed", "Presets for --only=layers,forms.")
flags.DEFINE_string("jobs", ",".join(FORM_JOBS), "Jobs for --only=forms: any of wgan, gp, conditional, predictor.")
flags.DEFINE_integer("repeats", 5, "Timed repeats per layer for --only=layers (median).")
flags.DEFINE_string("precisions", "auto,float32", "'' to time the baseline only.")
flags.DEFINE_bool("naive", True, "Also time the straightforward Keras baseline (auto policy).")
flags.DEFINE_bool("refresh_peak", False, "Measure the machine's peak again instead of reading it from the cache.")


def main(argv):
    del argv
    args = FLAGS
    asked = [name for name in args.only.split(",") if name]
    presets = [name for name in args.presets.split(",") if name]
    policies = [name for name in args.precisions.split(",") if name] or ["auto"]
    info = machine.describe()
    peak = machine.measure_peak(info.policy, info=info, refresh=args.refresh_peak)
    print(machine.header_line(info, peak), flush=True)
    if "layers" in asked:
        for policy in policies:
            conv3d_layer_table(presets, policy, args.repeats, peak)
    if "forms" in asked:
        form_table(presets, [name for name in args.jobs.split(",") if name], policies, args.steps, peak)
    rows = []  # (what, seconds, others, baseline seconds or None)
    for job in [name for name in asked if name in JOBS]:
        naive = None
        if args.naive and job in ("gp", "lstm"):
            with machine.OtherLoad() as load:
                times, policy = naive_step_times(job, max(2, args.steps - 1))
            naive = statistics.median(times)
            rows.append((f"{job} naive {policy}", naive, load.fraction, naive))
            print(f"{job} naive: {[round(t, 2) for t in times]}", flush=True)
        for name in [name for name in args.precisions.split(",") if name]:
            with machine.OtherLoad() as load:
                times = loop_step_times(bench_config(job, name), args.steps)
            rows.append((f"{job} ours {precision.choose_policy(name)}", statistics.median(times), load.fraction, naive))
            print(f"{job} {name}: {[round(t, 2) for t in times]}", flush=True)
    if not rows:
        return
    print("\ntraining step (generator step: 5 critic + 1 generator update; one predictor step for lstm), median "
          "after the traced one; baseline: the straightforward Keras step (no FLOP count for steps: no % of peak):")
    print(machine.table_header("clips/s", "others"))
    for what, seconds, others, naive in rows:
        clips_per_step = 16 * (5 if not what.startswith("lstm") else 1)
        print(machine.row(what, seconds, None, peak, naive, extra=(f"{clips_per_step / seconds:.2f}", f"{others:.0%}")))
    print(f"goal: ours x baseline >= {GOALS['steps']:.1f}")
    print("others: share of the machine's CPU time other processes used meanwhile (0% = quiet machine)")
    print("clips/s: real clips consumed per second (5 critic batches of 16 per generator step; 16 for the LSTM)")


if __name__ == "__main__":
    cli.run(main)
