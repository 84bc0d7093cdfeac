"""The doc checker finds every name a document mentions and refuses the ones that do not exist.

These tests check the checker on small documents built from the project's real names; the
real docs are checked by `make docs-check` (milestone 4, and a step of the CI lint job), so a
broken doc fails that step, not these tests.
"""

import dataclasses

import check_docs
import pytest

from {{ cookiecutter.package_name }}.monitoring.diagnosis import ACTIONS as DIAGNOSES

HINT = "name it in the doc"


@pytest.fixture(scope="module")
def project() -> check_docs.Project:
    return check_docs.load_project()


@pytest.fixture(scope="module")
def docs(project: check_docs.Project) -> dict[str, str]:
    """Two small docs that name every endpoint and command, and one of each other kind."""
    cli = project.cli_name
    endpoints = ", ".join(f"`{endpoint}`" for endpoint in sorted(project.endpoints))
    commands = "\n".join(f"{cli} {command}" for command in sorted(project.commands))
    architecture = (
        f"The `api` service answers {endpoints}; it polls every APP_MODEL_POLL_SECONDS.\n"
        "The `monitor` service retrains. Check this page with `make docs-check`.\n\n"
        f"```bash\n{commands}\n{cli} rollback\n```\n"
    )
    anchors = [anchor for _, anchor in DIAGNOSES.values()]
    headings = [*project.alerts, *(anchor.replace("-", " ").title() for anchor in anchors)]
    sections = "".join(f"### {heading}\n\nWhat to do.\n\n" for heading in headings)
    runbook = f"Roll back with `{cli} rollback`.\n\n{sections}"
    return {check_docs.ARCHITECTURE: architecture, check_docs.RUNBOOK: runbook}


def failures(project: check_docs.Project, docs: dict[str, str]) -> list[str]:
    return [r.message for r in check_docs.check_docs(project, docs) if not r.passed]


def test_the_project_is_read(project: check_docs.Project) -> None:
    assert {"/predict", "/predict/batch", "/admin/reload"} <= project.endpoints
    assert {"train", "monitor", "rollback", "models list"} <= project.commands
    assert {"api", "monitor", "postgres"} <= project.services
    assert "APP_MODEL_DIR" in project.settings
    assert "docs-check" in project.make_targets
    assert {"ModelNotReady", "DriftDetected", "DriftJobStale"} <= set(project.alerts)


def test_the_docs_pass(project: check_docs.Project, docs: dict[str, str]) -> None:
    assert failures(project, docs) == []


def test_results_print_as_pass_lines(project: check_docs.Project, docs: dict[str, str]) -> None:
    lines = [result.line() for result in check_docs.check_docs(project, docs)]
    assert lines and all(line.startswith("PASS ") for line in lines)


def test_a_missing_document_fails(project: check_docs.Project) -> None:
    results = check_docs.check_docs(project, {check_docs.RUNBOOK: None})
    assert [result.line() for result in results] == [f"FAIL {check_docs.RUNBOOK} is missing"]


@pytest.mark.parametrize(
    ("kind", "real", "fake", "name"),
    [
        ("endpoint", "/predict/batch", "/predict/bulk", "/predict/bulk"),
        ("command", "{cli} rollback", "{cli} rollbak", "rollbak"),
        ("setting", "APP_MODEL_POLL_SECONDS", "APP_MODEL_POLL_SECS", "APP_MODEL_POLL_SECS"),
        ("service", "`monitor` service", "`monitr` service", "monitr"),
        ("make target", "make docs-check", "make docs-chek", "docs-chek"),
    ],
)
def test_a_name_that_does_not_exist_fails(
    project: check_docs.Project,
    docs: dict[str, str],
    kind: str,
    real: str,
    fake: str,
    name: str,
) -> None:
    real, fake = (text.format(cli=project.cli_name) for text in (real, fake))
    text = docs[check_docs.ARCHITECTURE]
    assert real in text
    broken = {**docs, check_docs.ARCHITECTURE: text.replace(real, fake, 1)}
    messages = failures(project, broken)
    expected = f"{kind} {project.shown(kind, name)} does not exist"
    assert any(expected in message for message in messages), messages


def test_an_endpoint_left_out_of_the_architecture_fails(
    project: check_docs.Project, docs: dict[str, str]
) -> None:
    text = docs[check_docs.ARCHITECTURE].replace("`/metrics`", "`/health`")
    messages = failures(project, {**docs, check_docs.ARCHITECTURE: text})
    assert messages == [f"{check_docs.ARCHITECTURE}: endpoint /metrics is never mentioned: " + HINT]


def test_an_alert_without_its_runbook_section_fails(
    project: check_docs.Project, docs: dict[str, str]
) -> None:
    text = docs[check_docs.RUNBOOK].replace("### DriftJobStale\n", "### Stale drift job\n")
    messages = failures(project, {**docs, check_docs.RUNBOOK: text})
    assert messages == [
        f"{check_docs.RUNBOOK}: alert DriftJobStale of {check_docs.ALERTS} has no section: "
        "add '### DriftJobStale'"
    ]


def test_an_alert_linking_elsewhere_fails(
    project: check_docs.Project, docs: dict[str, str]
) -> None:
    alerts = {**project.alerts, "DriftDetected": "https://example.com/runbook.md#drift"}
    moved = dataclasses.replace(project, alerts=alerts)
    [message] = failures(moved, docs)
    assert message.startswith(f"{check_docs.ALERTS}: alert DriftDetected: runbook_url ")


def test_what_counts_as_a_mention(project: check_docs.Project) -> None:
    cli = project.cli_name
    text = f"""
Send `POST /predict` to http://localhost:8000/ready; the `api` and `monitor` services.
Files are not endpoints: /app/models, reports/latest.json, sqlite:///data/x.db, and/or, <br/>.
Make sure APP_PORT and every APP_DRIFT_* setting and $APP_ADMIN_TOKEN are set.
```bash
make serve  # then visit http://127.0.0.1:8000/docs
{cli} models list && {cli} promote v3 --reason "x"
docker compose logs --tail 100 postgres | grep error
docker compose run --rm --no-deps --entrypoint cat train reports/latest.json
```
"""
    names = check_docs.extract_mentions(text, project).names
    assert set(names["endpoint"]) == {"/predict", "/ready", "/docs"}
    assert set(names["service"]) == {"api", "monitor", "postgres", "train"}
    assert set(names["setting"]) == {"APP_PORT", "APP_DRIFT*", "APP_ADMIN_TOKEN"}
    assert set(names["make target"]) == {"serve"}
    assert set(names["command"]) == {"models list", "promote"}
    assert all(r.passed for r in check_docs.check_document("x.md", text, project))


def test_a_diagnosis_without_its_runbook_section_fails(
    project: check_docs.Project, docs: dict[str, str]
) -> None:
    runbook = docs[check_docs.RUNBOOK].replace("### Model Problem\n", "### Model trouble\n")
    [failure] = failures(project, {**docs, check_docs.RUNBOOK: runbook})
    assert "no section for the diagnoses" in failure
    assert "model_problem -> #model-problem" in failure
