"""python -m reproduce.relive_predictor end to end on bundled clips: trains, scores roll-outs against copying, writes the table."""

import json

from tests import reproduce as reproduce_tests

run = reproduce_tests.runner("relive_predictor")


def test_scores_the_untrained_and_a_trained_predictor_against_copying_on_an_unseen_clip(tmp_path):
    done = run("--train=bundled:bigbuckbunny", "--test=bundled:carphone", "--models=predictor_untrained,predictor",
               "--steps=2", "--eval_every=2", "--hop=6", f"--workdir={tmp_path}")
    assert done.returncode == 0, done.stderr[-3000:]
    table = json.loads((tmp_path / "predictor_table.json").read_text())
    assert list(table["rows"]) == ["copy_last", "predictor_untrained", "predictor"]
    assert table["test_windows"] == len(range(0, 120 - 12 + 1, 6))
    assert table["runs"]["predictor"]["steps"] == 2 and table["runs"]["predictor_untrained"]["steps"] == 0
    copy, untrained = table["rows"]["copy_last"], table["rows"]["predictor_untrained"]
    # Carrying the measured motion on beats holding the frame still on real footage it never saw.
    for key in ("psnr_1", "psnr_5", "ssim_1", "ssim_5"):
        assert untrained[key] > copy[key], key
    assert (tmp_path / "predictor_rollout.jpg").stat().st_size > 1000
    assert "| copy_last |" in done.stdout and "| predictor_untrained |" in done.stdout

    bad = run("--models=predictor,nope", f"--workdir={tmp_path}")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("error: --models: unknown nope")
