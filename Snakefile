"""musictransfer: Choi et al. (ISMIR 2017) transfer learning for music, as a workflow.

Run `snakemake --cores 2` for the default (demo) experiment; see README.md.
"""

import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# The package lives in src/ and is put on the path of this process (to read and resolve
# the configuration) and of every job (see the shell prefix in common.smk), so that the
# workflow runs its own code whether or not musictransfer is installed in the job's
# environment.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
# Every rule that computes a result carries the package version as a parameter, so that
# a new release reruns them (Snakemake does not see edits to the package's code; the
# results record the exact commit, and the report warns when a table mixes several).
from musictransfer import __version__ as CODE_VERSION  # noqa: E402
from musictransfer.config import load_config, resolve_experiment  # noqa: E402

# Snakemake's own message for a YAML syntax error names neither the file nor the line:
# read config.yaml here first, so that the error does (a ConfigError).
if Path("config.yaml").is_file():
    load_config("config.yaml")


configfile: "config.yaml"


# The merged configuration (config.yaml, --configfile, --config) is validated against
# workflow/schemas/config.schema.yaml, unknown keys included, with its defaults filled
# in, then resolved: every message names the offending key.
EXPERIMENT = resolve_experiment(config)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/audio.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/pretrained.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/representations.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/protocols.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        final_targets(),
    default_target: True
