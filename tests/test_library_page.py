"""The offline library page: its data and HTML without a browser, then the page itself in
headless Chromium (Debian's, driven by Playwright), opened from file:// with real MP3s."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from generator.base.samples import SAMPLE_RATE
from generator.commands.library_page.page import (
    find_sessions,
    page_data,
    page_html,
    read_vtt,
    write_library_page,
)
from generator.commands.library_page.sessions import Group, Session, player_clock
from generator.errors import OutputError, Source
from generator.files import atomic
from generator.timeline.events import ChapterMark, Event, Timeline
from generator.writing.sidecar import Chapter, Line, read_sidecar, timeline_document
from generator.writing.tags import FileTags, write_tags
from generator.writing.transcripts import webvtt

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

TRICKY = '</script><b>bold</b> & <img src=x onerror="window.hacked=1">'
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
]


def make_mp3(path: Path, seconds: float, frequency: int = 440) -> Path:
    """A real MP3 of a quiet sine, encoded as render encodes (libmp3lame, 96 kbps CBR)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sine = f"sine=frequency={frequency}:duration={seconds}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", sine, "-af", "volume=0.1",
         "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "libmp3lame", "-b:a", "96k", "-y", str(path)],
        check=True,
    )  # fmt: skip
    return path


def write_sidecars(
    mp3: Path,
    title: str,
    seconds: float,
    chapters: Sequence[tuple[str, float]] = (),
    speech: Sequence[tuple[float, float, str]] = (),
) -> None:
    """X.json and X.vtt beside mp3, made by export.py's own functions from a timeline."""

    def at(time: float) -> int:
        return round(time * SAMPLE_RATE)

    here = Source("test.j2", 1)
    events = tuple(
        Event("speech", at(start), at(end), here, text=text, voice="pyttsx3:gmw/en-us", rate=145)
        for start, end, text in speech
    )
    ends = [start for _, start in chapters[1:]] + [seconds]
    marks = tuple(
        ChapterMark(name, at(start), at(end), here)
        for (name, start), end in zip(chapters, ends, strict=True)
    )
    timeline = Timeline(title, SAMPLE_RATE, at(seconds), events, marks)
    mp3.with_suffix(".json").write_text(timeline_document(timeline), encoding="utf-8")
    mp3.with_suffix(".vtt").write_text(webvtt(timeline), encoding="utf-8")


# --- without a browser --------------------------------------------------------------------------


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not really an mp3")
    return path


def test_sessions_are_grouped_by_folder_in_order(tmp_path: Path) -> None:
    for name in ("b.mp3", "a.MP3", ".hidden.mp3", "notes.txt", "index.html"):
        touch(tmp_path / name)
    for name in ("day-10.mp3", "day-2.mp3", "day-1.mp3"):
        touch(tmp_path / "week" / name)
    touch(tmp_path / ".cache" / "x.mp3")
    touch(tmp_path / "Week 10" / "z.mp3")
    touch(tmp_path / "week 9" / "y.mp3")
    groups = find_sessions(tmp_path)
    assert [(g.folder, [s.file for s in g.sessions]) for g in groups] == [
        ("", ["a.MP3", "b.mp3"]),
        ("week", ["week/day-1.mp3", "week/day-2.mp3", "week/day-10.mp3"]),
        ("week 9", ["week 9/y.mp3"]),
        ("Week 10", ["Week 10/z.mp3"]),
    ]
    assert groups[1].sessions[2].title == "day 10"  # no sidecar: the file's name


