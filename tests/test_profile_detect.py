"""Choosing a profile: detection from folder names, hub ids, served names and config.json,
explicit choices, contradictions, and the goal-mode check of task files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actions.project_errors import InputError
from agent.cli.main import _register_commands, app
from agent.models.detect import resolve_profile
from agent.models.load import load_model
from agent.models.spec import ModelSpec

runner = CliRunner()
_register_commands()


def checkpoint(root: Path, name: str, model_type: str) -> Path:
    """A folder holding only a config.json, as the start of a real checkpoint."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    return folder


@pytest.mark.parametrize(
    ("hub_id", "profile"),
    [
        ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen2.5-vl"),
        ("Qwen/Qwen3-VL-8B-Instruct", "qwen3-vl"),
        ("Qwen/Qwen3-VL-30B-A3B-Instruct", "qwen3-vl"),
        ("ByteDance-Seed/UI-TARS-1.5-7B", "ui-tars-1.5"),
        ("Salesforce/GTA1-7B-2507", "gta1"),
        ("inclusionAI/UI-Venus-Ground-7B", "ui-venus-ground"),
        ("inclusionAI/UI-Venus-1.5-8B", "ui-venus-1.5"),
        ("mPLUG/GUI-Owl-1.5-8B-Instruct", "gui-owl-1.5"),
        ("Tongyi-MAI/MAI-UI-8B", "mai-ui"),
        ("Hcompany/Holo1.5-7B", "holo1.5"),
        ("Hcompany/Holo2-8B", "holo2"),
        ("InfiX-ai/InfiGUI-G1-7B", "infigui-g1"),
    ],
)
def test_hub_ids_and_served_names(hub_id, profile):
    assert resolve_profile(hub_id, read_config=False).profile.name == profile
    # vLLM serves under the hub id or any name given with --served-model-name.
    for served in (hub_id.split("/")[1].lower(), hub_id.split("/")[1].replace("-", "_")):
        assert resolve_profile(served, read_config=False).profile.name == profile, served
    # Every table entry lists its hub ids.
    assert any(hub_id == h for h in resolve_profile(hub_id, read_config=False).profile.hub_ids)


def test_folder_names_with_their_config(tmp_path):
    cases = {
        ("UI-TARS-1.5-7B", "qwen2_5_vl"): "ui-tars-1.5",
        ("MAI-UI-2B", "qwen3_vl"): "mai-ui",
        ("GUI-Owl-1.5-4B-Instruct", "qwen3_vl"): "gui-owl-1.5",
        ("ui_venus_ground_7b", "qwen2_5_vl"): "ui-venus-ground",
        ("UI-Venus-1.5-2B", "qwen3_vl"): "ui-venus-1.5",
        ("Holo1.5-3B", "qwen2_5_vl"): "holo1.5",
        ("Holo2-30B-A3B", "qwen3_vl_moe"): "holo2",
        ("InfiGUI-G1-3B", "qwen2_5_vl"): "infigui-g1",
        ("GTA1-7B-2507", "qwen2_5_vl"): "gta1",
        # A fine-tune named after its base family still is the fine-tune.
        ("MAI-UI-8B-qwen3-vl-sft", "qwen3_vl"): "mai-ui",
        # Plain checkpoints: the family's own profile.
        ("my-model", "qwen3_vl"): "qwen3-vl",
        ("my-model-moe", "qwen3_vl_moe"): "qwen3-vl",
        ("checkpoint-1200", "qwen2_5_vl"): "qwen2.5-vl",
        # A name that says Holo2 on a Qwen2.5-VL checkpoint: the name cannot be right.
        ("holo2-distilled", "qwen2_5_vl"): "qwen2.5-vl",
    }
    for (name, model_type), expected in cases.items():
        folder = checkpoint(tmp_path, name, model_type)
        resolved = resolve_profile(str(folder))
        assert resolved.profile.name == expected, (name, model_type, resolved.reason)
        assert resolved.model_type == model_type
        assert model_type in resolved.describe() or "matches" in resolved.describe()


def test_nothing_known_is_the_default_with_its_reason():
    resolved = resolve_profile("my-server-model", read_config=False)
    assert resolved.profile.name == "qwen2.5-vl" and "default" in resolved.reason


def test_explicit_profile_wins_and_is_checked_against_the_checkpoint(tmp_path):
    folder = checkpoint(tmp_path, "Qwen2.5-VL-7B-Instruct", "qwen2_5_vl")
    assert resolve_profile(str(folder), "holo1.5").profile.name == "holo1.5"
    with pytest.raises(InputError) as err:
        resolve_profile(str(folder), "mai-ui")
    message = str(err.value)
    assert "mai-ui" in message and "'qwen2_5_vl'" in message and "qwen2.5-vl" in message
    # The spec checks it before any weights are read.
    with pytest.raises(InputError, match="profile mai-ui is for qwen3_vl"):
        load_model(ModelSpec(model=str(folder), profile="mai-ui"))


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(Exception, match=r"unknown profile 'maiui' \(choose one of: qwen2.5-vl, "):
        ModelSpec(profile="maiui")
    result = runner.invoke(app, ["models", "--json"])
    names = [p["name"] for p in json.loads(result.output)["profiles"]]
    assert len(names) == 11


def test_family_stays_an_alias():
    assert ModelSpec(family="qwen3-vl").resolve().profile.name == "qwen3-vl"
    assert ModelSpec(family="ui-tars").pixel_limits() == (100 * 28 * 28, 1280 * 28 * 28)
    spec = ModelSpec(family="qwen2-vl")  # coordinates only: 0-1000 on the default profile
    assert spec.resolve().profile.name == "qwen2.5-vl"
    assert spec.coordinate_override().value == "rel1000"


