"use strict";
(() => {
  const data = JSON.parse(document.getElementById("library-data").textContent);
  const main = document.getElementById("sessions");
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const EARLY = 0.01; // seconds: a seek to a chapter lands on its first cue despite rounding

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(seconds) {
    const whole = Math.round(seconds);
    const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
  }

  // The last item whose start is at or before t (items sorted by start), or -1.
  function lastStarted(items, t) {
    let low = 0, high = items.length - 1, found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (items[mid].start <= t + EARLY) { found = mid; low = mid + 1; } else { high = mid - 1; }
    }
    return found;
  }

  function session(item, id) {
    const article = make("article", "session");
    article.id = id;
    article.setAttribute("aria-labelledby", `${id}-title`);
    const heading = make("h3", "", item.title);
    heading.id = `${id}-title`;
    const meta = make("p", "meta");
    const length = make("span", "length", item.length);
    meta.append(length, make("span", "file", item.file));
    const audio = make("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = item.src;
    audio.setAttribute("aria-labelledby", `${id}-title`);
    article.append(heading, meta, audio);
    if (!item.length) {
      audio.addEventListener("loadedmetadata", () => {
        if (Number.isFinite(audio.duration)) length.textContent = clock(audio.duration);
      });
    }
    audio.addEventListener("error", () => {
      if (!meta.querySelector(".problem")) {
        meta.append(make("span", "problem", "This file cannot be played: moved or deleted?"));
      }
    });

    const buttons = item.chapters.map((chapter) => {
      const button = make("button", "chapter");
      button.type = "button";
      button.append(make("span", "at", chapter.at), make("span", "name", chapter.title));
      button.setAttribute("aria-label", `${chapter.title}, at ${chapter.at}`);
      button.addEventListener("click", () => {
        audio.currentTime = chapter.start;
        const playing = audio.play();
        if (playing) playing.catch(() => {}); // refused (no sound device): the seek still stands
      });
      const li = make("li");
      li.append(button);
      return li;
    });
    if (buttons.length) {
      const nav = make("nav");
      nav.setAttribute("aria-label", `Chapters of ${item.title}`);
      const list = make("ol", "chapters");
      list.append(...buttons);
      nav.append(list);
      article.append(nav);
    }

    const cues = item.transcript.map((line) => {
      const li = make("li");
      li.append(make("span", "at", line.at), make("span", "text", line.text));
      return li;
    });
    let details = null, box = null;
    if (cues.length) {
      details = make("details", "transcript");
      details.append(make("summary", "", "Transcript"));
      box = make("ol", "cues");
      box.append(...cues);
      details.append(box);
      article.append(details);
    }

    let chapterNow = -1, cueNow = -1, shown = -1;
    function keepInView(index, instant) {
      if (!details || !details.open || index < 0 || index === shown) return;
      shown = index;
      const li = cues[index];
      const top = li.offsetTop - (box.clientHeight - li.offsetHeight) / 2;
      box.scrollTo({ top: Math.max(0, top), behavior: smooth && !instant ? "smooth" : "auto" });
    }
    function follow(instant) {
      const t = audio.currentTime;
      const chapter = lastStarted(item.chapters, t);
      if (chapter !== chapterNow) {
        if (chapterNow >= 0) buttons[chapterNow].firstChild.removeAttribute("aria-current");
        if (chapter >= 0) buttons[chapter].firstChild.setAttribute("aria-current", "true");
        chapterNow = chapter;
      }
      const started = lastStarted(item.transcript, t);
      const speaking = started >= 0 && t < item.transcript[started].end ? started : -1;
      if (speaking !== cueNow) {
        if (cueNow >= 0) {
          cues[cueNow].classList.remove("now");
          cues[cueNow].removeAttribute("aria-current");
        }
        if (speaking >= 0) {
          cues[speaking].classList.add("now");
          cues[speaking].setAttribute("aria-current", "true");
        }
        cueNow = speaking;
      }
      // Between lines, show the one to come.
      keepInView(speaking >= 0 ? speaking : Math.min(started + 1, cues.length - 1), instant);
    }
    audio.addEventListener("timeupdate", () => follow(false));
    audio.addEventListener("seeked", () => follow(true));
    audio.addEventListener("play", () => {
      if (details && !details.dataset.opened) {
        details.dataset.opened = "yes"; // opened once for the listener; closing it is theirs
        details.open = true;
      }
    });
    if (details) {
      details.addEventListener("toggle", () => { shown = -1; follow(true); });
    }
    return article;
  }

  data.groups.forEach((group, g) => {
    const section = make("section", "group");
    const heading = make("h2", "", group.title || "Sessions");
    heading.id = `group-${g}`;
    section.setAttribute("aria-labelledby", heading.id);
    const list = make("ol", "sessions");
    group.sessions.forEach((item, s) => {
      const li = make("li");
      li.append(session(item, `session-${g}-${s}`));
      list.append(li);
    });
    section.append(heading, list);
    main.append(section);
  });

  // One voice at a time: starting a player pauses the others.
  document.addEventListener("play", (event) => {
    for (const audio of document.querySelectorAll("audio")) {
      if (audio !== event.target) audio.pause();
    }
  }, true);
})();
