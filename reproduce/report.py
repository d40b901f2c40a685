"""What every reproduction report does, written once: run flags, cached results, intervals, tables, figures, kept text.

A reproduction module (`reproduce/<name>.py`) trains through the public entry points in run folders under
`runs/` (git-ignored, resumable), evaluates each run once per checkpoint (the results cached beside it)
and rewrites `docs/reproduction/<name>.md` from those results. The pieces here:
  define_run_flags     --runs, --docs, --evaluate_only, --cache_dir (every report's budget and resume flags)
  command_line         the command that re-makes the report, as `python -m reproduce.<name> ...`
  trained_steps, step_time, apply_overrides    reading and shaping runs
  load_results, save_results                  a run's evaluation, valid while its identity holds
  bootstrap_interval, with_interval           95 % intervals over frames, clips or blocks
  table                                        a markdown table; baseline rows first is the caller's order
  save_figure, save_jpeg                       figures for docs/ under a size limit, written atomically
  kept_section                                 the hand-written part of a report, kept across rewrites
  write_report                                 the report, written atomically
"""

import io
import json
import pathlib
import shlex
import sys

import numpy as np
from absl import flags

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIGURE_BYTES = 150_000  # committed figures must stay under 300 KB; half leaves room
BEGIN_KEPT, END_KEPT = "<!-- HAND_WRITTEN: begin -->", "<!-- HAND_WRITTEN: end -->"
STALE_WARNING = "> **Written for an earlier budget; re-read against the tables above.**"


# ----------------------------------------------------------------------------- flags and runs


def define_run_flags(name):
    """Defines the flags every reproduction shares: where its runs and report go, and whether to train."""
    flags.DEFINE_string("runs", str(REPO / "runs" / f"reproduce_{name}"),
                        "Run folders (git-ignored); the same command with a larger budget resumes them.")
    flags.DEFINE_string("docs", str(REPO / "docs" / "reproduction"),
                        f"The report goes to DOCS/{name}.md, its figures to DOCS/{name}/.")
    flags.DEFINE_bool("evaluate_only", False, "Skip training; evaluate the existing runs and rewrite the report.")
    flags.DEFINE_string("cache_dir", "", "Frame stores (default: videocore's cache).")


def command_line(module, argv=None, drop=("--evaluate_only",), prefix=()):
    """`python -m reproduce.<module> ARGS`: the command as run, without the flags in `drop` (prefixes)."""
    arguments = list(prefix) + [arg for arg in (sys.argv[1:] if argv is None else argv) if not arg.startswith(drop)]
    return " ".join([f"python -m reproduce.{module}"] + [shlex.quote(arg) for arg in arguments])


def trained_steps(workdir):
    """The step of the newest checkpoint in `workdir`, 0 without one."""
    from videocore import workdir as workdirs

    return workdirs.trained_steps(workdir)


def step_time(workdir):
    """Median logged training step time in seconds (the first step, which compiles, left out), or None."""
    from videocore import summaries

    return summaries.median_step_time(workdir)


def apply_overrides(config, overrides):
    """Sets {"section.name": value} on a ConfigDict in place and returns it."""
    for name, value in overrides.items():
        target = config
        *parents, leaf = name.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return config


# ----------------------------------------------------------------------------- cached results


def load_results(path, identity):
    """The results saved at `path` when they were saved under the same `identity` (a JSON-able dict: the
    checkpoint step, the footage, the split...), else None: then the run is evaluated again."""
    path = pathlib.Path(path)
    if not path.is_file():
        return None
    saved = json.loads(path.read_text())
    if saved.get("identity") != json.loads(json.dumps(identity, default=float)):
        return None
    return saved["results"]


def save_results(path, identity, results):
    """Writes {"identity", "results"} as JSON at `path`, atomically."""
    from videocore import files

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic_path(path) as temp:
        temp.write_text(json.dumps({"identity": identity, "results": results}, indent=1, default=float))


# ----------------------------------------------------------------------------- intervals and tables


