"""``nnuda-evaluate``: score prediction folders against CrossMoDA ground truth.

Per case and structure: Dice, ASSD and HD95 (:mod:`nnunet_uda.metrics`); summary as on
the CrossMoDA leaderboard (mean and standard deviation over cases per structure, and
overall: the per-case mean over structures); the challenge's ranking of several
prediction folders (rank per patient x structure x metric, then average the ranks).

A prediction ``<case>_Label.nii.gz`` (CrossMoDA submission) or ``<case>.nii.gz``
(``nnUNetv2_predict`` output) is paired with ``<case>_Label.nii.gz`` in the ground-truth
folder; the two must have the same shape and geometry. Spacing comes from the ground
truth. ``--largest-vs`` / ``--cochlea-per-side`` score the predictions after
``nnuda-submit``'s anatomical post-processing (:mod:`nnunet_uda.postprocess`; the files are
not changed, overlays draw them as they are), so its effect can be measured on labeled scans.

Outputs (a new folder, written atomically, never inside an input folder)::

    per_case.csv    case, structure, dice, assd, hd95
    summary.json    mean/std per structure and overall, inputs, missing predictions
    overlays/       PNGs of the worst cases by mean Dice (``--overlays N``)
    ranking.csv     with several folders and ``--rank``; then one sub-folder per
                    prediction folder holds the files above
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.stats import rankdata

from nnunet_uda.cli_utils import atomic_output_dir, check_not_inside, require_dir, run_cli
from nnunet_uda.crossmoda import LABEL_SUFFIX, LABELS, list_folder
from nnunet_uda.errors import InputError
from nnunet_uda.image_io import check_same_geometry, is_nifti, read_array, strip_nifti_suffix
from nnunet_uda.metrics import MAX_SURFACE_DISTANCE_MM, dice, surface_metrics
from nnunet_uda.postprocess import PostProcessing

PROG = "nnuda-evaluate"
STRUCTURES = {name: value for name, value in LABELS.items() if value != 0}
METRICS = ("dice", "assd", "hd95")
RANK_METRICS = {"dice": True, "assd": False}
"""Metrics the challenge ranks on, and whether higher is better."""
TIE_METHODS = ("min", "average")
CSV_FIELDS = ("case", "structure", "dice", "assd", "hd95")
PREDICTION_RECORD = "nnuda_model.json"
"""Written by ``nnuda-demo`` and the benchmarks into each prediction folder: the model that made it."""
NNUNET_PREDICTION_SIDECARS = frozenset({"dataset.json", "plans.json", "predict_from_raw_data_args.json",
                                        PREDICTION_RECORD})
"""Files ``nnUNetv2_predict`` (and ``nnuda-demo``'s record) write beside the predictions; skipped, not errors."""
NNUNET_PROBABILITY_SUFFIXES = (".npz", ".pkl")
"""``nnUNetv2_predict --save_probabilities`` files, skipped when ``<case>.nii.gz`` is there."""
IMAGE_SUFFIXES = ("_hrT2", "_0000", "_ceT1")
"""Image names looked up for overlays: CrossMoDA (``<case>_hrT2``) or nnU-Net (``<case>_0000``)."""


def find_predictions(pred_dir: Path) -> dict[str, Path]:
    """Map ``case -> prediction file`` for ``<case>_Label.nii.gz`` or ``<case>.nii.gz`` files.

    Args:
        pred_dir: folder of predicted label maps.

    Returns:
        Case id to path, sorted by case id.

    Raises:
        InputError: missing folder, a non-NIfTI file (other than ``nnUNetv2_predict``'s
            JSON and probability files and :data:`PREDICTION_RECORD`), two files for one case,
            or no prediction at all.
    """
    pred_dir = require_dir(pred_dir, "prediction folder")
    files = [p for p in sorted(pred_dir.iterdir()) if not p.name.startswith(".") and not p.is_dir()]
    nifti_stems = {strip_nifti_suffix(p.name) for p in files if is_nifti(p)}
    found: dict[str, Path] = {}
    for p in files:
        if p.name in NNUNET_PREDICTION_SIDECARS:
            continue
        if p.suffix in NNUNET_PROBABILITY_SUFFIXES and p.stem in nifti_stems:
            continue
        if not is_nifti(p):
            raise InputError(f"not a NIfTI file (.nii.gz expected) in the prediction folder: {p}")
        stem = strip_nifti_suffix(p.name)
        case = stem[: -len(LABEL_SUFFIX) - 1] if stem.endswith("_" + LABEL_SUFFIX) else stem
        if case in found:
            raise InputError(f"two predictions for case {case}: {found[case]} and {p}")
        found[case] = p
    if not found:
        raise InputError(f"no predictions (<case>_Label.nii.gz or <case>.nii.gz) in {pred_dir}")
    return dict(sorted(found.items()))


def find_ground_truth(gt_dir: Path) -> dict[str, Path]:
    """Map ``case -> <case>_Label.nii.gz`` in a ground-truth folder (images beside them are ignored)."""
    gt_dir = require_dir(gt_dir, "ground-truth folder")
    return {case: files[LABEL_SUFFIX] for case, files in list_folder(gt_dir, (LABEL_SUFFIX,)).items()}


def pair_cases(pred_dir: Path, gt_dir: Path, allow_missing: bool = False) -> list[tuple[str, Path | None, Path]]:
    """Pair every ground-truth case with its prediction.

    Args:
        pred_dir: prediction folder.
        gt_dir: ground-truth folder with ``<case>_Label.nii.gz``.
        allow_missing: score a ground-truth case without prediction as an empty
            prediction (its path is then None) instead of failing.

    Returns:
        ``(case, prediction path or None, ground-truth path)`` sorted by case.

    Raises:
        InputError: a prediction without ground truth, or (unless ``allow_missing``)
            a ground-truth case without prediction.
    """
    preds = find_predictions(pred_dir)
    gts = find_ground_truth(gt_dir)
    orphans = [preds[c] for c in preds if c not in gts]
    if orphans:
        more = f" and {len(orphans) - 1} more" if len(orphans) > 1 else ""
        raise InputError(f"prediction without ground truth: {orphans[0]}{more} (no <case>_Label.nii.gz in {gt_dir})")
    missing = [c for c in gts if c not in preds]
    if missing and not allow_missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise InputError(
            f"no prediction in {pred_dir} for {len(missing)} ground-truth case(s): {shown} "
            f"(pass --allow-missing to score them as empty predictions)"
        )
    return [(case, preds.get(case), gts[case]) for case in gts]


def _label_values(arr: np.ndarray, path: Path) -> set[int]:
    if np.issubdtype(arr.dtype, np.integer) and arr.size and arr.min() >= 0 and arr.max() < 65536:
        return {int(v) for v in np.flatnonzero(np.bincount(arr.ravel()))}
    values = np.unique(arr)
    if not np.all(np.equal(np.mod(values, 1), 0)):
        raise InputError(f"label map with non-integer values {values[np.mod(values, 1) != 0][:3].tolist()}: {path}")
    return {int(v) for v in values}


def _check_labels(arr: np.ndarray, path: Path, known: set[int]) -> None:
    unknown = sorted(_label_values(arr, path) - known)
    if unknown:
        raise InputError(f"label values {unknown} not among the known labels {sorted(known)}: {path}")


def evaluate_case(
    pred_path: Path | None, gt_path: Path, labels: dict[str, int] = STRUCTURES, case: str | None = None,
    postprocessing: PostProcessing | None = None,
) -> list[dict]:
    """Score one case: one row per structure with ``case, structure, dice, assd, hd95``.

    Args:
        pred_path: predicted label map, or None for a missing (empty) prediction.
        gt_path: ground-truth label map; its spacing is used.
        labels: structure name -> label value.
        case: case id for the rows (default: from the ground-truth file name).
        postprocessing: applied to the prediction before scoring (not to the file).

    Raises:
        InputError: unreadable file, shape or geometry mismatch, unknown label values.
    """
    gt_path = Path(gt_path)
    if case is None:
        case = strip_nifti_suffix(gt_path.name).removesuffix("_" + LABEL_SUFFIX)
    known = {0, *LABELS.values(), *labels.values()}
    gt, gt_img = read_array(gt_path)
    _check_labels(gt, gt_path, known)
    if pred_path is None:
        pred = np.zeros_like(gt)
    else:
        pred, pred_img = read_array(Path(pred_path))
        check_same_geometry(pred_img, gt_img, Path(pred_path), gt_path)
        _check_labels(pred, Path(pred_path), known)
        if postprocessing is not None:
            pred = postprocessing(pred, labels.get("VS", LABELS["VS"]), labels.get("cochlea", LABELS["cochlea"]))
    spacing = gt_img.GetSpacing()[::-1]
    rows = []
    for name, value in labels.items():
        p, g = pred == value, gt == value
        assd_mm, hd95_mm = surface_metrics(p, g, spacing)
        rows.append({"case": case, "structure": name, "dice": dice(p, g), "assd": assd_mm, "hd95": hd95_mm})
    return rows


def evaluate_folder(
    pred_dir: Path, gt_dir: Path, labels: dict[str, int] = STRUCTURES, allow_missing: bool = False,
    postprocessing: PostProcessing | None = None,
) -> list[dict]:
    """Score every ground-truth case of ``gt_dir`` against its prediction in ``pred_dir``.

    Args:
        pred_dir: predictions, ``<case>_Label.nii.gz`` or ``<case>.nii.gz``.
        gt_dir: ground truth, ``<case>_Label.nii.gz``.
        labels: structure name -> label value (default VS = 1, cochlea = 2).
        allow_missing: score a missing prediction as empty instead of failing.
        postprocessing: applied to each prediction before scoring.

    Returns:
        Rows ``{case, structure, dice, assd, hd95}``, case-major, structures in ``labels`` order.

    Raises:
        InputError: see :func:`pair_cases` and :func:`evaluate_case`.
    """
    rows: list[dict] = []
    for case, pred_path, gt_path in pair_cases(pred_dir, gt_dir, allow_missing):
        rows.extend(evaluate_case(pred_path, gt_path, labels, case, postprocessing))
    return rows


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std())}


