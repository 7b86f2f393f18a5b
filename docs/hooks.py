"""MkDocs hooks: the pages that are generated at build time, so that they cannot drift.

- ``labs.md``: one section per lab of :func:`neuralab.labs.lab_names` (what ``neuralab lab list``
  prints), with its data loader and description.
- ``notebooks/``: every ``examples/notebooks/*.ipynb`` becomes a page (rendered by mkdocs-jupyter,
  never executed here) and an entry under "Notebooks" in the navigation, plus an index page;
  a notebook's link to another (``002_lecture_keras.ipynb``) leads to that notebook's page.

Adding a lab or a notebook therefore needs no edit of ``mkdocs.yml`` or of ``docs/``.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "examples" / "notebooks"
NAV_TITLE = "Notebooks"
NOTEBOOKS_INDEX = "notebooks/index.md"


def notebook_paths() -> list[Path]:
    """The example notebooks, in file-name order (which is how the navigation lists them)."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def notebook_title(path: Path) -> str:
    """The first Markdown heading of a notebook, else its file name."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        for line in "".join(cell.get("source", [])).splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return path.stem


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a ``|`` of the text (a norm, ``||y_hat - y||``) is escaped."""
    return text.replace("|", "\\|")


def labs_markdown() -> str:
    """``labs.md``: every lab in the registry, as ``neuralab lab list`` shows them, and more."""
    from neuralab.labs import lab_info, lab_names, lab_path

    names = lab_names()
    lines = [
        "# Labs",
        "",
        "Each lab reproduces an experiment of the course material and leaves a results folder with",
        "the resolved configuration, every trial's history, metrics, the trained model, figures and a",
        "self-contained `report.html`. This page is generated from the lab registry",
        "(`neuralab.labs`) when the site is built, so it lists exactly what `neuralab lab list` prints.",
        "",
        "```bash",
        "neuralab lab list                 # the labs and the data each needs",
        "neuralab lab run synthetic        # train, evaluate, plot, write the report",
        "neuralab lab run NAME --quick     # a short version (under a minute)",
        "neuralab lab show NAME > my.toml  # the experiment file, to copy and change",
        "```",
        "",
        "| lab | data | what it runs |",
        "|---|---|---|",
    ]
    infos = [lab_info(name) for name in names]
    lines += [f"| [`{i['name']}`](#{i['name']}) | `{i['loader']}` | {_cell(i['summary'])} |" for i in infos]
    for info in infos:
        lines += ["", f"## {info['name']} {{#{info['name']}}}", ""]
        path = lab_path(info["name"])
        description = ""
        if path.suffix == ".toml":
            description = tomllib.loads(path.read_text(encoding="utf-8")).get("description", "")
        lines += [" ".join(description.split()) or info["summary"], ""]
        lines += ["```bash", f"neuralab lab run {info['name']}", "```"]
    return "\n".join(lines) + "\n"


def notebooks_markdown(paths: list[Path]) -> str:
    """``notebooks/index.md``: the notebooks found, and how to add one."""
    lines = [
        "# Notebooks",
        "",
        "The course material as notebooks that run top to bottom on a laptop CPU with the local",
        "data folder. They live in `examples/notebooks/` and are stored without outputs; CI",
        "executes each one on a real Jupyter kernel. The pages below show their code and text",
        "(the site build does not run them); open a notebook in Jupyter to run it.",
        "",
    ]
    if paths:
        lines += [f"- [{notebook_title(p)}]({p.name}) (`examples/notebooks/{p.name}`)" for p in paths]
    else:
        lines += ["No notebook is in `examples/notebooks/` yet."]
    lines += [
        "",
        "## Adding a notebook",
        "",
        "Save it, without outputs, as `examples/notebooks/NAME.ipynb`, with a Markdown heading",
        "as its first cell (the page title). The next build picks it up: no edit of `mkdocs.yml`.",
    ]
    return "\n".join(lines) + "\n"


def on_config(config):
    """Fill the "Notebooks" navigation entry with one page per notebook."""
    pages = [NOTEBOOKS_INDEX] + [f"notebooks/{p.name}" for p in notebook_paths()]
    for position, entry in enumerate(config["nav"] or []):
        if isinstance(entry, dict) and NAV_TITLE in entry:
            config["nav"][position] = {NAV_TITLE: pages}
    return config


@event_priority(50)  # before mkdocs-jupyter's on_files, which turns .ipynb files into pages
def on_files(files: Files, config) -> Files:
    """Add the generated pages and the notebooks to the site's files."""
    files.append(File.generated(config, "labs.md", content=labs_markdown()))
    paths = notebook_paths()
    files.append(File.generated(config, NOTEBOOKS_INDEX, content=notebooks_markdown(paths)))
    for path in paths:
        files.append(File(f"notebooks/{path.name}", str(NOTEBOOKS.parent), config["site_dir"],
                          config["use_directory_urls"]))
    return files


def on_post_page(output: str, page, config) -> str:
    """In a notebook page, ``href="OTHER.ipynb"`` (a link between notebooks) -> OTHER's page."""
    if not (page.file.src_uri.startswith("notebooks/") and page.file.src_uri.endswith(".ipynb")):
        return output
    known = {p.stem for p in notebook_paths()}

    def page_url(match: re.Match) -> str:
        stem = match.group(1)
        if stem not in known:
            return match.group(0)
        return f'href="../{stem}/"' if config["use_directory_urls"] else f'href="{stem}.html"'
    return re.sub(r'href="([\w.-]+)\.ipynb"', page_url, output)
