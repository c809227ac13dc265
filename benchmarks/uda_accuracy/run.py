"""UDA accuracy on nnuda-synth data: no adaptation, translation only, PAST and its options,
the semi-supervised trainers on translated data, and the oracle, for one or more seeds.

Each seed is a whole run of the ``nnuda-demo`` pipeline (real commands: nnuda-synth,
nnuda-convert, nnuda-translate, nnUNetv2_plan_and_preprocess / _train / _predict,
nnuda-evaluate) with the oracle, then more trainers on the same translated dataset, in
``<output>/seed_<k>``. A seed draws its own phantom folder *and its own style* (protocol
tables, spacing, slice thickness, field of view, tumour sizes; ``nnunet_uda.synth.style``)
as well as the translator's and nnU-Net's randomness, so two seeds are two differently
drawn data sets. ``results.md`` beside this script gets a table per seed, the mean and
spread over seeds, and the share of the no-adaptation -> oracle gap each arm closes.

Arms (all on the seed's translated dataset unless said otherwise):

- no adaptation: ``nnUNetTrainer_demo`` on ceT1;
- translation only: stage 0 (``checkpoint_stage0.pth``) of ``nnUNetTrainerPAST_demo``;
- PAST: ``nnUNetTrainerPAST_demo`` (K = 2, round learning rate 0.008, translated source keeps
  its true labels, target pseudo-labels with class thresholds per domain and anatomical
  cleaning, structure-level augmentation);
- PAST with the paper's X_c (translated source pseudo-labeled too), PAST without its
  pseudo-label cleaning (twice: the spread of the rounds alone), PAST's rounds run again,
  PAST with the cleaned blobs taught as background instead of ignored, PAST with the paper's X_c and class thresholds shared
  by both domains: from the same stage-0 checkpoint (``benchmarks/trainers/``);
- translation only and PAST without structure augmentation, and with the structure-intensity
  scaling instead of PAST's structure-level augmentation (VS and cochlea x U(0.5, 1.5) in half
  the samples; PAST's default before 2026-12-07), and PAST's default trained a second time
  (``repeat``: the spread between two runs of one seed): a PAST run each, scored after stage 0
  and at the end;
- mean teacher, MixMatch, DMNet (``_demo_structAug`` variants, ``benchmarks/trainers/``: the
  demo budget with the structure-intensity scaling above, with which they were first measured,
  and ``_demo_structLevel`` variants with PAST's structure-level augmentation): labeled
  translated + unlabeled hrT2;
- one translator per hrT2 site (``nnuda-translate --per-site``, PAST's nnUnetCon, §3 of the
  PAST paper: hrT2 comes in two protocols that look different): every ceT1 volume translated
  into each site's style, ``nnUNetTrainerPAST_demo`` on all of them, scored after stage 0
  (translation only) and at the end (PAST), and the paper's X_c rounds and the cleaning
  variants above from the same stage 0;
  the PAST variants with a stage 0 of their own (above) run on these translations too.
  Each site's translator gets the full
  ``--translation-iterations``, so this arm costs one more translator run per site;
- PAST ensemble: the single-translator and the per-site PAST models averaged (stock
  ``nnUNetv2_ensemble`` on their softmax; pooling translators, as MAI and smriti did in CrossMoDA);
- oracle: ``nnUNetTrainer_demo`` on labeled hrT2 (only phantom data has these labels).

CPU scale (the defaults; measured on 2 cores: 142 minutes for one seed with the three PAST
option arms that ``--skip`` can leave out skipped and before the per-site arms, which took
41-45 minutes more; see ``results.md``)::

    python benchmarks/uda_accuracy/run.py -o /tmp/uda_accuracy --seeds 0 1

A second call with the same ``-o`` resumes every finished step. Predictions use
``--disable_tta`` (the CPU budget); ``--tta`` predicts and scores every arm again with nnU-Net's
test-time mirroring (``predictions_tta/``; nothing is retrained), and ``rescore_tta.py`` does
that for chosen trained models of a seed folder. GPU scale: ``-c 3d_fullres``,
``--translation-iterations 50000`` and longer trainers (edit the ``_demo`` budgets).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from nnunet_uda.bench_report import write_report
from nnunet_uda.demo import BASELINE_ID, TRANSLATED_ID, DemoSettings, Pipeline, demo, epoch_times, format_table
from nnunet_uda.env import ext_trainer_path
from nnunet_uda.errors import InputError

HERE = Path(__file__).resolve().parent
ROUND_VARIANTS = {"PAST without cleaning": "nnUNetTrainerPAST_demo_noClean",
                  "PAST without cleaning, rounds repeated": "nnUNetTrainerPAST_demo_roundsRepeat",
                  "PAST + cleaning to background": "nnUNetTrainerPAST_demo_cleanBackground",
                  "PAST, rounds repeated": "nnUNetTrainerPAST_demo_cleanRepeat"}
# variants of PAST's rounds, from PAST's stage-0 checkpoint (also run on the per-site translations)
FROM_STAGE0 = {"PAST, paper's X_c (source pseudo-labeled)": "nnUNetTrainerPAST_demo_pseudoSource",
               **ROUND_VARIANTS,
               "PAST, thresholds shared by both domains": "nnUNetTrainerPAST_demo_sharedThresholds"}
# PAST variants with a stage 0 of their own: scored at the end of stage 0 and at the end
OWN_PAST = {"no structure-intensity aug": "nnUNetTrainerPAST_demo_noStructAug",
            "structure-intensity scaling": "nnUNetTrainerPAST_demo_scaleAug",
            "repeat": "nnUNetTrainerPAST_demo_repeat"}
OWN_RUN = {"mean teacher": "nnUNetTrainerMeanTeacher_demo_structAug",
           "MixMatch": "nnUNetTrainerMixMatch_demo_structAug",
           "DMNet": "nnUNetTrainerDMNet_demo_structAug",
           "mean teacher, structure-level aug": "nnUNetTrainerMeanTeacher_demo_structLevel",
           "MixMatch, structure-level aug": "nnUNetTrainerMixMatch_demo_structLevel",
           "DMNet, structure-level aug": "nnUNetTrainerDMNet_demo_structLevel"}
DEMO_ARMS = {"no adaptation": "no_adaptation", "translation only": "translation_only",
             "translation + PAST": "past", "oracle (hrT2 labels)": "oracle"}
NO_ADAPTATION, ORACLE = "no adaptation", "oracle (hrT2 labels)"
PER_SITE_ID, PER_SITE = 993, "per_site"  # dataset of the per-site translations; its --skip name
PER_SITE_OWN = "per_site_own"  # --skip name of the OWN_PAST arms on the per-site translations
PER_SITE_XC, PER_SITE_XC_TRAINER = "per_site_xc", FROM_STAGE0["PAST, paper's X_c (source pseudo-labeled)"]
ENSEMBLE = "ensemble"  # --skip name of the PAST single-translator + per-site softmax average


def run_seed(workdir: Path, settings: DemoSettings, skip: list[str]) -> tuple[dict[str, dict], str]:
    """Every arm of one seed: ``(summaries by arm, epoch-time table)``."""
    demo(workdir, settings)
    p = Pipeline(workdir, settings)
    preds = {name: p.predictions / folder for name, folder in DEMO_ARMS.items()}
    for name, trainer in {**FROM_STAGE0, **OWN_RUN}.items():
        if trainer in skip:
            continue
        print(f"uda_accuracy: {workdir.name}: {name} ({trainer})", flush=True)
        try:
            if name in FROM_STAGE0:
                p.start_from(TRANSLATED_ID, trainer, settings.past_trainer, "checkpoint_stage0.pth")
            p.train(TRANSLATED_ID, trainer)
            preds[name] = p.predict(TRANSLATED_ID, trainer, trainer)
        except InputError as e:
            print(f"uda_accuracy: {name} FAILED: {e}", flush=True)
    for name, trainer in OWN_PAST.items():
        if trainer in skip:
            continue
        print(f"uda_accuracy: {workdir.name}: {name} ({trainer})", flush=True)
        p.train(TRANSLATED_ID, trainer)
        preds[f"translation only, {name}"] = p.predict(TRANSLATED_ID, trainer, f"{trainer}_stage0",
                                                       "checkpoint_stage0.pth")
        preds[f"PAST, {name}"] = p.predict(TRANSLATED_ID, trainer, trainer)
    if PER_SITE not in skip:
        print(f"uda_accuracy: {workdir.name}: one translator per site", flush=True)
        p.prepare(PER_SITE_ID, p.translate_command(PER_SITE_ID, "translation_per_site", extra=("--per-site",)))
        p.train(PER_SITE_ID, settings.past_trainer)
        preds["translation only, per site"] = p.predict(PER_SITE_ID, settings.past_trainer, "per_site_translation_only",
                                                        "checkpoint_stage0.pth")
        preds["translation + PAST, per site"] = p.predict(PER_SITE_ID, settings.past_trainer, "per_site_past")
        if PER_SITE_OWN not in skip:
            for name, trainer in OWN_PAST.items():
                if trainer not in skip:
                    p.train(PER_SITE_ID, trainer)
                    preds[f"translation only, per site, {name}"] = p.predict(
                        PER_SITE_ID, trainer, f"per_site_{trainer}_stage0", "checkpoint_stage0.pth")
                    preds[f"PAST, per site, {name}"] = p.predict(PER_SITE_ID, trainer, f"per_site_{trainer}")
        for name, trainer in ROUND_VARIANTS.items():
            if trainer not in skip:
                p.start_from(PER_SITE_ID, trainer, settings.past_trainer, "checkpoint_stage0.pth")
                p.train(PER_SITE_ID, trainer)
                preds[f"{name}, per site"] = p.predict(PER_SITE_ID, trainer, f"per_site_{trainer}")
        if PER_SITE_XC not in skip:
            p.start_from(PER_SITE_ID, PER_SITE_XC_TRAINER, settings.past_trainer, "checkpoint_stage0.pth")
            p.train(PER_SITE_ID, PER_SITE_XC_TRAINER)
            preds["PAST X_c, per site"] = p.predict(PER_SITE_ID, PER_SITE_XC_TRAINER, f"per_site_{PER_SITE_XC_TRAINER}")
        if ENSEMBLE not in skip:
            preds["PAST ensemble, single + per site"] = p.ensemble("past_ensemble", [
                p.predict(TRANSLATED_ID, settings.past_trainer, "past_probabilities", probabilities=True),
                p.predict(PER_SITE_ID, settings.past_trainer, "per_site_past_probabilities", probabilities=True)])
    summaries = p.evaluate(preds)
    (workdir / f"summaries{p.scoring_suffix}.json").write_text(json.dumps(summaries, indent=1))
    times = epoch_times(p, {"no adaptation": (BASELINE_ID, settings.baseline_trainer),
                            "translation + PAST": (TRANSLATED_ID, settings.past_trainer),
                            **{n: (TRANSLATED_ID, t) for n, t in OWN_RUN.items() if t not in skip}})
    return summaries, times


def mean_dice(summary: dict) -> float:
    """Mean of the VS and cochlea Dice (each a mean over cases): the challenge's overall Dice."""
    st = summary["structures"]
    return (st["VS"]["dice"]["mean"] + st["cochlea"]["dice"]["mean"]) / 2


