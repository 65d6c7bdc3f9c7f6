# GitHub Actions -> AWS without static keys: the OIDC provider and one deploy role per
# environment. A role trusts only the workflow jobs of one GitHub environment of one repository
# (StringEquals on aud and on the exact sub; no wildcard, no ForAllValues), and its policy
# reaches only that environment's stack (resources named <stack_name>-..., the key tagged
# ingestflow:stack = <stack_name>) and that environment's key in the state bucket.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  region       = data.aws_region.current.region
  oidc_host    = "token.actions.githubusercontent.com"
  provider_arn = var.create && var.create_provider ? aws_iam_openid_connect_provider.github[0].arn : var.oidc_provider_arn
  environments = var.create ? var.environments : {}

  subjects = {
    for env, e in var.environments : env => coalesce(e.subject, "repo:${var.github_repository}:environment:${env}")
  }

  # ARN prefixes of each environment's stack.
  arn = {
    for env, e in var.environments : env => {
      buckets   = "arn:${local.partition}:s3:::${e.stack_name}-${local.account_id}-*"
      artifacts = "arn:${local.partition}:s3:::${e.stack_name}-${local.account_id}-artifacts"
      regional  = "${local.region}:${local.account_id}"
      state     = "arn:${local.partition}:s3:::${var.state_bucket_name}/${var.state_key_prefix}/${env}/terraform.tfstate"
      database  = replace(e.stack_name, "-", "_")
    }
  }
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create && var.create_provider ? 1 : 0

  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
  # AWS trusts GitHub's certificate authority for this provider; the list is still required
  # by older providers.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
  tags            = var.tags
}

data "aws_iam_policy_document" "trust" {
  for_each = local.environments

  statement {
    sid     = "GitHubEnvironment${title(each.key)}"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = [local.subjects[each.key]]
    }
  }
}

resource "aws_iam_role" "deploy" {
  for_each = local.environments

  name                 = "${var.role_name_prefix}-${each.key}"
  description          = "GitHub Actions (${local.subjects[each.key]}) deploys ${each.value.stack_name}"
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  max_session_duration = var.max_session_duration
  tags                 = var.tags
}

