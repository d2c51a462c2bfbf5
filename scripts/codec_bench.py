"""Encode/decode microbenchmarks of the wire codecs, to compare a pure-Python and a compiled build.

Run it with the interpreter whose ``polyim`` is under test (``PYTHONPATH`` picks a tree); it prints
which build it imported and ns per operation, best of ``--repeat`` runs. Only ratios between builds
measured in the same sitting mean anything on a shared machine, so ``--runs`` alternates nothing:
call it once per build, back to back, and compare.

    .venv/bin/python scripts/codec_bench.py --repeat 5
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from polyim import build
from polyim.protocols.beehive import codec as bee
from polyim.protocols.beehive.beehive_pb2 import mesg_chat
from polyim.protocols.imlc import codec as imlc
from polyim.protocols.imlc import imlc_pb2 as ipb
from polyim.protocols.omtp import codec as omtp

_TEXT = "hello " + "x" * 58


def _omtp_cases() -> dict[str, Callable[[], object]]:
    req = omtp.MsgReq(session_id="1:2", from_="1", to="2", content_type=1, content=_TEXT, seq_id=7)
    payload = req.encode()
    frame = omtp.encode_pack(omtp.Pack(omtp.Header(omtp.PackType.MSG_SINGLE_CHAT, 1, 0, "p-000123"), payload))
    stream = frame * 16
    ack = omtp.MsgAck(omtp.CommonErrorCode(), "1:2", 7, 1_700_000_000_000)
    pull = omtp.HistoryMsgPullReq(session_id="1:2", seq_id=40, count=20)
    pull_bytes = pull.encode()
    decoder = omtp.Decoder()
    return {
        "omtp encode MsgReq": req.encode,
        "omtp decode MsgReq": lambda: omtp.MsgReq.decode(payload),
        "omtp encode_pack": lambda: omtp.encode_pack(
            omtp.Pack(omtp.Header(omtp.PackType.MSG_SINGLE_CHAT, 1, 0, "p-000123"), payload)
        ),
        "omtp encode MsgAck": ack.encode,
        "omtp generic encode": pull.encode,
        "omtp generic decode": lambda: omtp.HistoryMsgPullReq.decode(pull_bytes),
        "omtp Decoder.feed x16": lambda: decoder.feed(stream),
    }


def _beehive_cases() -> dict[str, Callable[[], object]]:
    body = mesg_chat(suid=1, duid=2, level=0, time=1_700_000_000, text=_TEXT).SerializeToString()
    header = bee.Header(bee.Cmd.CHAT, 0, 9, 0, 0, 7, 0, 0)
    stream = bee.encode_frame(header, body) * 16
    decoder = bee.Decoder()
    return {
        "beehive encode_frame": lambda: bee.encode_frame(header.reply(bee.Cmd.CHAT_ACK, cid=1, nid=1), body),
        "beehive decode_body": lambda: bee.decode_body(bee.Cmd.CHAT, body),
        "beehive Decoder.feed x16": lambda: decoder.feed(stream),
    }


def _imlc_cases() -> dict[str, Callable[[], object]]:
    content = ipb.MessageContent(content_type=1, searchable_content=_TEXT)
    body = ipb.Message(
        message_id=7, message_content=content, conversation=ipb.Conversation(type=1, target="2")
    ).SerializeToString()
    stream = imlc.encode_frame(imlc.Command.MS, 7, imlc.Flow.REQUEST, body) * 16
    decoder = imlc.Decoder()
    return {
        "imlc encode_frame": lambda: imlc.encode_frame(imlc.Command.MS, 7, imlc.Flow.REPLY, body),
        "imlc decode_body": lambda: imlc.decode_body(imlc.Command.MS, body),
        "imlc Decoder.feed x16": lambda: decoder.feed(stream),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per case; the best is kept")
    parser.add_argument("--number", type=int, default=20_000, help="calls per run")
    args = parser.parse_args()
    print(f"build {build.describe()}")
    cases = {**_omtp_cases(), **_beehive_cases(), **_imlc_cases()}
    for name, fn in cases.items():
        best = min(timeit.repeat(fn, number=args.number, repeat=args.repeat)) / args.number
        print(f"{name:28} {best * 1e9:9.0f} ns")


if __name__ == "__main__":
    main()
