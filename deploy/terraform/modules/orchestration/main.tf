# The batch state machine (deploy/stepfunctions/batch.asl.json: RunGlue, then Finish), the Glue
# job it runs (deploy/glue/batch_job.py), and the EventBridge rules that invoke the schedule,
# alerts and finish (backstop) functions.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  glue_job_name       = "${var.name}-batch"
  glue_job_arn        = "arn:${local.partition}:glue:${local.region}:${local.account_id}:job/${local.glue_job_name}"
  glue_script_key     = "glue/batch_job.py"
  glue_script_path    = coalesce(var.glue_script_path, "${path.module}/../../../glue/batch_job.py")
  state_machine_arn   = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${var.state_machine_name}"
  definition_template = "${path.module}/../../../stepfunctions/batch.asl.json"

  landing_bucket_arn   = "arn:${local.partition}:s3:::${var.landing_bucket_name}"
  output_bucket_arn    = "arn:${local.partition}:s3:::${var.output_bucket_name}"
  artifacts_bucket_arn = "arn:${local.partition}:s3:::${var.artifacts_bucket_name}"
  batches_prefix       = "${var.output_prefix}_ingestflow/batches/"
  glue_log_groups      = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/*"

  # The wheel the Glue job installs: uploaded from ingestflow_wheel_path, or already in S3.
  wheel_key                 = var.ingestflow_wheel_path == null ? null : "wheels/${basename(var.ingestflow_wheel_path)}"
  additional_python_modules = local.wheel_key == null ? var.glue_additional_python_modules : "s3://${var.artifacts_bucket_name}/${local.wheel_key}"

  rules = {
    schedule = {
      description = "Every minute: reap expired leases and start the ready batches"
      function    = var.schedule_function_arn
    }
    alerts = {
      description = "The alert rules, their notifications and the daily report"
      function    = var.alerts_function_arn
    }
    execution_ended = {
      description = "Backstop: a batch execution that FAILED, TIMED_OUT or was ABORTED is finished in the ledger"
      function    = var.finish_function_arn
    }
  }
  rule_names = { for k in keys(local.rules) : k => "${var.name}-${replace(k, "_", "-")}" }
  rule_arns  = { for k, n in local.rule_names : k => "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${n}" }
}

################################################################################
# Glue job
################################################################################

# The ETag of an SSE-KMS object is not the MD5 of its content (so `etag = filemd5(...)` would
# never settle): source_hash carries the file's MD5, and Terraform uploads the file again
# exactly when it changes.
resource "aws_s3_object" "glue_script" {
  count = var.create ? 1 : 0

  bucket                 = var.artifacts_bucket_name
  key                    = local.glue_script_key
  source                 = local.glue_script_path
  source_hash            = filemd5(local.glue_script_path)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  content_type           = "text/x-python"
  tags                   = var.tags
}

resource "aws_s3_object" "wheel" {
  count = var.create && var.ingestflow_wheel_path != null ? 1 : 0

  bucket                 = var.artifacts_bucket_name
  key                    = local.wheel_key
  source                 = var.ingestflow_wheel_path
  source_hash            = filemd5(var.ingestflow_wheel_path)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  content_type           = "application/zip"
  tags                   = var.tags
}

resource "aws_glue_security_configuration" "this" {
  count = var.create ? 1 : 0

  name = "${var.name}-glue"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.kms_key_arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
  }
}

data "aws_iam_policy_document" "glue_assume" {
  statement {
    sid     = "GlueAssumesTheRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "glue" {
  count = var.create ? 1 : 0

  name               = "${var.name}-glue"
  description        = "The batch Glue job of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "glue" {
  statement {
    sid       = "ReadLandingFiles"
    actions   = ["s3:GetObject"]
    resources = ["${local.landing_bucket_arn}/${var.landing_prefix}*"]
  }

  statement {
    sid       = "ListLandingPrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.landing_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.landing_prefix}*"]
    }
  }

  statement {
    sid       = "WriteOutputs"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.output_bucket_arn}/${var.output_prefix}*"]
  }

  statement {
    sid       = "ReadBatchManifests"
    actions   = ["s3:GetObject"]
    resources = ["${local.output_bucket_arn}/${local.batches_prefix}*"]
  }

  statement {
    sid       = "ReadArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${local.artifacts_bucket_arn}/*"]
  }

  statement {
    sid       = "StackKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid = "GlueLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:AssociateKmsKey",
    ]
    resources = [local.glue_log_groups, "${local.glue_log_groups}:*"]
  }

  statement {
    sid       = "GlueJobMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }
}

resource "aws_iam_role_policy" "glue" {
  count = var.create ? 1 : 0

  name   = "ingestflow-glue"
  role   = aws_iam_role.glue[0].id
  policy = data.aws_iam_policy_document.glue.json
}

resource "aws_glue_job" "batch" {
  count = var.create ? 1 : 0

  name                   = local.glue_job_name
  description            = "ingestflow: convert one batch (--manifest) and write its results manifest (--results)"
  role_arn               = aws_iam_role.glue[0].arn
  glue_version           = "5.0"
  worker_type            = var.glue_worker_type
  number_of_workers      = var.glue_number_of_workers
  timeout                = var.glue_timeout_minutes
  max_retries            = 0
  security_configuration = aws_glue_security_configuration.this[0].name

  command {
    name            = "glueetl"
    script_location = "s3://${var.artifacts_bucket_name}/${local.glue_script_key}"
    python_version  = "3"
  }

  default_arguments = {
    "--additional-python-modules" = local.additional_python_modules
    "--enable-metrics"            = "true"
    "--job-language"              = "python"
  }

  execution_property {
    max_concurrent_runs = var.glue_max_concurrent_runs
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = (var.ingestflow_wheel_path == null) != (var.glue_additional_python_modules == null)
      error_message = "Set exactly one of ingestflow_wheel_path (a local wheel, uploaded) and glue_additional_python_modules (an s3:// URI)."
    }
  }

  depends_on = [aws_s3_object.glue_script, aws_s3_object.wheel, aws_iam_role_policy.glue]
}

################################################################################
# State machine
################################################################################

resource "aws_cloudwatch_log_group" "state_machine" {
  #checkov:skip=CKV_AWS_338:retention is log_retention_days per environment: prod keeps at least 365 days (tested), dev and staging keep less to save cost
  count = var.create ? 1 : 0

  name              = "/aws/vendedlogs/states/${var.state_machine_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "state_machine_assume" {
  statement {
    sid     = "StepFunctionsAssumesTheRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.state_machine_arn]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  count = var.create ? 1 : 0

  name               = "${var.name}-state-machine"
  description        = "The batch state machine of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.state_machine_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "state_machine" {
  statement {
    sid       = "RunTheGlueJob"
    actions   = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
    resources = [local.glue_job_arn]
  }

  statement {
    sid       = "InvokeFinish"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.finish_function_arn, "${var.finish_function_arn}:*"]
  }

  statement {
    sid = "LogDelivery"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  statement {
    sid = "XRayTraces"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  count = var.create ? 1 : 0

  name   = "ingestflow-state-machine"
  role   = aws_iam_role.state_machine[0].id
  policy = data.aws_iam_policy_document.state_machine.json
}

resource "aws_sfn_state_machine" "this" {
  count = var.create ? 1 : 0

  name     = var.state_machine_name
  type     = "STANDARD"
  role_arn = aws_iam_role.state_machine[0].arn
  definition = templatefile(local.definition_template, {
    glue_job_name       = local.glue_job_name
    finish_function_arn = var.finish_function_arn
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine[0].arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.state_machine]
}

# Every execution that did not succeed: the backstop rule finishes the same three statuses.
# A timed-out (RunGlue's 2 h) or aborted execution is not counted in ExecutionsFailed.
resource "aws_cloudwatch_metric_alarm" "executions_failed" {
  count = var.create ? 1 : 0

  alarm_name          = "${var.state_machine_name}-executions-failed"
  alarm_description   = "Batch executions of ${var.state_machine_name} failed, timed out or were aborted (their files were finished by the Catch path or the backstop rule; see the ledger)."
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "ended_badly"
    expression  = "FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0)"
    label       = "Executions failed, timed out or aborted"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = {
      failed    = "ExecutionsFailed"
      timed_out = "ExecutionsTimedOut"
      aborted   = "ExecutionsAborted"
    }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/States"
        metric_name = metric_query.value
        dimensions  = { StateMachineArn = aws_sfn_state_machine.this[0].arn }
        stat        = "Sum"
        period      = 300
      }
    }
  }
}

################################################################################
# EventBridge: schedule, alerts, and the execution-status backstop
################################################################################

resource "aws_sqs_queue" "events_dlq" {
  count = var.create ? 1 : 0

  name                              = "${var.name}-events-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_sqs_queue_policy" "events_dlq" {
  count = var.create ? 1 : 0

  queue_url = aws_sqs_queue.events_dlq[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventBridgeRulesOfThisStack"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.events_dlq[0].arn
        Condition = {
          ArnEquals = { "aws:SourceArn" = values(local.rule_arns) }
        }
      },
    ]
  })
}

resource "aws_cloudwatch_metric_alarm" "events_dlq" {
  count = var.create ? 1 : 0

  alarm_name          = "${var.name}-events-dlq-not-empty"
  alarm_description   = "EventBridge could not invoke a function of ${var.name} (schedule, alerts or the finish backstop)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.events_dlq[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_event_rule" "schedule" {
  count = var.create ? 1 : 0

  name                = local.rule_names["schedule"]
  description         = local.rules["schedule"].description
  schedule_expression = var.schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_rule" "alerts" {
  count = var.create ? 1 : 0

  name                = local.rule_names["alerts"]
  description         = local.rules["alerts"].description
  schedule_expression = var.alerts_schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_rule" "execution_ended" {
  count = var.create ? 1 : 0

  name        = local.rule_names["execution_ended"]
  description = local.rules["execution_ended"].description
  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["FAILED", "TIMED_OUT", "ABORTED"]
      stateMachineArn = [local.state_machine_arn]
    }
  })
  tags = var.tags
}

locals {
  created_rules = var.create ? {
    schedule        = aws_cloudwatch_event_rule.schedule[0]
    alerts          = aws_cloudwatch_event_rule.alerts[0]
    execution_ended = aws_cloudwatch_event_rule.execution_ended[0]
  } : {}
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = local.created_rules

  rule      = each.value.name
  target_id = "ingestflow-${replace(each.key, "_", "-")}"
  arn       = local.rules[each.key].function

  retry_policy {
    maximum_event_age_in_seconds = var.event_maximum_age_seconds
    maximum_retry_attempts       = var.event_maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq[0].arn
  }
}

resource "aws_lambda_permission" "events" {
  for_each = local.created_rules

  statement_id  = "EventBridge-${replace(each.key, "_", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = local.rules[each.key].function
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}
