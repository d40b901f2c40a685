"""relive: 3D-conv WGAN clips, conditional WGAN on a photo, LSTM next-frame prediction."""
