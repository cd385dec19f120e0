#!/usr/bin/env python
"""The controlled version of the paper's claim: does the detector take a high-frequency shortcut?

For every texture amplitude A and texture correlation C (the probability that an object wears
its own class's 4 px plaid texture; hfc_det.data.shapes), train the `make demo` detector
(seeded, cached by the data-spec and config hashes) and evaluate it
  - on its own val split: original, low_rR and high_rR views at every --radius;
  - on the cue-conflict split (every object wears another class's texture) as original and
    low_r{--texture-radius} views, scored against the shape labels and against the texture
    labels: AP/AP50 under each and the texture-reliance index
    AP50_tex / (AP50_shape + AP50_tex) (0: follows shape only, 1: texture only).

--texture-radius (default 24) is the radius whose LFC removes the texture (32 bins from the
centre on the 128 px images) and leaves the shapes nearly intact.

outputs in OUTPUT: results.json (every cell's numbers, written after each cell, so an
interrupted run keeps what finished), results.md (the table), dose_response.png (correlation
on x; the LFC's AP change at the texture radius and the texture-reliance index on y), and
amp<A>_corr<C>/{val,conflict}/ (tools/eval_lfc.py outputs), and tied_vs_free/a<A>/ (the tied
model on the free cell's val split beside the free model: tools/compare_runs.py's page and
comparison.json; when the grid has correlations 1 and 0). A copy of results.json and the
picture goes to CACHE/texture_experiment/, where `make demo`'s report finds them.
--skip-untrained evaluates only the cells whose model is already in the cache. A cell already
evaluated with the same model and options is read back from amp<A>_corr<C>/cell.json.
"""
import argparse
import os
import time

from hfc_det.cli.helpers import configure_openmp_waiting, exit_on_user_error, take_leading_numbers

configure_openmp_waiting()  # before torch loads OpenMP (hfc_det.cli.helpers.OPENMP_WAITING says why)

# the experiment: cells, their caching and identity, the results (torch loads in its functions)
from hfc_det.experiments.texture import (  # noqa: E402
    DEFAULT_AMPLITUDES,
    DEFAULT_CORRELATIONS,
    TEXTURE_RADIUS,
    TextureExperiment,
    run_texture_experiment,
)
from hfc_det.experiments.demo import DEFAULT_CONFIG, DEFAULT_RADII  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", default="output/texture_experiment", help="output folder (default: %(default)s)")
    p.add_argument("--cache", default="output/demo", help="data and model cache folder (default: %(default)s)")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="config name or yaml (default: %(default)s)")
    p.add_argument("--amplitudes", nargs="+", default=list(DEFAULT_AMPLITUDES), metavar="A",
                   help="texture amplitudes, [0, 0.5] intensity (default: %(default)s)")
    p.add_argument("--correlations", nargs="+", default=list(DEFAULT_CORRELATIONS), metavar="C",
                   help="texture correlations, [0, 1] (default: %(default)s)")
    p.add_argument("--radius", nargs="+", default=DEFAULT_RADII, metavar="R",
                   help="mask radii in frequency bins for the val views (default: %(default)s)")
    p.add_argument("--texture-radius", type=float, default=TEXTURE_RADIUS, metavar="R",
                   help="the radius whose LFC removes the texture (default: %(default)s)")
    p.add_argument("--max-images", type=int, metavar="N", help="evaluate only the first N images of each split")
    p.add_argument("--skip-untrained", action="store_true",
                   help="evaluate only the cells whose model is already cached; train nothing")
    p.add_argument("opts", nargs="*", metavar="KEY VALUE", help="config overrides for every model")
    args = p.parse_args(argv)
    for name in ("amplitudes", "correlations", "radius"):  # numbers, then trailing KEY VALUE overrides
        take_leading_numbers(p, args, name)
    return args


@exit_on_user_error
def main(argv=None):
    args = parse_args(argv)
    t0 = time.time()
    experiment = TextureExperiment(output=args.output, cache=args.cache, config=args.config,
                                   amplitudes=args.amplitudes, correlations=args.correlations, radii=args.radius,
                                   texture_radius=args.texture_radius, max_images=args.max_images,
                                   overrides=args.opts)
    cells, _, table = run_texture_experiment(experiment, skip_untrained=args.skip_untrained)
    print(table)
    print(f"[texture] {len(cells)} cells in {(time.time() - t0) / 60:.1f} min; results in "
          f"{os.path.abspath(args.output)} (results.json, results.md, dose_response.png)")


if __name__ == "__main__":
    main()
