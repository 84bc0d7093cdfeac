"""Check that the docs name only things that exist, and that the architecture names them all.

    uv run python scripts/check_docs.py                    # or: make docs-check
    uv run python scripts/check_docs.py docs/runbook.md    # one document

What counts as a mention in ``docs/architecture.md`` and ``docs/runbook.md``:

- endpoint: a path such as ``/predict`` or ``POST /admin/reload`` anywhere in the text, or
  the path of a local URL (``http://localhost:8000/ready``). Paths under a filesystem root
  (``/app/models``, ``/tmp/x``) are files, not endpoints, and so is ``reports/latest.json``.
- CLI command: ``<cli> <command>`` (``<cli> models list`` for a subcommand) in code: inline
  code, fenced blocks and the Mermaid diagram. Prose is not searched, so "make sure" or a
  project named after a common word cannot be misread as a command or target.
- make target: ``make <target>`` in code.
- compose service: a code name followed by "service" (the `api` service, the `api` and
  `monitor` services) anywhere, and the services of ``docker compose <verb> ...`` in code.
- setting: ``APP_NAME`` anywhere; ``APP_DRIFT_*`` means "some setting with this prefix".

What exists: the routes of ``create_app()`` (its OpenAPI schema, plus the /docs, /redoc and
/openapi.json pages), the commands of the Typer app, the services of ``compose.yaml``, the
fields of ``Settings`` and the targets of the ``Makefile``.

Checks: (a) every name either document mentions exists; (b) the architecture document
mentions every endpoint of the OpenAPI schema and every CLI command; (c) the runbook has a
section headed by the name of each alert of ``monitoring/alerts.yml``, and the alert's
``runbook_url`` links to it; (d) each diagnosis of ``monitoring/diagnosis.py`` links to a
section of the runbook. One PASS or FAIL line per check, with the reason; the exit status is
1 if any check fails.
"""

import re
import shlex
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import typer
import yaml
from typer.core import TyperGroup

from {{ cookiecutter.package_name }}.cli import app as cli_app
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.monitoring.diagnosis import (
    ACTIONS as DIAGNOSIS_ACTIONS,
)
from {{ cookiecutter.package_name }}.serving.app import create_app

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = "docs/architecture.md"
RUNBOOK = "docs/runbook.md"
ALERTS = "monitoring/alerts.yml"
HEADING = re.compile(r"^#{2,4} (\S+)$", re.M)
ANY_HEADING = re.compile(r"^#{1,6} (.+)$", re.M)
DOCS = (ARCHITECTURE, RUNBOOK)

ENDPOINT = "endpoint"
COMMAND = "command"
SERVICE = "service"
SETTING = "setting"
TARGET = "make target"
KINDS = (ENDPOINT, COMMAND, SERVICE, SETTING, TARGET)
PLURALS = {
    ENDPOINT: "endpoints",
    COMMAND: "commands",
    SERVICE: "services",
    SETTING: "settings",
    TARGET: "make targets",
}

