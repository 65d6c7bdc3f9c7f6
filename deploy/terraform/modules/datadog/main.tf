# The ingestflow dashboard and monitors as Terraform resources, from the same JSON files
# `ingestflow datadog push` uses (src/ingestflow/resources/datadog). Manage them with one or the
# other: each keeps its own record of the objects' ids.
#
# Monitors carry a ${env} placeholder (see src/ingestflow/adapters/metrics/datadog_objects.py):
# templatefile fills it in with the environment's name.

locals {
  resources_dir = coalesce(var.resources_dir, "${path.module}/../../../../src/ingestflow/resources/datadog")
  monitor_files = var.create ? fileset("${local.resources_dir}/monitors", "*.json") : toset([])
  monitors = {
    for f in local.monitor_files :
    trimsuffix(f, ".json") => jsondecode(templatefile("${local.resources_dir}/monitors/${f}", { env = var.environment }))
  }
}

resource "datadog_dashboard_json" "overview" {
  count = var.create ? 1 : 0

  dashboard = file("${local.resources_dir}/dashboard.json")
}

resource "datadog_monitor_json" "this" {
  for_each = local.monitors

  monitor = jsonencode(merge(each.value, {
    tags = distinct(concat(each.value.tags, var.monitor_tags))
  }))
}
