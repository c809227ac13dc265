"""The pieces of nnuda-submit without a model: ROI, post-processing, label-wise combination,
the model spec and site routing."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from nnunet_uda.errors import InputError
from nnunet_uda.model_spec import SubmissionSpec, load_spec, parse_shorthand, spec_from_dict
from nnunet_uda.postprocess import PostProcessing, largest_component
from nnunet_uda.roi import RoiFractions, crop, paste
from nnunet_uda.submit import CHANNELS, label_wise


def oblique_image(size=(64, 48, 10)):
    img = sitk.GetImageFromArray(np.random.default_rng(0).random(size[::-1]).astype(np.float32))
    img.SetSpacing((0.5, 0.6, 1.5))
    img.SetOrigin((10.0, -20.0, 5.0))
    img.SetDirection(sitk.VersorRigid3DTransform((0.1, 0.2, 0.05, 1.0)).GetMatrix())
    return img


def test_default_roi_is_pasts_box():
    z, y, x = RoiFractions().box((512, 384, 40))
    assert (x.start, x.stop) == (128, 384) and (y.start, y.stop) == (144, 288) and (z.start, z.stop) == (0, 40)


def test_crop_keeps_its_place_in_space_and_paste_restores_the_shape():
    img = oblique_image()
    box = RoiFractions().box(img.GetSize())
    part = crop(img, box)
    z, y, x = box
    # the crop's first voxel is the same point in space as voxel (x.start, y.start, z.start) of the scan
    assert np.allclose(part.GetOrigin(), img.TransformIndexToPhysicalPoint((x.start, y.start, z.start)))
    assert part.GetSpacing() == img.GetSpacing() and part.GetDirection() == img.GetDirection()
    arr = sitk.GetArrayFromImage(img)
    assert np.array_equal(sitk.GetArrayFromImage(part), arr[box])
    full = paste(np.ones(arr[box].shape, np.uint8), box, arr.shape)
    assert full.shape == arr.shape and full.sum() == arr[box].size and full[box].all()


@pytest.mark.parametrize("spec", [{"x": [0.5, 0.4]}, {"w": [0, 1]}, "everything", {"x": [0, 2]}])
def test_bad_roi_is_a_clear_error(spec):
    with pytest.raises(InputError, match="roi|ROI"):
        RoiFractions.from_spec(spec)


def test_roi_never_empty_on_a_thin_axis():
    z, _, _ = RoiFractions(z=(0.9, 0.95)).box((10, 10, 3))
    assert z.stop - z.start >= 1


def test_largest_vs_and_one_cochlea_per_side():
    label = np.zeros((5, 10, 20), np.uint8)
    label[1:4, 1:5, 2:6] = 1   # VS, 48 voxels
    label[2, 8, 12] = 1        # a stray VS voxel
    label[2, 2:4, 8] = 2       # left cochlea (2 voxels) and a stray one
    label[4, 9, 1] = 2
    label[2, 2:5, 15] = 2      # right cochlea (3 voxels) and a stray one
    label[0, 9, 18] = 2
    both = PostProcessing(largest_vs=True, cochlea_per_side=True)(label)
    assert (both == 1).sum() == 48 and both[2, 8, 12] == 0
    assert (both == 2).sum() == 5 and both[4, 9, 1] == 0 and both[0, 9, 18] == 0
    assert np.array_equal(PostProcessing()(label), label)
    only_vs = PostProcessing(largest_vs=True)(label)
    assert (only_vs == 2).sum() == (label == 2).sum()
    assert not largest_component(np.zeros((3, 3, 3), bool)).any()


def test_label_wise_takes_each_structure_from_its_group():
    rng = np.random.default_rng(1)
    a, b = (rng.dirichlet(np.ones(len(CHANNELS)), size=(4, 6, 6)).transpose(3, 0, 1, 2).astype(np.float32)
            for _ in range(2))
    out = label_wise({"a": a, "b": b}, {"VS": "a", "cochlea": "b"})
    vs_a, coch_b = a.argmax(0) == 1, b.argmax(0) == 2
    assert vs_a.any() and coch_b.any()
    assert np.array_equal(out == 1, vs_a & ~(coch_b & (b[2] > a[1])))
    assert np.array_equal(out == 2, coch_b & ~(vs_a & (a[1] >= b[2])))
    # one group for both: the plain argmax
    assert np.array_equal(label_wise({"a": a}, {"VS": "a", "cochlea": "a"}), a.argmax(0))


def spec(**changes):
    raw = {"roi": "off",
           "sites": [{"site": "big", "matrix": [512, 512]}],
           "groups": [{"name": "vs_only", "structures": ["VS"], "models": [{"folder": "m/vs"}]},
                      {"name": "ldn", "sites": ["ldn"], "models": [{"folder": "m/ldn", "folds": [0, 1]}]},
                      {"name": "plain", "models": [{"folder": "/abs/plain", "folds": "all"}]}]}
    raw.update(changes)
    return raw


def test_spec_routes_by_rule_name_and_fallback(tmp_path):
    s = spec_from_dict(spec(), tmp_path)
    assert s.roi is None
    assert s.site("crossmoda2021_ldn_7", (384, 384, 40)) == ("ldn", "name")
    assert s.site("crossmoda2021_ldn_7", (512, 512, 40)) == ("big", "rule")
    assert s.site("scan_007", (300, 300, 40)) == ("unknown", "none")
    ldn = s.route("ldn")
    assert ldn["VS"].name == "vs_only" and ldn["cochlea"].name == "ldn"
    other = s.route("etz")
    assert other["VS"].name == "vs_only" and other["cochlea"].name == "plain"
    assert s.groups[0].models[0].folder == tmp_path / "m/vs"  # relative to the spec file
    assert s.groups[1].models[0].folds == (0, 1) and s.groups[2].models[0].folds == ("all",)
    assert len(s.models) == 3


@pytest.mark.parametrize("change, message", [
    ({"groups": [{"name": "x", "sites": ["ldn"], "models": [{"folder": "m"}]}]}, "every site"),
    ({"groups": [{"structures": ["tumour"], "models": [{"folder": "m"}]}]}, "unknown structures"),
    ({"groups": [{"name": "x", "models": []}]}, "no models"),
    ({"groups": [{"models": [{"trainer": "t"}]}]}, "needs 'folder'"),
    ({"sites": [{"site": "a"}]}, "site rule"),
    ({"postprocessing": {"biggest": True}}, "postprocessing"),
    ({"extra": 1}, "unknown keys"),
])
def test_bad_specs_are_clear_errors(change, message, tmp_path):
    with pytest.raises(InputError, match=message):
        spec_from_dict(spec(**change), tmp_path)


def test_spec_file_and_shorthand(tmp_path):
    path = tmp_path / "models.json"
    path.write_text(json.dumps(spec(postprocessing={"largest_vs": True})))
    s = load_spec([str(path)])
    assert isinstance(s, SubmissionSpec) and s.postprocessing.largest_vs and not s.postprocessing.cochlea_per_side
    path.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_spec([str(path)])
    with pytest.raises(InputError, match="not found"):
        load_spec([str(tmp_path / "missing.json")])
    with pytest.raises(InputError, match="DATASET:TRAINER"):
        parse_shorthand("501:nnUNetTrainerPAST")
