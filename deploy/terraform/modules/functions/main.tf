# The five Lambda functions of ingestflow, from ONE container image (package_type Image, pinned
# by digest), each with its own role, least-privilege inline policy and log group:
#
#   register         SQS (landing notifications), ReportBatchItemFailures
#   forward_metrics  the files table's stream (DONE/FAILED changes), ReportBatchItemFailures
#   schedule         EventBridge every minute         (orchestration module)
#   finish           the state machine's Finish task, and the EventBridge backstop
#   alerts           EventBridge on its schedule      (orchestration module)
#
# Every function gets exactly the variables of DEPLOYMENT_VARIABLES in
# src/ingestflow/bootstrap_lambda.py (tested). The ECR repository holding the image is here.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  # Invoked by an event source mapping: failures go back to their source (the queue's
  # redrive policy, the stream's on-failure destination).
  mapped_functions = ["register", "forward_metrics"]
  # Invoked asynchronously (EventBridge) or synchronously (Step Functions): asynchronous
  # failures go to the dead-letter queue.
  invoked_functions = ["schedule", "finish", "alerts"]

  function_keys  = concat(local.mapped_functions, local.invoked_functions)
  function_names = { for k in local.function_keys : k => "${var.name}-${replace(k, "_", "-")}" }

  landing_bucket_arn = "arn:${local.partition}:s3:::${var.landing_bucket_name}"
  output_bucket_arn  = "arn:${local.partition}:s3:::${var.output_bucket_name}"
  batches_prefix     = "${var.output_prefix}_ingestflow/batches/"
  state_machine_arn  = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${var.state_machine_name}"
  executions_arn     = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${var.state_machine_name}:*"
  datadog_key_arn    = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.datadog_api_key_parameter_name}"

  # Exactly DEPLOYMENT_VARIABLES (src/ingestflow/bootstrap_lambda.py): the packaged config
  # file, and the values that replace its placeholders in this environment.
  environment = {
    INGESTFLOW_CONFIG                            = var.config_path
    INGESTFLOW_LANDING__URL                      = "s3://${var.landing_bucket_name}/${var.landing_prefix}"
    INGESTFLOW_OUTPUT__URL                       = "s3://${var.output_bucket_name}/${var.output_prefix}"
    INGESTFLOW_LEDGER__URL                       = "dynamodb://${var.table_prefix}"
    INGESTFLOW_ENGINE__STATE_MACHINE_ARN         = local.state_machine_arn
    INGESTFLOW_METRICS__ENV                      = var.environment
    INGESTFLOW_METRICS__DATADOG__API_KEY_SSM     = var.datadog_api_key_parameter_name
    INGESTFLOW_ALERTS__NOTIFIERS__OPS__TOPIC_ARN = var.alerts_topic_arn
  }

  # Only changes that end a file wake forward_metrics: an item created DONE or FAILED, or an
  # item whose status BECOMES DONE or FAILED. A MODIFY that keeps the status (a DONE file's
  # attributes rewritten, a FAILED file's attempt counted) is not a transition: the handler
  # skips it (transition_from_stream_record), so the filter drops it before an invocation.
  # A filter cannot compare NewImage with OldImage, hence one filter per ending status
  # ("anything-but" the same status before); filters are ORed (at most 5 per mapping).
  stream_filters = [
    {
      eventName = ["INSERT"]
      dynamodb  = { NewImage = { status = { S = ["DONE", "FAILED"] } } }
    },
    {
      eventName = ["MODIFY"]
      dynamodb = {
        NewImage = { status = { S = ["DONE"] } }
        OldImage = { status = { S = [{ "anything-but" = ["DONE"] }] } }
      }
    },
    {
      eventName = ["MODIFY"]
      dynamodb = {
        NewImage = { status = { S = ["FAILED"] } }
        OldImage = { status = { S = [{ "anything-but" = ["FAILED"] }] } }
      }
    },
  ]

  # Every table of the ledger and its indexes (DescribeTable at start-up; never CreateTable).
  ledger_resources = concat(var.table_arns, [for arn in var.table_arns : "${arn}/index/*"])
}

################################################################################
# ECR repository of the functions' image
################################################################################

