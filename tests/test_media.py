"""Point 3 and 4 of the media issue: thumbnails, posters and media figures made by the worker from
real files (PyAV, Pillow), stored through django-storages, shown by the API, mirrored, deleted with
the upload, and bounded by hard limits."""

import io
import os
import re
import signal
import time
from fractions import Fraction

import pytest
import requests
from django.conf import settings
from PIL import Image

from uploader import aws, services
from uploader.aws import mirror
from uploader.domain import validation
from uploader.inspection import derivatives
from uploader.models import Upload, UploadEvent
from uploader.services import media

from .factories import (
    heic_bytes,
    jpeg_bytes,
    make_user,
    mp3_audio,
    photo_with_exif,
    png_bomb,
    portrait_phone_video,
    webm_audio,
    webm_video,
)
from .helpers import child_pids, put_object, start_upload, wait_for


@pytest.fixture(autouse=True)
def derivatives_on(settings):
    settings.UPLOADER_DERIVATIVES = True  # off in the test settings, on by default everywhere else


LIMITS = derivatives.Limits(thumbnail=320, max_pixels=100_000_000, max_seconds=3 * 3600, time_budget=60)


def _webp(data):
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image


# --- what is made, from real files ---


def test_a_phone_photo_gives_an_upright_webp_thumbnail_without_its_exif_or_gps():
    made = derivatives.make(io.BytesIO(photo_with_exif(400, 200)), kind="image", limits=LIMITS)
    thumbnail = _webp(made.thumbnail)
    assert thumbnail.size == (160, 320)  # stored 400 x 200 sideways, shown turned: 200 x 400, halved
    red, green, blue = thumbnail.convert("RGB").getpixel((80, 5))
    assert red > 200 and green > 150 and blue < 80  # the stored left edge's band is now on top
    assert not thumbnail.getexif() and "exif" not in thumbnail.info and "xmp" not in thumbnail.info
    assert b"PhoneMaker" not in made.thumbnail and b"GPS" not in made.thumbnail
    assert (made.width, made.height) == (200, 400)  # as shown


@pytest.mark.parametrize("mode", ["I;16", "CMYK", "P", "LA"])
def test_a_picture_in_any_mode_keeps_its_tones_in_the_thumbnail(mode):
    shade = {"I;16": 30000, "CMYK": (0, 0, 0, 137), "P": 7, "LA": (118, 255)}[mode]
    picture = Image.new(mode, (640, 480), shade)
    if mode == "P":
        picture.putpalette([v for i in range(256) for v in (i * 16 % 256,) * 3])  # index 7: grey 112
    out = io.BytesIO()
    picture.save(out, "JPEG" if mode == "CMYK" else "PNG")
    thumbnail = _webp(derivatives.make(io.BytesIO(out.getvalue()), kind="image", limits=LIMITS).thumbnail)
    assert thumbnail.size == (320, 240)
    grey = thumbnail.convert("L").getpixel((160, 120))
    assert 100 <= grey <= 130, (mode, grey)  # a 16-bit grey of 30000/65535 is 117 in 8 bits, not white


def test_a_heic_photo_gives_a_thumbnail():
    made = derivatives.make(io.BytesIO(heic_bytes(64, 48)), kind="image", limits=LIMITS)
    assert _webp(made.thumbnail).size == (64, 48)  # never enlarged


@pytest.mark.parametrize("streamed", [False, True], ids=["duration-in-header", "recorded-without-duration"])
def test_a_webm_video_gives_duration_dimensions_codec_and_a_poster(streamed):
    made = derivatives.make(io.BytesIO(webm_video(seconds=3, streamed=streamed)), kind="video", limits=LIMITS)
    assert made.duration == pytest.approx(3.0, abs=0.15)
    assert (made.width, made.height, made.codec) == (320, 240, "vp8")
    assert _webp(made.thumbnail).size == (320, 240)


@pytest.mark.parametrize(
    ("wrapper", "codec", "named"), [("mp4", "libx264", "h264"), ("mov", "libx264", "h264"), ("mp4", "mpeg4", "mpeg4")]
)
def test_a_phone_video_gives_duration_dimensions_codec_and_a_poster(wrapper, codec, named):
    video = webm_video(seconds=3, wrapper=wrapper, codec=codec)
    assert validation.sniff(video[:4096]) == {"mp4": "video/mp4", "mov": "video/quicktime"}[wrapper]
    made = derivatives.make(io.BytesIO(video), kind="video", limits=LIMITS)
    assert made.duration == pytest.approx(3.0, abs=0.15)
    assert (made.width, made.height, made.codec) == (320, 240, named)
    assert _webp(made.thumbnail).size == (320, 240)


