# The one image of ingestflow's five Lambda functions (README "Deploy on AWS"). Each function
# picks its handler with `image_config.command`, ingestflow.entrypoints.aws_lambda.<name>.handler
# for register, schedule, finish, alerts and forward_metrics; CMD below is only the default.
#
#   docker buildx build --platform linux/amd64 --provenance=false --sbom=false \
#     --build-arg LAMBDA_BASE_DIGEST=sha256:... -t ingestflow-lambda .
#
# --provenance=false / --sbom=false: BuildKit attestations turn the push into an OCI image
# index, which Lambda rejects (aws/aws-lambda-roadmap#82). .github/workflows/deploy.yml sets both.
#
# Base image pinning: the tag is pinned to the Python minor version of the runtime
# (3.11, as the Glue 5 job and pyproject's requires-python). AWS republishes that tag with OS and
# runtime patches, so the build is reproducible only by digest. The digest cannot be looked up
# offline where this file was written, so it is a build argument: CI passes the digest it was
# told to use (deploy.yml: the repository variable LAMBDA_BASE_DIGEST, e.g.
# `docker buildx imagetools inspect public.ecr.aws/lambda/python:3.11` -> "Digest: sha256:...",
# reviewed and bumped like any dependency). Without it the build uses the tag as published today.
# The same base serves the builder, so the wheel is built by the runtime's own Python.
# No `# syntax=` line: it would pull an unpinned frontend image from Docker Hub; BuildKit's
# built-in Dockerfile frontend has RUN --mount.
ARG LAMBDA_BASE_DIGEST=""

FROM public.ecr.aws/lambda/python:3.11${LAMBDA_BASE_DIGEST:+@}${LAMBDA_BASE_DIGEST} AS builder
WORKDIR /build
# Only what the wheel is built from: pyproject names README.md as the readme and LICENSE as
# its licence file, the package is under src/. And the handlers' requirements.
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
COPY deploy/lambda/requirements.txt /wheels/requirements.txt
# The wheel, and a requirement naming it by its path (a PEP 508 direct reference, so pip never
# looks for an "ingestflow" on PyPI, which could be someone else's project), whatever the
# version in pyproject.toml.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && printf 'ingestflow @ file://%s\n' /wheels/ingestflow-*.whl > /wheels/ingestflow.txt

FROM public.ecr.aws/lambda/python:3.11${LAMBDA_BASE_DIGEST:+@}${LAMBDA_BASE_DIGEST}
LABEL org.opencontainers.image.title="ingestflow-lambda" \
      org.opencontainers.image.description="ingestflow's AWS Lambda functions: register, schedule, finish, alerts, forward_metrics (one image, the handler chosen by each function's command)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="public.ecr.aws/lambda/python:3.11"
# org.opencontainers.image.source, .revision and .base.digest are added by the build
# (deploy.yml: build-push-action `labels`), which knows the repository, commit and base digest.

# Small: the wheel with --no-deps, and only deploy/lambda/requirements.txt (boto3,
# aws-lambda-powertools and orjson, with their own dependencies). The package's other
# dependencies serve the CLI, the local engines, the folder watcher and the web server, which
# no handler imports: duckdb, pyarrow, watchdog, starlette, uvicorn, jinja2, typer, rich and
# prometheus-client are left out
# (tests/integration/test_lambda_image_dependencies.py runs the handlers with them refused),
# and so are the Spark, PostgreSQL, polars and datadog extras (the Datadog sink speaks Datadog's
# HTTP API with urllib). `pip check` would list the left-out dependencies: by design.
# The files come from the builder through a bind mount, so they are not left in a layer.
# Installed into ${LAMBDA_TASK_ROOT} (/var/task), which comes first on the runtime's sys.path,
# so these boto3/botocore shadow the runtime's copy. The second install warns that
# ${LAMBDA_TASK_ROOT}/bin exists (jmespath's script) and skips the `ingestflow` console
# script: no function runs it.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --disable-pip-version-check --target "${LAMBDA_TASK_ROOT}" \
      --requirement /wheels/requirements.txt \
    && pip install --no-cache-dir --disable-pip-version-check --target "${LAMBDA_TASK_ROOT}" \
      --no-deps --requirement /wheels/ingestflow.txt

# The packaged configuration (placeholders that the functions' INGESTFLOW_* variables replace:
# deploy/lambda/ingestflow.toml). Terraform sets INGESTFLOW_CONFIG too; this default lets the
# image run by itself (the Lambda runtime interface emulator, `docker run -p 9000:8080`).
COPY deploy/lambda/ingestflow.toml ${LAMBDA_TASK_ROOT}/ingestflow.toml
ENV INGESTFLOW_CONFIG=${LAMBDA_TASK_ROOT}/ingestflow.toml

# Non-root. Lambda itself ignores USER (it honours only ENTRYPOINT, CMD, WORKDIR and ENV from
# the image, and always runs the function as its own least-privileged Linux user, so every file
# must be readable by others: pip leaves them 0644/0755). USER therefore only changes a local
# `docker run`: the base image's ENTRYPOINT, /lambda-entrypoint.sh, execs the runtime interface
# emulator (port 8080) or /var/runtime/bootstrap, neither of which needs root. A numeric id needs
# no /etc/passwd entry.
USER 1000:1000

# Lambda has its own health model (init and invoke timeouts); a Docker HEALTHCHECK is never run.
HEALTHCHECK NONE

CMD ["ingestflow.entrypoints.aws_lambda.register.handler"]