def gap_closed(summaries: dict[str, dict]) -> dict[str, float]:
    """Per arm, the share of the no-adaptation -> oracle gap in mean Dice it closes."""
    low, high = mean_dice(summaries[NO_ADAPTATION]), mean_dice(summaries[ORACLE])
    return {name: (mean_dice(s) - low) / (high - low) if high > low else float("nan") for name, s in summaries.items()}


def across_seeds(per_seed: dict[int, dict[str, dict]]) -> str:
    """Mean and spread (min..max) over seeds of VS, cochlea and mean Dice, and of the gap closed."""
    arms = [a for a in next(iter(per_seed.values())) if all(a in s for s in per_seed.values())]
    gaps = {seed: gap_closed(s) for seed, s in per_seed.items()}
    w = max([22, *map(len, arms)])
    rows = [f"{'method':<{w}} VS Dice              cochlea Dice         mean Dice            gap closed"]
    for arm in arms:
        cells = []
        for values in (
            [s[arm]["structures"]["VS"]["dice"]["mean"] for s in per_seed.values()],
            [s[arm]["structures"]["cochlea"]["dice"]["mean"] for s in per_seed.values()],
            [mean_dice(s[arm]) for s in per_seed.values()],
            [gaps[seed][arm] for seed in per_seed],
        ):
            cells.append(f"{statistics.mean(values):.3f} ({min(values):.2f}..{max(values):.2f})")
        rows.append(f"{arm:<{w}} " + "  ".join(f"{c:<19}" for c in cells))
    return "\n".join(rows)


