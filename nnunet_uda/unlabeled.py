"""The unlabeled pool (``imagesTrUnlabeled/``) preprocessed by nnU-Net's own preprocessor.

Each case goes through the preprocessor class named by the configuration in the plans
(``configuration_manager.preprocessor_class``, normally ``DefaultPreprocessor``) and its
``run_case_save``, with the same plans, configuration and dataset.json as the labeled
data, so the cases are bit-identical to what nnU-Net writes for a training image. They
are cached beside nnU-Net's own folder, in its on-disk format::

    nnUNet_preprocessed/DatasetXXX_Name/
        nnUNetPlans_3d_fullres/              nnU-Net's labeled cases
        nnUNetPlans_3d_fullres_unlabeled/    <case>.b2nd, <case>_seg.b2nd, <case>.pkl
        nnUNetPlans_3d_fullres_unlabeled.json   what the cache was made from

so ``nnUNetDatasetBlosc2`` (and ``infer_dataset_class``) read it. The twin pairs of
``imagesTrPairs`` (``nnuda-translate --twins``) are a pool of the same kind, cached in
``nnUNetPlans_<configuration>_pairs/`` with two channels: the plans' normalization of the
single channel applies to each view (:func:`pair_plans`). The absence scans of
``imagesTrAbsence`` (no target structure anywhere) are a pool of the same kind too, cached
in ``nnUNetPlans_<configuration>_absence/``. The ``_seg`` array of an
unlabeled case is the preprocessor's nonzero mask (0 inside, -1 outside), as for a test
image. A case is written atomically (temporary folder, then rename; ``.pkl`` last, so a
case without ``.pkl`` is unfinished and redone); the cache is reused while the plans
and the raw files are unchanged, and rebuilt otherwise.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from nnunet_uda.cli_utils import run_cli
from nnunet_uda.errors import InputError
from nnunet_uda.raw_dataset import IMAGES_ABSENCE, IMAGES_PAIRS, IMAGES_UNLABELED, PAIR_VIEWS

UNLABELED_SUFFIX = "_unlabeled"
PAIRS_SUFFIX = "_pairs"
ABSENCE_SUFFIX = "_absence"


def _env_folder(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        raise InputError(f"{name} is not set: export {name}=/path/to/{name} (see the README)")
    return Path(value)


def dataset_name(dataset: int | str) -> str:
    """``501`` or ``'Dataset501_X'`` -> ``'Dataset501_X'`` (nnU-Net's lookup, with a clear error)."""
    from nnunetv2.utilities.dataset_name_id_conversion import maybe_convert_to_dataset_name

    try:
        return maybe_convert_to_dataset_name(dataset)
    except (RuntimeError, ValueError):
        raise InputError(f"dataset {dataset} not found in nnUNet_raw, nnUNet_preprocessed or nnUNet_results") from None


def unlabeled_images(folder: Path, file_ending: str, num_channels: int) -> dict[str, list[str]]:
    """``case -> [<case>_0000<ending>, ...]`` for an ``imagesTrUnlabeled`` folder."""
    if folder.name == IMAGES_ABSENCE and not folder.is_dir():
        raise InputError(f"no absence pool: {folder} not found (put scans without the target structure there as "
                         f"<case>_0000{file_ending}; see the README, 'dataset.json additions')")
    if not folder.is_dir():
        writer = "nnuda-translate --twins" if folder.name == IMAGES_PAIRS else "nnuda-convert --unlabeled or nnuda-translate"
        raise InputError(f"no unlabeled pool: {folder} not found ({writer} writes it)")
    pattern = re.compile(rf"^(?P<case>.+)_(?P<channel>\d{{4}}){re.escape(file_ending)}$")
    cases: dict[str, dict[int, str]] = {}
    for p in sorted(folder.iterdir()):
        m = pattern.match(p.name)
        if m:
            cases.setdefault(m.group("case"), {})[int(m.group("channel"))] = str(p)
    if not cases:
        what = "absence" if folder.name == IMAGES_ABSENCE else "unlabeled"
        raise InputError(f"no {what} pool: {folder} has no <case>_0000{file_ending} files")
    out = {}
    for case, channels in cases.items():
        if sorted(channels) != list(range(num_channels)):
            raise InputError(f"unlabeled case {case} in {folder} has channels {sorted(channels)}, expected 0..{num_channels - 1}")
        out[case] = [channels[c] for c in range(num_channels)]
    return out


def pair_plans(plans: dict, configuration: str, dataset_json: dict) -> tuple[dict, dict]:
    """Plans and dataset.json of a single-channel dataset widened to its twin pairs' two channels.

    The configuration (inheritance resolved) normalizes channel 1 as channel 0, with the same
    intensity properties, so each view is preprocessed exactly as a training image would be.

    Raises:
        InputError: the dataset has more than one channel.
    """
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    channels = dataset_json["channel_names"]
    if len(channels) != 1:
        raise InputError(f"twin pairs need a single-channel dataset; this one has channels {channels}")
    name = channels.get("0", next(iter(channels.values())))
    resolved = copy.deepcopy(PlansManager(plans).get_configuration(configuration).configuration)
    resolved.pop("inherits_from", None)
    for key in ("normalization_schemes", "use_mask_for_norm"):
        resolved[key] = list(resolved[key]) * 2
    plans = copy.deepcopy(plans)
    plans["configurations"][configuration] = resolved
    properties = plans.get("foreground_intensity_properties_per_channel", {})
    if "0" in properties:
        properties["1"] = properties["0"]
    dataset_json = {**copy.deepcopy(dataset_json), "channel_names": {str(c): f"{name} ({view})"
                                                                      for c, view in enumerate(PAIR_VIEWS)}}
    return plans, dataset_json


def _fingerprint(plans: dict, configuration: str, images: dict[str, list[str]]) -> str:
    h = hashlib.sha256(json.dumps([plans, configuration], sort_keys=True).encode())
    for case in sorted(images):
        for f in images[case]:
            st = os.stat(f)
            h.update(f"{case}:{os.path.basename(f)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


@dataclass
class UnlabeledPool:
    """The unlabeled pool of one dataset, plans and configuration, and where its cache lives.

    Build it with :func:`open_unlabeled_pool`; nothing is written until :meth:`ensure`.
    """

    dataset_name: str
    configuration: str
    plans: dict
    dataset_json: dict
    images: dict[str, list[str]]
    folder: Path
    fingerprint: str = field(default="")

    @property
    def info_file(self) -> Path:
        return self.folder.with_name(self.folder.name + ".json")

    def is_complete(self, case: str) -> bool:
        return (self.folder / f"{case}.pkl").is_file()

    def identifiers(self) -> list[str]:
        """The finished cases, sorted."""
        return sorted(c for c in self.images if self.is_complete(c))

    def reset_if_stale(self) -> None:
        """Empty the cache if it was made from other plans or other raw files; drop leftovers."""
        try:
            stale = json.loads(self.info_file.read_text())["fingerprint"] != self.fingerprint
        except (OSError, ValueError, KeyError):
            stale = True
        if stale and self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for p in self.folder.iterdir():
            if p.name.startswith(".tmp-"):
                shutil.rmtree(p, ignore_errors=True)
        if stale:
            tmp = self.info_file.with_name(f".{uuid.uuid4().hex[:8]}.json")
            tmp.write_text(json.dumps({"fingerprint": self.fingerprint, "dataset": self.dataset_name,
                                       "configuration": self.configuration, "num_cases": len(self.images)}, indent=2))
            os.replace(tmp, self.info_file)

    def preprocess_case(self, case: str) -> None:
        """Run nnU-Net's preprocessor on one case and move its files into the cache atomically."""
        from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

        plans_manager = PlansManager(self.plans)
        configuration_manager = plans_manager.get_configuration(self.configuration)
        preprocessor = configuration_manager.preprocessor_class(verbose=False)
        tmp = self.folder / f".tmp-{case}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            preprocessor.run_case_save(str(tmp / case), self.images[case], None, plans_manager,
                                       configuration_manager, self.dataset_json)
            for suffix in ("_seg.b2nd", ".b2nd", ".pkl"):
                os.replace(tmp / f"{case}{suffix}", self.folder / f"{case}{suffix}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def ensure(
        self,
        rank: int = 0,
        world_size: int = 1,
        barrier: Callable[[], None] = lambda: None,
        num_processes: int = 1,
        progress: bool = True,
    ) -> list[str]:
        """Preprocess the cases not yet cached, this rank's share of them; return all identifiers.

        Every rank calls this; rank 0 checks the cache, then each rank preprocesses
        ``sorted(cases)[rank::world_size]`` (those not cached yet), and ``barrier`` (e.g. ``torch.distributed.barrier``)
        separates the steps.
        """
        if rank == 0:
            self.reset_if_stale()
        barrier()
        # split before filtering: every rank must agree on the shares while others are writing
        todo = [c for c in sorted(self.images)[rank::world_size] if not self.is_complete(c)]
        bar = tqdm(total=len(todo), desc=f"preprocessing unlabeled pool ({self.folder.name})", unit="case",
                   disable=not progress or not todo)
        if num_processes > 1 and len(todo) > 1:
            with multiprocessing.get_context("spawn").Pool(num_processes) as p:
                for _ in p.imap_unordered(self.preprocess_case, todo):
                    bar.update()
        else:
            for case in todo:
                self.preprocess_case(case)
                bar.update()
        bar.close()
        barrier()
        missing = [c for c in self.images if not self.is_complete(c)]
        if missing:
            raise RuntimeError(f"unlabeled cases not preprocessed: {missing[:3]} in {self.folder}")
        return self.identifiers()


def open_unlabeled_pool(dataset: int | str, configuration: str, plans_identifier: str = "nnUNetPlans",
                        pairs: bool = False, absence: bool = False) -> UnlabeledPool:
    """Find the plans, dataset.json and ``imagesTrUnlabeled`` (``imagesTrPairs`` with ``pairs``,
    ``imagesTrAbsence`` with ``absence``) of a planned dataset.

    Raises:
        InputError: nnU-Net paths not set, unknown dataset, dataset not planned (no plans
            file or no such configuration), no image folder or an empty one.
        ValueError: both ``pairs`` and ``absence``.
    """
    if pairs and absence:
        raise ValueError("a pool is either the twin pairs or the absence scans, not both")
    _env_folder("nnUNet_raw")
    preprocessed = _env_folder("nnUNet_preprocessed")
    name = dataset_name(dataset)
    base = preprocessed / name
    plans_file = base / f"{plans_identifier}.json"
    if not plans_file.is_file():
        raise InputError(
            f"dataset {name} is not planned yet: {plans_file} not found "
            f"(run nnUNetv2_plan_and_preprocess -d {name} -c {configuration} first)"
        )
    plans = json.loads(plans_file.read_text())
    if configuration not in plans.get("configurations", {}):
        raise InputError(f"configuration {configuration} not in {plans_file}: available {sorted(plans['configurations'])}")
    dataset_json = json.loads((base / "dataset.json").read_text())
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    data_identifier = PlansManager(plans).get_configuration(configuration).data_identifier
    if pairs:
        plans, dataset_json = pair_plans(plans, configuration, dataset_json)
    images_folder, suffix = ((IMAGES_PAIRS, PAIRS_SUFFIX) if pairs else (IMAGES_ABSENCE, ABSENCE_SUFFIX) if absence
                             else (IMAGES_UNLABELED, UNLABELED_SUFFIX))
    images = unlabeled_images(_env_folder("nnUNet_raw") / name / images_folder, dataset_json["file_ending"],
                              len(dataset_json["channel_names"]))
    pool = UnlabeledPool(name, configuration, plans, dataset_json, images, base / f"{data_identifier}{suffix}")
    pool.fingerprint = _fingerprint(plans, configuration, images)
    return pool


def preprocess_unlabeled(
    dataset: int | str, configuration: str, plans_identifier: str = "nnUNetPlans", num_processes: int = 1
) -> Path:
    """Preprocess (or reuse) the unlabeled pool of a planned dataset; return the cache folder."""
    pool = open_unlabeled_pool(dataset, configuration, plans_identifier)
    done = pool.ensure(num_processes=num_processes)
    print(f"unlabeled pool ready: {len(done)} cases in {pool.folder}")
    return pool.folder


def preprocess_unlabeled_entry() -> None:
    """``nnuda-preprocess-unlabeled -d 501 -c 3d_fullres [-p nnUNetPlans] [-np N]``"""
    parser = argparse.ArgumentParser(
        prog="nnuda-preprocess-unlabeled",
        description="Preprocess imagesTrUnlabeled with nnU-Net's own preprocessor (cached beside nnU-Net's data).",
    )
    parser.add_argument("-d", "--dataset", required=True, help="dataset id or name, e.g. 501")
    parser.add_argument("-c", "--configuration", default="3d_fullres", help="nnU-Net configuration (default 3d_fullres)")
    parser.add_argument("-p", "--plans", default="nnUNetPlans", help="plans identifier (default nnUNetPlans)")
    parser.add_argument("-np", "--num-processes", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args()
    run_cli("nnuda-preprocess-unlabeled",
            lambda: preprocess_unlabeled(args.dataset, args.configuration, args.plans, args.num_processes))
