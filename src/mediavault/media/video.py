"""Videos: their facts (size, duration, codecs, bit rate) and a frame for the thumbnail.

PyAV (FFmpeg inside its wheel) reads the stored bytes through `_Bounded`, a reader that stops
the demuxer with an error once it has read MAX_PROBE_BYTES or once the deadline has passed: a
hostile or endless stream costs at most that much, whatever FFmpeg makes of it. FFmpeg's own
probing is bounded too (`probesize`, `analyzeduration`), at most MAX_PACKETS packets are read
looking for a frame, and a frame is decoded only when its size (from the stream's header) is
within the pixel limit (FFmpeg's decoders are given the limit too, `max_pixels`). Anything
FFmpeg refuses gives None: the file is stored with what is known. Blocking: run these in a
worker thread.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

log = logging.getLogger("mediavault")

MAX_PROBE_BYTES = 64 * 1024 * 1024
PROBE_SECONDS = 5.0
MAX_PACKETS = 200
MAX_PIXELS = 100_000_000  # per frame, for FFmpeg's own decoding while it probes
# Container and stream options: FFmpeg's probing reads at most 5 MB and 5 s of media, and its
# decoders refuse frames over MAX_PIXELS (their size then stays unknown: no thumbnail).
_OPTIONS = {"probesize": "5000000", "analyzeduration": "5000000", "max_pixels": str(MAX_PIXELS)}


@dataclass(frozen=True)
class VideoInfo:
    width: int | None
    height: int | None
    duration: int | None  # whole seconds
    video_codec: str | None
    audio_codec: str | None
    bit_rate: int | None  # bits per second, as ImageKit's examples


class _Stop(Exception):
    pass


class _Bounded:
    """A reader that fails once too many bytes were read or the deadline has passed."""

    def __init__(self, stream: BinaryIO, max_bytes: int, seconds: float) -> None:
        self._stream = stream
        self._left = max_bytes
        self._deadline = time.monotonic() + seconds

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0 or time.monotonic() > self._deadline:
            raise _Stop("probe limit reached")
        size = self._left if size < 0 else min(size, self._left)
        data = self._stream.read(size)
        self._left -= len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if time.monotonic() > self._deadline:
            raise _Stop("probe deadline reached")
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()


def probe_video(source: Callable[[], BinaryIO]) -> VideoInfo | None:
    """The facts of a video's streams; None when FFmpeg cannot read a video stream in it."""
    try:
        with source() as raw, _open(raw) as container:
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            if video is None:
                return None
            duration = None
            if container.duration is not None and container.duration > 0:
                duration = round(container.duration / 1_000_000)
            elif video.duration is not None and video.time_base is not None:
                duration = round(float(video.duration * video.time_base))
            context = video.codec_context
            bit_rate = container.bit_rate or context.bit_rate or None
            return VideoInfo(
                width=context.width or None,
                height=context.height or None,
                duration=duration,
                video_codec=_codec_name(video),
                audio_codec=_codec_name(audio) if audio is not None else None,
                bit_rate=int(bit_rate) if bit_rate else None,
            )
    except Exception as exc:  # FFmpeg's errors, _Stop, and whatever a hostile file provokes
        log.info("video could not be probed: %s", exc)
        return None


def first_frame_png(source: Callable[[], BinaryIO], max_pixels: int) -> bytes | None:
    """The first decodable frame of the video as PNG; None when there is none within limits."""
    try:
        with source() as raw, _open(raw) as container:
            video = next(iter(container.streams.video), None)
            if video is None:
                return None
            context = video.codec_context
            if not context.width or not context.height:
                return None
            if context.width * context.height > max_pixels:
                return None
            video.thread_type = "NONE"
            for count, packet in enumerate(container.demux(video)):
                if count >= MAX_PACKETS:
                    return None
                for frame in packet.decode():
                    if frame.width * frame.height > max_pixels:
                        return None
                    picture = frame.to_image()
                    buffer = io.BytesIO()
                    picture.save(buffer, "PNG")
                    return buffer.getvalue()
            return None
    except Exception as exc:
        log.info("no frame could be taken from a video: %s", exc)
        return None


def _open(raw: BinaryIO) -> Any:
    import av  # imported on first use: FFmpeg is a large library most processes never need

    bounded = _Bounded(raw, MAX_PROBE_BYTES, PROBE_SECONDS)
    return av.open(bounded, mode="r", options=_OPTIONS)


def _codec_name(stream: Any) -> str | None:
    name = getattr(stream.codec_context, "name", None)
    return str(name) if name else None
