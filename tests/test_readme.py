"""The README's Python examples run as written (the README must stay true)."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "README.md has no ```python block"
    for code in blocks:
        exec(compile(code, str(README), "exec"), {})
