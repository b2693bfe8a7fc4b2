"""`agent eval screenspot` per profile: the profile's prompt goes to the server, its official
reader judges the answers, the robust parser reads in the profile's answer format, and the
result file records one protocol.

Served runs go through the real CLI against the tests' chat-completions server. The dataset
is one 1280x800 screenshot with four targets; expected points are worked out by hand.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from actions.answer_formats import AnswerFormat, parse_model_answer
from actions.frames import CoordinateFrame, CoordinateSpace, ModelFamily
from agent.cli.main import main
from agent.eval.author_readers import read_mai_ui
from agent.eval.metrics import judge_fraction
from agent.eval.protocol import answer_parser, deviations
from agent.models.grounder_prompts import (
    MAI_SYSTEM,
)
from agent.models.profiles import get_profile
from agent.models.spec import ModelSpec

DATA = Path(__file__).parent / "data" / "screenspot_pro"
REL1000 = CoordinateFrame(
    image_size=(1280, 800), model_size=(1280, 800), space=CoordinateSpace.REL1000, factor=32
)
BOXES = {
    "Save": [100, 100, 300, 200],
    "Open": [600, 400, 700, 450],
    "Close": [1200, 0, 1280, 50],
    "Help": [0, 700, 100, 800],
}


def _dataset(root: Path) -> Path:
    (root / "images" / "app").mkdir(parents=True)
    (root / "annotations").mkdir()
    Image.new("RGB", (1280, 800), (235, 235, 235)).save(root / "images" / "app" / "shot.png")
    records = [
        {"img_filename": "app/shot.png", "bbox": box, "instruction": name, "id": str(i),
         "application": "app", "platform": "linux", "img_size": [1280, 800],
         "ui_type": "icon", "group": "Dev"}
        for i, (name, box) in enumerate(BOXES.items())
    ]  # fmt: skip
    (root / "annotations" / "app_linux.json").write_text(json.dumps(records))
    return root


def _text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content if p["type"] == "text")


def _served(answers: dict[str, str]):
    """A server answering each instruction with its text (no usage block: not checked)."""
    from tests.test_models_openai_profiles import completion

    def script(body: dict[str, Any], number: int) -> tuple[int, dict[str, Any], float]:
        user = next(m for m in body["messages"] if m["role"] == "user")
        return 200, completion(body, answers[_text(user).strip()]), 0.0

    return script


def _run(tmp_path: Path, server: Any, name: str, extra: list[str]) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    data = _dataset(tmp_path / name)
    args = ["eval", "screenspot", "--data", str(data), "--out", str(out), "--backend", "openai",
            "--base-url", server.base_url, "--no-progress", *extra]  # fmt: skip
    assert main(args) == 0
    return json.loads(out.read_text())


def _verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {r["prompt_to_evaluate"]: r["correctness"] for r in report["details"]}


def test_mai_ui_served_eval_follows_its_protocol_and_reads_as_its_script(tmp_path) -> None:
    """MAI-UI (0-1000, text before image): at factor 32 under 6553600 px a 1280x800 shot is
    sent as is. [156,187] is (199.68, 149.6) of 1280x800, inside Save; the same answer with
    spaces is unreadable to eval_server.py's regex; [-1,-1] too; [1200,500] is x = 1536,
    off the image."""
    pytest.importorskip("openai")
    from tests.test_models_openai import FakeServer
    from tests.test_models_openai_profiles import sent_image

    answers = {
        "Save": "<grounding_think>\nThe save icon.\n</grounding_think>\n<answer>\n"
        '{"coordinate":[156,187]}\n</answer>',
        "Open": '<answer>\n{"coordinate": [508, 531]}\n</answer>',
        "Close": "[-1,-1]",
        "Help": '<answer>\n{"coordinate":[1200,500]}\n</answer>',
    }
    server = FakeServer()
    server.script = _served(answers)
    try:
        report = _run(tmp_path, server, "official", ["--model", "Tongyi-MAI/MAI-UI-8B"])
        sent = list(server.requests)
        robust = _run(tmp_path, server, "robust",
                      ["--model", "Tongyi-MAI/MAI-UI-8B", "--parser", "robust"])  # fmt: skip
    finally:
        server.close()
    for body in sent:
        system, user = body["messages"]
        assert system["role"] == "system" and _text(system) == MAI_SYSTEM
        assert _text(system).startswith("You are a GUI grounding agent. \n## Task\n")
        assert [p["type"] for p in user["content"]] == ["text", "image_url"]  # text first
        assert user["content"][0]["text"] in {f"{name}\n" for name in BOXES}
        assert sent_image(body).size == (1280, 800)
        assert body["temperature"] == 0 and body["max_tokens"] == 256
    assert _verdicts(report) == {
        "Save": "correct", "Open": "wrong_format", "Close": "wrong_format", "Help": "wrong",
    }  # fmt: skip
    preds = {r["prompt_to_evaluate"]: r["pred"] for r in report["details"]}
    assert preds["Save"] == pytest.approx([199.68, 149.6], abs=1e-9)
    assert preds["Help"] == pytest.approx([1536.0, 400.0], abs=1e-9)
    overall = report["metrics"]["overall"]
    assert (overall["num_correct_action"], overall["wrong_format_num"]) == (1, 2)
    protocol = report["protocol"]
    assert protocol["official"] is True and protocol["deviations"] == []
    assert (protocol["profile"], protocol["reader"]) == ("mai-ui", "mai-ui-eval-server")
    assert protocol["source"] == ("Tongyi-MAI/MAI-UI @ 4dd07b9 evaluation/grounding/eval_server.py")
    assert report["run"]["protocol"] == protocol
    assert "MAI-UI-8B" in protocol["profile_reason"]  # detected from the name, and said so
    html = tmp_path / "official.html"
    assert main(["eval", "report", str(tmp_path / "official.json"), "-o", str(html)]) == 0
    page = html.read_text()
    assert "profile <b>mai-ui</b>" in page and "read by mai-ui-eval-server" in page
    # The lenient parser reads the spaced answer in MAI-UI's answer format: 0.508 * 1280 =
    # 650.24, 0.531 * 800 = 424.8, inside Open; the refusal stays without a point.
    assert _verdicts(robust) == {
        "Save": "correct", "Open": "correct", "Close": "wrong_format", "Help": "wrong",
    }  # fmt: skip
    assert robust["protocol"]["official"] is False and robust["protocol"]["parser"] == "robust"
    assert "profile mai-ui's answer format" in robust["protocol"]["source"]


def test_gta1_served_eval_sends_its_prompt_and_reads_integer_pairs(tmp_path) -> None:
    """GTA1 (absolute pixels): a 1280x800 shot is seen at 1288x812 (each side rounded to a
    multiple of 28), and the system prompt says so. (201,152) is (201 * 1280 / 1288,
    152 * 800 / 812) = (199.75, 149.75), inside Save; a decimal or a bracketed pair is
    unreadable to the README's extract_coordinates; (1300,180) is beyond the right edge."""
    pytest.importorskip("openai")
    from tests.test_models_openai import FakeServer
    from tests.test_models_openai_profiles import sent_image

    answers = {"Save": "(201,152)", "Open": "(654.5,431)", "Close": "[1245, 25]",
               "Help": "(1300,180)"}  # fmt: skip
    server = FakeServer()
    server.script = _served(answers)
    try:
        report = _run(tmp_path, server, "gta1", ["--model", "my-grounder", "--profile", "gta1"])
    finally:
        server.close()
    for body in server.requests:
        system, user = body["messages"]
        assert "The image resolution is height 812 and width 1288." in _text(system)
        assert _text(system).endswith("Output the coordinate pair exactly:\n(x,y)")
        assert [p["type"] for p in user["content"]] == ["image_url", "text"]  # image first
        assert sent_image(body).size == (1288, 812)
        assert body["max_tokens"] == 32
    assert _verdicts(report) == {
        "Save": "correct", "Open": "wrong_format", "Close": "wrong_format", "Help": "wrong",
    }  # fmt: skip
    preds = {r["prompt_to_evaluate"]: r["pred"] for r in report["details"]}
    assert preds["Save"] == pytest.approx([201 * 1280 / 1288, 152 * 800 / 812], abs=1e-9)
    assert preds["Help"] == pytest.approx([1300 * 1280 / 1288, 180 * 800 / 812], abs=1e-9)
    assert [e["model_size"] for e in report["extra"]] == [[1288, 812]] * 4
    protocol = report["protocol"]
    assert (protocol["profile"], protocol["reader"], protocol["official"]) == (
        "gta1", "gta1-readme", True,
    )  # fmt: skip
    assert protocol["reader_kind"] == "authors' answer parser"
    assert protocol["coordinates"] == "pixels" and protocol["max_pixels"] == 4096 * 2160