def test_a_portrait_phone_video_gets_an_upright_poster_and_its_size_as_played():
    made = derivatives.make(io.BytesIO(portrait_phone_video()), kind="video", limits=LIMITS)
    assert (made.width, made.height) == (240, 320)
    poster = _webp(made.thumbnail).convert("RGB")
    assert poster.size == (240, 320)
    top, bottom = poster.getpixel((120, 40)), poster.getpixel((120, 280))
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0], (top, bottom)  # the stored left half is on top


def test_an_mp3_gives_duration_and_the_formats_codec_name():
    made = derivatives.make(io.BytesIO(mp3_audio(seconds=2)), kind="audio", limits=LIMITS)
    assert made.duration == pytest.approx(2.0, abs=0.1) and made.codec == "mp3"  # not the decoder's "mp3float"
    assert made.thumbnail is None


def test_a_webm_recording_of_sound_gives_duration_and_codec():
    made = derivatives.make(io.BytesIO(webm_audio(seconds=1.5)), kind="audio", limits=LIMITS)
    assert made.duration == pytest.approx(1.5, abs=0.1) and made.codec == "opus"
    assert made.thumbnail is None


def test_a_decompression_bomb_is_refused_from_its_header_before_any_pixel_is_decoded():
    bomb = png_bomb(30_000, 30_000)  # 900 megapixels, under a megabyte
    started = time.process_time()
    with pytest.raises(derivatives.Refused, match="900000000 pixels, more than the 100000000"):
        derivatives.make(io.BytesIO(bomb), kind="image", limits=LIMITS)
    assert time.process_time() - started < 1  # decoding it would take minutes and gigabytes


