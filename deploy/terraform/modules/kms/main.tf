# One customer-managed key for the stack's data at rest: S3, SQS, DynamoDB, SNS, CloudWatch
# Logs, the Lambda environment, ECR, SSM and Glue. The key policy names no account id: it is
# read from the caller's identity. IAM policies of the stack's roles grant the use of the key
# (the account statement below delegates to IAM); the service statements let AWS services
# that write into encrypted destinations on their own (S3 notifications into the queue,
# EventBridge into its DLQ, CloudWatch alarms into the topic, CloudWatch Logs) use it, only on
# behalf of this account.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  key_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        # Without this statement the key becomes unmanageable, and IAM policies cannot grant
        # its use. In a key policy "Resource": "*" means this key.
        Sid       = "AccountAdministersTheKeyAndDelegatesItsUseToIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action = [
          "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
          "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
          "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
          "kms:RotateKeyOnDemand", "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
          "kms:GenerateDataKey*", "kms:RetireGrant",
        ]
        Resource = "*"
      },
      {
        Sid       = "CloudWatchLogsEncryptsThisAccountsLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        Sid    = "ServicesDeliverIntoEncryptedQueuesAndTopicsOfThisAccount"
        Effect = "Allow"
        Principal = {
          Service = ["s3.amazonaws.com", "events.amazonaws.com", "cloudwatch.amazonaws.com"]
        }
        Action   = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  }
}

resource "aws_kms_key" "this" {
  count = var.create ? 1 : 0

  description             = "${var.name}: ingestflow data at rest (S3, SQS, DynamoDB, SNS, logs, Lambda, ECR, SSM, Glue)"
  enable_key_rotation     = true
  rotation_period_in_days = var.rotation_period_in_days
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = jsonencode(local.key_policy)

  tags = merge(var.tags, { "ingestflow:stack" = var.name })
}

resource "aws_kms_alias" "this" {
  count = var.create ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}