def test_a_program_playlist_gives_order_and_titles(tmp_path: Path) -> None:
    folder = tmp_path / "hips"
    for name in ("01-open.mp3", "02-deep.mp3", "03-rest.mp3", "extra.mp3"):
        touch(folder / name)
    (folder / "hips.m3u8").write_text(
        "#EXTM3U\n#PLAYLIST:7-Day Hip Release\n#EXTINF:601,Day 2: Deep\n02-deep.mp3\n"
        "#EXTINF:600,Day 1: Open\n01-open.mp3\nhttps://example.invalid/x.mp3\nmissing.mp3\n"
        "03%2Drest.mp3\n",
        encoding="utf-8",
    )
    (group,) = find_sessions(tmp_path)
    assert group.title == "7-Day Hip Release"
    assert [(s.file, s.title) for s in group.sessions] == [
        ("hips/02-deep.mp3", "Day 2: Deep"),
        ("hips/01-open.mp3", "Day 1: Open"),
        ("hips/03-rest.mp3", "03 rest"),
        ("hips/extra.mp3", "extra"),
    ]


def test_sidecars_made_by_export_are_read_back(tmp_path: Path) -> None:
    mp3 = touch(tmp_path / "s.mp3")
    # Lines 3 s apart: a caption stays up through a shorter silence (transcripts.CHAIN_GAP)
    speech = [(1.0, 2.5, "Breathe <in> & out"), (5.5, 6.5, "Rest.")]
    write_sidecars(mp3, "Calm & Quiet", 3725.5, [("One", 1.0), ("Two", 5.5)], speech)
    sidecar = read_sidecar(mp3)
    assert sidecar is not None
    assert sidecar.title == "Calm & Quiet"
    assert sidecar.seconds == 3725.5
    assert sidecar.chapters == (Chapter("One", 1.0), Chapter("Two", 5.5))
    assert read_vtt(mp3.with_suffix(".vtt")) == tuple(Line(*line) for line in speech)
    (group,) = find_sessions(tmp_path)
    assert group.sessions[0].length == "1:02:05"  # h:mm:ss past an hour, truncated as players do
    mp3.with_suffix(".vtt").unlink()  # no transcript file: the JSON's speech events serve
    (group,) = find_sessions(tmp_path)
    assert group.sessions[0].transcript == tuple(Line(*line) for line in speech)


def test_a_broken_sidecar_still_lists_the_mp3(tmp_path: Path) -> None:
    mp3 = touch(tmp_path / "morning_calm.mp3")
    mp3.with_suffix(".json").write_text("{not json", encoding="utf-8")
    assert read_sidecar(mp3) is None
    (group,) = find_sessions(tmp_path)
    assert group.sessions == (Session("morning calm", "morning_calm.mp3", None),)


def test_sources_are_relative_and_url_encoded() -> None:
    assert Session("t", "week 1/day #2?.mp3", 1.0).src == "week%201/day%20%232%3F.mp3"
    assert Session("t", "é.mp3", None).src == "%C3%A9.mp3"
    assert Session("t", "a.mp3", 65.4).length == "1:05"  # as the audio player writes it
    assert Session("t", "a.mp3", 554.7).length == "9:14"  # truncated, never rounded up


def test_page_data_cannot_close_its_script_element() -> None:
    session = Session(TRICKY, "x.mp3", 1.0, (Chapter("<!-- a", 0.0),), (Line(0, 1, "</SCRIPT>"),))
    text = page_data([Group("", "", (session,))])
    assert "<" not in text
    assert ">" not in text
    data = json.loads(text)
    assert data["groups"][0]["sessions"][0]["title"] == TRICKY
    assert data["groups"][0]["sessions"][0]["transcript"][0]["text"] == "</SCRIPT>"
    page = page_html([Group("", "", (session,))], "<out>")
    assert page.count("</script>") == 2  # the data element's and the code's own
    assert "in &lt;out&gt;" in page


def test_write_replaces_the_page_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "a.mp3")
    page = write_library_page(tmp_path)
    assert page == tmp_path / "index.html"
    first = page.read_text(encoding="utf-8")
    assert "a.mp3" in first

    def broken_commit(temporary: Path, destination: Path, durable: bool = True) -> None:
        assert temporary.parent == destination.parent
        assert temporary.name.startswith(".")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "commit", broken_commit)
    touch(tmp_path / "b.mp3")
    with pytest.raises(OutputError, match="No space left") as caught:
        write_library_page(tmp_path)
    assert caught.value.fix
    assert page.read_text(encoding="utf-8") == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp3", "b.mp3", "index.html"]