def main() -> None:
    d = DemoSettings.benchmark_scale()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="work folder (resumes if it exists)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed (data, style, training)")
    parser.add_argument("--preset", default=d.preset)
    parser.add_argument("-c", "--configuration", default=d.configuration)
    parser.add_argument("--n-source", type=int, default=d.n_source)
    parser.add_argument("--n-target", type=int, default=d.n_target)
    parser.add_argument("--n-validation", type=int, default=d.n_validation)
    parser.add_argument("--translation-iterations", type=int, default=d.translation_iterations)
    parser.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"])
    parser.add_argument("--results", type=Path, default=HERE / "results.md")
    parser.add_argument("--tta", action="store_true",
                        help="predict with nnU-Net's test-time mirroring (nnUNetv2_predict's default; predictions_tta/): "
                        "trained arms are only predicted and scored again")
    parser.add_argument("--skip", nargs="*", default=[], choices=[*FROM_STAGE0.values(), *OWN_PAST.values(), *OWN_RUN.values(), PER_SITE, PER_SITE_OWN,
                                                          PER_SITE_XC, ENSEMBLE],
                        metavar="ARM", help="leave these arms out (trainer names as in FROM_STAGE0 / OWN_PAST / "
                        f"OWN_RUN, a ROUND_VARIANTS one on both translations; {PER_SITE} for the per-site translators, {PER_SITE_OWN} for the OWN_PAST arms on their "
                        f"translations, {PER_SITE_XC} for the X_c rounds on them, "
                        f"{ENSEMBLE} for the single + per-site PAST ensemble)")
    args = parser.parse_args()
    os.environ["nnUNet_extTrainer"] = ext_trainer_path([str(HERE.parent / "trainers")])
    per_seed, sections, settings = {}, [], None
    for seed in args.seeds:
        settings = DemoSettings.benchmark_scale(
            preset=args.preset, configuration=args.configuration, seed=seed, n_source=args.n_source,
            n_target=args.n_target, n_validation=args.n_validation,
            translation_iterations=args.translation_iterations, oracle=True, device=args.device,
            test_time_mirroring=args.tta,
        )
        per_seed[seed], times = run_seed(args.output / f"seed_{seed}", settings, args.skip)
        gaps = gap_closed(per_seed[seed])
        table = format_table(per_seed[seed]).splitlines()
        table = [table[0] + "  gap closed"] + [f"{row}  {gaps[arm]:10.2f}" for row, arm in zip(table[1:], per_seed[seed])]
        sections.append(f"seed {seed}\n" + "\n".join(table) + f"\n\n{times}")
    summary = across_seeds(per_seed) if len(per_seed) > 1 else ""
    text = write_report(
        args.results, "UDA accuracy on nnuda-synth data (hrT2 validation scans)",
        f"{settings} (seed per run: {args.seeds})",
        f"{args.n_validation} hrT2 validation scans per seed; each seed is its own phantom folder with its own "
        "style (protocol tables, grids, tumour sizes) and its own training randomness. Mean over cases; Dice "
        "(higher is better), ASSD in mm (lower is better; 350 mm for an empty prediction, as the challenge "
        "scores it). Gap closed: (mean Dice - no adaptation) / (oracle - no adaptation), mean Dice = (VS + "
        "cochlea) / 2. Epoch times are nnU-Net's own (median over the run) on the machine above."
        + (f"\n\nOver the seeds, mean (min..max):\n\n```\n{summary}\n```" if summary else ""),
        "\n\n".join(sections), "benchmarks/uda_accuracy/run.py")
    print(text)


if __name__ == "__main__":
    main()
