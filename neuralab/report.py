"""``report.html`` for a results folder: one self-contained page (figures embedded as PNG
data, no scripts, no network) with the experiment, tables of final metrics per sweep point
and per trial, the figures, failures with their tracebacks, and the model summary.

Every string that comes from a config, a dataset or a trial is HTML-escaped: a point named
``<script>`` renders as text.

    neuralab report results/synthetic      # -> results/synthetic/report.html
"""

from __future__ import annotations

import base64
import html
import math
import time
from pathlib import Path

from .experiments.aggregate import Summary, format_mean_std, histories, summarize
from .experiments.store import FINISHED, ResultsStore
from .experiments.studies import CHECKS_FILE, QUANTITIES_FILE
from .io_utils import atomic_write_text

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#1d1d1f;background:#fff}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}
tr.best td{background:#eef7ee;font-weight:600}td.failed{color:#b00020}td.diverged{color:#a15c00}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.82em;border-radius:4px}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}.headline{font-size:1.15em;background:#f0f4ff;padding:.6em .9em;
border-radius:4px}.muted{color:#666;font-size:.9em}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _image(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _columns(summary: Summary, limit: int = 7) -> list[str]:
    report = summary.meta.get("report", {})
    wanted = [report.get("headline"), summary.select_metric()]
    names = summary.metric_names()
    if summary.watched == "test":  # val_* repeat test_* at the last epoch
        names = [n for n in names if not n.startswith("val_")]
    cols = list(dict.fromkeys(m for m in wanted if m and m in names))
    for name in names:
        if len(cols) >= limit:
            break
        if name not in cols and name not in ("best_epoch", "params", "lr"):
            cols.append(name)
    return cols + [c for c in ("epochs", "params") if c in names and c not in cols]


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return _e(value)


def _points_table(summary: Summary, cols: list[str]) -> str:
    best = summary.best_point()
    rows = ["<table><tr><th>point</th><th>trials</th>" +
            "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr>"]
    for point in summary.points:
        cls = ' class="best"' if best is not None and point is best else ""
        cells = "".join(f"<td>{_e(format_mean_std(*point.mean_std(c)))}</td>" for c in cols)
        done = f"{len(point.finished)}/{len(point.records) or 0}"
        rows.append(f"<tr{cls}><td>{_e(point.name)}</td><td>{done}</td>{cells}</tr>")
    rows.append("</table>")
    note = ""
    if best is not None:
        note = (f'<p class="muted">Best point by {_e(summary.select_metric())}: '
                f"<b>{_e(best.name)}</b> (highlighted). Values are mean ± std over trials.</p>")
    return "\n".join(rows) + note


def _trials_table(summary: Summary, cols: list[str]) -> str:
    rows = ["<table><tr><th>trial</th><th>point</th><th>seed</th><th>status</th>" +
            "".join(f"<th>{_e(c)}</th>" for c in cols) + "<th>wall (s)</th></tr>"]
    for r in summary.records:
        status = r.get("status", "?")
        cells = "".join(f"<td>{_cell(r.get('metrics', {}).get(c))}</td>" for c in cols)
        rows.append(f"<tr><td>{_e(r['id'])}</td><td>{_e(r.get('point'))}</td>"
                    f"<td>{_cell(r.get('seed'))}</td><td class=\"{_e(status)}\">{_e(status)}</td>"
                    f"{cells}<td>{_cell(r.get('wall_s'))}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _problems(summary: Summary) -> str:
    parts = []
    for r in summary.records:
        if r.get("status") not in FINISHED:
            parts.append(f"<h3>{_e(r['id'])}: {_e(r.get('status'))}</h3><pre>{_e(r.get('error'))}</pre>")
        elif r.get("status") == "diverged":
            parts.append(f"<h3>{_e(r['id'])}: diverged</h3><p>{_e(r.get('error'))}</p>")
        for problem in r.get("problems", []):
            parts.append(f"<p class=\"muted\">{_e(r['id'])}: {_e(problem)}</p>")
    return "\n".join(parts)


def _top_k_table(data: dict, caption: str) -> str:
    rows = [f"<p><b>{_e(caption)}</b></p><table><tr><th>context</th><th>true 4th word</th>"
            f"<th>rank</th><th>top {_e(data.get('k'))} candidates (probability)</th></tr>"]
    for row in data.get("rows", []):
        top = ", ".join(f"{_e(w)} ({p:.3f})" for w, p in row["top"])
        rows.append(f"<tr><td>{_e(' '.join(row['context']))}</td><td>{_e(row['target'])}</td>"
                    f"<td>{_e(row['target_rank'])}</td><td style=\"text-align:left\">{top}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


_LEFT = ' style="text-align:left"'


def _checks_table(rows: list, caption: str) -> str:
    """A study's closed-form checks: measured beside closed form, error, passed or not."""
    failed = sum(not r["ok"] for r in rows)
    out = [f"<p><b>{_e(caption)}</b>: {len(rows) - failed} of {len(rows)} passed</p><table>"
           "<tr><th>check</th><th>measured</th><th>closed form / reference</th><th>error</th>"
           "<th>tolerance</th><th></th></tr>"]
    for r in rows:
        status = "ok" if r["ok"] else "failed"
        out.append(f"<tr><td>{_e(r['name'])}</td><td{_LEFT}>{_e(r['measured'])}</td>"
                   f"<td{_LEFT}>{_e(r['reference'])}</td><td>{_cell(float(r['error']))}</td>"
                   f"<td>{_cell(float(r['tolerance']))}</td><td class=\"{status}\">{status}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _quantities_table(rows: list, caption: str) -> str:
    """Named values as the course material writes them, the NumPy line, the array."""
    from .experiments.studies import format_value
    out = [f"<p><b>{_e(caption)}</b></p><table><tr><th>as written</th><th>NumPy</th>"
           "<th>shape</th><th>value</th></tr>"]
    for r in rows:
        out.append(f"<tr><td>{_e(r['formula'])}</td><td{_LEFT}><code>{_e(r['code'])}</code></td>"
                   f"<td>{_e(tuple(r['shape']))}</td><td{_LEFT}><pre>"
                   f"{_e(format_value(r['value']))}</pre></td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _split_label(name: str) -> tuple[str, str]:
    parts = name.split(", ")
    return (", ".join(parts[:-1]) or "all points", parts[-1])


def make_figures(summary: Summary, store: ResultsStore) -> list[tuple[Path, str]]:
    """Write figures/*.png; returns (path, caption) pairs. Needs matplotlib."""
    from .plots import learning_curves, pyplot, save_figure, series_curves, sweep_curves
    pyplot(agg=True)
    folder = store.root / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    limit = int(summary.meta.get("report", {}).get("max_points_plotted", 12))
    groups = {p.name: histories(store, p) for p in summary.points}
    groups = {name: runs for name, runs in groups.items() if runs}
    watched = summary.watched
    if len(groups) > 1:
        path = folder / "sweep.png"
        save_figure(sweep_curves(dict(list(groups.items())[:limit]),
                                 title=f"{summary.name}: {watched} curves per point"), path)
        out.append((path, f"One curve per sweep point ({watched} metric and loss)"))
    best = summary.best_point()
    shown = [p for p in summary.points if p.name in groups]
    if len(shown) > limit:
        shown = [best] if best is not None else shown[:1]
    for point in shown:
        path = folder / f"curves_p{point.index:02d}.png"
        save_figure(learning_curves(groups[point.name], title=f"{summary.name}: {point.name}",
                                    val_label=watched), path)
        out.append((path, f"Learning curves: {point.name}"))
    panels: dict = {}
    for point in summary.points:
        for record in point.finished:
            series = store.load_json(record["id"], "series.json")
            if series and "gradient_norm" in series:
                g = series["gradient_norm"]
                panel, label = _split_label(point.name)
                panels.setdefault(panel, {}).setdefault(label, []).append((g["steps"], g["values"]))
    if panels:
        path = folder / "gradient_norms.png"
        save_figure(series_curves(panels, ylabel="first-layer gradient norm",
                                  title=f"{summary.name}: ||dL/dW|| of the first layer"), path)
        out.append((path, "First-layer gradient magnitude during training (mean over trials)"))
    return out


def write_report(root, figures: bool = True) -> Path:
    """Write ``root/report.html`` (and ``root/figures``); returns its path."""
    store = ResultsStore(root)
    summary = summarize(root)
    meta = summary.meta
    cols = _columns(summary)
    body = [f"<h1>{_e(summary.name)}</h1>"]
    if meta.get("description"):
        body.append(f"<p>{_e(meta['description'])}</p>")
    counts = ", ".join(f"{n} {_e(s)}" for s, n in sorted(summary.counts.items()))
    wall = sum(r.get("wall_s") or 0 for r in summary.records)
    study = "study" in meta.get("base", {})  # computes and checks instead of training
    body.append(f'<p class="muted">{len(summary.points)} point(s) x {len(meta.get("seeds", []))} '
                f"seed(s): {counts or 'no trials yet'}; {wall:.1f} s of "
                f"{'computing' if study else 'training'} in all. "
                f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')}.</p>")
    head = summary.headline()
    if head and head["n"]:
        seed = ""
        if head["seed_value"] is not None:
            seed = f" &mdash; the course material reports <b>{_e(head['seed_value'])}</b>"
            seed += f" ({_e(head['seed_note'])})" if head["seed_note"] else ""
        body.append(f'<p class="headline">{_e(head["metric"])} = '
                    f"<b>{_e(format_mean_std(head['mean'], head['std'], head['n']))}</b> "
                    f"at {_e(head['point'])}{seed}</p>")
    body += ["<h2>Results per point</h2>", _points_table(summary, cols)]
    if summary.watched == "test":
        body.append('<p class="muted">As in the course material, the curves watched during '
                    "training are on the test set: best_val_* is the best epoch on the test "
                    "set.</p>")
    if figures:
        try:
            made = [_image(path, caption) for path, caption in make_figures(summary, store)]
        except ImportError as error:
            made = [f"<p>{_e(error)}</p>"]
        if made:  # a study has no learning curves: its figures are artifacts
            body += ["<h2>Figures</h2>"] + made
    artifacts = []
    for point in summary.points:
        if not point.finished:
            continue
        record = point.finished[0]
        # figures first, then tables (a study's list of checks can be long)
        for name in sorted(record.get("files", []), key=lambda n: not n.endswith(".png")):
            path = store.trial_dir(record["id"]) / name
            if name.startswith("artifacts/") and name.endswith(".png") and path.is_file():
                artifacts.append(_image(path, f"{point.name}, seed {record['seed']}: "
                                              f"{Path(name).stem.replace('_', ' ')}"))
            elif name == f"artifacts/{CHECKS_FILE}" and path.is_file():
                artifacts.append(_checks_table(store.load_json(record["id"], name),
                                               f"{point.name}: closed-form checks"))
            elif name == f"artifacts/{QUANTITIES_FILE}" and path.is_file():
                artifacts.append(_quantities_table(store.load_json(record["id"], name),
                                                   f"{point.name}: every value, written out"))
            elif name == "artifacts/top_k_words.json" and path.is_file():
                artifacts.append(_top_k_table(store.load_json(record["id"], name),
                                              f"{point.name}, seed {record['seed']}: next-word candidates"))
    if artifacts:
        body += [f"<h2>{'Checks, values and figures' if study else 'Inside the trained models'}"
                 "</h2>"] + artifacts
    body += ["<h2>Trials</h2>", _trials_table(summary, cols)]
    problems = _problems(summary)
    if problems:
        body += ["<h2>Failures and warnings</h2>", problems]
    first = next((r for r in summary.records if r.get("status") in FINISHED), None)
    if first is not None:
        text = (store.trial_dir(first["id"]) / "summary.txt")
        if text.is_file():
            body += [f"<h2>Model ({_e(first['point'])})</h2>", f"<pre>{_e(text.read_text())}</pre>"]
    toml = store.root / "experiment.toml"
    if toml.is_file():
        body += ["<h2>Experiment</h2>", f"<pre>{_e(toml.read_text())}</pre>"]
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(summary.name)}: neuralab report</title><style>{_CSS}</style></head>"
            "<body>\n" + "\n".join(body) + "\n</body></html>\n")
    path = store.root / "report.html"
    atomic_write_text(path, page)
    return path


class Report:
    """A results folder's report, shown inline by Jupyter (``_repr_html_``).

    The page is written (or rewritten, when trials are newer than it) on first display and
    embedded in a sandboxed ``<iframe srcdoc=...>``, so its styles stay out of the notebook.
    """

    def __init__(self, root, height: int = 650):
        self.root = Path(root)
        if not ResultsStore(self.root).is_results_folder():
            raise ValueError(f"{self.root} is not a neuralab results folder (no "
                             "experiment.json): pass the -o folder of 'neuralab run' or "
                             "'neuralab lab run'")
        self.height = height

    def path(self) -> Path:
        """``report.html``, written first when missing or older than any trial's result."""
        page = self.root / "report.html"
        results = [p.stat().st_mtime for p in self.root.glob("trials/*/result.json")]
        if not page.is_file() or page.stat().st_mtime < max(results, default=0.0):
            write_report(self.root)
        return page

    def _repr_html_(self) -> str:
        page = self.path().read_text(encoding="utf-8")
        return (f'<iframe srcdoc="{_e(page)}" sandbox="" title="neuralab report: '
                f'{_e(self.root.name)}" style="width:100%;height:{int(self.height)}px;'
                'border:1px solid #ddd"></iframe>')

    def __repr__(self) -> str:
        return f"Report({str(self.path())!r})"


def show(root, height: int = 650) -> None:
    """Show the report of results folder ``root`` inline in a notebook (outside one, print
    the path of its ``report.html``). ``Report(root)`` as a cell's last expression shows
    it too.

    Example::

        from neuralab import report
        report.show("results/synthetic")
    """
    shown = Report(root, height)
    from .training.display import in_notebook
    if in_notebook():
        from IPython.display import display
        display(shown)
    else:
        print(shown.path())
