# The landing, output and artifacts buckets (versioned, SSE-KMS with the stack's key, public
# access blocked, ACLs disabled, TLS only, lifecycle rules, server access logs) and the bucket
# that receives their access logs. The landing bucket notifies the queue of every object
# created under the landing prefix.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  landing_bucket     = coalesce(var.landing_bucket_name, "${var.name}-${local.account_id}-landing")
  output_bucket      = coalesce(var.output_bucket_name, "${var.name}-${local.account_id}-output")
  artifacts_bucket   = coalesce(var.artifacts_bucket_name, "${var.name}-${local.account_id}-artifacts")
  access_logs_bucket = coalesce(var.access_logs_bucket_name, "${var.name}-${local.account_id}-access-logs")

  # Bucket ARNs are derived from the names (known at plan time, no account id hard-coded).
  bucket_arns = {
    landing     = "arn:${local.partition}:s3:::${local.landing_bucket}"
    output      = "arn:${local.partition}:s3:::${local.output_bucket}"
    artifacts   = "arn:${local.partition}:s3:::${local.artifacts_bucket}"
    access_logs = "arn:${local.partition}:s3:::${local.access_logs_bucket}"
  }

  # Deny any request that is not HTTPS with TLS 1.2 or later.
  tls_only_policies = {
    for role, arn in local.bucket_arns : role => [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [arn, "${arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "DenyOutdatedTls"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [arn, "${arn}/*"]
        Condition = { NumericLessThan = { "s3:TlsVersion" = "1.2" } }
      },
    ]
  }
}

################################################################################
# Landing bucket
################################################################################

resource "aws_s3_bucket" "landing" {
  #checkov:skip=CKV_AWS_144:no cross-region DR requirement: landing files are re-deliverable by their producers, outputs and artifacts are rebuilt from them and from the repository, access logs stay in-region
  count = var.create ? 1 : 0

  bucket        = local.landing_bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "ingestflow:bucket" = "landing" })
}

resource "aws_s3_bucket_versioning" "landing" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.landing[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "landing" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.landing[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "landing" {
  count = var.create ? 1 : 0

  bucket                  = aws_s3_bucket.landing[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "landing" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.landing[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_policy" "landing" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.landing[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.tls_only_policies["landing"] })

  depends_on = [aws_s3_bucket_public_access_block.landing]
}

resource "aws_s3_bucket_lifecycle_configuration" "landing" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.landing[0].id

  rule {
    id     = "abort-incomplete-uploads-and-expire-old-versions"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  rule {
    id     = "expire-quarantine"
    status = "Enabled"
    filter {
      prefix = var.quarantine_prefix
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
    expiration {
      days = var.quarantine_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.landing]
}

resource "aws_s3_bucket_logging" "landing" {
  count = var.create ? 1 : 0

  bucket        = aws_s3_bucket.landing[0].id
  target_bucket = aws_s3_bucket.access_logs[0].id
  target_prefix = "landing/"

  # S3 refuses a target bucket that does not yet let the logging service write.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_s3_bucket_notification" "landing" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.landing[0].id

  queue {
    id            = "ingestflow-register"
    queue_arn     = var.notification_queue_arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = var.landing_prefix
  }
}

################################################################################
# Output bucket (Parquet outputs, batch manifests under _ingestflow/, Athena results)
################################################################################

resource "aws_s3_bucket" "output" {
  #checkov:skip=CKV_AWS_144:no cross-region DR requirement: landing files are re-deliverable by their producers, outputs and artifacts are rebuilt from them and from the repository, access logs stay in-region
  #checkov:skip=CKV2_AWS_62:nothing consumes this bucket's object events: only the landing bucket notifies (the register queue)
  count = var.create ? 1 : 0

  bucket        = local.output_bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "ingestflow:bucket" = "output" })
}

resource "aws_s3_bucket_versioning" "output" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.output[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "output" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.output[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "output" {
  count = var.create ? 1 : 0

  bucket                  = aws_s3_bucket.output[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "output" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.output[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_policy" "output" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.output[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.tls_only_policies["output"] })

  depends_on = [aws_s3_bucket_public_access_block.output]
}

resource "aws_s3_bucket_lifecycle_configuration" "output" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.output[0].id

  rule {
    id     = "abort-incomplete-uploads-and-expire-old-versions"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  rule {
    id     = "expire-athena-results"
    status = "Enabled"
    filter {
      prefix = "_athena/"
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
    expiration {
      days = var.athena_results_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.output]
}

resource "aws_s3_bucket_logging" "output" {
  count = var.create ? 1 : 0

  bucket        = aws_s3_bucket.output[0].id
  target_bucket = aws_s3_bucket.access_logs[0].id
  target_prefix = "output/"

  # S3 refuses a target bucket that does not yet let the logging service write.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

################################################################################
# Artifacts bucket (the Glue script, the ingestflow wheel CI uploads)
################################################################################

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_144:no cross-region DR requirement: landing files are re-deliverable by their producers, outputs and artifacts are rebuilt from them and from the repository, access logs stay in-region
  #checkov:skip=CKV2_AWS_62:nothing consumes this bucket's object events: only the landing bucket notifies (the register queue)
  count = var.create ? 1 : 0

  bucket        = local.artifacts_bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "ingestflow:bucket" = "artifacts" })
}

resource "aws_s3_bucket_versioning" "artifacts" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.artifacts[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.artifacts[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  count = var.create ? 1 : 0

  bucket                  = aws_s3_bucket.artifacts[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.artifacts[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.artifacts[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.tls_only_policies["artifacts"] })

  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.artifacts[0].id

  rule {
    id     = "abort-incomplete-uploads-and-expire-old-versions"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.artifacts]
}

resource "aws_s3_bucket_logging" "artifacts" {
  count = var.create ? 1 : 0

  bucket        = aws_s3_bucket.artifacts[0].id
  target_bucket = aws_s3_bucket.access_logs[0].id
  target_prefix = "artifacts/"

  # S3 refuses a target bucket that does not yet let the logging service write.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

################################################################################
# Access logs bucket (target of the server access logs of the three buckets above)
################################################################################

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_144:no cross-region DR requirement: landing files are re-deliverable by their producers, outputs and artifacts are rebuilt from them and from the repository, access logs stay in-region
  #checkov:skip=CKV_AWS_145:S3 server access log delivery supports only SSE-S3 on the target bucket, not SSE-KMS
  #checkov:skip=CKV2_AWS_62:nothing consumes this bucket's object events: only the landing bucket notifies (the register queue)
  count = var.create ? 1 : 0

  bucket        = local.access_logs_bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { "ingestflow:bucket" = "access-logs" })
}

resource "aws_s3_bucket_versioning" "access_logs" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  count = var.create ? 1 : 0

  bucket                  = aws_s3_bucket.access_logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.tls_only_policies["access_logs"], [
      {
        Sid       = "S3ServerAccessLogsOfThisStack"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${local.bucket_arns["access_logs"]}/*"
        Condition = {
          ArnLike      = { "aws:SourceArn" = [local.bucket_arns["landing"], local.bucket_arns["output"], local.bucket_arns["artifacts"]] }
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ])
  })

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
    expiration {
      days = var.access_logs_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}
