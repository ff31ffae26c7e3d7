"""Import the course's command-line tools in `.ci/` from the tests (`.ci` is not a package)."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_ci_module(name: str):
    """Import ``.ci/<name>.py`` once per session and return the module."""
    module_name = f"_course_ci_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, ROOT / ".ci" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]
