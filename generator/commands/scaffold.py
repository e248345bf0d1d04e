"""`stillpoint new`: a recipe and a template in the user's scripts folder, ready to render and edit.

``--from SESSION`` forks a session: its recipe is copied, and every template it uses is copied
beside the new recipe's (``templates/NAME/…``), so editing them changes only the new session.
"""

from __future__ import annotations

import re
from pathlib import Path

from generator.errors import OutputError, SettingsError
from generator.files.atomic import staged
from generator.recipes.catalogue import Catalogue
from generator.recipes.recipe import load_recipe

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")

RECIPE = """\
# {title}: your own session. Render it with:
#   stillpoint render {name}
# See the timed plan without making audio:
#   stillpoint script {name}
# Settings here win over your config file; --set on the command line wins over both.
title = "{title}"
description = "My own practice."

[settings]
breath = "10s"   # one slow breath: every length written in breaths uses it
rate = 145       # words per minute
bell = "bowl"    # the sound a bare [bell] rings: bowl, chime or none

# Each [[part]] renders one template from templates/ (yours first, then the built-in ones).
# Other keys in a part are the template's variables (see: stillpoint show {name}).
[[part]]
template = "{name}.j2"
hold_breaths = 6

[[part]]
template = "closing.j2"
"""

TEMPLATE = """\
{{#- {title}: the words of your session. Lines of text are spoken; a blank line ends a sentence
    group. Words in [brackets] are directives (all of them: docs/markup.md).
    The lines starting with "var" declare this template's variables: name = default: meaning.
    var hold_breaths = 6: how many breaths to stay in the resting pose
-#}}
[chapter Arriving]
[bell]
Welcome. Find a comfortable place to sit or lie down.

[pause 5s]
Let your breath slow down. There is nothing you need to do.

[pause 2 breaths]
[chapter Breathing]
[breathe box x4 say 2 tones]

[chapter Resting]
Come into a pose that feels kind to your hips, and rest there.
[hold {{{{ hold_breaths }}}} breaths]
Let the weight of your body sink down.
[at 2 breaths to go] Two more breaths.
[end hold]
Slowly come out of the pose.

[pause 5s]
"""


def scaffold(
    name: str, folder: Path, catalogue: Catalogue, source: str | None = None
) -> list[Path]:
    """Write the new session's files into folder (sessions/, templates/); returns their paths."""
    if not NAME.match(name):
        raise SettingsError(
            f"{name!r} is not a session name",
            fix="Use lower-case letters, digits and dashes, like my-evening.",
        )
    if name in catalogue.sessions():
        raise SettingsError(
            f"a session named {name!r} already exists",
            where=str(catalogue.sessions()[name]),
            fix="Choose another name.",
        )
    files = _forked(name, catalogue, source) if source else _starter(name)
    targets = {folder / relative: text for relative, text in files.items()}
    for target in targets:
        if target.exists():
            raise OutputError(f"{target} already exists", fix="Choose another name.")
    with staged(
        list(targets)
    ) as temporary:  # all of them, or none (a full disk, a file in the way)
        for path, text in zip(temporary, targets.values(), strict=True):
            path.write_text(text, encoding="utf-8")
    return list(targets)


def _starter(name: str) -> dict[Path, str]:
    title = name.replace("-", " ").capitalize()
    return {
        Path("sessions") / f"{name}.toml": RECIPE.format(name=name, title=title),
        Path("templates") / f"{name}.j2": TEMPLATE.format(title=title),
    }


def _forked(name: str, catalogue: Catalogue, source: str) -> dict[Path, str]:
    """The source session's recipe pointing at copies of its templates under templates/NAME/."""
    recipe_path = catalogue.find_session(source)
    recipe = load_recipe(recipe_path)
    if recipe_path.suffix != ".toml":
        raise SettingsError(
            f"--from {source}: only a session recipe (.toml) can be copied",
            fix="Copy the script file itself instead.",
        )
    text = recipe_path.read_text(encoding="utf-8")
    files: dict[Path, str] = {}
    for template in dict.fromkeys(part.template for part in recipe.parts):
        found = _template_file(template, (recipe.folder, *catalogue.template_dirs))
        files[Path("templates") / name / template] = found.read_text(encoding="utf-8")
        text = re.sub(
            rf'(template\s*=\s*")({re.escape(template)})(")', rf"\g<1>{name}/\g<2>\g<3>", text
        )
    header = (
        f"# {name}: a copy of {source}, to make your own. Its templates are copied to "
        f"templates/{name}/;\n# edit them freely: only this session uses them.\n"
        f"#   stillpoint render {name}\n"
    )
    title = name.replace("-", " ").capitalize()
    text = re.sub(r'(?m)^title\s*=\s*".*"$', f'title = "{title}"', text, count=1)
    files[Path("sessions") / f"{name}.toml"] = header + text
    return files


def _template_file(template: str, folders: tuple[Path, ...]) -> Path:
    for folder in folders:
        if (folder / template).is_file():
            return folder / template
    raise SettingsError(f"template {template!r} not found", fix="Check the session's recipe.")
