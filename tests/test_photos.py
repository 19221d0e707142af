"""prepare_photo: what is accepted, what is refused (and how it is said), and what the copies contain."""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import datetime, timedelta, timezone

import photo_samples as samples
import pytest
from PIL import Image, PngImagePlugin

from tracker.errors import ValidationError
from tracker.photos.formats import UPLOAD_HINT
from tracker.photos.intake import DISPLAY_LONG_SIDE, THUMBNAIL_LONG_SIDE, PreparedPhoto, prepare_photo


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def assert_upright_scene(data: bytes) -> None:
    colours = samples.quadrant_colours(data)
    for quadrant, expected in samples.QUADRANTS.items():
        assert samples.close(colours[quadrant], expected), (quadrant, colours)


# --- accepted formats --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "media_type", "extension"),
    [
        (lambda: samples.jpeg(samples.scene((640, 480))), "image/jpeg", "jpg"),
        (lambda: samples.encoded(samples.scene((640, 480)), "PNG"), "image/png", "png"),
        (lambda: samples.encoded(samples.scene((640, 480)), "WEBP", quality=95), "image/webp", "webp"),
        (lambda: samples.heic(samples.scene((640, 480))), "image/heic", "heic"),
    ],
    ids=["jpeg", "png", "webp", "heic"],
)
def test_accepted_formats_give_upright_rgb_copies(make, media_type, extension):
    data = make()
    photo = prepare_photo(data, "scalp")
    assert (photo.media_type, photo.extension) == (media_type, extension)
    assert (photo.width, photo.height) == (640, 480)
    assert photo.original == data
    assert photo.sha256 == hashlib.sha256(data).hexdigest()
    for copy in (photo.display_jpeg, photo.thumbnail_jpeg):
        assert opened(copy).format == "JPEG" and opened(copy).mode == "RGB"
    assert opened(photo.display_jpeg).size == (640, 480)  # photos under 2048 px are not resized
    assert opened(photo.thumbnail_jpeg).size == (THUMBNAIL_LONG_SIDE, 240)
    assert_upright_scene(photo.display_jpeg)
    assert_upright_scene(photo.thumbnail_jpeg)


def test_large_photo_is_shrunk_to_display_and_thumbnail_sizes():
    photo = prepare_photo(samples.encoded(samples.scene((4032, 3024)), "PNG"))
    assert (photo.width, photo.height) == (4032, 3024)
    assert opened(photo.display_jpeg).size == (DISPLAY_LONG_SIDE, 1536)
    assert opened(photo.thumbnail_jpeg).size == (THUMBNAIL_LONG_SIDE, 240)
    assert_upright_scene(photo.display_jpeg)


@pytest.mark.parametrize(
    ("size", "display"),
    [
        ((4032, 3024), (2016, 1512)),  # 12 MP phone photo: decoded at 1/2
        ((8064, 6048), (2016, 1512)),  # 48 MP: decoded at 1/4
        ((6000, 4000), (2048, 1365)),  # 1/2 would give 3000 px: decoded at 1/2, then resampled
        ((3000, 2000), (2048, 1365)),  # 1/2 would give 1500 px: full decode, then resampled
    ],
)
def test_large_jpeg_is_shrunk_by_the_decoder_when_that_keeps_it_sharp(size, display):
    # Decoding at 1/2, 1/4 or 1/8 is used only when the result keeps a long side of at least 1920 px.
    photo = prepare_photo(samples.jpeg(samples.scene(size)))
    assert (photo.width, photo.height) == size
    assert opened(photo.display_jpeg).size == display
    assert opened(photo.thumbnail_jpeg).size == (THUMBNAIL_LONG_SIDE, round(THUMBNAIL_LONG_SIDE * size[1] / size[0]))
    assert_upright_scene(photo.display_jpeg)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_to_pixels(orientation):
    upright = samples.scene((300, 200))
    data = samples.jpeg(samples.stored_for(orientation, upright), exif=samples.exif_block(orientation=orientation))
    photo = prepare_photo(data)
    # The recorded size is that of the upright photo, whatever the camera stored.
    assert (photo.width, photo.height) == (300, 200)
    assert opened(photo.display_jpeg).size == (300, 200)
    assert_upright_scene(photo.display_jpeg)
    assert_upright_scene(photo.thumbnail_jpeg)
    assert 0x0112 not in opened(photo.display_jpeg).getexif()


def test_rotated_large_photo_is_upright_after_shrinking():
    upright = samples.scene((3024, 4032))
    data = samples.jpeg(samples.stored_for(6, upright), exif=samples.exif_block(orientation=6))
    photo = prepare_photo(data)
    assert (photo.width, photo.height) == (3024, 4032)
    assert opened(photo.display_jpeg).size == (1512, 2016)
    assert_upright_scene(photo.display_jpeg)


