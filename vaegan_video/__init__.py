"""vaegan_video: the dissertation VAE-GAN trained on a film, and dream videos over its latents."""
