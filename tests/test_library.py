import subprocess
import sys
from pathlib import Path

import pytest

from generator.errors import SessionNotFoundError
from generator.recipes.catalogue import Catalogue, builtin_root
from generator.session import estimate, prepare
from tests.conftest import write

REPO = Path(__file__).resolve().parent.parent


def test_the_built_in_library_has_sessions_templates_and_bells() -> None:
    library = Catalogue()
    assert "hip-release" in library.sessions()
    assert {"bowl", "chime"} <= set(library.sounds())
    assert (builtin_root() / "scripts" / "templates" / "pose-hold.j2").is_file()


def test_user_files_shadow_built_ins_of_the_same_name(tmp_path: Path) -> None:
    write(
        tmp_path / "sessions" / "hip-release.toml",
        'title = "Mine"\n[[part]]\ntemplate = "closing.j2"\n',
    )
    write(tmp_path / "templates" / "closing.j2", "My own closing.\n")
    library = Catalogue((tmp_path,))
    assert library.sessions()["hip-release"].is_relative_to(tmp_path)
    prepared = prepare("hip-release", library)
    assert prepared.recipe.title == "Mine"
    assert [getattr(cue, "text", "") for cue in prepared.cues] == ["My own closing."]


def test_a_user_template_changes_every_built_in_session_that_uses_it(tmp_path: Path) -> None:
    write(tmp_path / "templates" / "closing.j2", "[chapter Mine]\nGoodbye from me.\n")
    prepared = prepare("hip-release", Catalogue((tmp_path,)))
    assert any(getattr(cue, "text", "") == "Goodbye from me." for cue in prepared.cues)


def test_sessions_are_found_by_name_or_path(tmp_path: Path) -> None:
    library = Catalogue()
    script = write(tmp_path / "mine.txt", "Hello.\n")
    assert library.find_session(str(script)) == script
    with pytest.raises(SessionNotFoundError, match=r"no session named 'hip-relase'.*hip-release"):
        library.find_session("hip-relase")
    with pytest.raises(SessionNotFoundError, match="no such file"):
        library.find_session(str(tmp_path / "absent.toml"))
    with pytest.raises(SessionNotFoundError, match="does not exist"):
        Catalogue((tmp_path / "nowhere",))


def test_hip_release_is_the_full_practice_and_long_enough() -> None:
    library = Catalogue()
    timeline = estimate(prepare("hip-release", library), library)
    titles = [mark.title for mark in timeline.chapters]
    assert titles == [
        "Arrival", "Belly breathing", "Box breathing", "Pigeon pose", "Lizard pose",
        "Bound angle pose", "Pelvic tilts", "Body scan", "Meditation", "Closing",
    ]  # fmt: skip
    assert timeline.duration >= 15 * 60
    spoken = " ".join(event.text for event in timeline.events).lower()
    for idea in ("right side", "left side", "warm", "light", "water", "therapist"):
        assert idea in spoken


@pytest.mark.e2e
def test_an_installed_wheel_finds_its_library(tmp_path: Path) -> None:
    """Built and installed as a user would get it: the library travels inside the package."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("stillpoint_sessions-*.whl")
    target = tmp_path / "installed"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    code = "from generator.recipes.catalogue import builtin_root; print(builtin_root())"
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(target)},
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    root = Path(run.stdout.strip())
    assert root.is_relative_to(target)
    assert (root / "scripts" / "sessions" / "hip-release.toml").is_file()
    assert (root / "sounds" / "bowl.wav").is_file()
    listing = subprocess.run(
        [sys.executable, "-m", "generator", "list"],
        env={"PYTHONPATH": str(target)}, cwd=tmp_path, check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert "hip-release" in listing.stdout
