#!/usr/bin/env bash
# Check that the lower bounds in pyproject.toml hold: install every direct dependency at the
# lowest version pyproject allows (uv's --resolution lowest-direct: their own dependencies at
# their newest), then run ruff and the whole test suite.
#
#   scripts/check-floors.sh [pytest args...]
#
# The virtual environment goes to $FLOORS_VENV (default /tmp/screenpilot-floors), rebuilt on each
# run. Not part of CI: installing takes 2-5 minutes, then the whole suite (30-50 minutes on 2 busy
# cores; BENCHMARKS.md section 7 says what it showed).
#
# torch and torchvision are the exception. The oldest torch pyproject allows would bring a
# multi-GB CUDA build; the check runs with the CPU build of torch 2.13.0 (pip takes it from local
# disk on the project's machines) and WITHOUT torchvision, so it also proves the PIL image path
# (what `pip install torch==2.13.0 screenpilot` without torchvision gives). The torch floor is the
# one transformers itself demands (it disables torch below it), see pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${FLOORS_VENV:-/tmp/screenpilot-floors}
python=${PYTHON:-python3}
rm -rf "$venv"
"$python" -m venv "$venv"
direct="$venv/direct.txt"

# Every dependency and extra as pyproject states it (its own bounds), torch and torchvision excepted.
"$venv/bin/python" - pyproject.toml >"$direct" <<'PY'
import re
import sys
import tomllib

project = tomllib.load(open(sys.argv[1], "rb"))["project"]
requirements = list(project["dependencies"])
for extra in project["optional-dependencies"].values():
    requirements += [r for r in extra if not r.startswith(project["name"])]
for requirement in requirements:
    name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
    if name.lower() in ("torch", "torchvision"):
        continue
    if not re.search(r"(>=|==)\s*[0-9]", requirement):
        sys.exit(f"check-floors: {requirement!r} has no lower bound")
    spec, _, marker = requirement.partition(";")
    print(spec.replace(" ", "") + (f"; {marker.strip()}" if marker else ""))
PY

pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" uv==0.13.9
# The lowest version each requirement allows; their own dependencies at their newest. Before
# torch, so that what torch also needs (jinja2, ...) is not already there at a newer version.
SSL_CERT_FILE=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt} "$venv/bin/uv" pip install \
  -q --python "$venv/bin/python" --resolution lowest-direct -r "$direct"
"${pip[@]}" torch==2.13.0
"${pip[@]}" --no-deps -e .

# Show what was installed against each floor; the run fails if the resolver had to lift one
# (two floors that cannot be installed together), after the tests have run.
lifted=0
"$venv/bin/python" - "$direct" <<'PY' || lifted=1
import re
import sys
from importlib.metadata import version

from packaging.version import Version

wrong = []
for requirement in open(sys.argv[1]).read().splitlines():
    name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
    floor = Version(re.search(r"(>=|==)([0-9][^,;]*)", requirement).group(2))
    installed = Version(version(name))
    print(f"check-floors: {name:24} floor {floor!s:10} installed {installed}", file=sys.stderr)
    if installed.release[: len(floor.release)] != floor.release:
        wrong.append(f"{name} {installed} (floor {floor})")
print(f"check-floors: torch {version('torch')} (no torchvision)", file=sys.stderr)
if wrong:
    sys.exit("check-floors: not at the floor: " + ", ".join(wrong))
PY

"$venv/bin/ruff" check . || lifted=1
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
exit $lifted
