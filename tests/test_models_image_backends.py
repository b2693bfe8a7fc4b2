"""The two image paths of the local backend give the model the same inputs.

`pip install 'screenpilot[model]'` brings torchvision, and with it transformers'
torchvision image processor, the default (``image_backend="auto"``). Without
torchvision, or with one built for another torch, the PIL processor (patchified
in torch, tests/test_models_patchify.py) answers instead. Both are compared here
on the same requests, and the fallback is run in processes where torchvision is
absent or cannot import.

Tolerances, measured on this suite's images (float32, normalised units; one grey
level is about 0.015):
- screenshots resized on the client (what screenpilot always sends): the two
  processors rescale and normalise in different float orders; max abs 2.4e-7.
- the processor's own resize (images not at their smart_resize size): PIL's and
  torchvision's bicubic filters differ; on random noise mean abs 0.0056, max 0.36.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.models.base import ModelRequest
from agent.models.load import load_model
from agent.models.spec import AGENT_MAX_PIXELS, MODEL_MAX_PIXELS, ModelSpec
from tests.conftest import need
from tests.fixtures.tiny_qwen_build import FIXED_POINT

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

CLIENT_RESIZED_MAX_ABS = 1e-6
PROCESSOR_RESIZE_MEAN_ABS = 0.01
PROCESSOR_RESIZE_MAX_ABS = 0.5
IMAGE_PAD_ID = 151655
TORCHVISION_HINT = "pip install torch==2.14.1 torchvision==0.29.1"


def need_torchvision() -> None:
    from agent.models.qwen_processor import torchvision_available

    need(torchvision_available(), f"torchvision does not import: {TORCHVISION_HINT}")


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Every uint8 value in every channel: the worst case for rounding and filters."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def screen(size: tuple[int, int]) -> Image.Image:
    """A flat window with a button and some text, like a real screenshot."""
    from PIL import ImageDraw

    image = Image.new("RGB", size, (236, 236, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        (size[0] // 4, size[1] // 4, size[0] // 4 + 120, size[1] // 4 + 40), (40, 90, 200)
    )
    draw.text((30, 30), "File  Edit  View  Save", fill=(20, 20, 20))
    return image


@pytest.fixture(scope="module")
def models(tiny_qwen_dir):
    need_torchvision()
    built = {}
    for max_pixels in (AGENT_MAX_PIXELS, MODEL_MAX_PIXELS):
        for backend in ("pil", "torchvision"):
            spec = ModelSpec(model=str(tiny_qwen_dir), image_backend=backend, max_pixels=max_pixels)
            built[backend, max_pixels] = load_model(spec)
    yield built
    for model in built.values():
        model.close()


def test_torchvision_is_the_default_where_it_imports(models, tiny_qwen_dir):
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

    with load_model(ModelSpec(model=str(tiny_qwen_dir))) as default:
        assert type(default.processor.image_processor) is Qwen2VLImageProcessor
    assert type(models["torchvision", AGENT_MAX_PIXELS].processor.image_processor) is (
        Qwen2VLImageProcessor
    )
    assert not isinstance(
        models["pil", AGENT_MAX_PIXELS].processor.image_processor, Qwen2VLImageProcessor
    )


# (screen, max_pixels, the smart_resize size from REFERENCE.md's table)
CASES = [
    ((1920, 1080), AGENT_MAX_PIXELS, (1316, 728)),
    ((1920, 1080), MODEL_MAX_PIXELS, (1932, 1092)),
    ((1080, 2400), AGENT_MAX_PIXELS, (672, 1484)),
    ((1280, 800), MODEL_MAX_PIXELS, (1288, 812)),
]


@pytest.mark.parametrize(("size", "max_pixels", "model_size"), CASES)
@pytest.mark.parametrize("content", [noise, screen])
def test_both_paths_give_the_same_tokens_and_pixels(models, size, max_pixels, model_size, content):
    request = ModelRequest(kind="ground", image=content(size), instruction="the Save button")
    pil = models["pil", max_pixels].prepare([request])
    tv = models["torchvision", max_pixels].prepare([request])
    tokens = (model_size[0] // 28) * (model_size[1] // 28)
    assert pil.visual_tokens == tv.visual_tokens == [tokens]
    for batch in (pil, tv):
        assert batch.frames[0].model_size == model_size
        assert int((batch.inputs["input_ids"] == IMAGE_PAD_ID).sum()) == tokens
    assert torch.equal(pil.inputs["input_ids"], tv.inputs["input_ids"])
    assert torch.equal(pil.inputs["attention_mask"], tv.inputs["attention_mask"])
    grid = [[1, model_size[1] // 14, model_size[0] // 14]]
    assert pil.inputs["image_grid_thw"].tolist() == tv.inputs["image_grid_thw"].tolist() == grid
    a, b = pil.inputs["pixel_values"], tv.inputs["pixel_values"]
    assert a.dtype == b.dtype == torch.float32
    assert a.shape == b.shape == (tokens * 4, 3 * 2 * 14 * 14)
    assert float((a - b).abs().max()) <= CLIENT_RESIZED_MAX_ABS


@pytest.mark.parametrize("size", [(1920, 1080), (1000, 601)])
def test_the_processors_own_resize_agrees_within_the_filter_difference(models, size):
    """The cookbook path (full-size screenshot to the processor): same grid, close pixels."""
    image = noise(size, seed=1)
    pil = models["pil", MODEL_MAX_PIXELS].processor.image_processor
    tv = models["torchvision", MODEL_MAX_PIXELS].processor.image_processor
    a = pil(images=[image], return_tensors="pt")
    b = tv(images=[image], return_tensors="pt")
    assert torch.equal(a["image_grid_thw"], b["image_grid_thw"])
    diff = (a["pixel_values"] - b["pixel_values"]).abs()
    assert float(diff.mean()) <= PROCESSOR_RESIZE_MEAN_ABS
    assert float(diff.max()) <= PROCESSOR_RESIZE_MAX_ABS


def test_the_trained_model_answers_the_same_on_both_paths(trained_qwen_dir):
    need_torchvision()
    from agent.grounding import ground

    points = {}
    for backend in ("pil", "torchvision"):
        spec = ModelSpec(model=str(trained_qwen_dir), image_backend=backend)
        with load_model(spec) as model:
            result = ground(model, screen((1920, 1080)), "the Save button")
        assert result.ok, result.error
        points[backend] = (result.model_xy, result.point)
    assert points["pil"] == points["torchvision"]
    assert points["pil"][0] == FIXED_POINT


# Where torchvision cannot be used, a process falls back to the PIL path on its own.
ABSENT = "import sys; sys.modules['torchvision'] = None\n"  # as if it were not installed

API_SCRIPT = """
import json, sys
from PIL import Image
from actions.project_errors import MissingDependency
from agent.grounding import ground
from agent.models.spec import ModelSpec
from agent.models.load import load_model
spec = ModelSpec(model=sys.argv[1])
with load_model(spec) as model:
    classes = [c.__name__ for c in type(model.processor.image_processor).__mro__]
    result = ground(model, Image.open(sys.argv[2]), "the Save button")