def test_family_alone_chooses_the_profile_and_its_reader(tmp_path) -> None:
    """--family qwen3-vl on a served model whose name says nothing: the qwen3-vl profile
    (factor 32: 1280x800 is sent as is) and the harness's qwen3vl.py reader, /1000."""
    pytest.importorskip("openai")
    from tests.test_models_openai import FakeServer

    args = json.dumps({"action": "left_click", "coordinate": [156, 187]})
    answer = f'<tool_call>\n{{"name": "computer_use", "arguments": {args}}}\n</tool_call>'
    server = FakeServer()
    server.script = _served(dict.fromkeys(BOXES, answer))
    try:
        report = _run(tmp_path, server, "family", ["--model", "my-model", "--family", "qwen3-vl"])
    finally:
        server.close()
    assert _verdicts(report)["Save"] == "correct"
    assert report["details"][0]["pred"] == pytest.approx([199.68, 149.6], abs=1e-9)
    protocol = report["protocol"]
    assert (protocol["profile"], protocol["family"], protocol["reader"]) == (
        "qwen3-vl", "qwen3-vl", "ssp-qwen3-vl",
    )  # fmt: skip
    assert protocol["profile_reason"] == "--family qwen3-vl" and protocol["official"] is True


def test_other_pixel_limits_make_the_run_non_official(tmp_path) -> None:
    """--max-pixels 1000000 under MAI-UI's 6553600: the 1280x800 shot (1024000 px) shrinks
    to 1248x768 (factor 32, floor of each side / sqrt(1.024)), and the file says why the
    figures are not the official protocol's."""
    pytest.importorskip("openai")
    from tests.test_models_openai import FakeServer

    server = FakeServer()
    server.script = _served(dict.fromkeys(BOXES, '<answer>{"coordinate":[156,187]}</answer>'))
    try:
        report = _run(tmp_path, server, "pixels",
                      ["--model", "Tongyi-MAI/MAI-UI-2B", "--max-pixels", "1000000"])  # fmt: skip
    finally:
        server.close()
    assert [e["model_size"] for e in report["extra"]] == [[1248, 768]] * 4
    protocol = report["protocol"]
    assert protocol["official"] is False
    assert protocol["deviations"] == [
        "pixels 1024..1000000, not profile mai-ui's benchmark limits 1024..6553600"
    ]
    assert protocol["label"].startswith("NON-OFFICIAL: pixels 1024..1000000")


