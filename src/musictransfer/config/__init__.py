"""The workflow configuration: read, validated against its schema, resolved to an Experiment.

Both the Snakefile and the command-line tools read the configuration through this
package, so the two cannot disagree on which tasks, extractors, layer combinations and
cells an experiment has:

- :mod:`~musictransfer.config.schema`: reading and merging YAML files, and validation
  against the JSON schema, which is the home of every default (the validated
  configuration has them filled in);
- :mod:`~musictransfer.config.specs`: a task (:class:`TaskSpec`), its cross-validation
  and the names of extractors and layer combinations;
- :mod:`~musictransfer.config.experiment`: the resolved :class:`Experiment`, which says
  which cells, batches, probes and checks a run has.

Standard library, PyYAML and jsonschema only: the Snakefile imports it in Snakemake's own
environment.
"""

from musictransfer.config.experiment import (
    Cell,
    Choi2017Settings,
    DatasetOptions,
    DemoSettings,
    Experiment,
    FixedSplit,
    Probe,
    ProtocolSettings,
    SkippedCell,
    resolve_experiment,
)
from musictransfer.config.schema import (
    SCHEMA_DOC,
    SCHEMA_FILE,
    load_config,
    load_configs,
    merge_config,
    validated,
)
from musictransfer.config.specs import (
    CELL_COMBO_PATTERN,
    CHOI2017_PATTERN,
    CV_SCHEMES,
    EXTRACTOR_PATTERN,
    TASK_TYPES,
    TRAINED_PATTERN,
    CVSpec,
    TaskSpec,
    choi2017_bn_mode,
    expand_combos,
    is_choi2017,
    is_extractor,
    task_spec,
)

__all__ = [
    "CELL_COMBO_PATTERN",
    "CHOI2017_PATTERN",
    "CV_SCHEMES",
    "EXTRACTOR_PATTERN",
    "SCHEMA_DOC",
    "SCHEMA_FILE",
    "TASK_TYPES",
    "TRAINED_PATTERN",
    "CVSpec",
    "Cell",
    "Choi2017Settings",
    "DatasetOptions",
    "DemoSettings",
    "Experiment",
    "FixedSplit",
    "Probe",
    "ProtocolSettings",
    "SkippedCell",
    "TaskSpec",
    "choi2017_bn_mode",
    "expand_combos",
    "is_choi2017",
    "is_extractor",
    "load_config",
    "load_configs",
    "merge_config",
    "resolve_experiment",
    "task_spec",
    "validated",
]
