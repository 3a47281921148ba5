"""Run suricata-verify style tests with an injected engine and judge them: `run_tests`.

`run_tests(cases, run)` plans every test (`TestCase.plan`), runs each planned one in a fresh
directory of its own, `run(plan, eve_path)` analysing the plan's pcap with its rules and
settings and writing EVE JSON lines to `eve_path` (the real engine is
`tocsin.detect.verify.run_plan`; tests inject fakes), then evaluates the checks (`checks`).
The directory of `eve_path` is the run's own scratch directory (Suricata's `-l` and
`--data-dir`: dataset state files and the like may be written there).
With `jobs > 1` the runs go to a pool of processes (spawned, so `run` must be a module-level
function: it is pickled by reference).

Each test ends as one `TestResult`:

- **pass**: the run succeeded and every evaluated check passed (a test with no checks passes
  when the run succeeds, as in suricata-verify: it checks that the engine copes);
- **fail**: a check failed (the reason is the first failing check, `check 3: alert sid 2:
  expected 1, got 0`), the run failed (`RunOutcome.error`: a rule file that does not load, an
  unreadable pcap), the run raised, it wrote no or bad EVE JSON, rules did not load
  (`strict_rules`, as Suricata's `--init-errors-fatal` in suricata-verify), the test expected
  a refusal (`exit-code`) and the run succeeded, or the test folder is broken;
- **skip**: the planner or the engine (`RunOutcome.skip`) named what Tocsin does not do, or
  no check was left to evaluate (e.g. `alerts_only` and only protocol-log checks).

Nothing a run does stops the runner: exceptions are caught per test and reported as failures.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tocsin.detect.verify.checks import CheckResult, EveError, Status, evaluate, read_eve
from tocsin.detect.verify.requires import FEATURES, SURICATA_VERSION
from tocsin.detect.verify.testcase import NotPlanned, TestCase, TestPlan


@dataclass(frozen=True)
class RunOutcome:
    """What the engine reports about one run.

    `ran`: the pcap was analysed and the EVE file written. `error`: why the run failed (the
    test fails). `skip`: the engine declined the plan, naming what it does not support (the
    test is skipped). `rule_errors`: rules that did not load (`file:line: why`), `warnings`:
    anything else worth showing.
    """

    ran: bool
    error: str | None = None
    skip: str | None = None
    rule_errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


RunFn = Callable[[TestPlan, Path], RunOutcome]


@dataclass(frozen=True)
class TestResult:
    """One test's verdict; `reason` is the line the CLI prints after the name."""

    __test__ = False

    name: str
    family: str
    status: Status
    reason: str = ""
    category: str = ""  # for skips: the kind of reason (version, lua, setting...)
    detail: str = ""  # how the first failing check's events differ, a traceback...
    checks: tuple[CheckResult, ...] = ()
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "status": self.status,
            "reason": self.reason,
            "category": self.category,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "warnings": list(self.warnings),
            "checks": [
                {
                    "index": c.check.index,
                    "kind": c.check.kind,
                    "status": c.status,
                    "message": c.message,
                    "detail": c.detail,
                }
                for c in self.checks
            ],
        }