_FIRST_SEGMENT = r"[a-z][a-z0-9_-]*(?:\.[a-z0-9]+)*"
_SEGMENT = r"[a-z0-9_{}-]+(?:\.[a-z0-9]+)*"
PATH = "/" + _FIRST_SEGMENT + "(?:/" + _SEGMENT + ")*"
"""A URL path: lowercase segments; a dot only inside a segment (``/openapi.json``)."""
BARE_PATH = re.compile(r"(?<![\w./:~$}<\\-])(" + PATH + ")")
LOCAL_URL = re.compile(
    r"(?:https?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0)(?::\d+)?|\$\{?[A-Z_]*URL\}?)(" + PATH + ")"
)
FILESYSTEM_ROOTS = frozenset(
    {
        "app", "bin", "dev", "etc", "home", "lib", "mnt", "opt", "proc", "root", "run", "srv",
        "sys", "tmp", "usr", "var",
    }
)  # fmt: skip
"""First segments of file paths (``/app/models`` is the image's registry, not an endpoint)."""
SETTING_NAME = re.compile(r"(?<!\w)(APP_[A-Z0-9_]*[A-Z0-9])(_?\*)?(?!\w)")
WORD = r"[a-z][a-z0-9_.-]*"
SERVICE_PROSE = re.compile(
    r"((?:`" + WORD + r"`(?:,\s*|\s+and\s+|\s+or\s+|,\s+and\s+|,\s+or\s+))*`" + WORD + "`)"
    r"\s+(?:compose\s+)?services?\b"
)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^\s*(```|~~~)")
MAKE = re.compile(r"(?<![\w./-])make[ \t]+(.+)")
DOCKER_COMPOSE = re.compile(r"(?<![\w./-])docker[ \t]+compose[ \t]+(.+)")
TARGET_NAME = re.compile(r"[a-z][a-z0-9_.-]*")
MAKE_RULE = re.compile(r"^([^\s:#=][^:#=]*?)[ \t]*::?(?!=)")
MAKE_OPTIONS_WITH_VALUE = frozenset({"-C", "-f", "-I", "-j", "-o", "-W"})
SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", ">", ">>", "<", "&", "2>&1"})
COMPOSE_GLOBAL_OPTIONS_WITH_VALUE = frozenset(
    {"-f", "--file", "-p", "--project-name", "--profile", "--env-file", "--project-directory"}
)
COMPOSE_OPTIONS_WITH_VALUE = frozenset(
    {
        "--tail", "-n", "--since", "--until", "-e", "--env", "-u", "--user", "-w",
        "--workdir", "--entrypoint", "--name", "-t", "--timeout", "--index", "-l",
        "--label", "-v", "--volume", "-p", "--publish", "--scale", "--pull",
    }
)  # fmt: skip
COMPOSE_ONE_SERVICE = frozenset({"exec", "run", "port", "attach"})
COMPOSE_SERVICES = frozenset(
    {
        "build", "create", "events", "images", "kill", "logs", "pause", "ps", "pull",
        "push", "restart", "rm", "start", "stop", "top", "unpause", "up", "wait",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Project:
    """The names that exist in the project."""

    cli_name: str
    endpoints: frozenset[str]
    """Paths of the OpenAPI schema: the architecture document must mention each."""
    pages: frozenset[str]
    """Other routes a document may mention: /docs, /redoc, /openapi.json."""
    commands: frozenset[str]
    """Every CLI command, ``models list`` style for subcommands: all must be mentioned."""
    command_groups: frozenset[str]
    services: frozenset[str]
    settings: frozenset[str]
    make_targets: frozenset[str]
    """Target names; pattern rules keep their ``%`` (``milestone-%``)."""
    alerts: Mapping[str, str] = field(default_factory=dict)
    """Each alert of ``monitoring/alerts.yml`` with its ``runbook_url``."""

    def known(self, kind: str) -> frozenset[str]:
        """Every name of ``kind`` that a document may mention."""
        return {
            ENDPOINT: self.endpoints | self.pages,
            COMMAND: self.commands | self.command_groups,
            SERVICE: self.services,
            SETTING: self.settings,
            TARGET: self.make_targets,
        }[kind]

    def shown(self, kind: str, name: str) -> str:
        """``name`` as a document writes it: commands with the CLI's name in front."""
        return f"`{self.cli_name} {name}`" if kind == COMMAND else name

    def exists(self, kind: str, name: str) -> bool:
        """Whether ``name`` is a real ``kind``: a prefix ending in ``*`` matches any name."""
        known = self.known(kind)
        if name.endswith("*"):
            return any(item.startswith(name.rstrip("*")) for item in known)
        if kind == TARGET:
            return any(_make_pattern(target).fullmatch(name) for target in known)
        return name in known


@dataclass
class Mentions:
    """The names one document mentions, by kind, each with the line of its first mention."""

    names: dict[str, dict[str, int]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def add(self, kind: str, name: str, line: int) -> None:
        """Record a mention (the first line is kept)."""
        self.names[kind].setdefault(name, line)


@dataclass(frozen=True)
class Result:
    """The outcome of one check."""

    passed: bool
    message: str

    def line(self) -> str:
        """``PASS message`` or ``FAIL message``."""
        return f"{'PASS' if self.passed else 'FAIL'} {self.message}"


def load_project(root: Path = ROOT) -> Project:
    """Collect the real names: the app's routes, the CLI, compose, Settings, the Makefile."""
    scripts: dict[str, str] = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))[
        "project"
    ]["scripts"]
    cli_name = next(name for name, target in scripts.items() if target.endswith(":app"))
    # No settings are read (no .env, no environment): only the routes matter here.
    api = create_app(Settings.model_construct(database_url="sqlite://"))
    endpoints = frozenset(api.openapi()["paths"])
    pages = frozenset(url for url in (api.docs_url, api.redoc_url, api.openapi_url) if url)
    commands, groups = _cli_commands()
    compose = yaml.safe_load((root / "compose.yaml").read_text("utf-8"))
    prefix = Settings.model_config.get("env_prefix") or ""
    return Project(
        cli_name=cli_name,
        endpoints=endpoints,
        pages=pages - endpoints,
        commands=commands,
        command_groups=groups,
        services=frozenset(compose["services"]),
        settings=frozenset(f"{prefix}{name}".upper() for name in Settings.model_fields),
        make_targets=make_targets((root / "Makefile").read_text("utf-8")),
        alerts=alert_runbook_urls((root / ALERTS).read_text("utf-8")),
    )


def alert_runbook_urls(rules_yaml: str) -> dict[str, str]:
    """Each alert of a Prometheus rules file, with its ``runbook_url`` ("" if it has none)."""
    groups = yaml.safe_load(rules_yaml)["groups"]
    return {
        rule["alert"]: rule.get("annotations", {}).get("runbook_url", "")
        for group in groups
        for rule in group["rules"]
        if "alert" in rule
    }


def _cli_commands() -> tuple[frozenset[str], frozenset[str]]:
    """The leaf commands (``models list`` for subcommands) and the command groups."""
    command = typer.main.get_command(cli_app)
    if not isinstance(command, TyperGroup):
        return frozenset({command.name or ""}), frozenset()
    leaves: set[str] = set()
    groups: set[str] = set()
    for name, sub in command.commands.items():
        if sub.hidden:
            continue
        if isinstance(sub, TyperGroup):
            groups.add(name)
            leaves |= {f"{name} {leaf}" for leaf, c in sub.commands.items() if not c.hidden}
        else:
            leaves.add(name)
    return frozenset(leaves), frozenset(groups)


def make_targets(makefile: str) -> frozenset[str]:
    """Target names of a Makefile's rules (not special targets such as ``.PHONY``)."""
    targets: set[str] = set()
    for line in makefile.splitlines():
        match = MAKE_RULE.match(line)
        if match:
            targets |= {name for name in match.group(1).split() if not name.startswith(".")}
    return frozenset(targets)


def _make_pattern(target: str) -> re.Pattern[str]:
    return re.compile(".+".join(re.escape(part) for part in target.split("%")))


def code_fragments(text: str) -> Iterator[tuple[int, str]]:
    """(line number, code) for every line of a fenced block and every inline code span."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = FENCE.match(line)
        if opening and fence is None:
            fence = opening.group(1)
        elif opening and opening.group(1) == fence:
            fence = None
        elif fence is not None:
            yield number, line
        else:
            for span in INLINE_CODE.finditer(line):
                yield number, span.group(1)


def extract_mentions(text: str, project: Project) -> Mentions:
    """Every endpoint, command, service, setting and make target ``text`` mentions."""
    mentions = Mentions()
    for number, line in enumerate(text.splitlines(), start=1):
        _add_text_mentions(mentions, number, line)
    for number, code in code_fragments(text):
        _add_code_mentions(mentions, number, code, project)
    return mentions


def _add_text_mentions(mentions: Mentions, number: int, line: str) -> None:
    """Endpoints, settings and "`name` service" mentions: read from the whole text."""
    for match in LOCAL_URL.finditer(line):
        mentions.add(ENDPOINT, match.group(1), number)
    for match in BARE_PATH.finditer(line):
        path = match.group(1)
        if path.split("/")[1] not in FILESYSTEM_ROOTS:
            mentions.add(ENDPOINT, path, number)
    for match in SETTING_NAME.finditer(line):
        mentions.add(SETTING, match.group(1) + ("*" if match.group(2) else ""), number)
    for match in SERVICE_PROSE.finditer(line):
        for name in INLINE_CODE.findall(match.group(1)):
            mentions.add(SERVICE, name, number)


def _add_code_mentions(mentions: Mentions, number: int, code: str, project: Project) -> None:
    """CLI commands, make targets and ``docker compose`` services: read from code only."""
    command = re.compile(
        r"(?<![\w./-])" + re.escape(project.cli_name) + r"[ \t]+([a-z][a-z0-9-]*)"
        r"(?:[ \t]+([a-z][a-z0-9-]*))?"
    )
    for match in command.finditer(code):
        name, sub = match.groups()
        in_group = sub is not None and name in project.command_groups
        mentions.add(COMMAND, f"{name} {sub}" if in_group else name, number)
    for match in MAKE.finditer(code):
        for target in _make_arguments(match.group(1)):
            mentions.add(TARGET, target, number)
    for match in DOCKER_COMPOSE.finditer(code):
        for service in _compose_services(match.group(1)):
            mentions.add(SERVICE, service, number)


def _words(command_line: str) -> list[str]:
    try:
        return shlex.split(command_line, comments=True)
    except ValueError:  # an unbalanced quote: a fragment of a longer line
        return command_line.split("#", 1)[0].split()


def _make_arguments(arguments: str) -> list[str]:
    """The targets of ``make ARGUMENTS``: variables (``KIND=x``) and options are skipped."""
    targets: list[str] = []
    words = iter(_words(arguments))
    for word in words:
        if word in MAKE_OPTIONS_WITH_VALUE:
            next(words, None)
        elif "=" in word or word.startswith("-"):
            continue
        elif TARGET_NAME.fullmatch(word):
            targets.append(word)
        else:
            break
    return targets


def _compose_services(arguments: str) -> list[str]:
    """The services named by ``docker compose ARGUMENTS``."""
    words = iter(_words(arguments))
    verb = None
    for word in words:
        if word in COMPOSE_GLOBAL_OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            verb = word
            break
    if verb not in COMPOSE_ONE_SERVICE | COMPOSE_SERVICES:
        return []
    services: list[str] = []
    for word in words:
        if word in SHELL_OPERATORS:
            break
        if word in COMPOSE_OPTIONS_WITH_VALUE:
            next(words, None)
        elif word.startswith("-"):
            continue
        elif TARGET_NAME.fullmatch(word):
            services.append(word)
            if verb in COMPOSE_ONE_SERVICE:
                break
        else:
            break
    return services


def check_document(name: str, text: str, project: Project) -> list[Result]:
    """(a) Every name the document mentions exists; for the architecture, also (b)."""
    mentions = extract_mentions(text, project)
    results: list[Result] = []
    for kind in KINDS:
        found = mentions.names[kind]
        missing = {n: line for n, line in found.items() if not project.exists(kind, n)}
        for mention, line in sorted(missing.items(), key=lambda item: item[1]):
            known = ", ".join(sorted(project.known(kind)))
            shown = project.shown(kind, mention)
            results.append(
                Result(False, f"{name}:{line}: {kind} {shown} does not exist (known: {known})")
            )
        if found and not missing:
            listed = ", ".join(sorted(found))
            results.append(Result(True, f"{name}: every {kind} exists ({len(found)}): {listed}"))
    if name == ARCHITECTURE:
        results += check_coverage(name, mentions, project)
    if name == RUNBOOK:
        results += check_alert_sections(name, text, project)
        results += check_diagnosis_sections(name, text)
    return results


def check_diagnosis_sections(name: str, text: str) -> list[Result]:
    """(d) Each diagnosis of the monitor links to a section of the runbook that exists."""
    anchors = {_slug(heading) for heading in ANY_HEADING.findall(text)}
    missing = [
        f"{kind} -> #{anchor}"
        for kind, (_, anchor) in DIAGNOSIS_ACTIONS.items()
        if anchor not in anchors
    ]
    if missing:
        where = "monitoring/diagnosis.py"
        return [
            Result(False, f"{name}: no section for the diagnoses of {where}: {', '.join(missing)}")
        ]
    return [
        Result(True, f"{name} has a section for each of the {len(DIAGNOSIS_ACTIONS)} diagnoses")
    ]


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def check_alert_sections(name: str, text: str, project: Project) -> list[Result]:
    """(c) Each alert has a section headed by its name, and its runbook_url links there."""
    headings = set(HEADING.findall(text))
    results: list[Result] = []
    for alert, url in sorted(project.alerts.items()):
        anchor = f"{RUNBOOK}#{alert.lower()}"
        if alert not in headings:
            message = f"{name}: alert {alert} of {ALERTS} has no section: add '### {alert}'"
            results.append(Result(False, message))
        elif not url.endswith(anchor):
            message = f"{ALERTS}: alert {alert}: runbook_url {url!r} does not end in {anchor}"
            results.append(Result(False, message))
    if not results:
        count = len(project.alerts)
        results.append(Result(True, f"{name} has a section for each of the {count} alerts"))
    return results


def check_coverage(name: str, mentions: Mentions, project: Project) -> list[Result]:
    """(b) The document mentions every endpoint and every CLI command of the project."""
    results: list[Result] = []
    for kind, required in ((ENDPOINT, project.endpoints), (COMMAND, project.commands)):
        absent = sorted(required - set(mentions.names[kind]))
        for item in absent:
            shown = project.shown(kind, item)
            results.append(
                Result(False, f"{name}: {kind} {shown} is never mentioned: name it in the doc")
            )
        if not absent:
            plural = PLURALS[kind]
            results.append(Result(True, f"{name} mentions all {len(required)} {plural}"))
    return results


def read_docs(root: Path = ROOT, names: Sequence[str] = DOCS) -> dict[str, str | None]:
    """The text of each named document, or None if the file is missing."""
    paths = {name: root / name for name in names}
    return {name: p.read_text("utf-8") if p.is_file() else None for name, p in paths.items()}


def check_docs(project: Project, docs: Mapping[str, str | None]) -> list[Result]:
    """Check every document (a missing document fails)."""
    results: list[Result] = []
    for name, text in docs.items():
        if text is None:
            results.append(Result(False, f"{name} is missing"))
        else:
            results += check_document(name, text, project)
    return results


def main(names: Sequence[str] = ()) -> int:
    """Check the named documents (default: both); print one line per check; 1 if any failed."""
    unknown = [name for name in names if name not in DOCS]
    if unknown:
        print(f"docs-check: {unknown[0]} is not checked: name {' or '.join(DOCS)}")
        return 2
    results = check_docs(load_project(), read_docs(names=names or DOCS))
    for result in results:
        print(result.line())
    failed = sum(not result.passed for result in results)
    print(f"docs-check: {failed} failed" if failed else "docs-check: every check passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