def test_family_alias_reads_as_the_harness_qwen2vl_file_and_says_the_prompt_is_not_its() -> None:
    spec = ModelSpec(backend="openai", model="some-qwen2-vl", family="qwen2-vl",
                     min_pixels=3136, max_pixels=16384 * 28 * 28)  # fmt: skip
    profile = spec.resolve().profile
    assert profile.name == "qwen2.5-vl" and spec.coordinate_override() == CoordinateSpace.REL1000
    parser = answer_parser("official", profile, backend="openai", family=ModelFamily.QWEN2_VL)
    assert parser.reader == "ssp-qwen2-vl"
    found = deviations(parser, spec, profile, skipped=0)
    assert found == [
        "--family qwen2-vl: answers read as likaixin2000/ScreenSpot-Pro-GUI-Grounding @ "
        "bd8bbbb models/qwen2vl.py reads them, but the prompt is profile qwen2.5-vl's"
    ]
    # --family naming a profile is that profile, read by its own official reader
    alias = ModelSpec(backend="openai", model="x", family="ui-tars-1.5")
    assert alias.coordinate_override() is None and alias.resolve().profile.name == "ui-tars-1.5"


def test_robust_parser_reads_in_the_profile_answer_format() -> None:
    """The lenient parser follows the profile: GUI-Owl-1.5's last point counts (mouse_move,
    then left_click), a bare [x,y] is UI-Venus-1.5's answer, and a point in 0-1000 is
    divided by 1000 whatever family label the frame carries."""

    def call(x: int, y: int, action: str) -> str:
        args = json.dumps({"action": action, "coordinate": [x, y]})
        return f'<tool_call>\n{{"name": "computer_use", "arguments": {args}}}\n</tool_call>'

    moved = call(100, 200, "mouse_move") + "\n" + call(500, 300, "left_click")
    owl = answer_parser("robust", get_profile("gui-owl-1.5"), backend="openai")
    assert owl.read(moved, REL1000).point == (0.5, 0.3)
    plain = answer_parser("robust", None, backend="ocr")  # no profile: the first point
    assert plain.read(moved, REL1000).point == (0.1, 0.2)
    venus = answer_parser("robust", get_profile("ui-venus-1.5"), backend="openai")
    assert venus.read("[250,750]", REL1000).point == (0.25, 0.75)
    refusal = venus.read("[-1,-1]", REL1000)
    assert refusal.point is None and refusal.refused
    # MAI-UI at 999 units would be wrong: the frame's space (rel1000) decides, not a family
    mai = answer_parser("robust", get_profile("mai-ui"), backend="openai")
    assert mai.read('<answer>\n{"coordinate": [500, 250]}\n</answer>', REL1000).point == (
        0.5,
        0.25,
    )


