"""Reproductions of the papers behind this package: one module per report in docs/reproduction/.

    python -m reproduce.vaegan ...            -> docs/reproduction/vaegan.md        ("Autoencoding Video Frames")
    python -m reproduce.neural_dream ...      -> docs/reproduction/neural_dream.md  ("Neural Dream Videos")
    python -m reproduce.relive ...            -> docs/reproduction/relive.md        ((Re)Live Photos' GANs)
    python -m reproduce.relive_predictor ...  -> docs/reproduction/relive_predictor_table.md (its predictors)
    python -m reproduce.deepdream ...         -> docs/reproduction/deepdream.md and docs/stills/ (the video modes)

Run from the repository root. Each trains through the packages' public entry points, in run folders
under runs/ (git-ignored) that the same command with a larger budget resumes; what every report
needs (flags, cached results, intervals, tables, figures, the kept hand-written text) is in report.py.
"""
