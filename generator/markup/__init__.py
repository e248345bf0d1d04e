"""Stages 2 and 3: templates render (in a sandbox) to script markup, which parses to typed cues."""
