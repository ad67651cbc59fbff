"""Print pyproject.toml's runtime dependencies pinned at their declared lower bounds
(``name>=X`` becomes ``name==X``, markers kept), for CI's oldest-configuration smoke run:
the declared ranges must be true at their bottom too."""

from __future__ import annotations

import sys
from pathlib import Path

from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
for line in project["dependencies"]:
    requirement = Requirement(line)
    lowest = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    if not lowest:
        sys.exit(f"{requirement.name} declares no lower bound: give it one")
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    marker = f"; {requirement.marker}" if requirement.marker else ""
    print(f"{requirement.name}{extras}=={lowest[0]}{marker}")