def test_an_empty_folder_says_how_to_render_a_session(tmp_path: Path) -> None:
    folder = tmp_path / "my sessions"
    folder.mkdir()
    text = write_library_page(folder).read_text(encoding="utf-8")
    assert "No sessions yet" in text
    # from the folder that holds it: the page names no path above its own folder
    assert "stillpoint render hip-release -o 'my sessions/hip-release.mp3'" in html.unescape(text)
    assert str(tmp_path) not in text
    assert "<script" not in text


def test_a_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist") as caught:
        write_library_page(tmp_path / "nowhere")
    assert caught.value.exit_code == 2
    assert caught.value.fix
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        write_library_page(tmp_path / "file")


# --- in headless Chromium -----------------------------------------------------------------------

CALM_SPEECH = [
    (0.5 + 0.25 * n, 0.7 + 0.25 * n, f"Line {n + 1}: let the breath settle.") for n in range(29)
]
CALM_CHAPTERS = [("Arrival", 0.5), ("Box breathing", 3.0), ("Rest", 5.5)]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder as renders leave it: sessions with sidecars, one without, a program's folder."""
    folder = tmp_path_factory.mktemp("library")
    calm = make_mp3(folder / "calm.mp3", 8)
    write_sidecars(calm, "Calm & Quiet", 8.0, CALM_CHAPTERS, CALM_SPEECH)
    tricky = make_mp3(folder / "tricky.mp3", 3, 330)
    write_sidecars(tricky, TRICKY, 3.0, [(TRICKY, 0.0)], [(0.2, 1.0, TRICKY)])
    make_mp3(folder / "no sidecar #1.mp3", 4, 550)
    for day, length in ((1, 2), (2, 3)):
        mp3 = make_mp3(folder / "week" / f"0{day}-hips.mp3", length, 220 * day)
        write_sidecars(mp3, "Hip Release", float(length), [("Start", 0.0)], [(0.0, 1.0, "Hi.")])
    (folder / "week" / "week.m3u8").write_text(
        "#EXTM3U\n#PLAYLIST:Hip Week\n#EXTINF:2,Day 1\n01-hips.mp3\n#EXTINF:3,Day 2\n02-hips.mp3\n",
        encoding="utf-8",
    )
    write_library_page(folder)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright, once for the module; never a downloaded browser."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Chromium is not installed: `make test` installs it (tools/install-system-deps.sh "
            "runs apt-get install chromium)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing from .venv: `make test` installs it", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def requests() -> list[str]:
    return []


@pytest.fixture
def page(browser: Browser, library: Path, requests: list[str]) -> Iterator[Page]:
    """The library page opened from the disk, every request it makes recorded."""
    context = browser.new_context()
    opened = context.new_page()
    errors: list[str] = []
    opened.on("request", lambda request: requests.append(request.url))
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto((library / "index.html").as_uri())
    opened.wait_for_function(
        "[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)"
    )  # every relative src resolved and its MP3 readable
    yield opened
    context.close()
    assert errors == []


def session_article(page: Page, title: str) -> str:
    """A CSS selector for the article whose heading is title."""
    index = page.evaluate(
        "(title) => [...document.querySelectorAll('article h3')]"
        ".findIndex(h => h.textContent === title)",
        title,
    )
    assert index >= 0, f"{title!r} is not listed"
    return f"article.session >> nth={index}"


