# The ops notifier's SNS topic (the alerts function publishes to it, and so do the CloudWatch
# alarms of the stack), its e-mail subscriptions, the SSM parameter holding the Datadog API key,
# and an Errors alarm per function.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
}

resource "aws_sns_topic" "this" {
  count = var.create ? 1 : 0

  name              = "${var.name}-alerts"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "this" {
  count = var.create ? 1 : 0

  arn = aws_sns_topic.this[0].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountPrincipalsWithIamPermission"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"]
        Resource  = aws_sns_topic.this[0].arn
      },
      {
        Sid       = "CloudWatchAlarmsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.this[0].arn
        Condition = {
          ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:*" }
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.this[0].arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.create ? toset(var.alert_emails) : toset([])

  topic_arn = aws_sns_topic.this[0].arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_ssm_parameter" "datadog_api_key" {
  count = var.create ? 1 : 0

  name        = var.datadog_api_key_parameter_name
  description = "Datadog API key of ${var.name} (read by schedule and forward_metrics). Set out of band; Terraform keeps only the placeholder."
  type        = "SecureString"
  key_id      = var.kms_key_arn
  value       = "placeholder-set-out-of-band"
  tags        = var.tags

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = var.create ? var.function_names : {}

  alarm_name          = "${each.value}-errors"
  alarm_description   = "The ${each.key} function of ${var.name} raised errors (see its log group /aws/lambda/${each.value})."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = var.error_alarm_period_seconds
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this[0].arn]
  ok_actions          = [aws_sns_topic.this[0].arn]
  tags                = var.tags
}
