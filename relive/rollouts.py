"""Rolling a next-frame predictor out on its own predictions: the loop every kind of predictor shares.

A predictor is anything with `step(frames, state, training) -> (next frames, state)`:
models.FramePredictor (the poster's LSTM) and motion.MotionPredictor.
"""
import tensorflow as tf


def roll_out(predictor, given, num_frames, training=False):
    """Given frames (B, K, H, W, 3) in [-1, 1] -> (forced, rolled).

    forced (B, K, H, W, 3): the predictions of frames 1..K, each from the given frames before it
    (teacher forcing). rolled (B, num_frames, H, W, 3): frames K..K + num_frames - 1; the first is
    forced's last, and each later one is predicted from the frames predicted before it.
    """
    forced, state = predictor.step(given, None, training=training)
    frame = forced[:, -1:]
    frames = [frame]
    for _ in range(num_frames - 1):
        frame, state = predictor.step(frame, state, training=training)
        frames.append(frame)
    return forced, tf.concat(frames, axis=1)
