"""deepdream_video: DeepDream on video with InceptionV3, frame blending and optical flow."""