def test_cli_contradiction_is_one_line_exit_2(tmp_path):
    from PIL import Image

    folder = checkpoint(tmp_path, "some-qwen25-finetune", "qwen2_5_vl")
    shot = tmp_path / "shot.png"
    Image.new("RGB", (320, 200), (255, 255, 255)).save(shot)
    from agent.cli.main import main

    code = main(["ground", str(shot), "Save", "--model", str(folder), "--profile", "holo2"])
    assert code == 2
    code = main(["ground", str(shot), "Save", "--model", str(folder), "--profile", "nope"])
    assert code == 2


def test_cli_errors_are_single_lines(tmp_path, capsys):
    from PIL import Image

    from agent.cli.main import main

    folder = checkpoint(tmp_path, "x", "qwen3_vl")
    shot = tmp_path / "shot.png"
    Image.new("RGB", (320, 200)).save(shot)
    assert main(["ground", str(shot), "Save", "--model", str(folder), "--profile", "gta1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "profile gta1 is for qwen2_5_vl checkpoints" in err[0]
    assert main(["parse", "--profile", "gta-1", "--screen", "100x100", "(1,2)"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "choose one of" in err[0] and "infigui-g1" in err[0]


TASK = """
name: plan with a grounder
env:
  desktop: {{}}
model:
  backend: openai
  base_url: http://127.0.0.1:9/v1
  model: {model}
{extra}
goal: Save the file
"""


def test_a_goal_with_a_grounding_only_profile_is_rejected_before_running(tmp_path):
    from tasks.loader import load_task

    path = tmp_path / "task.yaml"
    path.write_text(TASK.format(model="Tongyi-MAI/MAI-UI-8B", extra=""))
    with pytest.raises(InputError) as err:
        load_task(path)
    message = str(err.value)
    assert "task.yaml" in message and "goal" in message
    assert "mai-ui cannot plan" in message
    for planner in ("qwen2.5-vl", "qwen3-vl", "ui-tars-1.5", "gui-owl-1.5"):
        assert planner in message
    # The same task with a profile that plans is fine.
    path.write_text(TASK.format(model="Tongyi-MAI/MAI-UI-8B", extra="  profile: qwen3-vl"))
    assert load_task(path).task.model.profile == "qwen3-vl"
    # GUI-Owl-1.5 plans on desktops only.
    android = TASK.replace("desktop: {{}}", "android: {{}}")
    path.write_text(android.format(model="mPLUG/GUI-Owl-1.5-8B-Instruct", extra=""))
    with pytest.raises(InputError, match="no goal mode on phones"):
        load_task(path)


@pytest.mark.parametrize(
    "served",
    [
        "Qwen/Qwen2-VL-7B-Instruct",
        "qwen2-vl-7b-instruct",
        "Qwen2_VL_2B_Instruct",
        "bytedance-research/UI-TARS-7B-DPO",
        "bytedance-research/UI-TARS-2B-SFT",
        "ui-tars-72b-sft",
        "UI_TARS_7B_DPO",
    ],
)
def test_zero_to_1000_models_are_refused_not_read_as_pixels(served):
    """Issue 19.11: these answer in 0-1000; reading them as qwen2.5-vl pixels clicks far off."""
    with pytest.raises(InputError) as err:
        resolve_profile(served, read_config=False)
    message = str(err.value)
    assert "\n" not in message and served in message and "0-1000" in message
    assert "--family qwen2-vl" in message and "--profile" in message
    # A served model spec is refused the same way, before anything is sent.
    with pytest.raises(InputError, match="0-1000"):
        ModelSpec(backend="openai", base_url="http://127.0.0.1:9/v1", model=served)
    # Saying how to read it is enough: 0-1000 on the default prompt, or a chosen profile.
    spec = ModelSpec(backend="openai", base_url="http://127.0.0.1:9/v1", model=served,
                     family="qwen2-vl")  # fmt: skip
    assert spec.coordinate_override().value == "rel1000"
    assert resolve_profile(served, "qwen2.5-vl", read_config=False).profile.name == "qwen2.5-vl"


def test_ui_tars_1_5_and_qwen2_5_vl_are_not_caught_by_the_refusal():
    assert resolve_profile("ByteDance-Seed/UI-TARS-1.5-7B", read_config=False).profile.name == (
        "ui-tars-1.5"
    )
    assert resolve_profile("ui_tars_1.5_7b", read_config=False).profile.name == "ui-tars-1.5"
    assert resolve_profile("qwen2.5-vl-7b", read_config=False).profile.name == "qwen2.5-vl"


def test_a_qwen2_vl_checkpoint_folder_is_refused_and_the_cli_says_so_in_one_line(tmp_path, capsys):
    from PIL import Image

    from agent.cli.main import main

    folder = checkpoint(tmp_path, "my-grounder", "qwen2_vl")
    with pytest.raises(InputError, match="qwen2_vl"):
        resolve_profile(str(folder))
    shot = tmp_path / "shot.png"
    Image.new("RGB", (320, 200)).save(shot)
    code = main(["ground", str(shot), "Save", "--backend", "openai", "--base-url",
                 "http://127.0.0.1:9/v1", "--model", "Qwen/Qwen2-VL-7B-Instruct"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--family qwen2-vl" in err[0], err