@pytest.mark.e2e
def test_page_lists_every_file_offline(page: Page, requests: list[str], library: Path) -> None:
    listed = page.evaluate(
        "[...document.querySelectorAll('article.session')].map(a => [a.querySelector('h3')"
        ".textContent, a.querySelector('.length').textContent, a.querySelector('.file')"
        ".textContent])"
    )
    assert listed == [
        ["Calm & Quiet", "0:08", "calm.mp3"],
        ["no sidecar #1", "0:04", "no sidecar #1.mp3"],
        [TRICKY, "0:03", "tricky.mp3"],
        ["Day 1", "0:02", "week/01-hips.mp3"],
        ["Day 2", "0:03", "week/02-hips.mp3"],
    ]
    headings = page.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
    assert headings == ["Sessions", "Hip Week"]
    durations = page.evaluate("[...document.querySelectorAll('audio')].map(a => a.duration)")
    assert [round(d) for d in durations] == [8, 4, 3, 2, 3]
    assert requests
    assert all(url.startswith("file://") for url in requests), requests
    assert (library / "no sidecar #1.mp3").as_uri() in requests  # the MP3s load by relative src


@pytest.mark.e2e
def test_a_chapter_button_seeks_and_plays(page: Page) -> None:
    article = page.locator(session_article(page, "Calm & Quiet"))
    page.evaluate(
        "() => { const a = document.querySelector('audio');"
        " a.addEventListener('seeked', () => { window.seekedAt = a.currentTime; }, {once: true}); }"
    )
    article.get_by_role("button", name="Box breathing, at 0:03").click()
    page.wait_for_function("window.seekedAt !== undefined")
    assert page.evaluate("window.seekedAt") == pytest.approx(3.0, abs=0.1)
    assert page.evaluate("!document.querySelector('audio').paused")
    now = article.locator("li.now")
    assert now.text_content() == "0:03Line 11: let the breath settle."
    assert now.get_attribute("aria-current") == "true"
    assert article.locator("details.transcript").get_attribute("open") is not None
    current = article.locator("button[aria-current=true]")
    assert current.text_content() == "0:03Box breathing"


@pytest.mark.e2e
def test_chapter_buttons_work_from_the_keyboard(page: Page) -> None:
    article = page.locator(session_article(page, "Calm & Quiet"))
    page.evaluate(
        "() => { const a = document.querySelector('audio'); window.seeks = [];"
        " a.addEventListener('seeked', () => window.seeks.push(a.currentTime)); }"
    )
    article.get_by_role("button", name="Rest, at 0:05").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("window.seeks.length === 1")
    page.keyboard.press("Shift+Tab")  # back to the chapter before
    page.keyboard.press("Space")
    page.wait_for_function("window.seeks.length === 2")
    assert page.evaluate("window.seeks") == [
        pytest.approx(5.5, abs=0.1),
        pytest.approx(3.0, abs=0.1),
    ]


@pytest.mark.e2e
def test_the_transcript_follows_the_player(page: Page) -> None:
    article = page.locator(session_article(page, "Calm & Quiet"))
    article.locator("summary").click()  # open the transcript without playing

    def seek(seconds: float) -> None:
        page.evaluate(
            "(t) => new Promise(done => { const a = document.querySelector('audio');"
            " a.addEventListener('seeked', done, {once: true}); a.currentTime = t; })",
            seconds,
        )

    seek(7.1)  # inside line 27 (7.0-7.2), far below the box's first screen of lines
    now = article.locator("li.now")
    assert now.text_content() == "0:07Line 27: let the breath settle."
    page.wait_for_function(
        "() => { const li = document.querySelector('li.now'); const box = li.parentElement;"
        " const a = li.getBoundingClientRect(), b = box.getBoundingClientRect();"
        " return box.scrollTop > 0 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1; }"
    )  # scrolled into view within the transcript box
    seek(2.72)  # between line 9 (ends 2.7) and line 10 (starts 2.75): nobody speaks
    assert now.count() == 0
    seek(1.3)
    assert now.text_content() == "0:01Line 4: let the breath settle."
    assert article.locator("li[aria-current]").count() == 1