def case_means(rows: list[dict], metric: str = "dice") -> dict[str, float]:
    """Per case, the mean of ``metric`` over its structures."""
    by_case: dict[str, list[float]] = {}
    for r in rows:
        by_case.setdefault(r["case"], []).append(r[metric])
    return {case: float(np.mean(v)) for case, v in by_case.items()}


def summarize(rows: list[dict]) -> dict:
    """Leaderboard summary: mean and std over cases per structure, and overall.

    "Overall" is, per case, the mean over structures, then mean and std over cases (its
    mean equals the mean of the per-structure means). Standard deviations are population
    (``ddof=0``).

    Returns:
        ``{"n_cases", "structures": {name: {metric: {mean, std}}}, "overall": {metric: {mean, std}}}``.
    """
    if not rows:
        raise InputError("nothing to summarise: no cases were evaluated")
    structures = list(dict.fromkeys(r["structure"] for r in rows))
    return {
        "n_cases": len({r["case"] for r in rows}),
        "structures": {
            s: {m: _mean_std([r[m] for r in rows if r["structure"] == s]) for m in METRICS} for s in structures
        },
        "overall": {m: _mean_std(list(case_means(rows, m).values())) for m in METRICS},
    }


def rank_folders(results: dict[str, list[dict]], ties: str = "min") -> list[dict]:
    """The CrossMoDA ranking: rank per patient x structure x metric, then average the ranks.

    For every (case, structure) and each metric in :data:`RANK_METRICS` (Dice, higher is
    better; ASSD, lower is better) the folders are ranked 1..n. The challenge's
    ``ranking.py`` gives tied folders the best rank of the tie (``ties="min"``: one plus
    the number of strictly better folders); ``ties="average"`` gives them the mean of
    the ranks they span. Each folder's score is the mean of all its ranks (equal to the
    challenge's mean over cases of the per-case mean rank, since every case has the
    same number of ranks).

    Args:
        results: folder name -> rows of :func:`evaluate_folder`; all folders must
            cover the same cases and structures.
        ties: ``"min"`` (the challenge's) or ``"average"``.

    Returns:
        Rows ``{position, folder, mean_rank, mean_rank_dice, mean_rank_assd, n_ranks}``
        sorted best first; ``position`` is 1 + the number of folders with a strictly
        lower ``mean_rank``.

    Raises:
        InputError: fewer than two folders, or folders that cover different cases.
        ValueError: an unknown ``ties`` method.
    """
    if ties not in TIE_METHODS:
        raise ValueError(f"ties must be one of {TIE_METHODS}, got {ties!r}")
    names = list(results)
    if len(names) < 2:
        raise InputError(f"ranking needs at least two prediction folders, got {len(names)}")
    tables = {n: {(r["case"], r["structure"]): r for r in rows} for n, rows in results.items()}
    keys = sorted(tables[names[0]])
    for n in names[1:]:
        if set(tables[n]) != set(keys):
            diff = sorted(set(tables[n]) ^ set(keys))[0]
            raise InputError(
                f"cannot rank: folders {names[0]} and {n} do not cover the same cases "
                f"(case {diff[0]}, {diff[1]} is in one only)"
            )
    ranks: dict[str, dict[str, list[float]]] = {n: {m: [] for m in RANK_METRICS} for n in names}
    for key in keys:
        for metric, higher_is_better in RANK_METRICS.items():
            values = np.array([tables[n][key][metric] for n in names], dtype=np.float64)
            for n, r in zip(names, rankdata(-values if higher_is_better else values, method=ties)):
                ranks[n][metric].append(float(r))
    out = []
    for n in names:
        every = [r for m in RANK_METRICS for r in ranks[n][m]]
        out.append(
            {
                "folder": n,
                "mean_rank": float(np.mean(every)),
                "mean_rank_dice": float(np.mean(ranks[n]["dice"])),
                "mean_rank_assd": float(np.mean(ranks[n]["assd"])),
                "n_ranks": len(every),
            }
        )
    out.sort(key=lambda r: (r["mean_rank"], r["folder"]))
    for r in out:
        r["position"] = 1 + sum(o["mean_rank"] < r["mean_rank"] for o in out)
    return [{"position": r.pop("position"), **r} for r in out]


