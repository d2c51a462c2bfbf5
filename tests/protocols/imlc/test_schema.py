"""The checked-in ``imlc_pb2`` module is what the pinned protoc makes of ``imlc.proto`` (issue 18 point 1),
and the schema is the page's §4: clients generate their code from the same file the server runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb

PACKAGE = Path(pb.__file__).parent
GENERATED = ("imlc_pb2.py", "imlc_pb2.pyi")
PAGE = Path(__file__).resolve().parents[4] / "shared" / "protocols" / "imlc.md"


def test_checked_in_module_is_what_the_pinned_protoc_generates(tmp_path: Path) -> None:
    """Fails, never skips, when grpcio-tools is missing: it is pinned in the ``test`` extra."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PACKAGE}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            "imlc.proto",
        ],
        check=True,
    )
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (PACKAGE / name).read_bytes(), (
            f"{name} drifted from imlc.proto: regenerate it with "
            "`cd polyim/protocols/imlc && python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. imlc.proto`"
        )


def test_schema_package_and_seed_field_numbers() -> None:
    """The seed's wire numbers (imlc.md §4): Message 1-5, MessageContent 1-10, Conversation 1-2."""
    assert pb.DESCRIPTOR.package == "polyim.imlc.v1"
    numbers = {
        "Message": {"message_id": 1, "message_content": 2, "conversation": 3, "from": 4, "to": 5},
        "Conversation": {"type": 1, "target": 2},
        "MessageContent": {
            "content_type": 1,
            "searchable_content": 2,
            "push_content": 3,
            "data": 4,
            "mentioned_type": 5,
            "mentioned_targets": 6,
            "media_type": 7,
            "msg_length": 8,
            "remote_media_url": 9,
            "local_media_path": 10,
        },
    }
    for message, fields in numbers.items():
        descriptor = pb.DESCRIPTOR.message_types_by_name[message]
        assert {f.name: f.number for f in descriptor.fields if f.number <= max(fields.values())} == fields


def test_json_names_are_the_seeds_camel_case() -> None:
    """§4: snake_case field names whose JSON names are the seed's spelling, for JSON-speaking tools."""
    seed = {
        "Message": ["messageId", "messageContent", "conversation", "from", "to"],
        "Conversation": ["type", "target"],
        "MessageContent": [
            "contentType",
            "searchableContent",
            "pushContent",
            "data",
            "mentionedType",
            "mentionedTargets",
            "mediaType",
            "msgLength",
            "remoteMediaUrl",
            "localMediaPath",
        ],
    }
    for message, names in seed.items():
        fields = pb.DESCRIPTOR.message_types_by_name[message].fields
        assert [f.json_name for f in fields][: len(names)] == names


@pytest.mark.skipif(not PAGE.exists(), reason="the shared protocol pages are not beside this checkout")
def test_proto_file_is_the_page_schema() -> None:
    """The .proto is §4's code block verbatim, so the page and the published file cannot disagree."""
    text = PAGE.read_text(encoding="utf-8")
    block = text.split("```proto\n", 1)[1].split("```", 1)[0]
    assert (PACKAGE / "imlc.proto").read_text(encoding="utf-8") == block
