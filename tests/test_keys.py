import pytest

from uploader.domain import keys


@pytest.mark.parametrize(
    "filename, expected",
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("my holiday photo (1).JPG", "my_holiday_photo_1.JPG"),
        ("naïve café.png", "naive_cafe.png"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("a\x00b.txt", "ab.txt"),
        ("...", "file"),
        ("", "file"),
        ("<script>alert(1)</script>.jpg", "script.jpg"),
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


NAMES_IN_ANY_SCRIPT = [
    ("사진.jpg", "file.jpg"),
    ("写真 2026.jpeg", "2026.jpeg"),
    ("😀 party.png", "party.png"),
    ("👨\u200d👩\u200d👧.gif", "file.gif"),
    ("صورة.webp", "file.webp"),
    ("תמונה.PNG", "file.PNG"),
    ("میخواهم.txt", "file.txt"),
]


@pytest.mark.parametrize("filename, expected", NAMES_IN_ANY_SCRIPT)
def test_the_key_keeps_the_extension_of_a_name_in_any_script(filename, expected):
    assert keys.safe_name(filename) == expected
    assert keys.object_key(owner_id=7, upload_id="u", filename=filename) == f"uploads/7/u/{expected}"


@pytest.mark.parametrize("filename", [name for name, _ in NAMES_IN_ANY_SCRIPT])
def test_the_display_name_is_kept_as_given(filename):
    assert keys.display_name(filename) == filename


def test_the_display_name_is_nfc_and_keeps_joiners_but_not_direction_overrides():
    decomposed = "\u1109\u1161\u110c\u1175\u11ab.jpg"  # 사진 in conjoining jamo, as macOS sends it
    assert keys.display_name(decomposed) == "사진.jpg"
    assert keys.display_name("نامه\u200cها.txt") == "نامه\u200cها.txt"  # Persian needs its ZWNJ
    assert keys.display_name("a\u202eb\u2066c.txt") == "abc.txt"