try:
    load_model(spec.model_copy(update={"image_backend": "torchvision"}))
    error = None
except MissingDependency as exc:
    error = str(exc)
print(json.dumps({"classes": classes, "point": result.point,
                  "model_xy": result.model_xy, "error": error}))
"""


def run_python(code: str, *args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **env_vars}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


@pytest.fixture
def shot_png(tmp_path) -> Path:
    path = tmp_path / "shot.png"
    screen((1920, 1080)).save(path)
    return path


@pytest.fixture
def broken_torchvision(tmp_path) -> str:
    """A folder with a torchvision that fails as one built for another torch does.

    PyPI's torchvision 0.28.0 beside the CPU build of torch 2.13.0 raises exactly
    this at import; its files are installed, so transformers believes it is there.
    """
    package = tmp_path / "site" / "torchvision"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        'raise RuntimeError("operator torchvision::nms does not exist")\n'
    )
    return str(package.parent)


def expected_point() -> tuple[float, float]:
    # 1920x1080 is fed at 1316x728 (REFERENCE.md): x * 1920 / 1316, y * 1080 / 728.
    x, y = FIXED_POINT
    return (x * 1920 / 1316, y * 1080 / 728)


def test_without_torchvision_the_pil_path_grounds_and_names_the_install(trained_qwen_dir, shot_png):
    result = run_python(ABSENT + API_SCRIPT, str(trained_qwen_dir), str(shot_png))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert "Qwen2VLImageProcessorPil" in out["classes"]
    assert "Qwen2VLImageProcessor" not in out["classes"]
    assert out["model_xy"] == list(FIXED_POINT)
    assert out["point"] == pytest.approx(expected_point())
    assert TORCHVISION_HINT in out["error"] and 'image_backend="pil"' in out["error"]


def test_a_torchvision_that_cannot_import_falls_back_with_a_warning(
    trained_qwen_dir, shot_png, broken_torchvision
):
    """Before the fix: transformers' own image utilities import it, and every model class
    failed to load ("internal error: ... Could not import module
    'Qwen2_5_VLForConditionalGeneration'", exit 1)."""
    path = os.pathsep.join(p for p in (broken_torchvision, os.environ.get("PYTHONPATH")) if p)
    cli = "import sys\nfrom agent.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
    result = run_python(
        cli, "ground", str(shot_png), "Save", "-m", str(trained_qwen_dir), "--json",
        PYTHONPATH=path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["model_xy"] == list(FIXED_POINT)
    assert out["point"] == pytest.approx(expected_point(), abs=0.01)
    warnings = [line for line in result.stderr.splitlines() if "torchvision" in line]
    assert len(warnings) == 1 and "does not import" in warnings[0], result.stderr
    assert "operator torchvision::nms does not exist" in warnings[0]
    assert "Traceback" not in result.stderr