resource "aws_ecr_repository" "this" {
  count = var.create ? 1 : 0

  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  count = var.create ? 1 : 0

  repository = aws_ecr_repository.this[0].name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the newest ${var.ecr_keep_images} images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.ecr_keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

resource "aws_ecr_repository_policy" "this" {
  count = var.create ? 1 : 0

  repository = aws_ecr_repository.this[0].name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "LambdaPullsForThisStacksFunctions"
        Effect    = "Allow"
        Principal = { Service = "lambda.amazonaws.com" }
        Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        Condition = {
          StringLike = {
            "aws:sourceArn" = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${var.name}-*"
          }
        }
      },
    ]
  })
}

################################################################################
# Failure queues
################################################################################

resource "aws_sqs_queue" "async_failures" {
  count = var.create ? 1 : 0

  name                              = "${var.name}-lambda-async-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_sqs_queue" "stream_failures" {
  count = var.create ? 1 : 0

  name                              = "${var.name}-forward-metrics-failures"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_cloudwatch_metric_alarm" "failure_queues" {
  for_each = var.create ? {
    async_failures  = aws_sqs_queue.async_failures[0].name
    stream_failures = aws_sqs_queue.stream_failures[0].name
  } : {}

  alarm_name          = "${each.value}-not-empty"
  alarm_description   = "Failed invocations of the ${var.name} functions are in ${each.value}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
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

################################################################################
# Log groups
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:retention is log_retention_days per environment: prod keeps at least 365 days (tested), dev and staging keep less to save cost
  for_each = var.create ? toset(local.function_keys) : toset([])

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

################################################################################
# IAM: one role per function, one inline policy naming the ARNs it uses
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumesTheRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = var.create ? toset(local.function_keys) : toset([])

  name               = local.function_names[each.key]
  description        = "The ${each.key} function of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# What every function does: the ledger, its own log group, the stack's key, X-Ray.
data "aws_iam_policy_document" "common" {
  for_each = var.create ? toset(local.function_keys) : toset([])

  statement {
    sid = "Ledger"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:DescribeTable",
    ]
    resources = local.ledger_resources
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:*"]
  }

  statement {
    sid       = "StackKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "register" {
  count = var.create ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.common["register"].json]

  statement {
    sid = "NotificationQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [var.notification_queue_arn]
  }

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
}

data "aws_iam_policy_document" "schedule" {
  count = var.create ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.common["schedule"].json]

  statement {
    sid       = "StartBatchExecutions"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid       = "DescribeBatchExecutions"
    actions   = ["states:DescribeExecution"]
    resources = [local.executions_arn]
  }

  statement {
    sid       = "BatchManifests"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${local.output_bucket_arn}/${local.batches_prefix}*"]
  }

  statement {
    sid       = "DatadogApiKey"
    actions   = ["ssm:GetParameter"]
    resources = [local.datadog_key_arn]
  }

  statement {
    sid       = "AsynchronousFailures"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.async_failures[0].arn]
  }
}

data "aws_iam_policy_document" "finish" {
  count = var.create ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.common["finish"].json]

  statement {
    sid       = "BatchManifests"
    actions   = ["s3:GetObject"]
    resources = ["${local.output_bucket_arn}/${local.batches_prefix}*"]
  }

  statement {
    sid       = "AsynchronousFailures"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.async_failures[0].arn]
  }
}

data "aws_iam_policy_document" "alerts" {
  count = var.create ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.common["alerts"].json]

  statement {
    sid       = "OpsNotifier"
    actions   = ["sns:Publish"]
    resources = [var.alerts_topic_arn]
  }

  statement {
    sid       = "AsynchronousFailures"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.async_failures[0].arn]
  }
}

data "aws_iam_policy_document" "forward_metrics" {
  count = var.create ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.common["forward_metrics"].json]

  statement {
    sid = "FilesTableStream"
    actions = [
      "dynamodb:GetRecords",
      "dynamodb:GetShardIterator",
      "dynamodb:DescribeStream",
      "dynamodb:ListStreams",
    ]
    resources = [var.files_stream_arn]
  }

  statement {
    sid       = "StreamFailures"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.stream_failures[0].arn]
  }

  statement {
    sid       = "DatadogApiKey"
    actions   = ["ssm:GetParameter"]
    resources = [local.datadog_key_arn]
  }
}

