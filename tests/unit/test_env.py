import os

from nnunet_uda.env import env_lines, ext_trainer_path, trainers_folder


def test_export_line_points_at_the_trainers_folder():
    lines = env_lines({"nnUNet_raw": "/data/raw"})
    assert lines[0] == f"export nnUNet_extTrainer={trainers_folder()}"
    assert (trainers_folder() / "nnUNetTrainerPAST.py").is_file()
    assert "# nnUNet_raw=/data/raw" in lines
    assert any(l.startswith("# nnUNet_results is not set") for l in lines)


def test_other_ext_trainer_folders_are_kept():
    ours = str(trainers_folder())
    lines = env_lines({"nnUNet_extTrainer": os.pathsep.join(["/other", ours])})
    assert lines[0] == f"export nnUNet_extTrainer={ours}{os.pathsep}/other"


def test_ext_trainer_path_puts_folders_first_and_keeps_the_others_once():
    current = os.pathsep.join(["/a", "/ours", "", "/b"])
    assert ext_trainer_path(["/ours", "/bench"], current) == os.pathsep.join(["/ours", "/bench", "/a", "/b"])
    assert ext_trainer_path(["/ours"], "") == "/ours"