@pytest.mark.e2e
def test_titles_are_shown_as_text_never_as_html(page: Page) -> None:
    article = page.locator(session_article(page, TRICKY))
    assert article.locator("h3").text_content() == TRICKY
    assert article.locator("button").text_content() == f"0:00{TRICKY}"
    assert page.locator("b, img").count() == 0
    assert page.evaluate("window.hacked") is None
    assert page.locator("script").count() == 2


def _groups_of(page: str) -> list[dict[str, Any]]:
    """The groups in the page's data element, parsed as the page's script parses them."""
    start = page.index('id="library-data">') + len('id="library-data">')
    return list(json.loads(page[start : page.index("</script>", start)])["groups"])


def test_a_title_that_looks_like_a_placeholder_stays_a_title(tmp_path: Path) -> None:
    mp3 = touch(tmp_path / "morning.mp3")
    write_sidecars(mp3, "Morning @SCRIPT@ @DATA@ {{ data }}", 60.0, [("One", 0.0)])
    page = write_library_page(tmp_path).read_text(encoding="utf-8")
    (group,) = _groups_of(page)
    (session,) = group["sessions"]
    assert session["title"] == "Morning @SCRIPT@ @DATA@ {{ data }}"
    assert page.count('"use strict"') == 1  # the page's code once, not pasted into its data


def test_a_folder_named_like_a_placeholder_lists_each_session_once(tmp_path: Path) -> None:
    folder = tmp_path / "@BODY@ {{ folder }}"
    touch(folder / "a.mp3")
    touch(folder / "b.mp3")
    page = write_library_page(folder).read_text(encoding="utf-8")
    assert page.count('id="library-data"') == 1
    (group,) = _groups_of(page)
    assert [session["file"] for session in group["sessions"]] == ["a.mp3", "b.mp3"]
    assert f"in {html.escape(folder.name)}</span>" in page  # text, not read as the page's body
    assert str(tmp_path) not in page  # its name only


# --- the page as a listening app: in headless Chromium, at a phone's and a laptop's size ---------

PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1440, "height": 900}
PIGEON_CHAPTERS = [("Arrival", 0.5), ("Pigeon pose", 2.0), ("Closing", 4.0)]
PIGEON_ABOUT = "Pigeon pose on its own, for the outer hips."
# Every action handler the page gives the Media Session, kept where a test can call it.
CATCH_ACTIONS = """
window.actions = {};
if (navigator.mediaSession) {
  const set = navigator.mediaSession.setActionHandler.bind(navigator.mediaSession);
  navigator.mediaSession.setActionHandler = (action, handler) => {
    window.actions[action] = handler;
    set(action, handler);
  };
}
"""


def make_cover(path: Path) -> bytes:
    """A 64 x 64 PNG, made by ffmpeg."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=0x3f6f5a:s=64x64",
         "-frames:v", "1", "-y", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def tag(mp3: Path, title: str, description: str, cover: bytes) -> None:
    """The description and front cover in the MP3's ID3 tag, written as a render writes them."""
    write_tags(mp3, FileTags(title, comment=description, cover=cover))


def write_render(mp3: Path, title: str, seconds: float, *, channels: int, ambience: str) -> None:
    """X.json and X.vtt as a render of one session leaves them: channels, voice, ambience."""
    here = Source("pigeon.toml", 1)

    def at(time: float) -> int:
        return round(time * SAMPLE_RATE)

    speech = tuple(
        Event("speech", at(start + 0.1), at(start + 1.0), here, text=f"{name}, now.",
              voice="piper:joe", rate=120)
        for name, start in PIGEON_CHAPTERS
    )  # fmt: skip
    bed = (Event("ambience", 0, at(seconds), here, sound=ambience),) if ambience else ()
    ends = [start for _, start in PIGEON_CHAPTERS[1:]] + [seconds]
    marks = tuple(
        ChapterMark(name, at(start), at(end), here)
        for (name, start), end in zip(PIGEON_CHAPTERS, ends, strict=True)
    )
    timeline = Timeline(title, SAMPLE_RATE, at(seconds), speech + bed, marks, channels=channels)
    mp3.with_suffix(".json").write_text(timeline_document(timeline), encoding="utf-8")
    mp3.with_suffix(".vtt").write_text(webvtt(timeline), encoding="utf-8")