locals {
  policies = var.create ? {
    register        = data.aws_iam_policy_document.register[0].json
    schedule        = data.aws_iam_policy_document.schedule[0].json
    finish          = data.aws_iam_policy_document.finish[0].json
    alerts          = data.aws_iam_policy_document.alerts[0].json
    forward_metrics = data.aws_iam_policy_document.forward_metrics[0].json
  } : {}
}

resource "aws_iam_role_policy" "this" {
  for_each = var.create ? toset(local.function_keys) : toset([])

  name   = "ingestflow-${replace(each.key, "_", "-")}"
  role   = aws_iam_role.this[each.key].id
  policy = local.policies[each.key]
}

################################################################################
# Functions
################################################################################

resource "aws_lambda_function" "mapped" {
  #checkov:skip=CKV_AWS_116:invoked by an event source mapping, not asynchronously: a function DLQ never receives its failures; the queue's redrive policy (register) and the stream mapping's on-failure destination (forward_metrics) keep them
  #checkov:skip=CKV_AWS_117:no private resources to reach (S3, SQS, DynamoDB, Step Functions, SSM, SNS and Datadog are public endpoints); a VPC would add NAT or endpoint cost and ENI cold starts
  #checkov:skip=CKV_AWS_272:Lambda does not support code signing for container images; the image is deployed by digest from an IMMUTABLE, scan-on-push, KMS-encrypted ECR repository
  for_each = var.create ? toset(local.mapped_functions) : toset([])

  function_name                  = local.function_names[each.key]
  description                    = "ingestflow ${each.key} (${var.name})"
  role                           = aws_iam_role.this[each.key].arn
  package_type                   = "Image"
  image_uri                      = var.image_uri
  architectures                  = [var.architecture]
  timeout                        = var.functions[each.key].timeout
  memory_size                    = var.functions[each.key].memory_size
  reserved_concurrent_executions = var.functions[each.key].reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  image_config {
    command = ["ingestflow.entrypoints.aws_lambda.${each.key}.handler"]
  }

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_lambda_function" "invoked" {
  #checkov:skip=CKV_AWS_117:no private resources to reach (S3, SQS, DynamoDB, Step Functions, SSM, SNS and Datadog are public endpoints); a VPC would add NAT or endpoint cost and ENI cold starts
  #checkov:skip=CKV_AWS_272:Lambda does not support code signing for container images; the image is deployed by digest from an IMMUTABLE, scan-on-push, KMS-encrypted ECR repository
  for_each = var.create ? toset(local.invoked_functions) : toset([])

  function_name                  = local.function_names[each.key]
  description                    = "ingestflow ${each.key} (${var.name})"
  role                           = aws_iam_role.this[each.key].arn
  package_type                   = "Image"
  image_uri                      = var.image_uri
  architectures                  = [var.architecture]
  timeout                        = var.functions[each.key].timeout
  memory_size                    = var.functions[each.key].memory_size
  reserved_concurrent_executions = var.functions[each.key].reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  image_config {
    command = ["ingestflow.entrypoints.aws_lambda.${each.key}.handler"]
  }

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.async_failures[0].arn
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

################################################################################
# Event source mappings
################################################################################

resource "aws_lambda_event_source_mapping" "register" {
  count = var.create ? 1 : 0

  event_source_arn                   = var.notification_queue_arn
  function_name                      = aws_lambda_function.mapped["register"].arn
  batch_size                         = var.sqs_batch_size
  maximum_batching_window_in_seconds = var.sqs_maximum_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.sqs_maximum_concurrency
  }
}

resource "aws_lambda_event_source_mapping" "forward_metrics" {
  count = var.create ? 1 : 0

  event_source_arn                   = var.files_stream_arn
  function_name                      = aws_lambda_function.mapped["forward_metrics"].arn
  starting_position                  = var.stream_starting_position
  batch_size                         = var.stream_batch_size
  maximum_batching_window_in_seconds = var.stream_maximum_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.stream_maximum_retry_attempts
  maximum_record_age_in_seconds      = var.stream_maximum_record_age_seconds
  parallelization_factor             = 1

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.stream_failures[0].arn
    }
  }

  filter_criteria {
    dynamic "filter" {
      for_each = local.stream_filters
      content {
        pattern = jsonencode(filter.value)
      }
    }
  }
}
