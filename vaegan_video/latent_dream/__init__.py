"""latent_dream: "Neural Dream Videos" over a trained VAE-GAN: latents, a sequence model, its training, export and dreams."""
