"""``nnuda-synth``: write a CrossMoDA-style phantom folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nnunet_uda.cli_utils import run_cli
from nnunet_uda.synth.presets import PRESETS, PREVIEW


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``prog: error: ...``), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="nnuda-synth",
        description="Generate CrossMoDA-like phantom data: labelled ceT1 (source), unlabelled hrT2 of two "
        "sites (target), target labels for evaluation, paired renders in the other modality, a preview PNG.",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="folder to create")
    p.add_argument("--preset", default="tiny", choices=list(PRESETS), help="tiny: tests; demo: nnuda-demo (about 1 mm, 15 min on a CPU); small: CPU benchmarks (0.7-0.8 mm); full: CrossMoDA-sized")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--n-source", type=int, help="number of labelled ceT1 cases (default: the preset's)")
    p.add_argument("--n-target", type=int, help="number of unlabelled hrT2 training cases")
    p.add_argument("--n-validation", type=int, help="number of hrT2 validation cases")
    p.add_argument("--n-absence", type=int, default=0,
                   help="number of extra hrT2 training cases without a schwannoma, in target_training_absence/ "
                        "(the absence domain of nnUNetTrainerPresenceAbsence; default 0)")
    p.add_argument("--fixed-style", action="store_true",
                   help="the reference protocols and grids instead of the ones the seed draws (tissue signals, "
                        "spacing, slice thickness, field of view, tumour sizes)")
    p.add_argument("--no-preview", action="store_true", help=f"do not write {PREVIEW}")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return p


def synth_entry(argv: list[str] | None = None) -> None:
    """Console entry point: parse arguments and call :func:`synthesize`."""
    args = build_parser().parse_args(argv)

    def main() -> None:
        from nnunet_uda.synth.generate import synthesize

        out = synthesize(
            args.output,
            preset=args.preset,
            seed=args.seed,
            overwrite=args.overwrite,
            n_source=args.n_source,
            n_target=args.n_target,
            n_validation=args.n_validation,
            preview=not args.no_preview,
            vary=not args.fixed_style,
            n_absence=args.n_absence,
        )
        print(f"wrote {out}" + ("" if args.no_preview else f"; preview: {out / PREVIEW}"))

    run_cli("nnuda-synth", main)
