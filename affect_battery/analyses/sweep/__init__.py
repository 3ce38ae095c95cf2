"""Many runs from one YAML file: models x seeds x prompt presets, then one comparison.

A sweep is only a list of ordinary ``analyze`` runs: every job is an
:class:`~.config.AnalyzeConfig` handed to :func:`~.suite.run_suite`, written to its own folder
``OUT/<model>__seed<k>__<preset>``, so a job's folder is exactly what ``affect-battery analyze``
would have written and nothing here repeats the suite's logic.

Why the pieces are as they are:

- **Validated at load.** The YAML is checked key by key (unknown keys, types, empty lists) and
  every job's ``AnalyzeConfig`` is built before anything runs, so a typo in the eleventh model
  is one :class:`~affect_battery.errors.UsageError` line naming the file and the key, not a
  failure two hours in.
- **Resumable.** ``run_suite`` swaps a run folder in whole (``_util.atomic.atomic_dir``), so a
  folder whose ``results.json`` parses and records this job's configuration is finished and is
  skipped; one with another configuration (the YAML changed) is run again. Failures are kept in
  ``OUT/manifest.json`` (one error line each, tracebacks under ``OUT/logs/``) and are not retried
  unless asked, so a model that cannot load does not cost time on every resume.
- **Executors.** ``local`` runs the jobs one after the other in this process. ``slurm`` submits
  them as a Slurm job array through submitit (imported only here; the ``sweep`` extra), and
  ``submitit-local`` runs the same submitit path on this machine, one subprocess per job (what
  the tests use, and a dry run of a cluster setup).
- **Comparison.** :func:`compare` reads every finished job's ``results.json`` and writes
  ``comparison.csv`` (one row per run and layer, with the layer's relative depth so models of
  different depths share an axis), ``comparison.md`` and ``comparison.png``. The metric is a
  name from :data:`METRICS` or a dotted path to any ``*_by_layer`` block of results.json; by
  default the paired margin over TF-IDF when the runs have it, else the unpaired AUROC.

Modules: ``spec`` (the YAML file and its jobs), ``state`` (which jobs are finished), ``run``
(executors), ``metrics`` (the per-layer figures runs are compared by) and ``compare``.
"""

from .compare import (
           Comparison,
           by_layer,
           compare,
           comparison_figure,
           comparison_markdown,
           comparison_table,
)
from .metrics import DEFAULT_METRICS, METRICS, Metric, metric_named
from .run import SweepOutcome, run_job, run_sweep
from .spec import (
           EXECUTORS,
           LOGS,
           MANIFEST,
           Executor,
           Job,
           ModelEntry,
           SlurmOptions,
           SweepSpec,
           job_name,
           slug,
)
from .state import Planned, finished, plan, read_manifest, read_results

__all__ = ["DEFAULT_METRICS", "EXECUTORS", "LOGS", "MANIFEST", "METRICS", "Comparison",
           "Executor", "Job", "Metric", "ModelEntry", "Planned", "SlurmOptions", "SweepOutcome",
           "SweepSpec", "by_layer", "compare", "comparison_figure", "comparison_markdown",
           "comparison_table", "finished", "job_name", "metric_named", "plan", "read_manifest",
           "read_results", "run_job", "run_sweep", "slug"]