data "aws_iam_policy_document" "deploy" {
  for_each = local.environments

  # Terraform state: this environment's key (and its lock file) only.
  statement {
    sid       = "StateBucketListing"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.state_bucket_name}"]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.state_key_prefix}/${each.key}/*"]
    }
  }

  statement {
    sid       = "StateObject"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.arn[each.key].state]
  }

  statement {
    sid       = "StateLockFile"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.arn[each.key].state}.tflock"]
  }

  dynamic "statement" {
    for_each = var.state_kms_key_arn == null ? [] : [var.state_kms_key_arn]
    content {
      sid       = "StateKey"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  # S3: bucket-level actions only on the stack's buckets; objects only where Terraform and CI
  # write (the Glue script, the wheel), never the landing or output data.
  statement {
    sid = "StackBuckets"
    actions = [
      "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucket*", "s3:PutBucket*",
      "s3:DeleteBucketPolicy", "s3:GetAccelerateConfiguration", "s3:GetLifecycleConfiguration",
      "s3:PutLifecycleConfiguration", "s3:GetReplicationConfiguration",
      "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
    ]
    resources = [local.arn[each.key].buckets]
  }

  statement {
    sid       = "ArtifactObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging", "s3:PutObjectTagging"]
    resources = ["${local.arn[each.key].artifacts}/glue/*", "${local.arn[each.key].artifacts}/wheels/*"]
  }

  statement {
    sid = "StackQueues"
    actions = [
      "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
      "sqs:GetQueueUrl", "sqs:ListQueueTags", "sqs:TagQueue", "sqs:UntagQueue",
    ]
    resources = ["arn:${local.partition}:sqs:${local.arn[each.key].regional}:${each.value.stack_name}-*"]
  }

  statement {
    sid = "StackTables"
    actions = [
      "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:Describe*",
      "dynamodb:UpdateContinuousBackups", "dynamodb:UpdateTimeToLive", "dynamodb:ListTagsOfResource",
      "dynamodb:TagResource", "dynamodb:UntagResource",
    ]
    resources = ["arn:${local.partition}:dynamodb:${local.arn[each.key].regional}:table/${each.value.stack_name}-*"]
  }

  statement {
    sid = "StackFunctions"
    actions = [
      "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
      "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration", "lambda:PutFunctionConcurrency",
      "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionConcurrency",
      "lambda:GetFunctionCodeSigningConfig", "lambda:ListVersionsByFunction", "lambda:GetPolicy",
      "lambda:AddPermission", "lambda:RemovePermission", "lambda:TagResource",
      "lambda:UntagResource", "lambda:ListTags",
    ]
    resources = ["arn:${local.partition}:lambda:${local.arn[each.key].regional}:function:${each.value.stack_name}-*"]
  }

  statement {
    sid = "StackEventSourceMappings"
    actions = [
      "lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping",
      "lambda:DeleteEventSourceMapping", "lambda:ListTags", "lambda:TagResource", "lambda:UntagResource",
    ]
    resources = ["arn:${local.partition}:lambda:${local.arn[each.key].regional}:event-source-mapping:*"]
    condition {
      test     = "ArnLike"
      variable = "lambda:FunctionArn"
      values   = ["arn:${local.partition}:lambda:${local.arn[each.key].regional}:function:${each.value.stack_name}-*"]
    }
  }

  statement {
    sid       = "CreateEventSourceMappingsForStackFunctions"
    actions   = ["lambda:CreateEventSourceMapping"]
    resources = ["*"]
    condition {
      test     = "ArnLike"
      variable = "lambda:FunctionArn"
      values   = ["arn:${local.partition}:lambda:${local.arn[each.key].regional}:function:${each.value.stack_name}-*"]
    }
  }

  statement {
    sid = "StackRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole",
      "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole",
      "iam:ListRoleTags", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
      "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${each.value.stack_name}-*"]
  }

  statement {
    sid       = "PassStackRolesToTheirServices"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${each.value.stack_name}-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com", "states.amazonaws.com", "glue.amazonaws.com"]
    }
  }

  statement {
    sid = "StackLogGroups"
    actions = [
      "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy",
      "logs:DeleteRetentionPolicy", "logs:AssociateKmsKey", "logs:DisassociateKmsKey",
      "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource", "logs:TagLogGroup",
      "logs:UntagLogGroup", "logs:ListTagsLogGroup",
    ]
    resources = [
      "arn:${local.partition}:logs:${local.arn[each.key].regional}:log-group:/aws/lambda/${each.value.stack_name}-*",
      "arn:${local.partition}:logs:${local.arn[each.key].regional}:log-group:/aws/vendedlogs/states/${each.value.stack_name}-*",
    ]
  }

  statement {
    sid = "StackStateMachine"
    actions = [
      "states:CreateStateMachine", "states:DeleteStateMachine", "states:DescribeStateMachine",
      "states:UpdateStateMachine", "states:TagResource", "states:UntagResource",
      "states:ListTagsForResource", "states:ListStateMachineVersions",
    ]
    resources = ["arn:${local.partition}:states:${local.arn[each.key].regional}:stateMachine:${each.value.stack_name}-*"]
  }

  statement {
    sid = "StackGlue"
    actions = [
      "glue:CreateJob", "glue:DeleteJob", "glue:GetJob", "glue:UpdateJob", "glue:CreateDatabase",
      "glue:DeleteDatabase", "glue:GetDatabase", "glue:UpdateDatabase", "glue:CreateTable",
      "glue:DeleteTable", "glue:GetTable", "glue:UpdateTable", "glue:GetTags",
      "glue:TagResource", "glue:UntagResource",
    ]
    resources = [
      "arn:${local.partition}:glue:${local.arn[each.key].regional}:job/${each.value.stack_name}-*",
      "arn:${local.partition}:glue:${local.arn[each.key].regional}:catalog",
      "arn:${local.partition}:glue:${local.arn[each.key].regional}:database/${local.arn[each.key].database}",
      "arn:${local.partition}:glue:${local.arn[each.key].regional}:table/${local.arn[each.key].database}/*",
    ]
  }

  statement {
    sid = "StackRules"
    actions = [
      "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:EnableRule",
      "events:DisableRule", "events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule",
      "events:TagResource", "events:UntagResource", "events:ListTagsForResource",
    ]
    resources = ["arn:${local.partition}:events:${local.arn[each.key].regional}:rule/${each.value.stack_name}-*"]
  }

  statement {
    sid = "StackTopic"
    actions = [
      "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
      "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes",
      "sns:SetSubscriptionAttributes", "sns:ListSubscriptionsByTopic", "sns:TagResource",
      "sns:UntagResource", "sns:ListTagsForResource",
    ]
    resources = ["arn:${local.partition}:sns:${local.arn[each.key].regional}:${each.value.stack_name}-*"]
  }

  statement {
    sid = "StackParameters"
    actions = [
      "ssm:PutParameter", "ssm:GetParameter", "ssm:GetParameters", "ssm:DeleteParameter",
      "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource", "ssm:ListTagsForResource",
    ]
    resources = ["arn:${local.partition}:ssm:${local.arn[each.key].regional}:parameter/${each.value.stack_name}/*"]
  }

  statement {
    sid = "StackAlarms"
    actions = [
      "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
      "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource",
    ]
    resources = ["arn:${local.partition}:cloudwatch:${local.arn[each.key].regional}:alarm:${each.value.stack_name}-*"]
  }

  statement {
    sid = "StackRepository"
    actions = [
      "ecr:CreateRepository", "ecr:DeleteRepository", "ecr:DescribeRepositories",
      "ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy",
      "ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:DeleteRepositoryPolicy",
      "ecr:PutImageTagMutability", "ecr:PutImageScanningConfiguration", "ecr:TagResource",
      "ecr:UntagResource", "ecr:ListTagsForResource", "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
      "ecr:BatchGetImage", "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer",
    ]
    resources = ["arn:${local.partition}:ecr:${local.arn[each.key].regional}:repository/${each.value.stack_name}"]
  }

  statement {
    sid = "StackWorkgroup"
    actions = [
      "athena:CreateWorkGroup", "athena:DeleteWorkGroup", "athena:GetWorkGroup",
      "athena:UpdateWorkGroup", "athena:TagResource", "athena:UntagResource",
      "athena:ListTagsForResource",
    ]
    resources = ["arn:${local.partition}:athena:${local.arn[each.key].regional}:workgroup/${each.value.stack_name}"]
  }

  # KMS: a new key only with the stack's tag; existing keys only when they carry it.
  statement {
    sid       = "CreateTheStackKey"
    actions   = ["kms:CreateKey", "kms:TagResource"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/ingestflow:stack"
      values   = [each.value.stack_name]
    }
  }

  statement {
    sid = "ManageAndUseTheStackKey"
    actions = [
      "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:PutKeyPolicy",
      "kms:EnableKeyRotation", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
      "kms:UpdateKeyDescription", "kms:ScheduleKeyDeletion", "kms:CreateAlias", "kms:UpdateAlias",
      "kms:DeleteAlias", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
    ]
    resources = ["arn:${local.partition}:kms:${local.arn[each.key].regional}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/ingestflow:stack"
      values   = [each.value.stack_name]
    }
  }

  statement {
    sid       = "GrantsOfTheStackKeyForAwsResources"
    actions   = ["kms:CreateGrant"]
    resources = ["arn:${local.partition}:kms:${local.arn[each.key].regional}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/ingestflow:stack"
      values   = [each.value.stack_name]
    }
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  statement {
    sid       = "TheStackKeyAlias"
    actions   = ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"]
    resources = ["arn:${local.partition}:kms:${local.arn[each.key].regional}:alias/${each.value.stack_name}"]
  }

  # Actions that accept no resource but "*".
  statement {
    sid = "ActionsWithoutResourceTypes"
    actions = [
      "ecr:GetAuthorizationToken", "kms:ListAliases", "logs:DescribeLogGroups",
      "ssm:DescribeParameters", "glue:CreateSecurityConfiguration",
      "glue:DeleteSecurityConfiguration", "glue:GetSecurityConfiguration",
    ]
    resources = ["*"]
  }

  # A state machine's logging_configuration is a CloudWatch Logs vended log delivery: the
  # identity that creates or updates the state machine (this role) sets the delivery up, not
  # only the state machine's own role. These actions accept no resource but "*".
  statement {
    sid = "StateMachineLogDelivery"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "deploy" {
  for_each = local.environments

  name   = "ingestflow-deploy-${each.key}"
  role   = aws_iam_role.deploy[each.key].id
  policy = data.aws_iam_policy_document.deploy[each.key].json
}
