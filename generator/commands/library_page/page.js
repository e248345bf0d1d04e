"use strict";
(() => {
  const data = JSON.parse(document.getElementById("library-data").textContent);
  const main = document.getElementById("sessions");
  const search = document.getElementById("search");
  const status = document.getElementById("search-status");
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const EARLY = 0.01; // seconds: a seek to a chapter lands on its first cue despite rounding
  const SAVE_EVERY = 5; // seconds of listening between saves of the position (and at each pause)
  const PLAYED_SHARE = 0.9; // a file heard this far, or to its end, is played
  const FINISHED_TAIL = 3; // seconds: left this near its end, a file starts again from the top
  const BACK_GRACE = 3; // seconds into a chapter: "previous" goes to its start, else the one before
  const SKIP_BACK = 10, SKIP_AHEAD = 30; // seconds: the lock screen's skip buttons
  const media = "mediaSession" in navigator && typeof MediaMetadata === "function"
    ? navigator.mediaSession : null;
  const cards = []; // every session's card, in page order
  const groups = []; // every group's section, with its cards
  let active = null; // the card playing, or played last: the lock screen shows it

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Every time the page writes, as Chromium's audio player writes its own: whole seconds,
  // truncated (9:14.7 is 9:14), m:ss, or h:mm:ss past an hour. page.py's player_clock agrees.
  function clock(seconds) {
    const whole = Math.floor(Math.max(0, seconds));
    const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
  }

  // Text as search compares it: its words, lower case, accents dropped ("Éveil" is found by
  // "eveil"), split at anything but a letter or a digit ("day-3" is "day" and "3").
  function words(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .split(/[^\p{L}\p{N}]+/u).filter(Boolean);
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

  function played(promise) {
    if (promise) promise.catch(() => {}); // refused (no sound device): the seek still stands
  }

  // --- what this browser remembers: where each file was left, and whether it was played ---
  // Keyed by the file's full URL and its length: every page opened from file:// shares one
  // storage, so two folders' "day-1.mp3" must not share a place; a file rendered again at
  // another length starts afresh. Storage may be refused (a private window): the page works
  // without it.
  const storage = (() => {
    try { return window.localStorage; } catch { return null; }
  })();
  function recall(key) {
    try {
      const value = JSON.parse(storage ? storage.getItem(key) : "null");
      return value && typeof value === "object" ? value : {};
    } catch { return {}; }
  }
  function remember(key, value) {
    try { if (storage) storage.setItem(key, JSON.stringify(value)); } catch { /* full: not kept */ }
  }

  // --- the lock screen: what plays, its chapter and cover; chapters as previous and next ---
  function announce(card) {
    if (!media || card !== active) return;
    const item = card.item, chapter = item.chapters[card.chapterNow];
    const cover = item.cover === null ? null : data.covers[item.cover];
    // The session as the title, the chapter under it (a lock screen's second line), the
    // program (or what sets it apart from a namesake) as the album.
    const album = card.group.program ? card.group.title : item.apart.join(", ");
    media.metadata = new MediaMetadata({
      title: item.title,
      artist: chapter ? chapter.title : "Stillpoint",
      album: album || "Stillpoint",
      artwork: cover ? [{ src: cover.src, sizes: cover.sizes, type: cover.type }] : [],
    });
  }
  function showPosition(card) {
    const audio = card.audio;
    if (!media || card !== active || !media.setPositionState) return;
    if (!Number.isFinite(audio.duration)) return;
    try {
      media.setPositionState({
        duration: audio.duration,
        playbackRate: audio.playbackRate,
        position: Math.min(audio.currentTime, audio.duration),
      });
    } catch { /* a browser that refuses the state still plays */ }
  }
  function toChapter(card, step) {
    const chapters = card.item.chapters, t = card.audio.currentTime;
    const now = lastStarted(chapters, t);
    let target = now + step;
    if (step < 0 && now >= 0 && t - chapters[now].start > BACK_GRACE) target = now;
    if (target >= chapters.length) return; // past the last chapter: nothing further
    card.audio.currentTime = target < 0 ? 0 : chapters[target].start;
  }
  function seekBy(card, seconds) {
    const audio = card.audio, end = Number.isFinite(audio.duration) ? audio.duration : Infinity;
    audio.currentTime = Math.min(Math.max(0, audio.currentTime + seconds), end);
  }
  if (media) {
    const handle = (action, run) => {
      try { media.setActionHandler(action, (details) => { if (active) run(active, details); }); }
      catch { /* an action this browser does not know */ }
    };
    handle("previoustrack", (card) => toChapter(card, -1));
    handle("nexttrack", (card) => toChapter(card, 1));
    handle("seekbackward", (card, details) => seekBy(card, -(details.seekOffset || SKIP_BACK)));
    handle("seekforward", (card, details) => seekBy(card, details.seekOffset || SKIP_AHEAD));
    handle("seekto", (card, details) => {
      if (Number.isFinite(details.seekTime)) card.audio.currentTime = details.seekTime;
    });
  }

  // --- one session's card ---
  function session(item, group, id) {
    const card = { item, group, chapterNow: -1 };
    const article = make("article", "session");
    article.id = id;
    article.setAttribute("aria-labelledby", `${id}-title`);
    const head = make("div", "head");
    if (item.cover !== null) {
      const cover = make("img", "cover");
      cover.alt = ""; // the title beside it says what it is
      cover.src = data.covers[item.cover].src;
      head.append(cover);
    }
    const heading = make("div", "heading");
    const title = make("h3", "", item.title);
    title.id = `${id}-title`;
    heading.append(title);
    if (item.apart.length) heading.append(make("p", "apart", item.apart.join(" · ")));
    const meta = make("p", "meta");
    const length = make("span", "length", item.seconds === null ? "" : clock(item.seconds));
    const playedNote = make("span", "played-note", "✓ Played");
    const resumeNote = make("span", "resume-note");
    playedNote.hidden = resumeNote.hidden = true;
    meta.append(length, make("span", "file", item.file), playedNote, resumeNote);
    heading.append(meta);
    head.append(heading);
    article.append(head);
    if (item.description) article.append(make("p", "description", item.description));

    const audio = make("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = item.src;
    audio.setAttribute("aria-labelledby", `${id}-title`);
    article.append(audio);
    audio.addEventListener("error", () => {
      if (!meta.querySelector(".problem")) {
        meta.append(make("span", "problem", "This file cannot be played: moved or deleted?"));
      }
    });
    Object.assign(card, { article, audio });

    // Where it was left, and whether it was played: shown, kept, and resumed.
    const url = new URL(item.src, document.baseURI).href;
    const key = `stillpoint ${JSON.stringify([url, item.seconds])}`;
    let state = recall(key), ready = false, touched = false, savedAt = -Infinity;
    card.played = () => state.played === true;
    card.started = () => Number(state.position) > 0;
    function show() {
      playedNote.hidden = !card.played();
      card.li.classList.toggle("played", card.played());
      const at = Number(state.position) || 0;
      resumeNote.hidden = !(at > 0 && audio.paused);
      resumeNote.textContent = `Resumes at ${clock(at)}`;
      if (group.refresh) group.refresh();
    }
    function save() {
      if (!ready) return; // before the file is open, its position says nothing yet
      const t = audio.currentTime, d = audio.duration, known = Number.isFinite(d);
      const finished = audio.ended || (known && t >= d - FINISHED_TAIL);
      const heard = finished || (known && t >= d * PLAYED_SHARE);
      state = { position: finished ? 0 : t, played: card.played() || heard };
      savedAt = t;
      remember(key, state);
      show();
    }
    card.save = save;
    audio.addEventListener("loadedmetadata", () => {
      if (Number.isFinite(audio.duration)) length.textContent = clock(audio.duration);
      const at = Number(state.position) || 0;
      if (!touched && at > 0 && at < audio.duration - FINISHED_TAIL) audio.currentTime = at;
      ready = true;
    });
    audio.addEventListener("play", () => {
      touched = true;
      active = card;
      announce(card);
      showPosition(card);
      resumeNote.hidden = true;
    });
    audio.addEventListener("pause", save);
    audio.addEventListener("ended", save);
    audio.addEventListener("ratechange", () => showPosition(card));

    const buttons = item.chapters.map((chapter) => {
      const button = make("button", "chapter");
      button.type = "button";
      const at = clock(chapter.start);
      button.append(make("span", "at", at), make("span", "name", chapter.title));
      button.setAttribute("aria-label", `${chapter.title}, at ${at}`);
      button.addEventListener("click", () => {
        touched = true;
        audio.currentTime = chapter.start;
        played(audio.play());
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
      li.append(make("span", "at", clock(line.start)), make("span", "text", line.text));
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

    let cueNow = -1, shown = -1;
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
      if (chapter !== card.chapterNow) {
        if (card.chapterNow >= 0) {
          buttons[card.chapterNow].firstChild.removeAttribute("aria-current");
        }
        if (chapter >= 0) buttons[chapter].firstChild.setAttribute("aria-current", "true");
        card.chapterNow = chapter;
        announce(card); // the lock screen names the chapter
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
    audio.addEventListener("timeupdate", () => {
      follow(false);
      if (Math.abs(audio.currentTime - savedAt) >= SAVE_EVERY) save();
    });
    audio.addEventListener("seeked", () => {
      follow(true);
      save();
      showPosition(card);
    });
    audio.addEventListener("play", () => {
      if (details && !details.dataset.opened) {
        details.dataset.opened = "yes"; // opened once for the listener; closing it is theirs
        details.open = true;
      }
    });
    if (details) {
      details.addEventListener("toggle", () => { shown = -1; follow(true); });
    }

    // What search looks through: the title, what sets it apart, the description, the file's
    // name, the chapters.
    card.words = words([item.title, ...item.apart, item.description, item.file,
      ...item.chapters.map((chapter) => chapter.title)].join("\n"));
    card.show = show;
    return card;
  }

  // --- a program: its days in order, the ones played marked, and the day to continue with ---
  function progress(group, section) {
    const box = make("div", "progress");
    const count = make("p", "count");
    const next = make("button", "continue");
    next.type = "button";
    const nextTitle = make("span", "next-title");
    box.append(count, next, nextTitle);
    let target = null;
    group.refresh = () => {
      const days = group.cards, heard = days.filter((card) => card.played()).length;
      const last = days.map((card) => card.played()).lastIndexOf(true);
      target = days.slice(last + 1).find((card) => !card.played())
        || days.find((card) => !card.played()) || null;
      count.textContent = target
        ? `${heard} of ${days.length} days played`
        : `All ${days.length} days played`;
      next.hidden = nextTitle.hidden = !target;
      if (!target) return;
      const day = days.indexOf(target) + 1;
      const begun = heard || target.started();
      next.textContent = `${begun ? "Continue" : "Start"} with day ${day}`;
      nextTitle.textContent = target.item.title;
    };
    next.addEventListener("click", () => {
      if (!target) return;
      if (target.li.hidden) { search.value = ""; filter(); } // found again if search hid it
      target.article.scrollIntoView({ behavior: smooth ? "smooth" : "auto", block: "start" });
      target.audio.focus({ preventScroll: true });
      played(target.audio.play());
    });
    section.append(box);
  }

  data.groups.forEach((group, g) => {
    const section = make("section", "group");
    const heading = make("h2", "", group.title || "Sessions");
    heading.id = `group-${g}`;
    section.setAttribute("aria-labelledby", heading.id);
    section.append(heading);
    const entry = { group, section, cards: [] };
    group.cards = entry.cards;
    if (group.program) progress(group, section);
    const list = make("ol", "sessions");
    group.sessions.forEach((item, s) => {
      const card = session(item, group, `session-${g}-${s}`);
      card.li = make("li");
      card.li.append(card.article);
      list.append(card.li);
      cards.push(card);
      entry.cards.push(card);
    });
    section.append(list);
    main.append(section);
    groups.push(entry);
  });
  for (const card of cards) card.show(); // played marks and resume notes from the last visit

  // --- search: every word typed, in any order, starts a word of the card ---
  // A word's start, not anywhere in it: "3" finds "Day 3", not every "mp3"; "oce" finds "ocean"
  // as it is typed.
  function filter() {
    const typed = words(search.value);
    let shown = 0;
    for (const card of cards) {
      card.li.hidden = !typed.every((word) => card.words.some((own) => own.startsWith(word)));
      if (!card.li.hidden) shown += 1;
    }
    for (const entry of groups) entry.section.hidden = entry.cards.every((card) => card.li.hidden);
    const total = cards.length === 1 ? "1 session" : `${cards.length} sessions`;
    status.textContent = !typed.length ? ""
      : shown ? `Showing ${shown} of ${total}` : `No session matches “${search.value.trim()}”`;
  }
  search.addEventListener("input", filter);
  search.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && search.value) { search.value = ""; filter(); }
  });
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest
      && event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      search.focus();
    }
  });

  // One voice at a time: starting a player pauses the others.
  document.addEventListener("play", (event) => {
    for (const audio of document.querySelectorAll("audio")) {
      if (audio !== event.target) audio.pause();
    }
  }, true);
  // Leaving the page (closing the tab, a phone putting it away): keep where the playing file
  // is (a paused one was kept as it paused; saving the rest would fill storage with zeros).
  const keepAll = () => { for (const card of cards) if (!card.audio.paused) card.save(); };
  window.addEventListener("pagehide", keepAll);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") keepAll();
  });
})();