def bootstrap_interval(values, statistic=np.mean, level=0.95, resamples=2000, block=1, seed=0):
    """(low, high): the percentile bootstrap interval of `statistic` over the first axis of `values`.

    values: (N, ...) per-frame, per-window or per-clip scores. block > 1 resamples runs of `block`
    consecutive entries (a moving-block bootstrap), for scores of neighbouring frames that are not
    independent; it is capped at a quarter of N, so that the draws still differ. A fixed seed: the same
    scores give the same interval in every rewrite of a report.
    """
    values = np.asarray(values, np.float64)
    count = len(values)
    if count == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    block = max(1, min(int(block), count // 4))
    starts_per_draw = int(np.ceil(count / block))
    estimates = np.empty(resamples)
    for draw in range(resamples):
        starts = rng.integers(0, count - block + 1, size=starts_per_draw)
        picks = (starts[:, None] + np.arange(block)).reshape(-1)[:count]
        estimates[draw] = statistic(values[picks])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def with_interval(value, interval, digits=2):
    """"12.34 [11.90, 12.80]": a figure with its interval, for a table cell."""
    low, high = interval
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def number(value, digits=1):
    """A cell for a figure that may be missing."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(header, rows):
    """Markdown table lines: `header` a list of column names, `rows` lists of cells (str or number)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


# ----------------------------------------------------------------------------- figures


def save_jpeg(path, image, max_bytes=FIGURE_BYTES):
    """Saves an (H, W, 3) uint8 image as a JPEG under `max_bytes` (lower quality, then smaller); returns `path`."""
    from videocore import summaries

    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    return summaries.save_jpeg(path, image, max_bytes)


def save_figure(path, image, max_bytes=FIGURE_BYTES):
    """Saves an (H, W, 3) uint8 image as PNG if under `max_bytes`, else as the best JPEG under it (same stem).

    Returns the path written (its suffix says which); a stale figure of the other format is removed, and
    nothing half-written is ever left at either name."""
    from PIL import Image

    from videocore import files

    picture = Image.fromarray(np.asarray(image, np.uint8))
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path.with_suffix(".png"), path.with_suffix(".jpg")):
        stale.unlink(missing_ok=True)
    attempts = [("PNG", {}, ".png")] + [("JPEG", {"quality": quality}, ".jpg") for quality in (92, 85, 75, 65)]
    for _ in range(6):
        for kind, options, suffix in attempts:
            buffer = io.BytesIO()
            picture.save(buffer, kind, **options)
            if buffer.tell() < max_bytes:
                target = path.with_suffix(suffix)
                with files.atomic_path(target) as temp:
                    temp.write_bytes(buffer.getvalue())
                return target
        picture = picture.resize((max(1, picture.width * 3 // 4), max(1, picture.height * 3 // 4)), Image.LANCZOS)
    raise ValueError(f"{path}: cannot get the figure under {max_bytes} bytes")


# ----------------------------------------------------------------------------- the report


def kept_section(path, heading, placeholder="_To be written from the tables and figures above._",
                 budgets=None):
    """The hand-written section of the report at `path`, as lines, to be written back between the markers.

    Found between BEGIN_KEPT and END_KEPT, or (reports written before the markers) from the line
    `heading` to the end of the file. Without one, or while it still says "_to be written", returns
    `heading` and the placeholder (a line or a list of lines). budgets: phrases of which at least one must appear in the old report (e.g. "800
    steps per variant"); when none does, the kept text is headed by STALE_WARNING, since only a person
    can judge whether it still holds."""
    path = pathlib.Path(path)
    fresh = [heading, "", *([placeholder] if isinstance(placeholder, str) else placeholder)]
    if not path.is_file():
        return fresh
    text = path.read_text()
    if BEGIN_KEPT in text and END_KEPT in text:
        body = text.split(BEGIN_KEPT, 1)[1].split(END_KEPT, 1)[0].strip("\n")
    elif heading in text:
        body = text[text.index(heading):].rstrip("\n")
    else:
        return fresh
    if not body.strip() or "_to be written" in body.lower():
        return fresh
    lines = body.split("\n")
    if budgets is not None and STALE_WARNING not in lines and not any(phrase in text for phrase in budgets):
        lines = lines[:1] + ["", STALE_WARNING] + lines[1:]
    return lines


def write_report(path, lines, kept=None):
    """Writes the report's `lines` (then the kept section between its markers, when given) atomically."""
    from videocore import files

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kept is not None:
        lines = list(lines) + [BEGIN_KEPT, *kept, END_KEPT, ""]
    with files.atomic_path(path) as temp:
        temp.write_text("\n".join(lines))
    return path
