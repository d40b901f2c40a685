"""SavedModels of a trained sequence model (and its VAE-GAN), to dream with TensorFlow alone."""

import pathlib

import tensorflow as tf

from videocore import export
from vaegan_video.latent_dream import models
from vaegan_video.latent_dream import train


def _mixture_fields(outputs):
    if "prediction" in outputs:
        return {}
    return {"logits": tf.cast(outputs["logits"], tf.float32), "means": tf.cast(outputs["means"], tf.float32),
            "log_sigmas": tf.cast(outputs["log_sigmas"], tf.float32)}


def export_sequence_model(model, path):
    """Writes a SavedModel of `model` at `path` with two signatures; returns the path.

    serving_default: latents (N, T, D) float32 -> {"latents": E[z_{t+1}] (N, T, D)}, read from
      zero states (the next-latent prediction after every step of each sequence).
    step: latents (N, D) and state (N, 2 * layers, units) -> {"mean", "mode": (N, D), "state",
      and for the mdn head "logits" (N, K), "means", "log_sigmas" (N, K, D)}: one step of a
      roll-out; sample z_{t+1} from the mixture (temperature tau: logits / tau, sigmas * sqrt(tau))
      and feed it back with the returned state. Zero state to start.
    """
    dim = int(model.inputs[0].shape[-1])
    units = int(model.inputs[1].shape[-1])
    count = models.num_states(model)

    def predict(latents):
        return models.expected_next(model([latents, *models.zero_states(model, tf.shape(latents)[0])],
                                            training=False))

    def step(latents, state):
        states = [state[:, i] for i in range(count)]
        outputs = model([latents[:, None, :], *states], training=False)
        last = {k: v[:, 0] for k, v in _mixture_fields(outputs).items()}
        return {"mean": models.expected_next(outputs)[:, 0], "mode": models.mode_next(outputs)[:, 0],
                "state": tf.stack([tf.cast(s, tf.float32) for s in outputs["states"]], axis=1), **last}

    endpoints = {
        "serving_default": (export.latents_to_latents(predict), [export.latents_spec((None, dim))]),
        "step": (step, [export.latents_spec((dim,)),
                        tf.TensorSpec((None, count, units), tf.float32, name="state")]),
    }
    return export.export(path, endpoints, [model])


def export_models(workdir, export_dir) -> dict:
    """Writes sequence/ (the model in `workdir`) and vaegan/{encoder,decoder,autoencoder} under `export_dir`.

    The VAE-GAN's decoder SavedModel turns the dreamed latents into uint8 frames. Returns
    {name: path}.
    """
    from vaegan_video import configs
    from vaegan_video import export as vaegan_export

    export_dir = pathlib.Path(export_dir)
    model, _, run = train.restore_model(workdir)
    paths = {"sequence": export_sequence_model(model, export_dir / "sequence")}
    vaegan = configs.dissertation()  # only its precision is used: the model comes from the run's config.json
    paths.update(vaegan_export.export_models(vaegan, run["vaegan_workdir"], export_dir / "vaegan"))
    return paths
