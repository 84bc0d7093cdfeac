"""A generated project takes later template fixes with `cruft update`.

The project records its template in `.cruft.json` (`cruft create` writes it; so does the
post-generation hook, for a plain `cookiecutter`). These tests update real projects from
real commits of this repository, cloned, as a learner's `cruft update` would.
"""

import filecmp
import json
import subprocess
import tempfile
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from .conftest import TEMPLATE_DIR, run, tool

OLDER_COMMIT = "c6d7854e973f7232fe57f796d9790a99fdfea3ed"
"""A commit of the template from before its menus, devcontainer, Dependabot and cruft files
(the head of stop 24): its projects asked for `task` and had no `.cruft.json`."""
GIT_USER = ["-c", "user.name=Learner", "-c", "user.email=learner@example.com"]


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A clone of this repository (cruft reads templates from git)."""
    clone = tmp_path / "template"
    run(["git", "clone", "--quiet", str(TEMPLATE_DIR), str(clone)], cwd=tmp_path)
    return clone


def commit_all(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], cwd=repo)
    run(["git", *GIT_USER, "commit", "--quiet", "-m", message], cwd=repo)


def cruft(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run cruft, whose cookiecutter's hook scripts go to pytest's temporary folder (conftest)."""
    return run([tool("cruft"), *arguments], cwd=cwd, env={"TMPDIR": tempfile.gettempdir()})


def cruft_update(project: Path) -> subprocess.CompletedProcess[str]:
    """`cruft update`, answering yes; fails the test on any conflict it leaves."""
    result = cruft(["update", "--skip-apply-ask"], cwd=project)
    assert "Good work! Project's cruft has been updated" in result.stdout, result.stdout
    assert not list(project.rglob("*.rej")), "rejected hunks"
    status = run(["git", "status", "--porcelain"], cwd=project).stdout
    assert not [line for line in status.splitlines() if line[:2] in {"UU", "AA", "DU", "UD"}]
    assert "<<<<<<<" not in run(["git", "diff", "HEAD"], cwd=project).stdout
    return result


def differences(left: Path, right: Path, ignore: list[str]) -> list[str]:
    """Files that differ, or exist on one side only, between two folders (recursively)."""
    found: list[str] = []

    def walk(comparison: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(prefix + name for name in comparison.left_only + comparison.right_only)
        found.extend(prefix + name for name in comparison.diff_files + comparison.funny_files)
        for name, sub in comparison.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right, ignore=ignore), "")
    return sorted(found)


def test_an_untouched_project_from_an_older_commit_updates_with_no_conflict(
    template: Path, tmp_path: Path
) -> None:
    cruft(["create", "--no-input", "--checkout", OLDER_COMMIT, str(template)], cwd=tmp_path)
    project = tmp_path / "my-ml-service"
    assert not (project / ".devcontainer").exists()
    run(["git", "init", "--quiet", "-b", "main"], cwd=project)
    commit_all(project, "generated")

    cruft_update(project)

    head = run(["git", "rev-parse", "HEAD"], cwd=template).stdout.strip()
    state = json.loads((project / ".cruft.json").read_text())
    assert state["commit"] == head
    assert "task" not in state["context"]["cookiecutter"]  # the dataset menu decides it now
    fresh = Path(cookiecutter(str(template), no_input=True, output_dir=str(tmp_path / "fresh")))
    assert differences(project, fresh, ignore=[".git", ".cruft.json"]) == []


def test_the_lock_is_left_to_the_learner(template: Path, tmp_path: Path) -> None:
    """A project that changed its lock takes a template update that changes the lock too."""
    project = Path(cookiecutter(str(template), no_input=True, output_dir=str(tmp_path)))
    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == str(template)
    assert state["context"]["cookiecutter"]["dataset"] == "churn"
    run(["git", "init", "--quiet", "-b", "main"], cwd=project)
    commit_all(project, "generated")
    learners_lock = (project / "uv.lock").read_text() + "# the learner's own dependency\n"
    (project / "uv.lock").write_text(learners_lock)
    commit_all(project, "uv add something")

    generated = template / "{{cookiecutter.project_slug}}"
    with (generated / "uv.lock").open("a") as lock:
        lock.write("# a newer lock of the template\n")
    readme = (generated / "README.md").read_text()
    (generated / "README.md").write_text(readme + "\nA fix of the template.\n")
    commit_all(template, "a template fix, and a refreshed lock")

    cruft_update(project)
    assert (project / "README.md").read_text().endswith("\nA fix of the template.\n")
    assert (project / "uv.lock").read_text() == learners_lock
