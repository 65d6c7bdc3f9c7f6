"""The script Glue runs (the job's ScriptLocation): one batch, described by `--manifest`,
results to `--results`. All the work is in ingestflow.entrypoints.glue_job; install ingestflow
on the job with `--additional-python-modules` (a wheel URL or `ingestflow[aws]`; Glue provides
pyspark). No `if __name__ == "__main__"` guard: Glue does not promise to run the script as
__main__, and nothing imports this file."""

import sys

from ingestflow.entrypoints.glue_job import main

code = main(sys.argv[1:])
if code:  # exit only to report a failure: Glue ends the run at any SystemExit
    sys.exit(code)
