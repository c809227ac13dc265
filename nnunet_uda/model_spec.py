"""Which trained nnU-Net models segment which structure at which site: the ``--models`` SPEC
of ``nnuda-submit``.

PAST's final entry (Dong et al. 2021, §2.2, Table 1) combined models two ways: per site
(nnUnetCon, one model per scanner protocol) and per structure (VS from one network,
cochlea from another). A SPEC says both. As a JSON file::

    {
      "roi": "crossmoda",                       # or "off", or {"x": [lo, hi], "y": ..., "z": ...}
      "sites": [{"site": "ldn", "name_contains": "_ldn_"},
                {"site": "etz", "matrix": [384, 384]}],
      "groups": [
        {"name": "vs_resenc", "structures": ["VS"],
         "models": [{"dataset": 501, "trainer": "nnUNetTrainerPAST", "configuration": "3d_fullres",
                     "plans": "nnUNetResEncUNetMPlans", "folds": [0, 1]}]},
        {"name": "ldn", "structures": ["VS", "cochlea"], "sites": ["ldn"],
         "models": [{"folder": "models/Dataset502_ldn/nnUNetTrainerPAST__nnUNetPlans__3d_fullres"}]},
        {"name": "plain", "structures": ["VS", "cochlea"],
         "models": [{"dataset": 501, "trainer": "nnUNetTrainerPAST", "configuration": "3d_fullres"}]}
      ],
      "postprocessing": {"largest_vs": true, "cochlea_per_side": true}
    }

or, on the command line, ``DATASET:TRAINER:CONFIGURATION[:FOLDS[:PLANS]]`` entries
(:func:`parse_shorthand`), which form one group that segments every structure at every site.

Routing: a scan's site is the first ``sites`` rule it matches (``name_contains``: a piece of
the case name; ``matrix``: its in-plane size ``[x, y]``), else the site token of its
CrossMoDA name (``crossmoda2021_ldn_1`` -> ``ldn``), else ``unknown``. For each structure
the first group (in file order) that lists the structure and admits the site is used; a
group without ``sites`` admits every site, so it is the fallback for unknown sites. Every
structure must have such a fallback group. Within a group the models' softmax
probabilities are averaged (each model's folds are averaged by nnU-Net itself).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from nnunet_uda.crossmoda import site_of
from nnunet_uda.errors import InputError
from nnunet_uda.postprocess import PostProcessing
from nnunet_uda.roi import RoiFractions

STRUCTURES = {"VS": 1, "cochlea": 2}
"""Output labels of the challenge: structure name (as in dataset.json) -> value."""
UNKNOWN_SITE = "unknown"


@dataclass(frozen=True)
class ModelRef:
    """One trained nnU-Net model: a results folder (``TRAINER__PLANS__CONFIGURATION``) and folds."""

    folder: Path
    folds: tuple = ("all",)
    checkpoint: str = "checkpoint_final.pth"

    @property
    def name(self) -> str:
        return f"{self.folder.parent.name}/{self.folder.name} folds {','.join(map(str, self.folds))}"


@dataclass(frozen=True)
class ModelGroup:
    """Models whose probabilities are averaged; used for ``structures`` at ``sites`` (None: all)."""

    name: str
    structures: tuple[str, ...]
    models: tuple[ModelRef, ...]
    sites: tuple[str, ...] | None = None

    def admits(self, site: str) -> bool:
        return self.sites is None or site in self.sites


@dataclass(frozen=True)
class SiteRule:
    """A scan belongs to ``site`` if its case name contains ``name_contains`` or its in-plane
    matrix is ``matrix`` (x, y)."""

    site: str
    name_contains: str | None = None
    matrix: tuple[int, int] | None = None

    def matches(self, case: str, size_xyz: tuple[int, ...]) -> bool:
        if self.name_contains is not None and self.name_contains in case:
            return True
        return self.matrix is not None and tuple(size_xyz[:2]) == self.matrix


@dataclass(frozen=True)
class SubmissionSpec:
    """Everything ``nnuda-submit`` needs to know about the models (see the module docstring)."""

    groups: tuple[ModelGroup, ...]
    roi: RoiFractions | None = field(default_factory=RoiFractions)
    site_rules: tuple[SiteRule, ...] = ()
    postprocessing: PostProcessing = field(default_factory=PostProcessing)

    def __post_init__(self) -> None:
        if not self.groups:
            raise InputError("the model spec has no model group")
        for structure in STRUCTURES:
            if not any(structure in g.structures and g.sites is None for g in self.groups):
                raise InputError(f"no model group segments {structure} at every site: give one group for "
                                 f"{structure} without 'sites' (the fallback for scans of other sites)")

    def site(self, case: str, size_xyz: tuple[int, ...]) -> tuple[str, str]:
        """``(site, how it was found)`` of a scan."""
        for rule in self.site_rules:
            if rule.matches(case, size_xyz):
                return rule.site, "rule"
        token = site_of(case)
        return (token, "name") if token else (UNKNOWN_SITE, "none")

    def route(self, site: str) -> dict[str, ModelGroup]:
        """``structure -> group`` for a site: the first group listing the structure that admits it."""
        return {s: next(g for g in self.groups if s in g.structures and g.admits(site)) for s in STRUCTURES}

    @property
    def models(self) -> list[ModelRef]:
        """Every model of the spec, once."""
        return list(dict.fromkeys(m for g in self.groups for m in g.models))


def model_folder(dataset, trainer: str, configuration: str, plans: str = "nnUNetPlans") -> Path:
    """The results folder of a model trained with the stock CLI (needs ``nnUNet_results``)."""
    from nnunetv2.utilities.file_path_utilities import get_output_folder

    try:
        return Path(get_output_folder(dataset, trainer, plans, configuration))
    except (RuntimeError, TypeError) as e:
        raise InputError(f"cannot find dataset {dataset} in nnUNet_raw/nnUNet_preprocessed/nnUNet_results: {e}") from None


def _model(entry: dict, base: Path) -> ModelRef:
    unknown = set(entry) - {"folder", "dataset", "trainer", "configuration", "plans", "folds", "checkpoint"}
    if unknown:
        raise InputError(f"unknown keys {sorted(unknown)} in model entry {entry}")
    if "folder" in entry:
        folder = Path(entry["folder"])
        folder = folder if folder.is_absolute() else base / folder
    elif {"dataset", "trainer", "configuration"} <= set(entry):
        folder = model_folder(entry["dataset"], entry["trainer"], entry["configuration"], entry.get("plans", "nnUNetPlans"))
    else:
        raise InputError(f"a model entry needs 'folder', or 'dataset', 'trainer' and 'configuration': {entry}")
    folds = entry.get("folds", ["all"])
    folds = tuple(f if f == "all" else int(f) for f in (folds if isinstance(folds, list) else [folds]))
    return ModelRef(folder, folds, entry.get("checkpoint", "checkpoint_final.pth"))


def spec_from_dict(raw: dict, base: Path = Path(".")) -> SubmissionSpec:
    """A :class:`SubmissionSpec` from the JSON layout of the module docstring; relative model
    folders are relative to ``base`` (the spec file's folder)."""
    if not isinstance(raw, dict):
        raise InputError("the model spec must be a JSON object")
    unknown = set(raw) - {"roi", "sites", "groups", "postprocessing"}
    if unknown:
        raise InputError(f"unknown keys {sorted(unknown)} in the model spec (known: roi, sites, groups, postprocessing)")
    groups = []
    for i, g in enumerate(raw.get("groups", [])):
        name = g.get("name", f"group{i}")
        structures = tuple(g.get("structures", STRUCTURES))
        bad = [s for s in structures if s not in STRUCTURES]
        if bad:
            raise InputError(f"group {name}: unknown structures {bad} (known: {', '.join(STRUCTURES)})")
        if not g.get("models"):
            raise InputError(f"group {name} has no models")
        sites = g.get("sites")
        groups.append(ModelGroup(name, structures, tuple(_model(m, base) for m in g["models"]),
                                 None if sites is None else tuple(sites)))
    rules = []
    for r in raw.get("sites", []):
        if "site" not in r or not ({"name_contains", "matrix"} & set(r)):
            raise InputError(f"a site rule needs 'site' and 'name_contains' or 'matrix': {r}")
        rules.append(SiteRule(r["site"], r.get("name_contains"), tuple(r["matrix"]) if "matrix" in r else None))
    try:
        post = PostProcessing(**raw.get("postprocessing", {}))
    except TypeError:
        raise InputError(f"postprocessing options are largest_vs and cochlea_per_side, got {raw['postprocessing']}") from None
    return SubmissionSpec(tuple(groups), RoiFractions.from_spec(raw.get("roi", "crossmoda")), tuple(rules), post)


def parse_shorthand(text: str) -> ModelRef:
    """``DATASET:TRAINER:CONFIGURATION[:FOLDS[:PLANS]]``, e.g. ``501:nnUNetTrainerPAST:3d_fullres:0,1``
    (folds default to ``all``, plans to ``nnUNetPlans``)."""
    parts = text.split(":")
    if not 3 <= len(parts) <= 5:
        raise InputError(f"model {text!r}: expected DATASET:TRAINER:CONFIGURATION[:FOLDS[:PLANS]] or a JSON spec file")
    entry = {"dataset": parts[0], "trainer": parts[1], "configuration": parts[2]}
    if len(parts) > 3 and parts[3]:
        entry["folds"] = parts[3].split(",")
    if len(parts) > 4:
        entry["plans"] = parts[4]
    return _model(entry, Path("."))


def load_spec(models: list[str]) -> SubmissionSpec:
    """``--models``: one JSON spec file, or shorthand entries forming one group for everything."""
    if len(models) == 1 and models[0].endswith(".json"):
        path = Path(models[0])
        if not path.is_file():
            raise InputError(f"model spec not found: {path}")
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise InputError(f"model spec {path} is not valid JSON: {e}") from None
        return spec_from_dict(raw, path.parent)
    return SubmissionSpec((ModelGroup("models", tuple(STRUCTURES), tuple(parse_shorthand(m) for m in models)),))