@dataclass
class Report:
    """Every test's result, in discovery order, and the tallies the CLI prints."""

    results: list[TestResult] = field(default_factory=list)
    version: str = SURICATA_VERSION
    seconds: float = 0.0
    test_versions: bool = True  # test-level version requirements enforced

    @property
    def judged_as(self) -> str:
        """What Tocsin was judged as, for the summaries."""
        extra = "" if self.test_versions else ", test-level version requirements ignored"
        return f"Suricata {self.version}{extra}"

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def passed(self) -> int:
        return self.count("pass")

    @property
    def failed(self) -> int:
        return self.count("fail")

    @property
    def skipped(self) -> int:
        return self.count("skip")

    def by_family(self) -> dict[str, dict[str, int]]:
        """family -> {"pass": n, "fail": n, "skip": n}, families sorted by name."""
        out: dict[str, dict[str, int]] = {}
        for r in self.results:
            out.setdefault(r.family, {"pass": 0, "fail": 0, "skip": 0})[r.status] += 1
        return dict(sorted(out.items()))

    def skip_reasons(self) -> list[tuple[str, int, str]]:
        """(category, number of tests, most common reason) for the skipped tests, most
        frequent category first."""
        by_cat: dict[str, Counter[str]] = {}
        for r in self.results:
            if r.status == "skip":
                by_cat.setdefault(r.category or "other", Counter())[_reason_class(r.reason)] += 1
        rows = [(cat, sum(c.values()), c.most_common(1)[0][0]) for cat, c in by_cat.items()]
        return sorted(rows, key=lambda row: (-row[1], row[0]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "judged_as_suricata": self.version,
            "test_versions": self.test_versions,
            "seconds": round(self.seconds, 3),
            "counts": {"passed": self.passed, "failed": self.failed, "skipped": self.skipped},
            "families": self.by_family(),
            "skip_reasons": [
                {"category": c, "tests": n, "example": ex} for c, n, ex in self.skip_reasons()
            ],
            "tests": [r.to_dict() for r in self.results],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n"


def _reason_class(reason: str) -> str:
    """A reason without the values that differ from test to test (for grouping)."""
    return re.sub(r"=[^)\s,;]*", "=…", reason)


@dataclass(frozen=True)
class _Options:
    ignore_keys: frozenset[str]
    alerts_only: bool
    strict_rules: bool


@dataclass(frozen=True)
class _Job:
    plan: TestPlan
    family: str
    run: RunFn
    options: _Options
    output_dir: Path | None


def run_tests(
    cases: Sequence[TestCase],
    run: RunFn,
    *,
    jobs: int = 1,
    version: str = SURICATA_VERSION,
    features: frozenset[str] = FEATURES,
    test_versions: bool = True,
    ignore_keys: Collection[str] = (),
    alerts_only: bool = False,
    strict_rules: bool = True,
    output_dir: Path | None = None,
    on_result: Callable[[TestResult], None] | None = None,
) -> Report:
    """Plan, run and judge `cases` (see the module docstring).

    `version`/`features`/`test_versions`: what Tocsin is judged as (see `TestCase.plan`).
    `ignore_keys`, `alerts_only`:
    see `checks.evaluate`. `strict_rules`: a rule that does not load fails the test (else it
    is a warning). `output_dir`: keep each test's eve.json in `output_dir/<name>/` (default:
    a temporary directory per test, removed). `on_result` is called as each test ends (in
    completion order); the report lists them in the order of `cases`.
    """
    t0 = time.monotonic()
    options = _Options(frozenset(ignore_keys), alerts_only, strict_rules)
    results: list[TestResult | None] = [None] * len(cases)
    pending: list[tuple[int, _Job]] = []
    for i, case in enumerate(cases):
        family = case.family
        planned = case.plan(version=version, features=features, test_versions=test_versions)
        if isinstance(planned, NotPlanned):
            result = _not_planned(case.name, family, planned)
            results[i] = result
            if on_result is not None:
                on_result(result)
        else:
            pending.append((i, _Job(planned, family, run, options, output_dir)))
    for i, result in _execute_all(pending, jobs):
        results[i] = result
        if on_result is not None:
            on_result(result)
    done = [r for r in results if r is not None]
    return Report(done, version, time.monotonic() - t0, test_versions)


def _not_planned(name: str, family: str, planned: NotPlanned) -> TestResult:
    if planned.broken:
        return TestResult(name, family, "fail", f"broken test: {planned.reason}", "broken")
    return TestResult(name, family, "skip", planned.reason, planned.category)


def _execute_all(pending: list[tuple[int, _Job]], jobs: int) -> Iterator[tuple[int, TestResult]]:
    """(index, result) pairs as the runs end: in this process, or in a process pool."""
    if jobs <= 1 or len(pending) <= 1:
        for i, job in pending:
            yield i, execute(job)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(execute, job): (i, job) for i, job in pending}
        for fut in as_completed(futures):
            i, job = futures[fut]
            try:
                yield i, fut.result()
            except Exception as exc:  # the worker died or could not receive the job
                yield (
                    i,
                    TestResult(
                        job.plan.name, job.family, "fail", f"the test's worker failed: {exc!r}"
                    ),
                )


def execute(job: _Job) -> TestResult:
    """Run and judge one planned test (in a worker process when `jobs > 1`)."""
    t0 = time.monotonic()
    if job.output_dir is not None:
        workdir = job.output_dir / job.plan.name
        workdir.mkdir(parents=True, exist_ok=True)
        result = _judge(job, workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="tocsin-verify-") as tmp:
            result = _judge(job, Path(tmp))
    return replace(result, seconds=time.monotonic() - t0)


def _judge(job: _Job, workdir: Path) -> TestResult:
    plan, opts = job.plan, job.options
    eve = workdir / "eve.json"
    eve.unlink(missing_ok=True)

    def fail(reason: str, detail: str = "", checks: Sequence[CheckResult] = ()) -> TestResult:
        return TestResult(
            plan.name, job.family, "fail", reason, "", detail, tuple(checks), warnings
        )

    warnings: tuple[str, ...] = ()
    try:
        outcome = job.run(plan, eve)
    except Exception as exc:
        tb = traceback.format_exc(limit=-4)
        return fail(f"the run raised {type(exc).__name__}: {exc}", tb)
    warnings = outcome.warnings
    refused = outcome.error is not None or bool(outcome.rule_errors)
    if plan.expect_failure:
        if not refused:
            return fail("expected the rules or pcap to be refused (exit-code), the run succeeded")
    elif outcome.error is not None:
        return fail(f"run failed: {outcome.error}")
    elif outcome.rule_errors and opts.strict_rules:
        n = len(outcome.rule_errors)
        first = outcome.rule_errors[0]
        return fail(
            f"{n} rule{'s' if n > 1 else ''} did not load: {first}", "\n".join(outcome.rule_errors)
        )
    elif not outcome.ran:
        if outcome.skip:
            return TestResult(
                plan.name, job.family, "skip", outcome.skip, "engine", warnings=warnings
            )
        return fail("the run did not happen and gave no reason")
    warnings = (*outcome.warnings, *(outcome.rule_errors if not opts.strict_rules else ()))
    try:
        events = read_eve(eve) if eve.exists() or not plan.expect_failure else []
    except FileNotFoundError:
        return fail("the run wrote no eve.json")
    except (EveError, OSError) as exc:
        return fail(f"unreadable eve.json: {exc}")
    results = evaluate(
        plan.checks, events, ignore_keys=opts.ignore_keys, alerts_only=opts.alerts_only
    )
    failing = [r for r in results if r.status == "fail"]
    if failing:
        more = f" (+{len(failing) - 1} more failing)" if len(failing) > 1 else ""
        return fail(failing[0].message + more, failing[0].detail, results)
    if results and all(r.status == "skip" for r in results):
        return TestResult(
            plan.name,
            job.family,
            "skip",
            "no check left to evaluate: " + results[0].message.split(": ", 1)[-1],
            "checks",
            "",
            tuple(results),
            warnings,
        )
    reason = (
        f"refused as expected: {outcome.error or outcome.rule_errors[0]}"
        if (plan.expect_failure)
        else ""
    )
    return TestResult(plan.name, job.family, "pass", reason, "", "", tuple(results), warnings)