def test_display_copy_carries_no_metadata_but_keeps_the_colour_profile():
    icc = samples.srgb_profile()
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>'
        b'<rdf:Description CreatorTool="SecretCam"/></rdf:RDF></x:xmpmeta>'
    )
    data = samples.jpeg(
        exif=samples.exif_block(gps=True, taken="2024:05:17 14:03:22"),
        icc_profile=icc,
        comment=b"Patient J. Doe, MRN 12345",
        xmp=xmp,
    )
    source = opened(data)
    assert source.getexif().get_ifd(0x8825) and "xmp" in source.info and source.info.get("comment")

    photo = prepare_photo(data)
    assert photo.original == data  # the original keeps everything, byte for byte
    for copy in (photo.display_jpeg, photo.thumbnail_jpeg):
        image = opened(copy)
        assert not image.getexif()
        assert not image.getexif().get_ifd(0x8825)
        assert "exif" not in image.info and "xmp" not in image.info and "comment" not in image.info
        assert image.info.get("icc_profile") == icc
        for secret in (b"GPS", b"SERIAL-0042", b"FictionalCam", b"xmpmeta", b"SecretCam", b"MRN 12345", b"Exif"):
            assert secret not in copy


def test_captured_at_comes_from_exif_date_time_original():
    with_offset = samples.jpeg(exif=samples.exif_block(taken="2024:05:17 14:03:22", offset="+02:00"))
    without_offset = samples.jpeg(exif=samples.exif_block(taken="2024:05:17 14:03:22"))
    blank = samples.jpeg(exif=samples.exif_block(taken="0000:00:00 00:00:00"))
    assert prepare_photo(with_offset).captured_at == datetime(
        2024, 5, 17, 14, 3, 22, tzinfo=timezone(timedelta(hours=2))
    )
    assert prepare_photo(without_offset).captured_at == datetime(2024, 5, 17, 14, 3, 22)
    assert prepare_photo(blank).captured_at is None
    assert prepare_photo(samples.jpeg()).captured_at is None


def test_heic_keeps_its_capture_time():
    data = samples.heic(exif=samples.exif_block(taken="2025:01:02 03:04:05").tobytes())
    assert prepare_photo(data).captured_at == datetime(2025, 1, 2, 3, 4, 5)


# --- unusual but acceptable pixels --------------------------------------------------------------------


def test_cmyk_jpeg_is_converted_to_rgb():
    cmyk = Image.new("CMYK", (200, 100), (0, 255, 255, 0))  # full magenta + yellow: red
    photo = prepare_photo(samples.jpeg(cmyk))
    display = opened(photo.display_jpeg)
    assert display.mode == "RGB"
    assert samples.close(display.getpixel((100, 50)), (255, 0, 0), tolerance=30)


def test_16_bit_grey_png_is_scaled_not_clipped():
    grey = Image.new("I;16", (120, 80), 40000)
    photo = prepare_photo(samples.encoded(grey, "PNG"))
    value = opened(photo.display_jpeg).getpixel((60, 40))
    assert samples.close(value, (156, 156, 156), tolerance=3)


def test_16_bit_rgb_png_is_accepted():
    photo = prepare_photo(samples.png_rgb16(colour=(50000, 20000, 5000)))
    assert (photo.width, photo.height) == (64, 48)
    assert samples.close(opened(photo.display_jpeg).getpixel((32, 24)), (195, 78, 19), tolerance=6)


def test_palette_png_with_transparency_is_flattened_on_white():
    image = Image.new("P", (100, 100), 0)
    image.putpalette([255, 255, 255, 200, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 50, 100))
    photo = prepare_photo(samples.encoded(image, "PNG", transparency=0))
    display = opened(photo.display_jpeg)
    assert samples.close(display.getpixel((25, 50)), (200, 0, 0), tolerance=20)
    assert samples.close(display.getpixel((75, 50)), (255, 255, 255), tolerance=5)


def test_rgba_png_is_flattened_on_white():
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((0, 0, 200, 255), (0, 0, 50, 100))
    display = opened(prepare_photo(samples.encoded(image, "PNG")).display_jpeg)
    assert samples.close(display.getpixel((25, 50)), (0, 0, 200), tolerance=20)
    assert samples.close(display.getpixel((75, 50)), (255, 255, 255), tolerance=5)


def test_greyscale_jpeg_becomes_rgb():
    photo = prepare_photo(samples.jpeg(samples.scene(mode="L")))
    assert opened(photo.display_jpeg).mode == "RGB"


