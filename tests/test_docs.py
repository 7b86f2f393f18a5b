"""The documentation site (mkdocs.yml, docs/): it builds in strict mode, its API reference
names every public object, its labs and notebooks pages follow the registry and the folder,
and the two front ends' side-by-side code runs and agrees."""

from __future__ import annotations

import html as html_module
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

# The modules the API reference must cover (issue 17); each page may document more.
REQUIRED_MODULES = [
    "neuralab", "neuralab.layers", "neuralab.models", "neuralab.losses", "neuralab.optimizers",
    "neuralab.schedules", "neuralab.initializers", "neuralab.regularizers", "neuralab.metrics",
    "neuralab.callbacks", "neuralab.ops", "neuralab.tensor", "neuralab.gradcheck",
    "neuralab.datasets", "neuralab.experiments", "neuralab.keras", "neuralab.torch",
    "neuralab.torchvision",
]


def documented_modules() -> list[str]:
    """Every module named by a ``::: module`` block of docs/api/*.md."""
    found = []
    for page in sorted((DOCS / "api").glob("*.md")):
        found += re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), re.MULTILINE)
    return found


def public_names(module) -> list[str]:
    """``__all__``, or else the classes and functions the module itself defines."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [name for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
            and obj.__module__ == module.__name__]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once with ``mkdocs build --strict`` (a warning fails the build)."""
    pytest.importorskip("mkdocs", reason="the docs build needs the docs extra: pip install -e '.[docs]'")
    for plugin in ("mkdocstrings_handlers.python", "mkdocs_jupyter", "material"):
        pytest.importorskip(plugin, reason=f"the docs build needs {plugin} (the docs extra)")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
         "--site-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


def anchors(site: Path, folder: str) -> set[str]:
    """The ``id`` attributes of every HTML page under ``site/folder``."""
    found: set[str] = set()
    for page in (site / folder).rglob("*.html"):
        found |= set(re.findall(r'id="([^"]+)"', page.read_text(encoding="utf-8")))
    return found


def page_text(html: str) -> str:
    """What a reader sees of an HTML page: the tags (syntax highlighting's spans too) removed."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", html))


def test_the_api_pages_cover_every_module_the_issue_names():
    missing = sorted(set(REQUIRED_MODULES) - set(documented_modules()))
    assert not missing, f"no ::: block in docs/api/*.md for {missing}"


def test_every_public_name_of_a_documented_module_is_in_the_api_reference(site):
    ids = anchors(site, "api")
    missing = []
    for module_name in documented_modules():
        module = importlib.import_module(module_name)
        assert module_name in ids, f"{module_name} has a ::: block but no section in the built site"
        for name in public_names(module):
            obj = getattr(module, name)
            if f"{module_name}.{name}" in ids:
                continue
            if inspect.ismodule(obj) and obj.__name__ in ids:  # a submodule, on its own page
                continue
            missing.append(f"{module_name}.{name}")
    assert not missing, f"public names without an entry in the API reference: {missing}"


def test_the_labs_page_lists_every_lab_of_the_registry(site):
    from neuralab.labs import lab_info, lab_names

    page = (site / "labs" / "index.html").read_text(encoding="utf-8")
    ids, text = set(re.findall(r'id="([^"]+)"', page)), page_text(page)
    assert lab_names(), "the lab registry is empty"
    for name in lab_names():
        assert name in ids, f"lab {name!r} has no section on the labs page"
        assert f"neuralab lab run {name}" in text
        assert lab_info(name)["loader"] in text


def test_every_example_notebook_is_a_page_of_the_site(site):
    notebooks = sorted((REPO / "examples" / "notebooks").glob("*.ipynb"))
    index = (site / "notebooks" / "index.html").read_text(encoding="utf-8")
    for notebook in notebooks:
        page = site / "notebooks" / notebook.stem / "index.html"
        assert page.is_file(), f"{notebook.name} was not rendered into the site"
        first_code = next((c for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
                           if c["cell_type"] == "code" and "".join(c["source"]).strip()), None)
        if first_code is not None:  # the notebook's own code is on its page
            first_line = "".join(first_code["source"]).strip().splitlines()[0]
            words = re.findall(r"\w+", first_line)
            text = page_text(page.read_text(encoding="utf-8"))
            assert all(word in text for word in words), f"{notebook.name}: {first_line!r} not on its page"
        assert f'href="../notebooks/{notebook.stem}/"' in index or f'href="{notebook.stem}/"' in index
        html = page.read_text(encoding="utf-8")
        for other in notebooks:  # links between notebooks lead to the other notebook's page
            assert f'href="{other.name}"' not in html, f"{notebook.name} links to {other.name}, not its page"


def test_the_home_page_shows_the_readme_first_network():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A first network", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    assert code in (DOCS / "index.md").read_text(encoding="utf-8"), \
        "docs/index.md's first network differs from README's 'A first network': copy it over"


def side_by_side_blocks() -> dict[str, str]:
    """The code blocks of docs/frontends.md titled ``keras_style.py`` and ``torch_style.py``."""
    page = (DOCS / "frontends.md").read_text(encoding="utf-8")
    blocks = {}
    fence = re.compile(r'^( *)```python title="(\w+\.py)"\n(.*?)^\1```', re.MULTILINE | re.DOTALL)
    for match in fence.finditer(page):
        blocks[match.group(2)] = textwrap.dedent(match.group(3))
    return blocks


def run_block(source: str, name: str) -> dict:
    namespace: dict = {"__name__": f"docs_{name}"}
    exec(compile(source, f"docs/frontends.md:{name}", "exec"), namespace)
    return namespace


def test_the_keras_and_pytorch_style_blocks_run_and_agree():
    blocks = side_by_side_blocks()
    assert sorted(blocks) == ["keras_style.py", "torch_style.py"]
    keras_run = run_block(blocks["keras_style.py"], "keras_style")
    torch_run = run_block(blocks["torch_style.py"], "torch_style")
    # 2 inputs -> 4 hidden -> 1 output: 2*4 weights + 4 biases + 4*1 weights + 1 bias
    assert keras_run["n_params"] == torch_run["n_params"] == 2 * 4 + 4 + 4 * 1 + 1
    # same data, architecture, loss and optimizer settings: the lecture's ~0.88 both ways
    # (not identical: different initialisations, and Keras' vs PyTorch's Adam)
    assert keras_run["accuracy"] > 0.8 and torch_run["accuracy"] > 0.8
    assert abs(keras_run["accuracy"] - torch_run["accuracy"]) <= 0.05
