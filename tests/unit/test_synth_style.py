"""nnuda-synth styles: what a seed varies, what it keeps, and the reference style."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nnunet_uda.synth import synthesize
from nnunet_uda.synth.presets import PRESETS, get_preset
from nnunet_uda.synth.render import PROTOCOLS
from nnunet_uda.synth.style import draw_style
from nnunet_uda.synth.tissues import Tissue


@pytest.mark.parametrize("preset", list(PRESETS))
def test_seeds_vary_the_protocols_grids_and_tumours_but_keep_the_contrasts(preset):
    styles = [draw_style(get_preset(preset), seed) for seed in range(12)]
    for st in styles:
        for (modality, _), p in st.protocols.items():
            v = p.values
            if modality == "hrT2":
                assert v[Tissue.CSF] == 1.0 and v[Tissue.VS] < 0.6 and v[Tissue.BONE] < 0.1
                assert min(v[Tissue.COCHLEA_L], v[Tissue.LABYRINTH]) >= 0.85
            else:
                assert v[Tissue.VS] >= 0.75 > 3 * v[Tissue.CSF] and v[Tissue.COCHLEA_L] <= 0.2
        for key, grid in st.grids.items():
            base = get_preset(preset).grids[key]
            assert 0.85 < grid.spacing_xy / base.spacing_xy < 1.15 and 0.75 < grid.spacing_z / base.spacing_z < 1.35
        assert 0.15 <= st.tumour.intracanalicular_fraction <= 0.4 and st.tumour.radius_mm[0] < 5
    hrt2_vs = {round(st.protocols[("hrT2", "etz")].values[Tissue.VS], 3) for st in styles}
    slice_thickness = {st.grids["ldn"].spacing_z for st in styles}
    assert len(hrt2_vs) == len(slice_thickness) == len(styles)  # every seed draws its own
    assert draw_style(get_preset(preset), 3) == styles[3]  # and the same one again


def test_reference_style():
    st = draw_style(get_preset("small"), 5, vary=False)
    assert st.protocols == PROTOCOLS and st.grids == get_preset("small").grids
    assert st.tumour.intracanalicular_fraction == 0.25


def test_folder_records_its_style(tmp_path: Path):
    a = synthesize(tmp_path / "a", seed=1, n_source=1, n_target=1, n_validation=1, preview=False)
    b = synthesize(tmp_path / "b", seed=1, n_source=1, n_target=1, n_validation=1, preview=False, vary=False)
    sa, sb = (json.loads((f / "synth.json").read_text())["style"] for f in (a, b))
    assert sa["varied"] and not sb["varied"]
    assert sa["protocols"]["hrT2_etz"]["values"]["vs"] != sb["protocols"]["hrT2_etz"]["values"]["vs"]
    assert sb["grids"]["etz"]["spacing_xy"] == get_preset("tiny").grids["etz"].spacing_xy
    case = json.loads((a / "synth.json").read_text())["cases"][1]
    assert case["spacing_xyz"][0] == pytest.approx(sa["grids"]["etz"]["spacing_xy"])
