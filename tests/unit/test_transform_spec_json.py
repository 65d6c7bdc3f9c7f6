"""A TransformSpec travels to the Glue job as plain JSON (inside the batch manifest) and comes
back equal; the batch and results manifests parse back to what was written, and refuse
anything else in one line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingestflow.adapters.engines.batch_manifest import (
    BatchManifest,
    BatchManifestError,
    ManifestFile,
    dumps,
    failure_outcomes,
    parse_manifest,
    parse_results,
    results_json,
)
from ingestflow.domain.records import FileOutcome
from ingestflow.domain.transform import OHLCV, ColumnRule, DerivedColumn, TransformSpec
from ingestflow.domain.transform_json import spec_from_json, spec_to_json

FULL = TransformSpec(
    name="trades",
    columns=(
        ColumnRule("When", "at", "timestamp", formats=("%d/%m/%Y %H:%M",), required=False),
        ColumnRule("Px", "price", "double"),
    ),
    derived=(DerivedColumn("doubled", "price * 2", "double"), DerivedColumn("tag", "'x'")),
    drop=("Junk", "Other"),
    keep_others=False,
    delimiter=";",
)


@pytest.mark.parametrize("spec", [OHLCV, FULL, TransformSpec(name="empty")], ids=lambda s: s.name)
def test_a_spec_survives_a_json_round_trip(spec: TransformSpec) -> None:
    text = json.dumps(spec_to_json(spec))
    assert spec_from_json(json.loads(text)) == spec


def test_every_field_is_written_so_a_later_default_cannot_change_a_manifest() -> None:
    data = spec_to_json(TransformSpec(name="s", columns=(ColumnRule("a", "b"),)))
    assert data["columns"] == [
        {"source": "a", "target": "b", "type": "varchar", "formats": [], "required": True}
    ]
    assert data["keep_others"] is True and data["delimiter"] == ","


def _broken(path: str, value: Any) -> dict[str, Any]:
    data = spec_to_json(FULL)
    *parents, last = path.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("name", 3, "spec.name: expected a string"),
        ("keep_others", "yes", "spec.keep_others: expected true or false"),
        ("drop", ["a", 1], "spec.drop: expected a list of strings"),
        ("columns", {}, "spec.columns: expected a list"),
        ("columns.0.required", 1, "spec.columns[0].required: expected true or false"),
        ("columns.1.formats", "%Y", "spec.columns[1].formats: expected a list of strings"),
        ("derived.1.type", 5, "spec.derived[1].type: expected a string or null"),
        ("columns.0.surprise", 1, "spec.columns[0]: unknown field(s) 'surprise'"),
        ("columns.0.target", KeyError, "spec.columns[0]: missing field(s) 'target'"),
        ("delimiter", KeyError, "spec: missing field(s) 'delimiter'"),
    ],
)
def test_a_malformed_spec_is_refused_naming_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        spec_from_json(_broken(path, value))
    assert str(caught.value) == message


def test_a_spec_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="spec: expected an object"):
        spec_from_json([])  # type: ignore[arg-type]


def test_a_batch_manifest_survives_a_json_round_trip_with_its_spec() -> None:
    manifest = BatchManifest(
        batch_id="wf-1",
        workflow="wf",
        landing_url="s3://landing/in/",
        output_url="s3://lake/out/",
        files=(ManifestFile("landing", "a/b.csv", "e1", 12),),
        spec=FULL,
        compression="zstd",
    )
    assert parse_manifest(json.loads(dumps(manifest.to_json()))) == manifest


def test_a_manifest_with_a_malformed_spec_is_refused_in_one_line() -> None:
    document = BatchManifest("b", "wf", "s3://l/", "s3://o/", (), FULL).to_json()
    document["spec"]["delimiter"] = 1
    with pytest.raises(BatchManifestError) as caught:
        parse_manifest(document)
    assert str(caught.value) == "not a batch manifest: spec.delimiter: expected a string"


def test_results_round_trip_and_fill_the_files_they_lack() -> None:
    done = FileOutcome.done("a.csv", "e1", "s3://o/wf/a.csv.parquet", 3)
    failed = FileOutcome.failed("b.csv", "e2", "bad value", retryable=False)
    stale = FileOutcome.done("c.csv", "old", "s3://o/wf/c.csv.parquet", 1)
    document = json.loads(dumps(results_json("b", [done, failed, stale])))
    files = [
        ManifestFile("l", k, e, 1) for k, e in (("b.csv", "e2"), ("a.csv", "e1"), ("c.csv", "new"))
    ]

    assert parse_results(document, files) == [
        failed,
        done,
        FileOutcome.failed(
            "c.csv", "new", "the Glue job wrote no result for this file", retryable=True
        ),
    ]
    assert failure_outcomes(files[:1], "execution TIMED_OUT") == [
        FileOutcome.failed("b.csv", "e2", "execution TIMED_OUT", retryable=True)
    ]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"ok": "yes"}, "field 'ok': expected bool"),
        ({"rows": True}, "field 'rows': expected int"),
        ({"key": None}, "field 'key': expected str"),
    ],
)
def test_a_malformed_results_entry_is_refused(entry: dict[str, Any], problem: str) -> None:
    good = results_json("b", [FileOutcome.done("a.csv", "e1", "s3://o/x", 1)])
    good["files"][0].update(entry)
    with pytest.raises(BatchManifestError) as caught:
        parse_results(good, [])
    assert str(caught.value) == f"not a results manifest: {problem}"