def write_rows_csv(rows: list[dict], path: Path, fields: Sequence[str]) -> None:
    """Write ``rows`` as CSV with the columns ``fields`` (floats at full precision)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fields))
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r[k] for k in fields})


def format_summary_table(summary: dict) -> str:
    """A short text table: one line per structure and overall, mean +- std per metric."""
    lines = [f"{'structure':<10} {'Dice':>15} {'ASSD (mm)':>17} {'HD95 (mm)':>17}"]
    entries = [*summary["structures"].items(), ("overall", summary["overall"])]
    for name, m in entries:
        lines.append(
            f"{name:<10} {m['dice']['mean']:>7.3f} ± {m['dice']['std']:<5.3f}"
            f" {m['assd']['mean']:>8.2f} ± {m['assd']['std']:<6.2f}"
            f" {m['hd95']['mean']:>8.2f} ± {m['hd95']['std']:<6.2f}"
        )
    return "\n".join(lines)


def format_ranking_table(ranking: list[dict]) -> str:
    """A short text table of :func:`rank_folders` rows."""
    width = max(6, *(len(r["folder"]) for r in ranking))
    lines = [f"{'#':>2}  {'folder':<{width}}  {'mean rank':>9}  {'Dice':>6}  {'ASSD':>6}"]
    for r in ranking:
        lines.append(
            f"{r['position']:>2}  {r['folder']:<{width}}  {r['mean_rank']:>9.3f}"
            f"  {r['mean_rank_dice']:>6.3f}  {r['mean_rank_assd']:>6.3f}"
        )
    return "\n".join(lines)


def find_image(images_dir: Path, case: str) -> Path:
    """The image of ``case`` for an overlay: ``<case>_hrT2``, ``<case>_0000`` or ``<case>_ceT1`` (.nii.gz/.nii)."""
    for suffix in IMAGE_SUFFIXES:
        for ext in (".nii.gz", ".nii"):
            p = Path(images_dir) / f"{case}{suffix}{ext}"
            if p.is_file():
                return p
    raise InputError(f"no image for case {case} in {images_dir} (expected {case}_hrT2.nii.gz or {case}_0000.nii.gz)")


def default_output(pred_dirs: Sequence[Path]) -> Path:
    """``<pred>_evaluation`` beside a single prediction folder; ``ranking_evaluation`` beside the first of several."""
    first = Path(pred_dirs[0]).resolve()
    if len(pred_dirs) == 1:
        return first.parent / f"{first.name}_evaluation"
    return first.parent / "ranking_evaluation"


def _write_folder_outputs(
    out: Path,
    name: str,
    pred_dir: Path,
    gt_dir: Path,
    pairs: list[tuple[str, Path | None, Path]],
    rows: list[dict],
    overlays: int,
    images: Path | None,
    postprocessing: PostProcessing | None = None,
) -> dict:
    summary = {
        "prediction_folder": str(Path(pred_dir).resolve()),
        "postprocessing": asdict(postprocessing) if postprocessing is not None else None,
        "ground_truth_folder": str(Path(gt_dir).resolve()),
        "labels": STRUCTURES,
        "missing_predictions": [case for case, pred, _ in pairs if pred is None],
        "empty_prediction_distance_mm": MAX_SURFACE_DISTANCE_MM,
        **summarize(rows),
    }
    write_rows_csv(rows, out / "per_case.csv", CSV_FIELDS)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if overlays > 0:
        from nnunet_uda.overlay import write_overlay

        by_case = {case: (pred, gt) for case, pred, gt in pairs}
        means = case_means(rows, "dice")
        worst = sorted(means, key=lambda c: (means[c], c))[:overlays]
        (out / "overlays").mkdir()
        for i, case in enumerate(worst, 1):
            pred, gt = by_case[case]
            image = find_image(images, case) if images is not None else None
            scores = {r["structure"]: r["dice"] for r in rows if r["case"] == case}
            title = f"{name}: {case}  Dice " + ", ".join(f"{s} {d:.3f}" for s, d in scores.items())
            write_overlay(gt, pred, out / "overlays" / f"{i:02d}_{case}.png", STRUCTURES, image, title)
    return summary


def run_evaluation(
    pred_dirs: Sequence[Path],
    gt_dir: Path,
    output: Path | None = None,
    rank: bool = False,
    overlays: int = 0,
    images: Path | None = None,
    allow_missing: bool = False,
    overwrite: bool = False,
    ties: str = "min",
    postprocessing: PostProcessing | None = None,
) -> Path:
    """Evaluate one or more prediction folders, write the outputs and print short tables.

    Args:
        pred_dirs: prediction folders; with several, their folder names must differ and
            each gets a sub-folder of ``output``.
        gt_dir: ground-truth folder (``<case>_Label.nii.gz``).
        output: output folder (default :func:`default_output`); refused if it exists
            and is not empty unless ``overwrite``, or if it lies inside an input folder.
        rank: rank the folders as the challenge does (needs at least two) and write
            ``ranking.csv``.
        overlays: number of worst cases (by mean Dice) to draw per folder.
        images: folder with ``<case>_hrT2.nii.gz`` or ``<case>_0000.nii.gz`` drawn under the contours.
        allow_missing: score missing predictions as empty instead of failing.
        overwrite: replace an existing output folder.
        ties: tie handling of the ranking, see :func:`rank_folders`.
        postprocessing: applied to each prediction before scoring (recorded in ``summary.json``).

    Returns:
        The output folder.

    Raises:
        InputError: any bad input; nothing is written then.
    """
    pred_dirs = [require_dir(p, "prediction folder") for p in pred_dirs]
    gt_dir = require_dir(gt_dir, "ground-truth folder")
    if images is not None:
        images = require_dir(images, "image folder")
    if overlays < 0:
        raise InputError(f"--overlays must be 0 or more, got {overlays}")
    names = [p.resolve().name for p in pred_dirs]
    if len(set(names)) != len(names):
        raise InputError(f"prediction folders must have different names to be told apart: {', '.join(map(str, pred_dirs))}")
    if rank and len(pred_dirs) < 2:
        raise InputError("--rank needs at least two prediction folders (-p A B ...)")
    output = Path(output) if output is not None else default_output(pred_dirs)
    check_not_inside(output, [*pred_dirs, gt_dir, *([images] if images is not None else [])])
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise InputError(f"output exists: {output} (pass --overwrite to replace it)")

    pairs = {n: pair_cases(p, gt_dir, allow_missing) for n, p in zip(names, pred_dirs)}
    results = {n: [row for case, pred, gt in pairs[n] for row in evaluate_case(pred, gt, STRUCTURES, case, postprocessing)]
               for n in names}
    ranking = rank_folders(results, ties) if rank else None

    with atomic_output_dir(output, overwrite) as tmp:
        for n, pred_dir in zip(names, pred_dirs):
            folder_out = tmp if len(names) == 1 else tmp / n
            folder_out.mkdir(exist_ok=True)
            summary = _write_folder_outputs(folder_out, n, pred_dir, gt_dir, pairs[n], results[n], overlays, images,
                                            postprocessing)
            print(f"{n}: {summary['n_cases']} cases" + (
                f", {len(summary['missing_predictions'])} missing (scored as empty)" if summary["missing_predictions"] else ""
            ))
            print(format_summary_table(summary))
            print()
        if ranking is not None:
            write_rows_csv(ranking, tmp / "ranking.csv", list(ranking[0]))
            print(f"ranking (mean rank over case x structure x {{Dice, ASSD}}, ties: {ties})")
            print(format_ranking_table(ranking))
            print()
    print(f"written to {output}")
    return output


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Score predictions against CrossMoDA ground truth (Dice, ASSD, HD95) "
        "and optionally rank several prediction folders as the challenge does.",
    )
    parser.add_argument("-p", "--pred", nargs="+", required=True, type=Path, metavar="PRED",
                        help="prediction folder(s): <case>_Label.nii.gz or <case>.nii.gz (nnUNetv2_predict output)")
    parser.add_argument("-g", "--gt", required=True, type=Path, metavar="GT",
                        help="ground-truth folder with <case>_Label.nii.gz")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT",
                        help="output folder (default: <PRED>_evaluation beside the prediction folder)")
    parser.add_argument("--rank", action="store_true",
                        help="rank several prediction folders per case x structure x metric, then average")
    parser.add_argument("--ties", choices=TIE_METHODS, default="min",
                        help="rank of tied folders: min (the challenge's ranking.py) or average (default: min)")
    parser.add_argument("--overlays", type=int, default=0, metavar="N",
                        help="write overlay PNGs of the N worst cases by mean Dice")
    parser.add_argument("--images", type=Path, metavar="DIR",
                        help="images to draw under the overlays: <case>_hrT2.nii.gz or <case>_0000.nii.gz")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score a ground-truth case without prediction as an empty prediction")
    parser.add_argument("--largest-vs", action="store_true",
                        help="score after keeping only the largest VS component (nnuda-submit's post-processing)")
    parser.add_argument("--cochlea-per-side", action="store_true",
                        help="score after keeping the largest cochlea component per side (nnuda-submit's post-processing)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return parser


def evaluate_entry(argv: Sequence[str] | None = None) -> None:
    """Console entry point of ``nnuda-evaluate``: parse, then call :func:`run_evaluation`."""
    args = build_parser().parse_args(argv)
    post = PostProcessing(args.largest_vs, args.cochlea_per_side) if args.largest_vs or args.cochlea_per_side else None
    run_cli(
        PROG,
        lambda: run_evaluation(
            args.pred, args.gt, args.output, rank=args.rank, overlays=args.overlays, images=args.images,
            allow_missing=args.allow_missing, overwrite=args.overwrite, ties=args.ties, postprocessing=post,
        ),
    )