# --- refusals -----------------------------------------------------------------------------------------


def refusal(data: bytes, file_name: str | None = None, **limits: int) -> str:
    with pytest.raises(ValidationError) as caught:
        prepare_photo(data, file_name, **limits)
    message = str(caught.value)
    # A clinician reads this: no Python or Pillow vocabulary.
    for jargon in ("Traceback", "PIL", "Pillow", "cannot identify", "OSError", "Errno", "decompression bomb"):
        assert jargon not in message
    return message


def test_pdf_renamed_jpg_is_refused_by_content():
    message = refusal(samples.pdf(), "scan.jpg")
    assert message == (
        'The file "scan.jpg" is a PDF document, not a photo. Upload a JPEG, PNG, WebP or HEIC image.'
    )
    assert refusal(samples.pdf()).startswith("This file is a PDF document, not a photo.")


def test_zero_bytes_is_refused():
    assert "empty (0 bytes)" in refusal(b"", "IMG_0001.JPG")


def test_oversize_file_is_refused_with_both_sizes():
    data = samples.jpeg(samples.scene((800, 600)))
    assert len(data) > 10 * 1024
    message = refusal(data, "IMG_0003.jpg", max_bytes=10 * 1024)
    assert message.startswith(f'The file "IMG_0003.jpg" is {-(-len(data) // 1024)} KB; the limit is 10 KB.')


def test_upload_limit_comes_from_settings(monkeypatch):
    monkeypatch.setenv("TRACKER_MAX_UPLOAD_MB", "0.01")
    assert "limit is 11 KB" in refusal(samples.jpeg(samples.scene((800, 600))))


