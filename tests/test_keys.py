import pytest

from uploader import keys


@pytest.mark.parametrize(
    "filename, expected",
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("my holiday photo (1).JPG", "my_holiday_photo_1_.JPG"),
        ("naïve café.png", "naive_cafe.png"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("a\x00b.txt", "ab.txt"),
        ("...", "file"),
        ("", "file"),
        ("<script>alert(1)</script>.jpg", "script_.jpg"),
    ],
)
def test_safe_name(filename, expected):
    assert keys.safe_name(filename) == expected


def test_safe_name_bounds_long_names_and_keeps_the_extension():
    name = keys.safe_name("x" * 1000 + ".jpeg")
    assert len(name) <= 100
    assert name.endswith(".jpeg")


def test_display_name_drops_control_and_bidi_characters_but_keeps_unicode():
    assert keys.display_name("C:\\Users\\me\\naïve\u202e\x07.txt") == "naïve.txt"
    assert len(keys.display_name("y" * 1000)) == 255


def test_object_key_is_scoped_to_owner_and_upload():
    key = keys.object_key(owner_id=7, upload_id="abc", filename="../../other/3/x.jpg")
    assert key == "uploads/7/abc/x.jpg"
