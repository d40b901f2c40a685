"""SavedModels of a trained VAE-GAN: encoder (frames -> mu), decoder (z -> frames), autoencoder."""

import pathlib

from videocore import export
from videocore import precision
from vaegan_video import train


def export_models(config, workdir, export_dir) -> dict:
    """Writes encoder/, decoder/ and autoencoder/ SavedModels under `export_dir`; returns their paths.

    encoder: uint8 frames (N, H, W, 3) at the model's size -> {"latents": mu (N, latent_dim)}.
    decoder: float32 z (N, latent_dim) -> {"frames": uint8 (N, H, W, 3)}.
    autoencoder: uint8 frames -> {"frames": uint8 reconstructions} (z = mu, section 4.6).
    """
    with precision.policy_scope(config.loop.precision):  # the caller's policy is left as it was
        networks, model_config, _ = train.restore_networks(config, workdir)
    encoder, decoder = networks["encoder"], networks["decoder"]
    size = (model_config.height, model_config.width)
    export_dir = pathlib.Path(export_dir)

    def mu_of(frames):
        return encoder(frames, training=False)[0]

    def reconstruct(frames):
        return decoder(mu_of(frames), training=False)

    paths = {
        "encoder": export.export(export_dir / "encoder", {
            "serving_default": (export.frames_to_latents(mu_of), [export.frames_spec(*size)])}, [encoder]),
        "decoder": export.export(export_dir / "decoder", {
            "serving_default": (export.latents_to_frames(decoder),
                                [export.latents_spec((model_config.latent_dim,))])}, [decoder]),
        "autoencoder": export.export_frames_model(reconstruct, export_dir / "autoencoder", track=[encoder, decoder],
                                                  frame_size=size),
    }
    return paths
