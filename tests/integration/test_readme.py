"""Every `bash` snippet in the README runs as written, with `awsgate` on PATH, from the
repository's root, on a machine with no AWS setup: no AWS variables, no ~/.aws."""

from __future__ import annotations

import os
import re
import subprocess

from conftest import ROOT


def snippets() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_the_readme_has_bash_snippets():
    assert len(snippets()) >= 2


def test_every_bash_snippet_in_the_readme_runs_without_aws(binary, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=f"{binary.resolve().parent}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(tmp_path),
    )
    for snippet in snippets():
        result = subprocess.run(["bash", "-e", "-c", snippet], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, f"{snippet}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
