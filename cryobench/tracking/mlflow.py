"""MLflow mirrors the result file for browsing and sharing; only the driver writes to it.

One experiment per benchmark; one parent run per invocation (the resolved benchmark, the
profile, the versions, the machine); one child run per trial as it finishes (parameters,
tags, metrics, per-epoch curves, confusion matrix and learning curve PNGs, the per-class
report, the whole record as JSON); at the end one summary run per arm (and class subset)
with the mean, spread and 95% interval of each metric over seeds, so that sorting the
experiment's runs by ``macro_f1_mean`` is the leaderboard. The embedded default is a
SQLite file in the working directory; a server works the same way.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from cryobench import __version__
from cryobench.interrupts import interrupts_deferred
from cryobench.metrics import METRICS
from cryobench.run.plan import TrialSpec
from cryobench.run.records import TrialRecord
from cryobench.specs import Benchmark
from cryobench.tracking.store import StoreError, check_store, opening
from cryobench.tracking.values import (
    EXPERIMENT_KIND, KIND_TAG, RESULTS_TAG, SHARED_VIEW_PREFIX, SUPERSEDED, end_abandoned,
    first_line, flatten, group_records, leaderboard_view, metric_key, per_class_markdown,
    results_tag, summary_metrics,
)


def default_tracking_uri(cwd: Path | None = None) -> str:
    """``$MLFLOW_TRACKING_URI``, else a SQLite file ``mlflow.db`` in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or \
        f"sqlite:///{(cwd or Path.cwd()).resolve() / 'mlflow.db'}"


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's own logging to warnings only, and few retries against a server (a
    server that is down answers in seconds, not minutes)."""
    import logging

    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                                            "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class MlflowTracker:
    """Writes a benchmark's runs; built by the driver's process and used only there."""

    def __init__(self, uri: str, bench: Benchmark) -> None:
        from mlflow import MlflowClient

        self.uri, self.bench = uri, bench
        with _quiet(), opening(uri):  # a new store's tables made by one process at a time
            self.client = MlflowClient(tracking_uri=uri)
        self.experiment_id: str | None = None
        self.parent_id: str | None = None
        self.open_runs: set[str] = set()  # child runs being written (ended by finish)
        self.abandoned = 0  # runs a killed invocation left RUNNING, ended by start
        self.results: str | None = None  # the invocation's result file (``results_tag``)

    # -- before any work -----------------------------------------------------------------

    def check(self) -> None:
        """The store answers (a server that is down, a SQLite file damaged or in a
        read-only place, a file store): one line for the user before any training."""
        check_store(self.uri)
        try:
            with _quiet():
                self.client.search_experiments(max_results=1)
        except Exception as exc:  # MLflow raises many types; all mean "not usable"
            raise StoreError(self.uri, f"cannot be used ({first_line(exc)})",
                             "check it (a server that is up? the right address?)") from None

    # -- the invocation --------------------------------------------------------------------

    def start(self, benchmark_text: str, plugins: dict[str, str],
              results: Path | None = None) -> None:
        """The experiment (created on first use) and this invocation's parent run.

        With ``results`` (the result file, whose lock this process holds), the runs that
        an earlier invocation on the same results left RUNNING (it was killed) are ended
        first, as KILLED: holding the lock, this process knows that one is dead."""
        with _quiet(), interrupts_deferred():  # whole: see cryobench.interrupts
            self.experiment_id = self._experiment()
            if results is not None:
                self.results = results_tag(results)
                self.abandoned = end_abandoned(self.client, self.experiment_id, self.results)
            tags = {KIND_TAG: "invocation", "profile": self.bench.profile or "",
                    "pid": str(os.getpid()),
                    **({RESULTS_TAG: results_tag(results)} if results is not None else {}),
                    "cryobench_version": __version__, "host": socket.gethostname(),
                    "python": platform.python_version(), "platform": platform.platform(),
                    "mlflow.runName": f"{self.bench.name}"
                                      f"{'.' + self.bench.profile if self.bench.profile else ''}"
                                      f" {time.strftime('%Y-%m-%d %H:%M')}"}
            run = self.client.create_run(self.experiment_id, tags=tags)
            self.parent_id = run.info.run_id
            self.share_leaderboard_view()  # the link works while a long run goes on
            self._params(self.parent_id, {f"plugin.{k}": v for k, v in plugins.items()})
            self._text_artifact(self.parent_id, "benchmark.toml", benchmark_text)

    def _experiment(self) -> str:
        existing = self.client.get_experiment_by_name(self.bench.name)
        if existing is not None:
            experiment_id = existing.experiment_id
        else:
            location = None
            if self.uri.startswith("sqlite:///"):  # artifacts beside the database
                location = (Path(self.uri.removeprefix("sqlite:///")).parent / "mlruns"
                            / self.bench.name).as_uri()
            experiment_id = self._create_experiment(location)
        for key, value in {**EXPERIMENT_KIND, "description": self.bench.description}.items():
            self.client.set_experiment_tag(experiment_id, key, value)
        return experiment_id

    def _create_experiment(self, location: str | None) -> str:
        """A new experiment; another run creating the same one at the same moment (one
        store, other results) is not an error: both use it."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.create_experiment(self.bench.name, location)
        except MlflowException:
            existing = self.client.get_experiment_by_name(self.bench.name)
            if existing is None:
                raise
            return existing.experiment_id

    def trial_finished(self, trial: TrialSpec, record: TrialRecord) -> None:
        """One child run per trial, whole, as it finishes (none is left running)."""
        if self.parent_id is None:
            return
        with _quiet(), interrupts_deferred():  # whole: see cryobench.interrupts
            self.log_trial(record, self.parent_id)

    def log_trial(self, record: TrialRecord, parent_id: str) -> str:
        from mlflow.entities import Metric

        assert self.experiment_id is not None
        tags = {KIND_TAG: "trial", "mlflow.parentRunId": parent_id, "arm": record.arm,
                "seed": str(record.seed), "fold": str(record.fold), "trial_key": record.key,
                "classes": record.classes_label, "status": record.status,
                "mlflow.runName": f"{record.arm} / seed {record.seed}"}
        tags.update({f"machine.{k}": v for k, v in record.machine.items()})
        if record.error:
            tags["error"] = record.error[:5000]
        run_id = self.client.create_run(self.experiment_id, tags=tags).info.run_id
        self.open_runs.add(run_id)
        self._params(run_id, flatten(record.config))
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in self.trial_metrics(record).items()]
        for h in record.history:
            metrics += [Metric(name, float(h[name]), now, int(h["epoch"]))
                        for name in ("train_loss", "val_macro_f1", "val_loss") if name in h]
        for start in range(0, len(metrics), 1000):  # MLflow's batch limit
            self.client.log_batch(run_id, metrics=metrics[start:start + 1000])
        self._trial_artifacts(run_id, record)
        self.client.set_terminated(run_id, "FINISHED" if record.ok else "FAILED")
        self.open_runs.discard(run_id)
        return run_id

    @staticmethod
    def trial_metrics(record: TrialRecord) -> dict[str, float]:
        out = {m: record.metrics[m] for m in METRICS if m in record.metrics}
        for row in record.per_class:
            for figure in ("f1", "gmean", "recall", "precision"):
                out[f"{figure}_{metric_key(row['name'])}"] = row[figure]
        figures = record.fit
        for name in ("epochs_run", "best_epoch", "fit_seconds", "samples_per_second"):
            if isinstance(figures.get(name), (int, float)):
                out[name] = figures[name]
        for name, value in record.timings.items():
            out[f"time_{name}"] = value
        return out

    def _trial_artifacts(self, run_id: str, record: TrialRecord) -> None:
        from cryobench.figures import confusion_png, learning_curve_png

        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "record.json").write_text(json.dumps(record.to_json(), indent=1))
            paths = [folder / "record.json"]
            if record.ok:
                title = f"{record.arm}, seed {record.seed}"
                paths.append(confusion_png(folder / "confusion.png", record.confusion,
                                           record.classes, title))
                (folder / "per_class.md").write_text(per_class_markdown(record))
                paths.append(folder / "per_class.md")
            if record.history:
                paths.append(learning_curve_png(folder / "learning_curve.png",
                                                record.history, f"{record.arm}, seed "
                                                                f"{record.seed}"))
            for path in paths:
                self.client.log_artifact(run_id, str(path))

    def finish(self, records: list[TrialRecord], leaderboard_markdown: str,
               status: str = "FINISHED") -> None:
        """The summary runs (one per arm and class subset), the leaderboard on the parent
        run, and the parent run ended with ``status`` (KILLED after Ctrl-C)."""
        if self.parent_id is None:
            return
        with _quiet(), interrupts_deferred():  # whole: see cryobench.interrupts
            for run_id in list(self.open_runs):  # a child cut short (Ctrl-C while writing it)
                self.client.set_terminated(run_id, "KILLED")
                self.open_runs.discard(run_id)
            groups = group_records(records)
            self.supersede(groups)
            arms = [arm for arm, _ in groups]
            for (arm, classes), rows in groups.items():
                self.log_summary(arm, classes, rows, named_by_classes=arms.count(arm) > 1)
            self._text_artifact(self.parent_id, "leaderboard.md", leaderboard_markdown)
            self.share_leaderboard_view()
            self.client.set_terminated(self.parent_id, status)
            self.parent_id = None

    def supersede(self, groups: dict[tuple[str, str], list[TrialRecord]]) -> None:
        """Earlier invocations' summaries on the same result file that these cover (their
        seeds among these): retagged, so that the leaderboard view shows each arm once
        after a run resumed many times; kept, not deleted."""
        if self.results is None:
            return
        seeds = {key: {r.seed for r in rows} for key, rows in groups.items()}
        found = self.client.search_runs([self.experiment_id], f"tags.{KIND_TAG} = 'summary'",
                                        max_results=50000)
        invocations = self.client.search_runs(
            [self.experiment_id], f"tags.{KIND_TAG} = 'invocation'", max_results=50000)
        same_file = {r.info.run_id for r in invocations
                     if r.data.tags.get(RESULTS_TAG) == self.results}
        for run in found:
            tags = run.data.tags
            now = seeds.get((tags.get("arm", ""), tags.get("classes", "")))
            if now is None or tags.get("mlflow.parentRunId") not in same_file:
                continue
            if tags.get("seeds") is not None:
                covered = {int(s) for s in tags["seeds"].split(",") if s} <= now
            else:  # written before summaries said their seeds: by how many
                covered = run.data.metrics.get("n", float("inf")) <= len(now)
            if covered:
                self.client.set_tag(run.info.run_id, KIND_TAG, SUPERSEDED)

    def end_parent(self, status: str) -> None:
        """End this invocation's run as ``status`` without writing anything else."""
        if self.parent_id is not None:
            with _quiet():
                self.client.set_terminated(self.parent_id, status)
            self.parent_id = None

    def share_leaderboard_view(self) -> None:
        """The leaderboard as a shared view of the experiment's runs table (MLflow's
        own mechanism behind its Share button: an experiment tag the link names): the
        summary runs, best first, with the columns that hold the scores."""
        assert self.experiment_id is not None
        self.client.set_experiment_tag(self.experiment_id,
                                       f"{SHARED_VIEW_PREFIX}{self.view_key}",
                                       json.dumps(leaderboard_view(self.bench.primary_metric)))

    @property
    def view_key(self) -> str:
        return f"cryobench-leaderboard-{self.bench.primary_metric}"

    def log_summary(self, arm: str, classes: str, rows: list[TrialRecord],
                    named_by_classes: bool = False) -> None:
        from mlflow.entities import Metric

        assert self.experiment_id is not None and self.parent_id is not None
        name = f"{arm} [{classes}]" if named_by_classes else arm
        tags = {KIND_TAG: "summary", "mlflow.parentRunId": self.parent_id, "arm": arm,
                "classes": classes, "mlflow.runName": name,
                "seeds": ",".join(map(str, sorted({r.seed for r in rows})))}
        reference = self.bench.reference.get(arm, {})
        run_id = self.client.create_run(self.experiment_id, tags=tags).info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in summary_metrics(rows).items()]
        metrics += [Metric(f"paper_{m}", v / 100, now, 0) for m, v in reference.items()]
        self.client.log_batch(run_id, metrics=metrics)
        tuned = [r for r in rows if r.tuned]
        if tuned:
            self.log_tuning(run_id, arm, tuned)
        self.client.set_terminated(run_id, "FINISHED")

    def log_tuning(self, summary_id: str, arm: str, rows: list[TrialRecord]) -> None:
        """The arm's choice per seed on its summary run, its tuning curves as a figure, and
        one run per tried configuration nested under it (its curve as steps)."""
        from mlflow.entities import Metric

        from cryobench.figures import tuning_curves_png

        assert self.experiment_id is not None
        self.client.set_tag(summary_id, "tuned", "true")
        self._params(summary_id, {f"seed{r.seed}.{target}": str(value)
                                  for r in rows for target, value in
                                  r.tuning.get("chosen", {}).items()})
        for record in rows:
            for i, row in enumerate(record.tuning.get("configurations", [])):
                tags = {KIND_TAG: "tuning", "mlflow.parentRunId": summary_id, "arm": arm,
                        "seed": str(record.seed), "status": row["status"],
                        "chosen": str(row["values"] == record.tuning.get("chosen")),
                        "mlflow.runName": f"{arm} / seed {record.seed} / configuration {i}"}
                run_id = self.client.create_run(self.experiment_id, tags=tags).info.run_id
                self._params(run_id, {k: str(v) for k, v in row["values"].items()})
                now = int(time.time() * 1000)
                metrics = [Metric("val_macro_f1", v, now, step)
                           for step, v in enumerate(row.get("curve", []), start=1)]
                if row.get("score") is not None:
                    metrics.append(Metric("selection_val_macro_f1", row["score"], now, 0))
                if metrics:
                    self.client.log_batch(run_id, metrics=metrics)
                self.client.set_terminated(run_id, "FINISHED")
        with tempfile.TemporaryDirectory() as tmp:
            path = tuning_curves_png(Path(tmp) / "tuning_curves.png",
                                     [{"seed": r.seed, "tuning": r.tuning} for r in rows],
                                     f"{arm}: tuning")
            self.client.log_artifact(summary_id, str(path))

    def _params(self, run_id: str, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start:start + 100])

    def _text_artifact(self, run_id: str, name: str, text: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_text(text, encoding="utf-8")
            self.client.log_artifact(run_id, str(path))

    # -- reading back ------------------------------------------------------------------

    def logged_trial_keys(self) -> set[str]:
        """Trial keys that have a finished child run in this benchmark's experiment."""
        experiment = self.client.get_experiment_by_name(self.bench.name)
        if experiment is None:
            return set()
        runs = self.client.search_runs([experiment.experiment_id],
                                       f"tags.{KIND_TAG} = 'trial' and "
                                       "attributes.status = 'FINISHED'", max_results=50000)
        return {r.data.tags["trial_key"] for r in runs}

    def log_report(self, folder: Path) -> str | None:
        """The report's files under ``report/`` of the newest invocation run of this
        benchmark and profile; None (nothing logged) when there is none."""
        with _quiet():
            experiment = self.client.get_experiment_by_name(self.bench.name)
            if experiment is None:
                return None
            profile = self.bench.profile or ""
            quote = '"' if "'" in profile else "'"  # a profile may be called "it's"
            runs = self.client.search_runs(
                [experiment.experiment_id],
                f"tags.{KIND_TAG} = 'invocation' and tags.profile = {quote}{profile}{quote}",
                order_by=["attributes.start_time DESC"], max_results=1)
            if not runs:
                return None
            run_id = runs[0].info.run_id
            for name in ("report.md", "report.html"):  # only what the report wrote
                self.client.log_artifact(run_id, str(folder / name), "report")
            self.client.log_artifacts(run_id, str(folder / "figures"), "report/figures")
            self.experiment_id = experiment.experiment_id
            return run_id

    def runs_url(self, ui: str) -> str:
        """The experiment's runs table opened on the leaderboard's shared view (see
        :meth:`share_leaderboard_view`): the summary runs, best first, their scores."""
        assert self.experiment_id is not None
        return (f"{ui.rstrip('/')}/#/experiments/{self.experiment_id}/runs?"
                f"viewStateShareKey={quote(self.view_key)}&workflowType=machine_learning")