def test_a_far_loose_point_is_a_miss_for_the_lenient_parser_not_a_crash() -> None:
    """parse_model_answer's (x, y) fallback kept the model point it rejected instead of
    raising PointOutsideFrame out of a parser that promises never to raise."""
    parsed = parse_model_answer("(5000, 10)", REL1000, AnswerFormat(loose_point=True))
    assert not parsed.ok and parsed.model_points == [(5000.0, 10.0)]
    reading = answer_parser("robust", get_profile("gta1"), backend="openai").read(
        "(5000, 10)", REL1000
    )
    assert reading.point == (5.0, 0.01)


def test_mai_ui_reader_reproduces_the_authors_published_run() -> None:
    """1581 real MAI-UI-8B answers as Tongyi-MAI published them with their points and
    verdicts: the reader finds their point for every answer, and the verdicts agree
    ('incorrect' is the harness's 'wrong'), 1060 correct."""
    doc = json.loads(gzip.decompress((DATA / "mai_ui_8b_sspro.json.gz").read_bytes()))
    rows = doc["rows"]
    assert len(rows) == 1581
    correct = 0
    for row in rows:
        reading = read_mai_ui(row["raw_response"], REL1000)
        assert reading.point is not None and list(reading.point) == row["pred_norm"], row["id"]
        verdict = judge_fraction(reading.point, row["bbox"], row["img_size"])
        assert verdict == {"correct": "correct", "incorrect": "wrong"}[row["correctness"]]
        correct += verdict == "correct"
    assert correct == 1060
