"""Test media made at run time by our own code (Pillow, pillow-heif, PyAV): nothing downloaded.

Every function takes a directory, writes one file there and returns its Path. Photos carry a
known layout so renders can be checked by pixels: `upright_reference()` is the picture as a
viewer shows it (red top band, green bottom band, blue body), and the rotated photos store it
so that applying their orientation brings it upright again.
"""

from __future__ import annotations

import math
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

RED = (220, 30, 30)
GREEN = (30, 200, 60)
BLUE = (40, 60, 220)


def upright_reference(width: int = 300, height: int = 400) -> Image.Image:
    """The displayed picture: red top 20%, green bottom 20%, blue between."""
    img = Image.new("RGB", (width, height), BLUE)
    band = max(1, height // 5)
    img.paste(RED, (0, 0, width, band))
    img.paste(GREEN, (0, height - band, width, height))
    return img


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


# ---------------------------------------------------------------- photos


def jpeg_exif_rotated(directory: Path, name: str = "rotated.jpg") -> Path:
    """Stored 400x300 (landscape) with EXIF orientation 6; displayed 300x400 upright_reference()."""
    stored = upright_reference(300, 400).transpose(Image.Transpose.ROTATE_90)  # 90 deg CCW
    path = directory / name
    stored.save(path, "JPEG", quality=92, exif=_exif(6))
    return path


def heic_photo(directory: Path, name: str = "photo.heic", size: tuple[int, int] = (640, 480)) -> Path:
    import pillow_heif

    pillow_heif.register_heif_opener()
    path = directory / name
    upright_reference(*size).save(path, "HEIF", quality=80)
    return path


def png_rgba(directory: Path, name: str = "alpha.png", size: tuple[int, int] = (320, 240)) -> Path:
    """Transparent outside a centred opaque orange disc."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    inside = (xx - w / 2) ** 2 + (yy - h / 2) ** 2 <= (min(w, h) / 3) ** 2
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[inside] = (255, 140, 0, 255)
    path = directory / name
    Image.fromarray(rgba).save(path, "PNG")
    return path


def webp_photo(directory: Path, name: str = "photo.webp", size: tuple[int, int] = (480, 320)) -> Path:
    path = directory / name
    upright_reference(*size).save(path, "WEBP", quality=85)
    return path


def jpeg_cmyk(directory: Path, name: str = "cmyk.jpg", size: tuple[int, int] = (400, 300)) -> Path:
    path = directory / name
    upright_reference(*size).convert("CMYK").save(path, "JPEG", quality=90)
    return path


def png_16bit(directory: Path, name: str = "deep.png", size: tuple[int, int] = (256, 192)) -> Path:
    """16-bit greyscale horizontal ramp (mode I;16)."""
    w, h = size
    ramp = np.tile(np.linspace(0, 65535, w, dtype=np.uint16), (h, 1))
    path = directory / name
    Image.fromarray(ramp).save(path, "PNG")
    return path


def png_tiny(directory: Path, name: str = "tiny.png") -> Path:
    path = directory / name
    upright_reference(16, 12).save(path, "PNG")
    return path


def jpeg_panorama(directory: Path, name: str = "panorama.jpg", size: tuple[int, int] = (2400, 400)) -> Path:
    path = directory / name
    upright_reference(*size).save(path, "JPEG", quality=85)
    return path


def jpeg_12mp(directory: Path, name: str = "big12mp.jpg") -> Path:
    """4000x3000 with some texture, so it is a realistically sized JPEG."""
    w, h = 4000, 3000
    xs = np.linspace(0, 255, w, dtype=np.float32)
    ys = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    rgb = np.stack([np.broadcast_to(xs, (h, w)), np.broadcast_to(ys, (h, w)), (xs + ys) % 256], axis=-1)
    path = directory / name
    Image.fromarray(rgb.astype(np.uint8)).save(path, "JPEG", quality=85)
    return path


def gif_animated(directory: Path, name: str = "anim.gif", frames: int = 6, frame_ms: int = 100) -> Path:
    """`frames` frames of `frame_ms` each, colours cycling red/green/blue."""
    colours = [RED, GREEN, BLUE]
    images = [Image.new("RGB", (120, 90), colours[i % 3]) for i in range(frames)]
    path = directory / name
    images[0].save(path, "GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return path


def ten_photos(directory: Path) -> list[Path]:
    """The ten formats of the acceptance test, in a fixed order."""
    return [
        jpeg_exif_rotated(directory),
        heic_photo(directory),
        png_rgba(directory),
        webp_photo(directory),
        jpeg_cmyk(directory),
        png_16bit(directory),
        png_tiny(directory),
        jpeg_panorama(directory),
        jpeg_12mp(directory),
        gif_animated(directory),
    ]


def png_bomb(directory: Path, name: str = "bomb.png", side: int = 20000) -> Path:
    """A valid side x side 1-bit PNG of zeros: a small file whose header declares 400 Mpx."""
    row = b"\x00" * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path = directory / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


# ---------------------------------------------------------------- video


def _video(
    path: Path,
    container_format: str,
    vcodec: str,
    acodec: str | None,
    *,
    size: tuple[int, int],
    seconds: float,
    fps: int,
    rotation: int = 0,
    pix_fmt: str = "yuv420p",
    sample_rate: int = 48000,
) -> Path:
    w, h = size
    n = round(seconds * fps)
    with av.open(str(path), "w", format=container_format) as out:
        vs = out.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        if rotation:
            vs.set_display_rotation(rotation)
        as_ = None
        if acodec is not None:
            as_ = out.add_stream(acodec, rate=sample_rate)
            as_.layout = "stereo"
        for i in range(n):
            img = np.zeros((h, w, 3), np.uint8)
            img[:, :] = (i * 255 // max(1, n - 1), 80, 160)
            img[: h // 5] = RED  # a red top band shows which way is up
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if as_ is not None:
            _encode_tone(out, as_, seconds, sample_rate)
    return path


def _encode_tone(
    out: av.container.OutputContainer, stream: av.AudioStream, seconds: float, rate: int
) -> None:
    """A 440 Hz sine at -12 dBFS, stereo, in encoder-sized frames."""
    frame_size = stream.codec_context.frame_size or 1024
    total = round(seconds * rate)
    fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
    pts = 0
    while pts < total:
        count = min(frame_size, total - pts)
        t = (np.arange(pts, pts + count) / rate).astype(np.float32)
        mono = (0.25 * np.sin(2 * math.pi * 440.0 * t)).astype(np.float32)
        if fmt == "s16":
            data = (np.stack([mono, mono], axis=1).reshape(1, -1) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(data, format="s16", layout="stereo")
        elif fmt == "s16p":
            data = (np.stack([mono, mono]) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(data, format="s16p", layout="stereo")
        elif fmt == "flt":
            frame = av.AudioFrame.from_ndarray(
                np.stack([mono, mono], axis=1).reshape(1, -1), format="flt", layout="stereo"
            )
        else:
            frame = av.AudioFrame.from_ndarray(np.stack([mono, mono]), format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = pts
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
        pts += count
    for packet in stream.encode():
        out.mux(packet)


def mp4_clip(
    directory: Path,
    name: str = "clip.mp4",
    *,
    size: tuple[int, int] = (160, 90),
    seconds: float = 1.0,
    fps: int = 10,
    audio: bool = True,
    rotation: int = 0,
) -> Path:
    """H.264 + AAC in MP4. `rotation` (degrees counter-clockwise, PyAV's convention) sets the
    display matrix: with 90 the stored 160x90 frames display as 90x160."""
    return _video(
        directory / name,
        "mp4",
        "libx264",
        "aac" if audio else None,
        size=size,
        seconds=seconds,
        fps=fps,
        rotation=rotation,
    )


def mp4_rotated(directory: Path, name: str = "rotated.mp4") -> Path:
    """Stored 160x90, display matrix 90 degrees: shows as 90x160 portrait."""
    return mp4_clip(directory, name, rotation=90)


def mov_clip(directory: Path, name: str = "clip.mov", *, seconds: float = 1.0, fps: int = 10) -> Path:
    return _video(directory / name, "mov", "libx264", "aac", size=(160, 90), seconds=seconds, fps=fps)


def webm_clip(directory: Path, name: str = "clip.webm", *, seconds: float = 1.0, fps: int = 10) -> Path:
    return _video(directory / name, "webm", "libvpx", "libopus", size=(160, 90), seconds=seconds, fps=fps)


def mkv_clip(directory: Path, name: str = "clip.mkv", *, seconds: float = 1.0, fps: int = 10) -> Path:
    return _video(directory / name, "matroska", "libx264", "aac", size=(160, 90), seconds=seconds, fps=fps)


def avi_clip(directory: Path, name: str = "clip.avi", *, seconds: float = 1.0, fps: int = 10) -> Path:
    return _video(
        directory / name,
        "avi",
        "mpeg4",
        "libmp3lame",
        size=(160, 90),
        seconds=seconds,
        fps=fps,
        sample_rate=44100,
    )


def video_set(directory: Path) -> list[Path]:
    return [
        mp4_clip(directory),
        mov_clip(directory),
        webm_clip(directory),
        mkv_clip(directory),
        avi_clip(directory),
    ]


Scene = tuple[float, tuple[int, int, int], float]  # seconds, solid picture colour, tone in Hz


def mp4_scenes(
    directory: Path,
    name: str,
    scenes: list[Scene],
    *,
    size: tuple[int, int] = (64, 64),
    fps: int = 30,
    amplitude: float = 0.25,
) -> Path:
    """H.264 + AAC (48 kHz stereo) played scene by scene: each scene is a solid colour with its
    own sine tone, so a decoded output frame says which scene's picture it shows and the audio's
    spectrum which scene it hears. Picture and tone change together at each scene boundary (scene
    lengths should be whole frames); the tone's phase runs on across it, so the change is no click.
    """
    w, h = size
    rate = 48_000
    ends = np.cumsum([seconds for seconds, _, _ in scenes])

    def scene_at(t: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(ends, t + 1e-9, side="right"), len(scenes) - 1)

    path = directory / name
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        sound = out.add_stream("aac", rate=rate)
        sound.layout = "stereo"
        n_frames = round(float(ends[-1]) * fps)
        for i, k in enumerate(scene_at(np.arange(n_frames) / fps).tolist()):
            img = np.empty((h, w, 3), np.uint8)
            img[:, :] = scenes[k][1]
            picture = av.VideoFrame.from_ndarray(img, format="rgb24")
            picture.pts = i
            picture.time_base = Fraction(1, fps)
            out.mux(vs.encode(picture))
        out.mux(vs.encode())
        n_samples = round(float(ends[-1]) * rate)
        hz = np.array([scenes[k][2] for k in scene_at(np.arange(n_samples) / rate).tolist()])
        phase = np.cumsum(2 * math.pi * hz / rate) - 2 * math.pi * hz[0] / rate
        mono = (amplitude * np.sin(phase)).astype(np.float32)
        for pts in range(0, n_samples, 1024):
            chunk = mono[pts : pts + 1024]
            block = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
            block.sample_rate = rate
            block.pts = pts
            block.time_base = Fraction(1, rate)
            out.mux(sound.encode(block))
        out.mux(sound.encode())
    return path


# ---------------------------------------------------------------- audio


def _audio(path: Path, container_format: str, codec: str, seconds: float, rate: int) -> Path:
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        _encode_tone(out, stream, seconds, rate)
    return path


def mp3_tone(directory: Path, name: str = "tone.mp3", seconds: float = 2.0) -> Path:
    return _audio(directory / name, "mp3", "libmp3lame", seconds, 44100)


def wav_tone(directory: Path, name: str = "tone.wav", seconds: float = 2.0) -> Path:
    return _audio(directory / name, "wav", "pcm_s16le", seconds, 44100)


def m4a_tone(directory: Path, name: str = "tone.m4a", seconds: float = 2.0) -> Path:
    return _audio(directory / name, "ipod", "aac", seconds, 44100)


def aac_tone(directory: Path, name: str = "tone.aac", seconds: float = 2.0) -> Path:
    """Raw AAC in ADTS framing."""
    return _audio(directory / name, "adts", "aac", seconds, 44100)


def audio_set(directory: Path) -> list[Path]:
    return [mp3_tone(directory), wav_tone(directory), m4a_tone(directory), aac_tone(directory)]


# ---------------------------------------------------------------- things we must refuse


def text_as_jpg(directory: Path, name: str = "notes.jpg") -> Path:
    path = directory / name
    path.write_text("just some text, not a photo\n" * 20)
    return path


def html_as_jpg(directory: Path, name: str = "page.jpg") -> Path:
    path = directory / name
    path.write_text("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n")
    return path


def svg_as_jpg(directory: Path, name: str = "drawing.jpg") -> Path:
    path = directory / name
    path.write_text(
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<image href="file:///etc/passwd"/></svg>\n'
    )
    return path


def pdf_as_jpg(directory: Path, name: str = "doc.jpg") -> Path:
    path = directory / name
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    return path


def psd_as_jpg(directory: Path, name: str = "layers.jpg") -> Path:
    """A minimal Photoshop header (8BPS, version 1, RGB 8-bit 4x4)."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 4, 4, 8, 3)
    path = directory / name
    path.write_bytes(header + b"\x00" * 64)
    return path


def eps_as_jpg(directory: Path, name: str = "art.jpg") -> Path:
    path = directory / name
    path.write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    return path


def hls_as_mp4(directory: Path, name: str = "playlist.mp4") -> Path:
    """An HLS playlist naming a local file: FFmpeg must never be allowed to follow it."""
    path = directory / name
    path.write_text("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    return path


# Not media, under a photo's or a video's name: each must be refused by its content.
IMPOSTORS = [text_as_jpg, html_as_jpg, svg_as_jpg, pdf_as_jpg, psd_as_jpg, eps_as_jpg, hls_as_mp4]


def ffconcat_as_mp4(directory: Path, target: Path, name: str = "concat.mp4") -> Path:
    path = directory / name
    path.write_text(f"ffconcat version 1.0\nfile '{target}'\n")
    return path


def truncated(source: Path, directory: Path, keep: float = 0.5, name: str | None = None) -> Path:
    """The first `keep` fraction of `source`'s bytes."""
    data = source.read_bytes()
    path = directory / (name or f"truncated_{source.name}")
    path.write_bytes(data[: max(16, int(len(data) * keep))])
    return path


NOT_UTF8 = b"\xff\xfe caf\xe9 \xc3(\x80"


def mp4_with_raw_tags(directory: Path, name: str = "tagged.mp4", raw: bytes = NOT_UTF8) -> Path:
    """A clip whose title and handler tags (container and stream) are `raw`, bytes that are not
    UTF-8 as phones and old editors write them: written as a placeholder, then patched in place
    (same length, so every box size stays right)."""
    placeholder = "Q" * len(raw)
    path = directory / name
    with av.open(str(path), "w", format="mp4") as out:
        out.metadata["title"] = placeholder
        vs = out.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = 160, 96, "yuv420p"
        vs.metadata["title"] = placeholder
        vs.metadata["handler_name"] = placeholder
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((96, 160, 3), 90, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    data = path.read_bytes()
    assert data.count(placeholder.encode()) >= 2, "the muxer did not write the tags"
    path.write_bytes(data.replace(placeholder.encode(), raw))
    return path