def refusal_logged(caplog, data: bytes, file_name: str | None = None) -> tuple[str, str]:
    """The refusal shown to the clinician and the log line behind it (which names the exception class)."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tracker.photos.intake"):
        message = refusal(data, file_name)
    lines = [r.getMessage() for r in caplog.records if r.name == "tracker.photos.intake"]
    assert len(lines) == 1 and lines[0].startswith("photo refused: this file ")
    assert (file_name or "\0") not in lines[0]  # a file name may be a patient's name: not in the server log
    return message, lines[0]


INCOMPLETE = "photo: the file ends before its picture does (for example an upload or a copy that was cut off)"


@pytest.mark.parametrize(
    ("make", "label"),
    [
        (lambda: samples.jpeg(samples.scene((800, 600))), "JPEG"),
        (lambda: samples.encoded(samples.scene((800, 600)), "PNG"), "PNG"),
        (lambda: samples.encoded(samples.scene((800, 600)), "WEBP"), "WebP"),
        (lambda: samples.heic(samples.scene((800, 600))), "HEIC"),
    ],
    ids=["jpeg", "png", "webp", "heic"],
)
def test_photo_cut_off_mid_upload_is_called_incomplete(caplog, make, label):
    data = make()
    message, logged = refusal_logged(caplog, data[: len(data) // 2], "IMG_0002.jpg")
    assert message == f'The file "IMG_0002.jpg" is an incomplete {label} {INCOMPLETE}. Upload the photo again ' \
        "from the camera or phone."
    # the decoder's own words, by exception class: Pillow's OSError, libwebp's, libheif's ValueError
    expected = {"JPEG": "[OSError: image file is truncated", "PNG": "[OSError: image file is truncated",
                "WebP": "[OSError: could not create decoder object]", "HEIC": "[ValueError: Invalid input"}
    assert expected[label] in logged


@pytest.mark.parametrize("cut", [3, 40, 200])
def test_files_cut_in_the_header_are_called_incomplete(caplog, cut):
    message, logged = refusal_logged(caplog, samples.jpeg()[:cut])
    assert message.startswith(f"This file is an incomplete JPEG {INCOMPLETE}.")
    # Pillow says only "cannot identify"; the log names the JPEG plugin's own error behind it
    assert "[UnidentifiedImageError: cannot identify image file" in logged or "[OSError: Truncated File Read" in logged
    if cut == 3:
        assert "<- SyntaxError: not identified by this driver" in logged


def test_complete_png_with_damaged_pixels_is_called_damaged_not_incomplete(caplog):
    data = bytearray(samples.encoded(samples.scene(), "PNG"))
    data[60:90] = b"\x00" * 30
    message, logged = refusal_logged(caplog, bytes(data))
    assert message == (
        "This file looks like a complete PNG photo, but its picture data does not decode: the file is damaged, or "
        "written in a way we cannot read. Upload it again from the camera or phone; if this comes back, export it "
        "there as a standard JPEG and upload that."
    )
    assert logged.endswith("[OSError: broken data stream when reading image file]")


def test_jpeg_in_a_variant_the_decoder_lacks_is_named_as_such(caplog):
    data = bytearray(samples.jpeg(samples.scene()))
    start_of_frame = data.index(b"\xff\xc0")
    data[start_of_frame + 4] = 12  # 12 bits per sample (medical and scientific cameras write these)
    message, logged = refusal_logged(caplog, bytes(data), "dermatoscope.jpg")
    assert message == (
        'The file "dermatoscope.jpg" is a JPEG file written in a variant we cannot read. Open it in the photo '
        "app or on the computer it came from, export it as a standard JPEG and upload that."
    )
    assert "<- SyntaxError: cannot handle 12-bit layers]" in logged


def test_refusals_without_a_decoder_error_are_logged_too(caplog):
    message, logged = refusal_logged(caplog, samples.pdf(), "Maria Silva consent.pdf")
    assert message.startswith('The file "Maria Silva consent.pdf" is a PDF document, not a photo.')
    assert logged == "photo refused: this file is a PDF document, not a photo. " + UPLOAD_HINT


def test_decompression_bomb_is_refused_from_its_header():
    # 20000×20000 declared, a few bytes of pixels: decoding would have allocated 1.2 GB.
    bomb = samples.raw_png(20000, 20000)
    assert len(bomb) < 100
    message = refusal(bomb)
    assert "50 megapixels" in message and "incomplete" not in message


def test_over_the_pixel_limit_is_refused_before_decoding():
    # 8000×8000 is under Pillow's own alarm but over ours; the pixel data is missing, so a refusal
    # that mentions megapixels (not damage) shows that the header was checked before decoding.
    message = refusal(samples.raw_png(8000, 8000))
    assert "8000×8000" in message and "64 megapixels" in message and "50 megapixels" in message


def test_pixel_limit_is_configurable():
    message = refusal(samples.jpeg(samples.scene((1200, 1000))), max_pixels=1_000_000)
    assert "1200×1000" in message and "limit is 1 megapixels" in message


@pytest.mark.parametrize(("width", "height"), [(1, 100000), (3000, 100)])
def test_strips_are_refused(width, height):
    assert "strip rather than a photo" in refusal(samples.encoded(Image.new("L", (width, height), 128), "PNG"))


def test_zero_by_zero_image_is_refused_as_not_decodable(caplog):
    message, logged = refusal_logged(caplog, samples.raw_png(0, 0))
    assert "looks like a complete PNG photo, but its picture data does not decode" in message
    assert "<- SyntaxError: not identified by this driver]" in logged


def test_gif_is_refused_as_a_format():
    still = samples.encoded(samples.scene(), "GIF")
    frames = [samples.scene(), samples.scene().rotate(180)]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    for data in (still, animated.getvalue()):
        assert "GIF image; GIF is not accepted" in refusal(data, "hair.jpg")


def test_svg_is_refused():
    assert "is an SVG drawing, not a photo" in refusal(samples.svg(), "vertex.png")


@pytest.mark.parametrize("format", ["PNG", "WEBP"])
def test_animations_are_refused(format):
    frames = [samples.scene(), samples.scene().rotate(180)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert "animation, not a still photo" in refusal(buffer.getvalue())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (lambda: samples.encoded(samples.scene(), "TIFF"), "TIFF image"),
        (lambda: samples.encoded(samples.scene(), "BMP"), "BMP image"),
        (lambda: samples.encoded(samples.scene(), "AVIF"), "AVIF image"),
        (lambda: b"PK\x03\x04" + bytes(100), "ZIP archive"),
        (lambda: b"Patient notes: density 150/cm2", "not a photo in a format we can read"),
    ],
    ids=["tiff", "bmp", "avif", "zip", "text"],
)
def test_other_files_are_named_in_the_refusal(data, expected):
    assert expected in refusal(data())


# --- PNG metadata past Pillow's limits ----------------------------------------------------------------
# Pillow refuses a PNG whose compressed text or colour profile unpacks past PngImagePlugin.MAX_TEXT_CHUNK
# (1 MiB), or whose text adds up past MAX_TEXT_MEMORY (64 MiB). Such a photo's pixels are sound: it is
# accepted, the original kept byte for byte, and the chunks Pillow would refuse are named in the log.

MIB = 1024 * 1024


def metadata_log(caplog) -> str:
    lines = [r.getMessage() for r in caplog.records if r.name == "tracker.photos.intake"]
    assert len(lines) == 1 and lines[0].startswith("PNG metadata not read (the original keeps it): ")
    return lines[0]


def assert_accepted_unaltered(data: bytes, pillow_says: str) -> PreparedPhoto:
    with pytest.raises((ValueError, SyntaxError), match=pillow_says):  # Pillow's PNG reader refuses it
        PngImagePlugin.PngImageFile(io.BytesIO(data)).load()
    photo = prepare_photo(data, "vertex.png")
    assert photo.original == data and photo.sha256 == hashlib.sha256(data).hexdigest()
    assert (photo.media_type, photo.width, photo.height) == ("image/png", 300, 200)
    assert_upright_scene(photo.display_jpeg)
    for copy in (photo.display_jpeg, photo.thumbnail_jpeg):
        assert b"xmpmeta" not in copy and "xmp" not in opened(copy).info
    return photo


def test_png_with_xmp_unpacking_past_pillows_limit_is_accepted(caplog):
    data = samples.png_with_chunks(samples.scene(), samples.xmp_itxt(3 * MIB))
    assert len(data) < 10_000  # 3 MiB of XMP packs into a few KB: the bomb guard, not the file size, refused it
    with caplog.at_level(logging.INFO, logger="tracker.photos.intake"):
        assert_accepted_unaltered(data, "Decompressed data too large")
    assert metadata_log(caplog).endswith(": iTXt XML:com.adobe.xmp: unpacks past 1 MiB")


def test_png_with_text_adding_up_past_pillows_total_is_accepted(caplog):
    # 70 comments just under 1 MiB each: each within the chunk limit, together past the 64 MiB Pillow reads
    comments = [samples.ztxt(f"Comment{n}".encode(), b"x" * (MIB - 1000)) for n in range(70)]
    data = samples.png_with_chunks(samples.scene(), *comments)
    with caplog.at_level(logging.INFO, logger="tracker.photos.intake"):
        assert_accepted_unaltered(data, "Too much memory used in text chunks")
    logged = metadata_log(caplog)
    # the first 64 are read; the 65th passes the total, and the rest are set aside without unpacking
    assert "zTXt Comment63" not in logged
    assert "zTXt Comment64: more than 64 MiB of text in all; " in logged
    assert "zTXt Comment65: more than 64 MiB of text in all (not unpacked)" in logged
    assert logged.count("zTXt") == 6


def test_png_with_a_large_colour_profile_keeps_it_for_the_display():
    # a profile of 1.5 MiB (a measured lookup-table profile): past Pillow's 1 MiB, within our 4 MiB
    profile = samples.srgb_profile()
    large = profile + bytes(3 * MIB // 2 - len(profile))
    data = samples.png_with_chunks(samples.scene(), samples.iccp(large))
    photo = assert_accepted_unaltered(data, "Decompressed data too large")
    assert opened(photo.display_jpeg).info["icc_profile"] == large


def test_png_with_a_colour_profile_past_any_real_one_is_accepted_without_it(caplog):
    profile = samples.srgb_profile()
    data = samples.png_with_chunks(samples.scene(), samples.iccp(profile + bytes(5 * MIB)))
    with caplog.at_level(logging.INFO, logger="tracker.photos.intake"):
        photo = assert_accepted_unaltered(data, "Decompressed data too large")
    assert "icc_profile" not in opened(photo.display_jpeg).info
    assert metadata_log(caplog).endswith(
        "iCCP ICC profile: colour profile unpacks past 4 MiB; the display copy is shown as sRGB")


def test_png_with_text_in_an_unknown_compression_is_accepted(caplog):
    chunk = samples.png_chunk(b"zTXt", b"Comment\0\x07packed by something else")
    data = samples.png_with_chunks(samples.scene(), chunk)
    with caplog.at_level(logging.INFO, logger="tracker.photos.intake"):
        assert_accepted_unaltered(data, "Unknown compression method 7 in zTXt chunk")
    assert metadata_log(caplog).endswith("zTXt Comment: compressed with an unknown method")


def test_png_metadata_within_the_limits_is_read_as_before(caplog):
    # ImageMagick writes EXIF as hex text in a zTXt chunk; its orientation must still turn the photo upright
    stored = samples.stored_for(6, samples.scene())
    exif = samples.exif_block(orientation=6).tobytes()
    raw = b"\nexif\n" + f"{len(exif):8d}".encode() + b"\n" + exif.hex().encode()
    data = samples.png_with_chunks(stored, samples.ztxt(b"Raw profile type exif", raw), samples.xmp_itxt(MIB // 2))
    with caplog.at_level(logging.INFO, logger="tracker.photos.intake"):
        photo = prepare_photo(data)
    assert not caplog.records
    assert (photo.width, photo.height) == (300, 200)
    assert_upright_scene(photo.display_jpeg)
