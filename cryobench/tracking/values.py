"""The plain values cryobench gives MLflow: parameters flattened, metric keys, the
summaries of an arm's trials, the leaderboard's shared view, and the RUNNING runs a
killed invocation left."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from cryobench.metrics import METRICS
from cryobench.run.records import TrialRecord
from cryobench.stats import summarise_values

KIND_TAG = "cryobench_kind"  # "invocation", "trial", "summary" or SUPERSEDED
#: a summary that a later invocation on the same result file covers: out of the
#: leaderboard view (which shows "summary"), kept
SUPERSEDED = "superseded summary"
#: experiment tags MLflow's runs table reads a shared view from (``viewStateShareKey``)
SHARED_VIEW_PREFIX = "mlflow.sharedViewState."
LEADERBOARD_METRICS = ("macro_f1", "macro_gmean")  # the link's score columns
RESULTS_TAG = "cryobench_results"  # an invocation's result file: host:absolute path
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
MAX_PARAM = 6000  # MLflow's limit on a parameter value


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as ``model.widths = [16, 32, 64]`` parameters."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            text = json.dumps(value) if not isinstance(value, str) else value
            out[name] = text[:MAX_PARAM]
    return out


def metric_key(text: str) -> str:
    """A class name as part of an MLflow metric key (letters, digits, _ - . / space)."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in text)


def leaderboard_view(primary_metric: str) -> dict[str, Any]:
    """MLflow's runs-table view state (its search facets and UI state, as its Share
    button saves them): summary runs sorted by the primary metric's mean, best first,
    showing each score's mean, std and the number of seeds."""
    metrics = list(dict.fromkeys((primary_metric, *LEADERBOARD_METRICS)))
    columns = [f"metrics.`{m}_{part}`" for m in metrics for part in ("mean", "std")]
    columns.append("metrics.`n`")
    return {"searchFilter": f"tags.{KIND_TAG} = 'summary'",
            "orderByKey": f"metrics.`{primary_metric}_mean`", "orderByAsc": False,
            "startTime": "ALL", "lifecycleFilter": "Active",
            "selectedColumns": columns, "columnOrder": columns,
            # narrow enough that all five fit beside MLflow's assistant panel
            "columnWidths": {c: 50 if c.endswith("`n`") else 118 if "_mean" in c else 100
                             for c in columns},
            "runListHidden": False, "viewMaximized": False}


def first_line(exc: BaseException) -> str:
    """An exception's first line, short: what MLflow says went wrong, not its traceback."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def results_tag(results: Path) -> str:
    """Which result file an invocation worked on, on which machine."""
    return f"{socket.gethostname()}:{Path(results).resolve()}"


def end_abandoned(client: Any, experiment_id: str, results: str) -> int:
    """End as KILLED the runs left RUNNING by invocations on the result file ``results``
    (``results_tag``) and those nested under them; how many were ended. Called by a
    process that holds that file's lock, so no such invocation is alive."""
    running = client.search_runs([experiment_id], "attributes.status = 'RUNNING'",
                                 max_results=50000)
    parents = {r.info.run_id for r in running
               if r.data.tags.get(KIND_TAG) == "invocation"
               and r.data.tags.get(RESULTS_TAG) == results}
    ended = set(parents)
    # children (trials, summaries) and theirs (tuning configurations), whatever their depth
    nested = {r.info.run_id: r.data.tags.get("mlflow.parentRunId") for r in running}
    grew = True
    while grew:
        grew = False
        for run_id, parent in nested.items():
            if run_id not in ended and parent in ended:
                ended.add(run_id)
                grew = True
    for run_id in ended:
        client.set_terminated(run_id, "KILLED")
    return len(ended)


def group_records(records: list[TrialRecord]) -> dict[tuple[str, str], list[TrialRecord]]:
    groups: dict[tuple[str, str], list[TrialRecord]] = {}
    for record in records:
        if record.ok:
            groups.setdefault((record.arm, record.classes_label), []).append(record)
    return groups


def summary_metrics(rows: list[TrialRecord]) -> dict[str, float]:
    """Mean, std and 95% interval of each metric over an arm's seeds (spread only with
    two or more)."""
    out: dict[str, float] = {"n": float(len(rows))}
    for m in METRICS:
        s = summarise_values([r.metrics[m] for r in rows])
        out[f"{m}_mean"] = s.mean
        if s.std is not None:
            out.update({f"{m}_std": s.std, f"{m}_ci_low": s.low, f"{m}_ci_high": s.high})
    return out


def per_class_markdown(record: TrialRecord) -> str:
    lines = [f"# {record.arm}, seed {record.seed}", "",
             "| class | precision | recall | F1 | G-mean | support |", "|---|---:|---:|---:|---:|---:|"]
    for row in record.per_class:
        lines.append(f"| {row['name']} | {row['precision']:.3f} | {row['recall']:.3f} | "
                     f"{row['f1']:.3f} | {row['gmean']:.3f} | {row['support']} |")
    m = record.metrics
    lines += ["", f"macro F1 {m['macro_f1']:.3f}, macro G-mean {m['macro_gmean']:.3f}, "
                  f"balanced accuracy {m['balanced_accuracy']:.3f}"]
    return "\n".join(lines) + "\n"
