"""Customisation through the CLI: scripts folders, new, show, validate, config, level, skip."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.cli import app
from tests.conftest import write

runner = CliRunner()

POSE_TEMPLATE = """{#- A tiny pose session for tests.
    var pose: the pose
    var hold_breaths = 8: breaths held
-#}
[chapter {{ pose }}]
Welcome{{ ", " ~ listener if listener }}. Come into {{ pose }}.
[hold {{ hold_breaths }} breaths pose {{ pose }}]
Breathe.
[at 4 breaths] Halfway.
[at 2 breaths to go] Two more.
[end hold]
"""

RECIPE = """title = "Two Poses"
[settings]
breath = "6s"
[[part]]
template = "pose.j2"
pose = "pigeon"
[[part]]
template = "pose.j2"
pose = "lizard"
hold_breaths = 4
"""


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    folder = tmp_path / "my-scripts"
    write(folder / "templates" / "pose.j2", POSE_TEMPLATE)
    write(folder / "sessions" / "two-poses.toml", RECIPE)
    return folder


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_a_users_template_shadows_the_builtin_of_the_same_name(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    write(folder / "templates" / "closing.j2", "[chapter My closing]\nSee you tomorrow.\n")
    code, output = run("script", "hip-release", "--scripts", str(folder))
    assert code == 0, output
    assert "See you tomorrow." in output
    assert "## My closing" in output
    builtin = run("script", "hip-release")[1]
    assert "See you tomorrow." not in builtin


def test_scripts_folder_from_the_environment(
    scripts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STILLPOINT_SCRIPTS", str(scripts))
    code, output = run("script", "two-poses")
    assert code == 0, output
    assert "== hold pigeon: 8 breaths x 6s = 00:48.000 ==" in output


def test_header_defaults_and_recipe_values_reach_the_template(scripts: Path) -> None:
    output = run("script", "two-poses", "--scripts", str(scripts))[1]
    assert "hold lizard: 4 breaths x 6s" in output


def test_level_scales_holds_and_moves_marks_with_them(scripts: Path) -> None:
    gentle = run("script", "two-poses", "--scripts", str(scripts), "--level", "gentle")[1]
    deep = run("script", "two-poses", "--scripts", str(scripts), "--level", "deep")[1]
    assert "hold pigeon: 5 breaths x 6s = 00:30.000" in gentle
    assert "hold pigeon: 12 breaths x 6s = 01:12.000" in deep
    bad = run("script", "two-poses", "--scripts", str(scripts), "--level", "extreme")
    assert bad[0] == 2
    assert "level must be one of gentle, standard, deep" in bad[1]


def test_skip_leaves_a_pose_out_and_the_rest_flows(scripts: Path) -> None:
    code, output = run("script", "two-poses", "--scripts", str(scripts), "--skip", "lizard")
    assert code == 0, output
    assert "pigeon" in output
    assert "lizard" not in output
    typo = run("script", "two-poses", "--scripts", str(scripts), "--skip", "lizzard")
    assert typo[0] == 2
    assert "no part of that name. Did you mean 'lizard'? Its parts: pigeon, pose, lizard" in typo[1]
    both = run(
        "script", "two-poses", "--scripts", str(scripts), "--skip", "lizard", "--skip", "pigeon"
    )
    assert both[0] == 2
    assert "leaves nothing" in both[1]


def test_a_set_typo_names_the_closest_variable(scripts: Path) -> None:
    code, output = run("script", "two-poses", "--scripts", str(scripts), "--set", "hold_breath=5")
    assert code == 2
    assert "--set hold_breath=5: no setting or template variable named 'hold_breath'" in output
    assert "Did you mean 'hold_breaths'?" in output


def test_a_recipe_variable_the_template_does_not_declare_is_an_error(scripts: Path) -> None:
    write(
        scripts / "sessions" / "typo.toml",
        '[[part]]\ntemplate = "pose.j2"\npose = "x"\nhold_breath = 3\n',
    )
    code, output = run("script", "typo", "--scripts", str(scripts))
    assert code == 2
    assert (
        "typo.toml:4: pose.j2 has no variable 'hold_breath'. Did you mean 'hold_breaths'?" in output
    )


def test_a_misspelt_part_variable_is_told_at_its_own_line_not_a_similar_ones(
    scripts: Path,
) -> None:
    """Another part's hold_breaths, a [settings] breath: neither is the line of the typo."""
    write(
        scripts / "sessions" / "typo.toml",
        '[settings]\nbreath = "6s"\n'
        '[[part]]\ntemplate = "pose.j2"\npose = "x"\nhold_breaths = 3\n'
        '[[part]]\ntemplate = "pose.j2"\npose = "y"\n"hold_breath" = 3  # quoted\n',
    )
    for command in ("script", "validate"):
        where = "typo" if command == "script" else str(scripts / "sessions" / "typo.toml")
        code, output = run(command, where, "--scripts", str(scripts))
        assert code == 2
        assert "typo.toml:10: pose.j2 has no variable 'hold_breath'" in output, output
        assert "Did you mean 'hold_breaths'?" in output


def test_a_misspelt_variable_in_a_template_is_told_at_its_line_with_the_declared_name(
    tmp_path: Path,
) -> None:
    template = write(
        tmp_path / "t.j2",
        "{#- T.\n    var hold_breaths = 8: breaths\n-#}\n"
        "Hold for {{ hold_breaths }} breaths.\n[pause 5s]\nAgain for {{ hold_breath }}.\n",
    )
    code, output = run("validate", str(template))
    assert code == 2
    assert (
        "t.j2:6: the template reads 'hold_breath' but its header does not declare it. "
        "Did you mean 'hold_breaths'? Or add a line" in output
    )
    code, output = run("script", str(template))
    assert code == 2
    assert "t.j2:6: 'hold_breath' is undefined. Did you mean 'hold_breaths'? Or set it" in output


def test_listener_name_is_used_where_the_template_asks(scripts: Path) -> None:
    named = run("script", "two-poses", "--scripts", str(scripts), "--set", "listener=Sam")[1]
    assert "Welcome, Sam." in named
    assert "Welcome. Come" in run("script", "two-poses", "--scripts", str(scripts))[1]
    bad = run("script", "two-poses", "--scripts", str(scripts), "--set", "listener=[bell]")
    assert bad[0] == 2
    assert "listener must be a name" in bad[1]


def test_show_lists_settings_and_variables_with_origins(scripts: Path) -> None:
    code, output = run("show", "two-poses", "--scripts", str(scripts), "--set", "rate=120")
    assert code == 0, output
    assert "breath     = 6s" in output
    assert "recipe" in output
    assert "rate       = 120" in output
    assert "command line" in output
    assert 'pose             = "pigeon"' in output
    lines = [line for line in output.splitlines() if "hold_breaths" in line]
    assert "8" in lines[0]
    assert "default" in lines[0]
    assert "breaths held" in lines[0]
    assert "4" in lines[1]
    assert "recipe" in lines[1]


def test_config_file_sits_under_the_recipe_and_the_command_line(
    scripts: Path, own_folders: Path
) -> None:
    write(
        own_folders / "config" / "stillpoint" / "config.toml",
        'breath = "9s"\nrate = 130\nlevel = "gentle"\n',
    )
    output = run("show", "two-poses", "--scripts", str(scripts))[1]
    assert "rate       = 130" in output
    assert "config" in output
    assert "breath     = 6s" in output  # the recipe's own breath wins over the config
    assert 'level      = "gentle"' in output
    plan = run("script", "two-poses", "--scripts", str(scripts), "--level", "standard")[1]
    assert "hold pigeon: 8 breaths" in plan  # the command line wins over the config


def test_a_bad_config_value_names_the_file_and_line(scripts: Path, own_folders: Path) -> None:
    config = write(
        own_folders / "config" / "stillpoint" / "config.toml", 'rate = 130\nbreth = "9s"\n'
    )
    code, output = run("script", "two-poses", "--scripts", str(scripts))
    assert code == 2
    assert f"{config}:2: unknown setting 'breth'. Did you mean 'breath'?" in output


def test_new_scaffolds_a_session_ready_to_render(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    code, output = run("new", "my-evening", "--scripts", str(folder))
    assert code == 0, output
    assert (folder / "sessions" / "my-evening.toml").is_file()
    assert (folder / "templates" / "my-evening.j2").is_file()
    code, plan = run("script", "my-evening", "--scripts", str(folder))
    assert code == 0, plan
    assert "hold: 6 breaths" in plan
    assert run("validate", str(folder))[0] == 0
    again = run("new", "my-evening", "--scripts", str(folder))
    assert again[0] == 2
    assert "already exists" in again[1]


def test_new_from_a_session_copies_it_and_its_templates(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    code, output = run("new", "my-pigeon", "--from", "hip-release", "--scripts", str(folder))
    assert code == 0, output
    copied = folder / "templates" / "my-pigeon" / "closing.j2"
    assert copied.is_file()
    copied.write_text("[chapter Mine]\nMy own ending.\n", encoding="utf-8")
    mine = run("script", "my-pigeon", "--scripts", str(folder))[1]
    assert "My own ending." in mine
    assert "My own ending." not in run("script", "hip-release", "--scripts", str(folder))[1]


def test_new_lands_in_the_users_own_folder_which_is_then_searched(own_folders: Path) -> None:
    code, output = run("new", "quiet-sit")
    assert code == 0, output
    assert (
        own_folders / "data" / "stillpoint" / "scripts" / "sessions" / "quiet-sit.toml"
    ).is_file()
    assert "quiet-sit" in run("list")[1]


def test_validate_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    write(
        folder / "templates" / "a.j2",
        "{#- A\n    var n = 3: count\n-#}\nHello {{ m }}.\n[pause 5q]\n",
    )
    write(folder / "templates" / "b.j2", "{% if %}\n")
    write(
        folder / "sessions" / "s.toml",
        '[[part]]\ntemplate = "c.j2"\n[[part]]\ntemplate = "a.j2"\nx = 1\n',
    )
    write(folder / "sessions" / "t.txt", "[pause 5s]\n[bel]\nWords.\n[hold 3 breaths]\n")
    code, output = run("validate", str(folder))
    assert code == 2
    for expected in (
        "a.j2:4: the template reads 'm' but its header does not declare it",
        "b.j2:1: template syntax error",
        "s.toml:1: template 'c.j2' not found",
        "s.toml:5: a.j2 has no variable 'x'",  # the line of x = 1, in its part
        "t.txt:2: unknown directive [bel]",
        "t.txt:4: this [hold] is never closed",
        "a.j2:4: 'm' is undefined",
    ):
        assert expected in output, expected
    assert "problems in 4 files" in output


def test_the_builtin_library_validates_clean() -> None:
    code, output = run("validate", "scripts")
    assert code == 0, output
    assert "no problems" in output


def test_validate_refuses_whatever_script_refuses(tmp_path: Path) -> None:
    """Files whose every line reads well, but which `script` (and `render`) refuse: validate
    prepares and times each as `script` does, and lists each with its file:line."""
    folder = tmp_path / "mine"
    files = {
        "sessions/gong.txt": "Hello.\n[bell]\n[pause 3m every 1m bell gong]\n",
        "sessions/sides.txt": (
            "[hold 4 breaths pose pigeon side left]\n[end hold]\nSwitch.\n"
            "[hold 5 breaths pose pigeon side right]\n[end hold]\n"
        ),
        "sessions/empty.txt": "[chapter Nothing]\n",
        "sessions/ring.txt": "[bell bowl]\n[pause 4s from the bell]\nDone.\n",
        "templates/late.j2": (
            "{#- L.\n    var n = 1: n\n-#}\n[hold 1m]\n[at 2m] Late.\n[end hold]\n"
        ),
        "sessions/sides.toml": (
            '[[part]]\ntemplate = "pose.j2"\npose = "pigeon"\n'
            '[[part]]\ntemplate = "pose.j2"\npose = "pigeon"\nhold_breaths = 5\n'
        ),
        "templates/pose.j2": (
            "{#- P.\n    var pose: the pose\n    var hold_breaths = 4: breaths\n-#}\n"
            "[hold {{ hold_breaths }} breaths pose {{ pose }} side "
            "{{ 'left' if hold_breaths == 4 else 'right' }}]\n[end hold]\n"
        ),
        "programs/week.toml": (
            '[[day]]\nsession = "timer"\n[[day]]\nsession = "pigeon"\nminutes = 60\n'
        ),
    }
    for name, text in files.items():
        write(folder / name, text)
    for command in (["script", str(folder / "sessions" / "gong.txt")], ["validate", str(folder)]):
        code, output = run(*command)
        assert code == 2
        assert "gong.txt:3: unknown bell 'gong'" in output
    code, output = run("validate", str(folder))
    for expected in (
        "sides.txt:4: the right side of pigeon holds 50s, but the side at ",
        "empty.txt: the script has nothing to say or play",
        "ring.txt:2: [pause … from the bell] lasts 4s from the strike, but the bell before it "
        "rings for 8s",
        "late.j2:5: [at 2m] is beyond the end of its [hold 1m]",
        "pose.j2:5: the right side of pigeon holds 50s",
        "week.toml:3: Pigeon Pose cannot last 1:00:00: it can last from",
    ):
        assert expected in output, (expected, output)
    assert "7 problems in 8 files" in output
