"""The committed synthetic CSVs are exactly what tests/data/make_datasets.py writes."""

import importlib.util
from pathlib import Path
from types import ModuleType

DATA_DIR = Path(__file__).resolve().parent / "data"
REPO_ROOT = DATA_DIR.parents[1]
HINT = "regenerate with: python3 tests/data/make_datasets.py"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_datasets", DATA_DIR / "make_datasets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_datasets_match_the_generator(tmp_path: Path) -> None:
    written = load_generator().main(tmp_path)
    assert len(written) == 3
    for path in written:
        relative = path.relative_to(tmp_path)
        committed = REPO_ROOT / relative
        assert committed.is_file(), f"{relative} is missing; {HINT}"
        assert path.read_bytes() == committed.read_bytes(), f"{relative} is stale; {HINT}"
