"""Score the prediction folders of ``run.py``'s seed folders as predicted and after
``nnuda-submit``'s anatomical post-processing.

CrossMoDA submissions post-process (one VS component; one cochlea component per side,
``nnunet_uda.postprocess``); ``run.py`` scores the raw predictions. This script scores every
prediction folder of a seed (``predictions/``, or ``predictions_tta/`` with ``--tta``) both
ways with ``nnuda-evaluate``'s function (the files are not changed), the no-adaptation model
and the oracle included, and prints mean Dice and the share of the no-adaptation -> oracle
gap each folder closes, each kind against its own kind. Nothing is trained or predicted::

    python benchmarks/uda_accuracy/rescore_postprocessed.py /tmp/bench/uda/seed_0 /tmp/bench/uda/seed_1

Writes ``postprocessed<_tta>.json`` into each seed folder. A folder without a prediction for
every validation scan is listed as incomplete and left out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nnunet_uda.demo import DemoSettings, Pipeline
from nnunet_uda.errors import InputError
from nnunet_uda.evaluate import evaluate_folder, summarize
from nnunet_uda.postprocess import PostProcessing

KINDS = {"as predicted": None, "post-processed": PostProcessing(largest_vs=True, cochlea_per_side=True)}


def score_seed(folder: Path, tta: bool) -> dict[str, dict[str, dict]]:
    """``{prediction folder name: {kind: {"VS", "cochlea", "mean"}}}`` (mean Dice over cases)."""
    labels = Pipeline(folder, DemoSettings.benchmark_scale()).validation_labels
    if labels is None:
        raise InputError(f"{folder} has no labeled hrT2 validation scans to score against")
    scores = {}
    for pred in sorted(p for p in (folder / ("predictions_tta" if tta else "predictions")).iterdir() if p.is_dir()):
        try:
            rows = {kind: evaluate_folder(pred, labels, postprocessing=post)
                    for kind, post in KINDS.items()}
        except InputError as e:
            print(f"{pred.name}: incomplete, left out ({e})", flush=True)
            continue
        scores[pred.name] = {}
        for kind, r in rows.items():
            s = summarize(r)
            scores[pred.name][kind] = {"VS": s["structures"]["VS"]["dice"]["mean"],
                                       "cochlea": s["structures"]["cochlea"]["dice"]["mean"],
                                       "mean": s["overall"]["dice"]["mean"]}
    return scores


def gaps(scores: dict[str, dict[str, dict]]) -> dict[str, dict[str, float]]:
    """Per folder and kind: (mean Dice - no adaptation) / (oracle - no adaptation), same kind."""
    low = scores.get("no_adaptation")
    high = next((v for k, v in scores.items() if k.startswith("oracle")), None)
    if low is None or high is None:
        raise InputError("need the no_adaptation and oracle prediction folders to compute the gap closed")
    return {name: {kind: (v[kind]["mean"] - low[kind]["mean"]) / (high[kind]["mean"] - low[kind]["mean"])
                   for kind in KINDS} for name, v in scores.items()}


def format_rows(scores: dict[str, dict[str, dict]]) -> str:
    closed = gaps(scores)
    w = max(len(n) for n in scores)
    lines = [f"{'prediction folder':<{w}}  mean Dice as predicted (gap)  post-processed (gap)  VS / cochlea post-processed"]
    for name, v in scores.items():
        raw, post = v["as predicted"], v["post-processed"]
        lines.append(f"{name:<{w}}  {raw['mean']:.3f} ({closed[name]['as predicted']:4.0%})"
                     f"{'':16}{post['mean']:.3f} ({closed[name]['post-processed']:4.0%})"
                     f"{'':7}{post['VS']:.3f} / {post['cochlea']:.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("seed_folders", type=Path, nargs="+", help="run.py's <output>/seed_<k> folders")
    parser.add_argument("--tta", action="store_true", help="score predictions_tta/ (test-time mirroring)")
    args = parser.parse_args()
    for folder in args.seed_folders:
        scores = score_seed(folder, args.tta)
        (folder / f"postprocessed{'_tta' if args.tta else ''}.json").write_text(json.dumps(scores, indent=1))
        print(f"{folder}{' (test-time mirroring)' if args.tta else ''}\n{format_rows(scores)}\n", flush=True)


if __name__ == "__main__":
    main()
