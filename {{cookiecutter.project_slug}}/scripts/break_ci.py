"""Milestone 3 exercise: break CI on purpose, watch the right step fail, then restore.

    make break-ci KIND=lint      # adds an unused import       -> fails at [lint] Lint
    make break-ci KIND=types     # adds a wrong return type    -> fails at [typecheck] Type-check
    make break-ci KIND=tests     # adds a failing test         -> fails at [test (...)] Test
    make ci                      # replay CI: see the failure, named
    make break-ci KIND=restore   # remove every break

Each break is a new file, so restoring only deletes files this script created.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXERCISE_MODULE = ROOT / "src" / "{{ cookiecutter.package_name }}" / "ci_exercise.py"
EXERCISE_TEST = ROOT / "tests" / "test_ci_exercise.py"

BREAKS: dict[str, tuple[Path, str]] = {
    "lint": (
        EXERCISE_MODULE,
        '"""CI exercise: ruff rejects the unused import."""\n\nimport os\n',
    ),
    "types": (
        EXERCISE_MODULE,
        '"""CI exercise: mypy rejects the return type."""\n\n\n'
        "def answer() -> int:\n"
        '    """Return the answer."""\n'
        '    return "42"\n',
    ),
    "tests": (
        EXERCISE_TEST,
        '"""CI exercise: this test fails."""\n\n\n'
        "def test_arithmetic() -> None:\n"
        "    assert 1 + 1 == 3\n",
    ),
}


def main() -> None:
    """Apply the break named on the command line, or restore."""
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind == "restore":
        for path in (EXERCISE_MODULE, EXERCISE_TEST):
            path.unlink(missing_ok=True)
        print("restored: the exercise files are gone; `make ci` should pass again")
        return
    if kind not in BREAKS:
        sys.exit(f"usage: make break-ci KIND=lint|types|tests|restore (got {kind!r})")
    path, content = BREAKS[kind]
    path.write_text(content, encoding="utf-8")
    print(f"broke {kind}: wrote {path.relative_to(ROOT)}; now run `make ci`")


if __name__ == "__main__":
    main()
