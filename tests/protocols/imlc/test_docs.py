"""``docs/protocols/imlc.md`` is written for client authors by hand; these tests fail when it drifts from
what the server runs: the schema's enums and messages (read from ``imlc_pb2``'s descriptor), the command
and status codes of the codec, and the golden frames, which must decode with polyim's codec to the
frames of the contract's §6 vectors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from polyim.protocols.imlc import codec as c
from polyim.protocols.imlc import imlc_pb2 as pb
from tests.protocols.imlc.test_codec import VECTORS, Vector

ROOT = Path(__file__).resolve().parents[3]
DOC_PATH = ROOT / "docs" / "protocols" / "imlc.md"
DOC = DOC_PATH.read_text(encoding="utf-8")

_SCALARS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT64: "int64",
}
_ROW = re.compile(r"^\| *([^|]*?) *\| *([^|]*?) *\|(.*)\|$")


def _section(kind: str, name: str) -> str:
    """The text under ``#### <kind> `<name>``` up to the next heading."""
    match = re.search(rf"^#### {kind} `{name}`\n(.*?)(?=^#)", DOC, re.M | re.S)
    assert match, f"{kind} {name} is not documented in {DOC_PATH.name}"
    return match.group(1)


def _rows(text: str) -> list[list[str]]:
    """The body rows of the markdown table(s) in ``text``, cells stripped (header and rule dropped)."""
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line)
        if match and not set(match.group(1)) <= {"-"} and match.group(1) not in ("#", "value", "code"):
            rows.append(
                [match.group(1), match.group(2), *(cell.strip() for cell in match.group(3).split("|"))]
            )
    return rows


def _documented(kind: str) -> set[str]:
    return set(re.findall(rf"^#### {kind} `(\w+)`$", DOC, re.M))


def _type_of(field: FieldDescriptor) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        name = f"`{field.message_type.name}`"
    elif field.type == FieldDescriptor.TYPE_ENUM:
        name = f"`{field.enum_type.name}`"
    else:
        name = _SCALARS[field.type]
    return f"repeated {name}" if field.is_repeated else name


# -- the schema ----------------------------------------------------------------------------------------
def test_every_enum_and_message_of_the_proto_has_its_section() -> None:
    assert _documented("enum") == set(pb.DESCRIPTOR.enum_types_by_name)
    assert _documented("message") == set(pb.DESCRIPTOR.message_types_by_name)


@pytest.mark.parametrize("name", sorted(pb.DESCRIPTOR.enum_types_by_name))
def test_enum_values(name: str) -> None:
    """Each value of the enum, with its number, and nothing else."""
    rows = _rows(_section("enum", name))
    documented = {cells[1].strip("`"): int(cells[0]) for cells in rows}
    assert documented == {v.name: v.number for v in pb.DESCRIPTOR.enum_types_by_name[name].values}
    assert all(cells[2] for cells in rows), f"a value of {name} has no meaning"


@pytest.mark.parametrize("name", sorted(pb.DESCRIPTOR.message_types_by_name))
def test_message_fields(name: str) -> None:
    """Each field with its number and type (and its oneof), in field-number order, and nothing else."""
    descriptor: Descriptor = pb.DESCRIPTOR.message_types_by_name[name]
    rows = _rows(_section("message", name))
    assert [(int(r[0]), r[1].strip("`"), r[2]) for r in rows] == [
        (f.number, f.name, _type_of(f)) for f in sorted(descriptor.fields, key=lambda f: f.number)
    ]
    for row, field in zip(rows, sorted(descriptor.fields, key=lambda f: f.number), strict=True):
        assert row[3], f"{name}.{field.name} has no meaning"
        if field.containing_oneof is not None:
            assert f"oneof `{field.containing_oneof.name}`" in row[3], f"{name}.{field.name}"


# -- header values ---------------------------------------------------------------------------------------
def _table_after(heading: str) -> list[list[str]]:
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#)", DOC, re.M | re.S)
    assert match, heading
    return _rows(match.group(1))


def test_command_table_has_every_code_of_the_codec() -> None:
    rows = _table_after("3. Commands")
    documented = {int(r[0]): r[1].strip("`").split("`")[0] for r in rows}
    assert documented == {cmd.value: cmd.name for cmd in c.Command}


def test_status_table_has_every_code_of_the_codec() -> None:
    rows = [r for r in _table_after("5. Status codes") if r[0].isdigit()]
    assert {int(r[0]): r[1].strip("`") for r in rows} == {s.value: s.name for s in c.Status}


# -- golden frames ---------------------------------------------------------------------------------------
def _golden() -> dict[str, bytes]:
    """Heading ``### V<n> …`` → the bytes of the hex dump below it (offset column dropped)."""
    frames = {}
    for name, dump in re.findall(r"^### (V\d+) .*?\n.*?```text\n(.*?)```", DOC, re.M | re.S):
        frames[name] = bytes.fromhex("".join(line[6:] for line in dump.splitlines()))
    return frames


def test_every_vector_of_the_contract_is_in_the_doc() -> None:
    assert list(_golden()) == [v.name.split()[0] for v in VECTORS]


@pytest.mark.parametrize("v", VECTORS, ids=[v.name for v in VECTORS])
def test_golden_frame_decodes_to_the_vector(v: Vector) -> None:
    wire = _golden()[v.name.split()[0]]
    assert wire == bytes.fromhex(v.hex)
    (frame,) = c.Decoder().feed(wire)
    assert (frame.command, frame.seq, frame.flow, frame.status) == (v.command, v.seq, v.flow, v.status)
    if v.body is None:
        assert frame.body == b""
    else:
        assert c.decode_body(frame.command, frame.body, frame.flow, frame.status) == v.body


# -- form ------------------------------------------------------------------------------------------------
def test_flows_are_mermaid_sequence_diagrams() -> None:
    """Every flow of §6 is a diagram a Markdown viewer draws; a ``;`` would end a mermaid statement."""
    blocks = re.findall(r"^```mermaid\n(.*?)^```$", DOC, re.M | re.S)
    flows = re.findall(r"^### 6\.\d .*$", DOC, re.M)
    assert len(flows) == 6
    assert sum(b.startswith("sequenceDiagram\n") for b in blocks) == len(flows)
    assert all(";" not in b for b in blocks)


def test_relative_links_resolve() -> None:
    links = re.findall(r"\]\((\.\.?/[^)#]+)\)", DOC)
    assert "../../polyim/protocols/imlc/imlc.proto" in links
    for link in links:
        assert (DOC_PATH.parent / link).resolve().exists(), link