@pytest.fixture(scope="module")
def listening(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two renders of one session (mono; stereo over the ocean), each with its description and
    cover in its tags, and a program of three days with its playlist."""
    folder = tmp_path_factory.mktemp("listening")
    cover = make_cover(folder.parent / f"{folder.name}-cover.png")
    for name, channels, ambience in (("pigeon", 1, ""), ("pigeon-ocean", 2, "ocean")):
        mp3 = make_mp3(folder / f"{name}.mp3", 6.9, 330)  # 6.9 s: the player writes 0:06
        write_render(mp3, "Pigeon Pose", 6.9, channels=channels, ambience=ambience)
        tag(mp3, "Pigeon Pose", PIGEON_ABOUT, cover)
    for day in (1, 2, 3):
        mp3 = make_mp3(folder / "week" / f"0{day}-day.mp3", 2, 220 * day)
        write_sidecars(mp3, f"Day {day}", 2.0, [("Start", 0.0)], [(0.0, 1.0, "Hello.")])
    (folder / "week" / "week.m3u8").write_text(
        "#EXTM3U\n#PLAYLIST:Hip Week\n#EXTINF:2,Day 1\n01-day.mp3\n#EXTINF:2,Day 2\n02-day.mp3\n"
        "#EXTINF:2,Day 3\n03-day.mp3\n",
        encoding="utf-8",
    )
    write_library_page(folder)
    return folder


@pytest.fixture
def context(browser: Browser) -> Iterator[Any]:
    """A fresh browser profile: nothing remembered from another test."""
    made = browser.new_context(viewport=PHONE)
    yield made
    made.close()


def open_page(context: Any, folder: Path) -> Page:
    """The folder's page from the disk, every player's file opened; a script error fails."""
    opened: Page = context.new_page()
    opened.add_init_script(CATCH_ACTIONS)
    opened.on("pageerror", lambda error: pytest.fail(f"page error: {error}"))
    opened.goto((folder / "index.html").as_uri())
    wait_ready(opened)
    return opened


def wait_ready(page: Page) -> None:
    page.wait_for_function("[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)")


def seek(page: Page, selector: str, seconds: float) -> None:
    """Move a player and wait until it has got there (the page saves the place on 'seeked')."""
    page.locator(selector).evaluate(
        "(article, t) => new Promise(done => { const a = article.querySelector('audio');"
        " a.addEventListener('seeked', done, {once: true}); a.currentTime = t; })",
        seconds,
    )


def audio_of(page: Page, selector: str, what: str) -> Any:
    return page.locator(selector).evaluate(f"(article) => article.querySelector('audio').{what}")


def card(page: Page, file: str) -> str:
    """A CSS selector for the card of a file (by its path in the folder, as the card shows it)."""
    index = page.evaluate(
        "(file) => [...document.querySelectorAll('article .file')]"
        ".findIndex(span => span.textContent === file)",
        file,
    )
    assert index >= 0, f"{file} is not listed"
    return f"article.session >> nth={index}"


@pytest.mark.e2e
@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_the_page_fits_a_phone_and_fills_a_laptop(
    browser: Browser, listening: Path, viewport: ViewportSize
) -> None:
    context = browser.new_context(viewport=viewport)
    try:
        page = open_page(context, listening)
        page.locator("details.transcript >> nth=0").locator("summary").click()
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"
        lefts = page.evaluate(
            "[...document.querySelectorAll('article.session')]"
            ".map(a => Math.round(a.getBoundingClientRect().left))"
        )
        columns = len(set(lefts))
        assert columns == (1 if viewport is PHONE else 3), lefts  # a laptop: cards side by side
    finally:
        context.close()


@pytest.mark.e2e
def test_the_lock_screen_shows_the_session_cover_and_chapter(context: Any, listening: Path) -> None:
    page = open_page(context, listening)
    ocean = card(page, "pigeon-ocean.mp3")
    page.locator(ocean).get_by_role("button", name="Pigeon pose, at 0:02").click()
    page.wait_for_function("navigator.mediaSession.metadata !== null")
    metadata = page.evaluate(
        "(({title, artist, album, artwork}) => ({title, artist, album, artwork}))"
        "(navigator.mediaSession.metadata)"
    )
    assert metadata["title"] == "Pigeon Pose"
    assert metadata["artist"] == "Pigeon pose"  # the chapter playing
    assert metadata["album"] == "stereo, ocean ambience"  # what sets this render apart
    (artwork,) = metadata["artwork"]
    assert artwork["src"].startswith("data:image/png;base64,")
    assert (artwork["sizes"], artwork["type"]) == ("64x64", "image/png")
    seek(page, ocean, 4.2)
    page.wait_for_function("navigator.mediaSession.metadata.artist === 'Closing'")
    day = card(page, "week/02-day.mp3")
    page.locator(day).get_by_role("button", name="Start, at 0:00").click()
    page.wait_for_function("navigator.mediaSession.metadata.title === 'Day 2'")
    assert page.evaluate("navigator.mediaSession.metadata.album") == "Hip Week"


@pytest.mark.e2e
def test_previous_and_next_chapter_buttons_seek(context: Any, listening: Path) -> None:
    page = open_page(context, listening)
    pigeon = card(page, "pigeon.mp3")
    page.locator(pigeon).get_by_role("button", name="Arrival, at 0:00").click()
    page.wait_for_function("navigator.mediaSession.metadata !== null")
    page.locator(pigeon).evaluate("(article) => article.querySelector('audio').pause()")
    assert sorted(page.evaluate("Object.keys(window.actions)")) == [
        "nexttrack", "previoustrack", "seekbackward", "seekforward", "seekto"
    ]  # fmt: skip

    def act(action: str) -> float:
        page.locator(pigeon).evaluate(
            "(article, action) => new Promise(done => { const a = article.querySelector('audio');"
            " a.addEventListener('seeked', done, {once: true}); window.actions[action]({action});"
            " })",
            action,
        )
        return float(audio_of(page, pigeon, "currentTime"))

    assert act("nexttrack") == pytest.approx(2.0, abs=0.05)
    assert act("nexttrack") == pytest.approx(4.0, abs=0.05)
    # at a chapter's start (or within BACK_GRACE of it), "previous" goes to the one before
    assert act("previoustrack") == pytest.approx(2.0, abs=0.05)
    seek(page, pigeon, 3.5)  # 1.5 s into "Pigeon pose": still near its start
    assert act("previoustrack") == pytest.approx(0.5, abs=0.05)


@pytest.mark.e2e
def test_the_place_in_a_file_survives_a_reload(context: Any, listening: Path) -> None:
    page = open_page(context, listening)
    ocean = card(page, "pigeon-ocean.mp3")
    seek(page, ocean, 3.3)
    page.reload()
    wait_ready(page)
    page.wait_for_function(
        "(i) => document.querySelectorAll('audio')[i].currentTime > 3", arg=0
    )  # pigeon-ocean.mp3 sorts first
    assert audio_of(page, ocean, "currentTime") == pytest.approx(3.3, abs=0.05)
    assert page.locator(ocean).locator(".resume-note").text_content() == "Resumes at 0:03"
    assert audio_of(page, card(page, "pigeon.mp3"), "currentTime") == 0  # the other one: its own


@pytest.mark.e2e
def test_a_programs_days_played_and_continue_survive_a_reload(
    context: Any, listening: Path
) -> None:
    page = open_page(context, listening)
    progress = page.locator(".progress")
    assert progress.locator(".count").text_content() == "0 of 3 days played"
    assert progress.locator("button.continue").text_content() == "Start with day 1"
    first = card(page, "week/01-day.mp3")
    page.locator(first).evaluate(
        "(article) => new Promise(done => { const a = article.querySelector('audio');"
        " a.addEventListener('ended', done, {once: true}); a.currentTime = 1.5; a.play(); })"
    )  # heard to its end
    for reloaded in (False, True):
        if reloaded:
            page.reload()
            wait_ready(page)
        assert progress.locator(".count").text_content() == "1 of 3 days played"
        assert progress.locator("button.continue").text_content() == "Continue with day 2"
        assert progress.locator(".next-title").text_content() == "Day 2"
        assert page.locator("li.played").count() == 1
        assert page.locator(first).locator(".played-note").is_visible()
    progress.locator("button.continue").click()
    second = card(page, "week/02-day.mp3")
    page.wait_for_function(
        "(i) => !document.querySelectorAll('audio')[i].paused", arg=3
    )  # the second day plays
    assert audio_of(page, second, "paused") is False


@pytest.mark.e2e
def test_search_filters_the_cards(context: Any, listening: Path) -> None:
    page = open_page(context, listening)
    search = page.get_by_label("Search titles, descriptions and chapters")

    def shown() -> list[str]:
        return list(
            page.evaluate(
                "[...document.querySelectorAll('li:not([hidden]) > article .file')]"
                ".map(span => span.textContent)"
            )
        )

    search.fill("ocean")
    assert shown() == ["pigeon-ocean.mp3"]
    assert page.locator("#search-status").text_content() == "Showing 1 of 5 sessions"
    search.fill("DAY 3")  # any case, words in any order
    assert shown() == ["week/03-day.mp3"]
    assert page.locator("section.group >> nth=0").is_hidden()  # a group with nothing shown
    search.fill("outer hips")  # the description
    assert shown() == ["pigeon-ocean.mp3", "pigeon.mp3"]
    search.fill("zebra")
    assert shown() == []
    assert page.locator("#search-status").text_content() == "No session matches “zebra”"
    search.press("Escape")
    assert len(shown()) == 5


@pytest.mark.e2e
def test_cards_tell_apart_describe_and_show_covers(context: Any, listening: Path) -> None:
    page = open_page(context, listening)
    cards = page.evaluate(
        "[...document.querySelectorAll('article.session')].map(a => ({"
        " title: a.querySelector('h3').textContent,"
        " apart: a.querySelector('.apart')?.textContent ?? null,"
        " about: a.querySelector('.description')?.textContent ?? null,"
        " cover: a.querySelector('img.cover')?.naturalWidth ?? 0,"
        " length: a.querySelector('.length').textContent,"
        " duration: a.querySelector('audio').duration }))"
    )
    assert [(c["title"], c["apart"]) for c in cards] == [
        ("Pigeon Pose", "stereo · ocean ambience"),
        ("Pigeon Pose", "mono · no ambience"),
        ("Day 1", None),
        ("Day 2", None),
        ("Day 3", None),
    ]
    assert [c["about"] for c in cards[:2]] == [PIGEON_ABOUT, PIGEON_ABOUT]
    assert [c["cover"] for c in cards] == [64, 64, 0, 0, 0]
    # As the player writes its own length: whole seconds, truncated (6.9 s is 0:06)
    assert [c["length"] for c in cards] == ["0:06", "0:06", "0:02", "0:02", "0:02"]
    assert [c["length"] for c in cards] == [player_clock(c["duration"]) for c in cards]


@pytest.mark.e2e
def test_the_page_shows_no_absolute_path(context: Any, listening: Path) -> None:
    page = open_page(context, listening)
    written = (listening / "index.html").read_text(encoding="utf-8")
    shown = page.content() + page.evaluate("document.body.innerText")
    for text in (written, shown):
        assert str(listening) not in text
        assert str(listening.parent) not in text
    assert f"in {listening.name}" in (page.locator(".summary").text_content() or "")
