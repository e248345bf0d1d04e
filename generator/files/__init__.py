"""Every file Stillpoint reads or writes outside its own code: a user's text, TOML and sound
files, the ffmpeg programs, WAV files, and writing that never leaves a file half done."""
