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
    Group,
    Session,
    find_sessions,
    page_data,
    page_html,
    read_vtt,
    write_library_page,
)
from generator.errors import OutputError, Source
from generator.files import atomic
from generator.timeline.events import ChapterMark, Event, Timeline
from generator.writing.sidecar import Chapter, Line, read_sidecar, timeline_document
from generator.writing.transcripts import webvtt

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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
    speech = [(1.0, 2.5, "Breathe <in> & out"), (3.0, 4.0, "Rest.")]
    write_sidecars(mp3, "Calm & Quiet", 3725.5, [("One", 1.0), ("Two", 3.0)], speech)
    sidecar = read_sidecar(mp3)
    assert sidecar is not None
    assert sidecar.title == "Calm & Quiet"
    assert sidecar.seconds == 3725.5
    assert sidecar.chapters == (Chapter("One", 1.0), Chapter("Two", 3.0))
    assert read_vtt(mp3.with_suffix(".vtt")) == tuple(Line(*line) for line in speech)
    (group,) = find_sessions(tmp_path)
    assert group.sessions[0].length == "1:02:06"  # h:mm:ss past an hour
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
    assert Session("t", "a.mp3", 65.4).length == "01:05"


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

    def broken_commit(temporary: Path, destination: Path) -> None:
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
    assert f"stillpoint render hip-release -o '{folder}/hip-release.mp3'" in html.unescape(text)
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
        ["Calm & Quiet", "00:08", "calm.mp3"],
        ["no sidecar #1", "00:04", "no sidecar #1.mp3"],
        [TRICKY, "00:03", "tricky.mp3"],
        ["Day 1", "00:02", "week/01-hips.mp3"],
        ["Day 2", "00:03", "week/02-hips.mp3"],
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
    article.get_by_role("button", name="Box breathing, at 00:03").click()
    page.wait_for_function("window.seekedAt !== undefined")
    assert page.evaluate("window.seekedAt") == pytest.approx(3.0, abs=0.1)
    assert page.evaluate("!document.querySelector('audio').paused")
    now = article.locator("li.now")
    assert now.text_content() == "00:03Line 11: let the breath settle."
    assert now.get_attribute("aria-current") == "true"
    assert article.locator("details.transcript").get_attribute("open") is not None
    current = article.locator("button[aria-current=true]")
    assert current.text_content() == "00:03Box breathing"


@pytest.mark.e2e
def test_chapter_buttons_work_from_the_keyboard(page: Page) -> None:
    article = page.locator(session_article(page, "Calm & Quiet"))
    page.evaluate(
        "() => { const a = document.querySelector('audio'); window.seeks = [];"
        " a.addEventListener('seeked', () => window.seeks.push(a.currentTime)); }"
    )
    article.get_by_role("button", name="Rest, at 00:05").focus()
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
    assert now.text_content() == "00:07Line 27: let the breath settle."
    page.wait_for_function(
        "() => { const li = document.querySelector('li.now'); const box = li.parentElement;"
        " const a = li.getBoundingClientRect(), b = box.getBoundingClientRect();"
        " return box.scrollTop > 0 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1; }"
    )  # scrolled into view within the transcript box
    seek(2.72)  # between line 9 (ends 2.7) and line 10 (starts 2.75): nobody speaks
    assert now.count() == 0
    seek(1.3)
    assert now.text_content() == "00:01Line 4: let the breath settle."
    assert article.locator("li[aria-current]").count() == 1


@pytest.mark.e2e
def test_titles_are_shown_as_text_never_as_html(page: Page) -> None:
    article = page.locator(session_article(page, TRICKY))
    assert article.locator("h3").text_content() == TRICKY
    assert article.locator("button").text_content() == f"00:00{TRICKY}"
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
    assert html.escape(str(folder)) in page  # shown as text, not read as the page's body
