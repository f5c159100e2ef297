"""The code's shape, as docs/architecture.md describes it: small modules, Ray in one
place, plugins on the public API only."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = re.compile(r"^\s*(?:from|import)\s+([\w.]+)", re.M)


def imported(path: Path) -> set[str]:
    return set(IMPORTS.findall(path.read_text(encoding="utf-8")))


def test_only_the_ray_package_imports_ray():
    ray_package = ROOT / "cryobench" / "run" / "ray"
    outside = [str(p.relative_to(ROOT)) for p in (ROOT / "cryobench").rglob("*.py")
               if ray_package not in p.parents
               and any(m == "ray" or m.startswith("ray.") for m in imported(p))]
    assert outside == []


def test_first_party_plugins_import_only_the_public_api_of_cryobench():
    private = {str(p.relative_to(ROOT)): sorted(m for m in imported(p)
                                                  if m.startswith("cryobench.")
                                                  and m != "cryobench.api")
               for p in (ROOT / "plugins").rglob("*.py")}
    assert {k: v for k, v in private.items() if v} == {}


def test_no_module_of_the_core_is_over_400_lines():
    """Small modules with one job each: a module that grows past this is doing two."""
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "cryobench").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}
