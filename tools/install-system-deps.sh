#!/usr/bin/env bash
# Install the system packages Stillpoint needs on Debian/Ubuntu, and only those that are missing:
# Python with venv, ffmpeg (MP3 encoding; its ffplay plays in `stillpoint play`) and eSpeak NG (the
# library pyttsx3 lists voices through, and the espeak-ng program that speaks each clip in a fresh
# process, so clips come out the same on every run); with --test also Chromium (the library page's
# tests run in it, headless), mp3val and mediainfo (the tests read the MP3s with them): `make test`
# asks for those, `make demo` does not. PyPI has no package for these;
# everything else comes from PyPI into .venv.
set -euo pipefail

missing=()
have_espeak() {
    command -v espeak-ng >/dev/null || return 1
    ldconfig -p 2>/dev/null | grep -q 'libespeak-ng\.so\.1' ||
        compgen -G '/usr/lib/*/libespeak-ng.so.1' >/dev/null ||
        compgen -G '/usr/lib/libespeak-ng.so.1' >/dev/null
}
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
have_espeak || missing+=(espeak-ng)
if [ "${1:-}" = "--test" ]; then
    command -v chromium >/dev/null || missing+=(chromium)
    # Outside readers of the MP3s the tests make: frame and Info-tag checks, and what players read.
    command -v mp3val >/dev/null || missing+=(mp3val)
    command -v mediainfo >/dev/null || missing+=(mediainfo)
    # Playwright's bundled node driver links libatomic, which a minimal Debian lacks.
    ldconfig -p 2>/dev/null | grep -q 'libatomic\.so\.1' || missing+=(libatomic1)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "stillpoint: please install: ${missing[*]} (no apt-get on this system)" >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
echo "Installing system packages: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
