"""The README's setup as a learner with pyenv runs it: uv from pipx, pyenv's shims first on
the PATH, and a project whose `.python-version` is not the Python that installed uv."""

import os
from pathlib import Path

from .conftest import render, run


def test_uv_from_pipx_installs_a_project_of_another_python(tmp_path: Path) -> None:
    pipx = tmp_path / "pipx"
    shims = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "shims"
    path = os.pathsep.join([str(shims), str(pipx / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    env = {  # the learner's shell: python3 is pyenv's default; pipx's folders in tmp_path
        "PATH": path,
        "PYTHONPATH": str(pipx / "lib"),
        "PIPX_HOME": str(pipx / "home"),
        "PIPX_BIN_DIR": str(pipx / "bin"),
    }
    pip = ["python3", "-m", "pip", "install", "--quiet", "--target", env["PYTHONPATH"], "pipx"]
    run(pip, cwd=tmp_path, env=env)
    run(["python3", "-m", "pipx", "install", "--quiet", "uv"], cwd=tmp_path, env=env)

    project = render(tmp_path / "out", python_version="3.12")
    assert (project / ".python-version").read_text().strip() == "3.12"
    run(["make", "install"], cwd=project, env={"PATH": path})
    python = run([str(project / ".venv" / "bin" / "python"), "--version"], cwd=project)
    assert python.stdout.startswith("Python 3.12")
