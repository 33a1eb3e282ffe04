"""The join: a chunked render's video-only parts and its one AAC soundtrack -> one faststart MP4,
by stream copy (nothing is decoded or encoded again).

Each part starts on a keyframe of a closed GOP, so its packets need nothing from the part before.
Timestamps are rewritten in frames: a packet's place in its part plus the part's first frame, so
the joined video has exactly one timestamp per frame, none repeated or missing at a join. Audio
packets are interleaved by time (the muxer would otherwise buffer the whole video while it waits).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.stream import Stream

from renderer.chunks.parts import Part
from renderer.errors import RenderError


def join_parts(parts: Sequence[tuple[Part, Path]], soundtrack: Path, out_path: Path, fps: int) -> None:
    """Write `out_path` (format mp4, faststart) from the parts, in order, and the soundtrack."""
    frame = Fraction(1, fps)
    try:
        with av.open(str(parts[0][1])) as first, av.open(str(soundtrack)) as sound_in:
            out = av.open(str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"})
            try:
                video = out.add_stream_from_template(first.streams.video[0])
                audio = out.add_stream_from_template(sound_in.streams.audio[0])
                audio_packets = _packets(sound_in, "audio")
                pending = next(audio_packets, None)
                header = first.streams.video[0].codec_context.extradata
                for part, path in parts:
                    with av.open(str(path)) as container:
                        if container.streams.video[0].codec_context.extradata != header:
                            # the file carries part 0's SPS/PPS only: a part encoded with other
                            # ones would decode as garbage from its first frame on
                            raise RenderError("encoder", f"part {part.index} was encoded differently")
                        for packet, local in _video_frames(container, part, fps):
                            until = (part.start + local) * frame
                            while pending is not None and _seconds(pending) < until:
                                pending.stream = audio
                                out.mux(pending)
                                pending = next(audio_packets, None)
                            packet.stream = video
                            out.mux(packet)
                while pending is not None:
                    pending.stream = audio
                    out.mux(pending)
                    pending = next(audio_packets, None)
            finally:
                out.close()
    except (av.FFmpegError, OSError) as exc:
        out_path.unlink(missing_ok=True)
        raise RenderError("encoder", f"joining the parts failed ({exc})") from exc


def _packets(container: InputContainer, kind: str) -> Iterator[av.Packet[Stream]]:
    stream = container.streams.audio[0] if kind == "audio" else container.streams.video[0]
    for packet in container.demux(stream):
        if packet.dts is not None:  # the demuxer's final empty packet
            yield packet


def _video_frames(container: InputContainer, part: Part, fps: int) -> Iterator[tuple[av.Packet[Stream], int]]:
    """The part's packets, retimed onto the whole render's frame grid; with each, its decode-order
    frame number within the part (dts), which orders the interleaving."""
    origin: Fraction | None = None
    count = 0
    for packet in _packets(container, "video"):
        tb = packet.time_base
        assert tb is not None and packet.pts is not None and packet.dts is not None
        if origin is None:
            origin = packet.pts * tb  # the first packet is the part's first keyframe: frame 0
        pts = round((packet.pts * tb - origin) * fps)
        dts = round((packet.dts * tb - origin) * fps)
        packet.time_base = Fraction(1, fps)
        packet.pts, packet.dts, packet.duration = part.start + pts, part.start + dts, 1
        count += 1
        yield packet, dts
    if count != part.stop - part.start:
        wanted = part.stop - part.start
        raise RenderError("encoder", f"part {part.index} holds {count} frames, not {wanted}: render it again")


def _seconds(packet: av.Packet[Stream]) -> Fraction:
    assert packet.dts is not None and packet.time_base is not None
    return packet.dts * packet.time_base