def _mjpeg_growing(sizes, fps=10):
    """A MOV of JPEG frames whose header says the first frame's size while later frames are others:
    what an attacker sends to get past a check of the header alone."""
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="mov") as container:
        stream = container.add_stream("mjpeg", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *sizes[0], "yuvj420p"
        for i, (width, height) in enumerate(sizes):
            frame = io.BytesIO()
            Image.new("RGB", (width, height), (40 * i, 80, 160)).save(frame, "JPEG", quality=50)
            packet = av.Packet(frame.getvalue())
            packet.stream, packet.time_base, packet.pts, packet.dts, packet.duration = stream, Fraction(1, fps), i, i, 1
            container.mux(packet)
    return out.getvalue()


def test_no_later_frame_is_decoded_beyond_the_pixel_limit():
    """Frames 2-4 nine times over the limit: the decoder refuses them, the poster is frame 1's."""
    limits = derivatives.Limits(thumbnail=320, max_pixels=1_000_000, max_seconds=10**6, time_budget=60)
    growing = _mjpeg_growing([(64, 64), (3000, 3000), (3000, 3000), (3000, 3000)])
    made = derivatives.make(io.BytesIO(growing), kind="video", limits=limits)
    assert (made.width, made.height) == (64, 64)
    assert _webp(made.thumbnail).size == (64, 64)  # not a 320-pixel picture of a 9-megapixel frame
    fine = _mjpeg_growing([(64, 64), (900, 900), (900, 900)])  # under the limit: decoded as usual
    assert _webp(derivatives.make(io.BytesIO(fine), kind="video", limits=limits).thumbnail).size == (320, 320)


def test_a_four_hour_video_is_refused_by_its_duration():
    long_video = webm_video(gap=4 * 3600)
    with pytest.raises(derivatives.Refused, match="14400 seconds, longer than the 10800"):
        derivatives.make(io.BytesIO(long_video), kind="video", limits=LIMITS)


def test_work_past_the_time_budget_is_refused():
    slow = derivatives.Limits(thumbnail=320, max_pixels=10**9, max_seconds=10**6, time_budget=0)
    with pytest.raises(derivatives.Refused, match="took longer than allowed"):
        derivatives.make(io.BytesIO(webm_video(seconds=2, streamed=True)), kind="video", limits=slow)


def test_a_file_that_is_not_media_is_refused_with_a_reason():
    with pytest.raises(derivatives.Refused, match="could not be decoded"):
        derivatives.make(io.BytesIO(b"\x1a\x45\xdf\xa3 not really a webm"), kind="video", limits=LIMITS)


# --- through the pipeline: the emulator, the outbox, a task ---


def _head(key):
    try:
        return aws.s3().head_object(Bucket=settings.UPLOADER_BUCKET, Key=key)
    except aws.s3().exceptions.ClientError:
        return None


def _uploaded(user, body, name, content_type):
    upload, instruction = start_upload(user, body, name=name, content_type=content_type)
    assert put_object(instruction, body).status_code == 200
    return upload


def _settled(upload, timeout=60):
    def done():
        upload.refresh_from_db()
        return upload.media_status in (Upload.MediaStatus.READY, Upload.MediaStatus.FAILED)

    wait_for(done, timeout=timeout, what="the derivatives to be made")
    return upload


def test_a_photo_through_a_real_worker_gets_a_thumbnail_the_api_shows_and_deletion_removes(user, start_worker):
    start_worker(UPLOADER_DERIVATIVES="1")
    upload = _settled(_uploaded(user, photo_with_exif(), "폰 사진.jpg", "image/jpeg"))
    assert upload.status == Upload.Status.AVAILABLE and upload.media_status == Upload.MediaStatus.READY
    key = f"derivatives/{upload.thumbnail}"
    assert key.startswith(f"derivatives/{user.pk}/{upload.pk}/")  # the owner's prefix, outside uploads/
    assert _head(key)["ContentType"] == "image/webp"

    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    shown = api.get(f"/api/v1/uploads/{upload.pk}/").json()
    assert shown["media_status"] == "ready" and (shown["width"], shown["height"]) == (200, 400)  # as shown
    thumbnail = requests.get(shown["thumbnail_url"], timeout=10)
    assert thumbnail.status_code == 200 and "X-Amz-Expires=" in shown["thumbnail_url"]
    assert _webp(thumbnail.content).size == (160, 320) and b"GPS" not in thumbnail.content
    assert shown["thumbnail_url"] != shown["download_url"]
    wait_for(lambda: (mirror.get(upload.pk) or {}).get("media_status", {}).get("S") == "ready", what="the mirror")
    assert mirror.get(upload.pk)["thumbnail"]["S"] == upload.thumbnail

    assert api.delete(f"/api/v1/uploads/{upload.pk}/").status_code == 204
    wait_for(lambda: _head(key) is None, timeout=30, what="the thumbnail to go with its upload")


def test_video_and_sound_through_a_real_worker(user, start_worker):
    start_worker(UPLOADER_DERIVATIVES="1")
    video = _uploaded(user, webm_video(seconds=2, streamed=True), "clip.webm", "video/webm")
    sound = _uploaded(user, webm_audio(seconds=1.5), "memo.weba", "audio/webm")
    phone = _uploaded(user, webm_video(seconds=2, wrapper="mp4", codec="libx264"), "IMG_0001.mp4", "video/mp4")
    song = _uploaded(user, mp3_audio(seconds=2), "song.mp3", "audio/mpeg")
    video, sound, phone, song = _settled(video), _settled(sound), _settled(phone), _settled(song)
    assert (video.media_status, video.codec, video.width, video.height) == ("ready", "vp8", 320, 240)
    assert video.duration == pytest.approx(2.0, abs=0.15)
    poster = aws.s3().get_object(Bucket=video.bucket, Key=f"derivatives/{video.thumbnail}")["Body"].read()
    assert _webp(poster).size == (320, 240)
    assert (sound.media_status, sound.codec, sound.thumbnail) == ("ready", "opus", "")
    assert sound.duration == pytest.approx(1.5, abs=0.1)
    # A phone's MP4 keeps its index at the end: read through ranged GETs all the same.
    assert (phone.media_status, phone.codec, phone.width, phone.height) == ("ready", "h264", 320, 240)
    assert phone.duration == pytest.approx(2.0, abs=0.15) and phone.thumbnail
    assert (song.media_status, song.codec, song.thumbnail) == ("ready", "mp3", "")


def test_a_bomb_and_an_endless_video_leave_the_worker_free_and_the_upload_available(user, start_worker):
    start_worker(UPLOADER_DERIVATIVES="1")
    bomb = _uploaded(user, png_bomb(30_000, 30_000), "bomb.png", "image/png")
    endless = _uploaded(user, webm_video(gap=4 * 3600), "endless.webm", "video/webm")
    after = _uploaded(user, jpeg_bytes(), "after.jpg", "image/jpeg")
    bomb, endless, after = _settled(bomb), _settled(endless), _settled(after)
    assert bomb.status == endless.status == Upload.Status.AVAILABLE  # the verdict is not the thumbnail's
    assert bomb.media_status == endless.media_status == Upload.MediaStatus.FAILED
    assert "900000000 pixels" in bomb.media_reason and "14400 seconds" in endless.media_reason
    assert after.media_status == Upload.MediaStatus.READY

    from rest_framework.test import APIClient

    api = APIClient(HTTP_ACCEPT_LANGUAGE="ko")
    api.force_authenticate(user)
    shown = api.get(f"/api/v1/uploads/{endless.pk}/").json()
    assert shown["media_status"] == "failed" and shown["thumbnail_url"] is None
    assert "14400" in shown["media_reason"] and "seconds" not in shown["media_reason"]  # in Korean


def test_the_time_limit_stops_a_slow_thumbnail_and_the_worker_goes_on(user, start_worker):
    start_worker(UPLOADER_DERIVATIVES="1", UPLOADER_MEDIA_TIME_LIMIT="0.3")  # a fifth of what the picture takes here
    big = Image.new("RGB", (9000, 9000), (10, 120, 30))  # 81 megapixels of one colour: tiny as a PNG
    out = io.BytesIO()
    big.save(out, "PNG", compress_level=1)
    slow = _uploaded(user, out.getvalue(), "big.png", "image/png")
    after = _uploaded(user, jpeg_bytes(), "after.jpg", "image/jpeg")
    slow, after = _settled(slow, timeout=90), _settled(after, timeout=90)
    assert slow.media_status == Upload.MediaStatus.FAILED and "took longer than allowed" in slow.media_reason
    # The worker went on to the next one. Under load even a small JPEG's first task in a fresh
    # process (its S3 connection built) can pass 0.3 s: then it too is stopped, not left pending.
    assert after.media_status == Upload.MediaStatus.READY or "took longer than allowed" in after.media_reason


def test_running_the_checks_again_makes_the_thumbnail_again(user, transactional_db, aws_resources):
    upload = _uploaded(user, heic_bytes(), "iphone.heic", "image/heic")
    services.upload_verify(upload_id=upload.pk)  # tests run tasks eagerly: verdict, then derivatives
    upload.refresh_from_db()
    assert (upload.status, upload.media_status, upload.sniffed_type) == ("available", "ready", "image/heic")
    first = upload.version
    user.is_staff = user.is_superuser = True
    services.upload_reprocess(upload=upload, actor=user)
    upload.refresh_from_db()
    assert upload.media_status == Upload.MediaStatus.READY and upload.version > first + 2
    actions = list(
        UploadEvent.objects.filter(upload_id=upload.pk).order_by("created_at", "id").values_list("action", flat=True)
    )
    assert actions[-3:] == ["reprocess", "available", "media_ready"]
    assert actions.count("media_ready") == 2


def test_the_openapi_schema_documents_the_media_fields(user):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    schema = api.get("/api/v1/schema/?format=json").json()
    upload = schema["components"]["schemas"]["UploadOutput"]["properties"]
    assert upload["thumbnail_url"]["type"] == "string" and upload["thumbnail_url"].get("nullable")
    assert "WebP" in upload["thumbnail_url"]["description"]
    assert upload["duration"]["type"] == "number" and "Seconds" in upload["duration"]["description"]
    assert {"width", "height", "codec", "media_status", "media_reason"} <= upload.keys()
    statuses = {ref["$ref"].rsplit("/", 1)[1] for ref in upload["media_status"]["oneOf"]}
    assert set(schema["components"]["schemas"]["MediaStatusEnum"]["enum"]) == {"pending", "ready", "failed"}
    assert statuses == {"MediaStatusEnum", "BlankEnum"}


def test_the_admin_shows_the_thumbnail_never_the_original_and_no_picture_of_a_refused_one(
    user, transactional_db, aws_resources, client
):
    photo = _uploaded(user, photo_with_exif(), "gps.jpg", "image/jpeg")
    bomb = _uploaded(user, png_bomb(30_000, 30_000), "bomb.png", "image/png")
    for upload in (photo, bomb):
        services.upload_verify(upload_id=upload.pk)  # eagerly: verdict, then derivatives
        upload.refresh_from_db()
    assert (photo.media_status, bomb.media_status) == ("ready", "failed")
    client.force_login(make_user("staff", "pw-staff-12345", is_staff=True, is_superuser=True))

    listed = client.get("/admin/uploader/upload/").content.decode()
    assert f"/derivatives/{photo.thumbnail}" in listed and photo.key not in listed and bomb.key not in listed
    page = client.get(f"/admin/uploader/upload/{photo.pk}/change/").content.decode()
    shown = re.search(r'<img class="upload-preview" src="([^"]+)"', page).group(1)
    assert f"/derivatives/{photo.preview_image}?" in shown  # the larger WebP; the original only behind its link
    assert [m for m in re.findall(r'src="([^"]+)"', page) if photo.key in m] == []
    page = client.get(f"/admin/uploader/upload/{bomb.pk}/change/").content.decode()
    assert '<img class="upload-preview"' not in page and "900000000 pixels" in page


def _slow_png():
    """81 megapixels of one colour: a second or two of decoding, a megabyte on the wire."""
    out = io.BytesIO()
    Image.new("RGB", (9000, 9000), (10, 120, 30)).save(out, "PNG", compress_level=1)
    return out.getvalue()


def test_a_decoder_that_kills_its_process_is_tried_again_and_the_upload_never_stays_pending(user, start_worker):
    worker = start_worker(UPLOADER_DERIVATIVES="1")
    upload = _uploaded(user, _slow_png(), "crash.png", "image/png")

    def decoding():
        upload.refresh_from_db()
        return upload.media_attempts == 1 and upload.media_status == "pending"

    wait_for(decoding, timeout=60, what="the first run to start decoding")
    for child in child_pids(worker.proc.pid):
        os.kill(child, signal.SIGKILL)  # what a decoder's segmentation fault does to its process
    # The message comes back (the task is acknowledged only once it ran) and a new process runs it.
    upload = _settled(upload, timeout=120)
    assert upload.media_status == Upload.MediaStatus.READY and upload.media_attempts == 2
    assert "WorkerLostError" in worker.log() or "exited with 'signal 9" in worker.log()


def test_after_runs_that_all_died_the_thumbnail_is_failed_not_tried_again(user, transactional_db, aws_resources):
    upload = _uploaded(user, jpeg_bytes(), "again.jpg", "image/jpeg")
    services.upload_verify(upload_id=upload.pk)
    upload.refresh_from_db()
    Upload.objects.filter(pk=upload.pk).update(media_status="pending", media_attempts=media.MAX_ATTEMPTS, thumbnail="")
    services.upload_make_derivatives(upload_id=upload.pk)  # the run after MAX_ATTEMPTS deaths
    upload.refresh_from_db()
    assert upload.media_status == Upload.MediaStatus.FAILED and not upload.thumbnail
    assert f"stopped the worker {media.MAX_ATTEMPTS} times" in upload.media_reason
    services.upload_reprocess(upload=upload, actor=user)  # staff's "run the checks again" starts over
    upload.refresh_from_db()
    assert (upload.media_status, upload.media_attempts) == ("ready", 1)


def test_a_time_limit_reached_while_the_result_is_recorded_still_ends_failed_and_drops_what_was_stored(
    user, transactional_db, aws_resources, monkeypatch
):
    """The soft limit fires wherever the run is: on a busy machine, in the record's own transaction
    (seen in CI). The run must still end `failed`, never `pending` for good."""
    from celery.exceptions import SoftTimeLimitExceeded

    upload = _uploaded(user, jpeg_bytes(), "late.jpg", "image/jpeg")
    services.upload_verify(upload_id=upload.pk)
    for key in _derivative_keys(user):  # the first run's, so that only this run's are counted
        aws.s3().delete_object(Bucket=settings.UPLOADER_BUCKET, Key=key)
    Upload.objects.filter(pk=upload.pk).update(media_status="pending", thumbnail="", preview_image="")
    commit_change, fired = media.commit_change, []

    def limit_reached_once(*args, **kwargs):
        if not fired:
            fired.append(_derivative_keys(user))  # what the run had stored when the limit came
            raise SoftTimeLimitExceeded()
        return commit_change(*args, **kwargs)

    monkeypatch.setattr(media, "commit_change", limit_reached_once)
    services.upload_make_derivatives(upload_id=upload.pk)  # tests run the owed drop eagerly
    upload.refresh_from_db()
    assert fired and upload.media_status == Upload.MediaStatus.FAILED and not upload.thumbnail
    assert "took longer than allowed" in upload.media_reason
    assert fired[0] and not _derivative_keys(user)  # the thumbnail this run stored is gone again


def _derivative_keys(user):
    listed = aws.s3().list_objects_v2(Bucket=settings.UPLOADER_BUCKET, Prefix=f"derivatives/{user.pk}/")
    return [item["Key"] for item in listed.get("Contents", [])]


def test_a_long_recording_without_a_duration_header_is_refused_once_it_passes_the_limit():
    recorded = webm_video(seconds=2, streamed=True)  # no duration in the header: its packets are read
    short = derivatives.Limits(thumbnail=320, max_pixels=10**8, max_seconds=1, time_budget=60)
    with pytest.raises(derivatives.Refused, match="lasts 2 seconds, longer than the 1 allowed"):
        derivatives.make(io.BytesIO(recorded), kind="video", limits=short)
