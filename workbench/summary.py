"""The one-page stakeholder summary: a self-contained HTML file with the key numbers and charts.

Plotly's JavaScript is inlined once, so the page opens offline (viewers may have no internet).
"""

from __future__ import annotations

import datetime as _dt
import html

import numpy as np
import plotly.graph_objects as go

from workbench import charts

_CSS = """
body{font-family:Inter,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2933;max-width:1100px;margin:32px auto;padding:0 24px}
h1{font-size:28px;margin-bottom:4px}.sub{color:#52606d;margin-top:0}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin:24px 0}
.card{border:1px solid #e4e7eb;border-radius:10px;padding:14px 16px;background:#fafbfc}
.card .k{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#52606d}
.card .v{font-size:26px;font-weight:650;margin-top:4px}.card .d{font-size:13px;color:#52606d;margin-top:2px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px}.wide{grid-column:span 2}.note{color:#52606d;font-size:13px;line-height:1.5}
.warn{background:#fdecea;border:1px solid #E4572E;border-radius:8px;padding:10px 14px}
table{border-collapse:collapse;font-size:14px}td,th{padding:4px 12px;border-bottom:1px solid #e4e7eb;text-align:left}
"""


def _card(key: str, value: str, detail: str = "") -> str:
    return (f'<div class="card"><div class="k">{html.escape(key)}</div><div class="v">{html.escape(value)}</div>'
            f'<div class="d">{html.escape(detail)}</div></div>')


def _figure(fig: go.Figure, first: bool) -> str:
    return fig.to_html(full_html=False, include_plotlyjs="inline" if first else False,
                       config={"displaylogo": False, "responsive": True})


def build_html(ds, sel, pruned, full, random, *, evaluator_description: str, origin: str,
               curve=None, score_names=(), verdict=None, exact=None) -> str:
    """The summary page of a selection.

    Parameters
    ----------
    ds : Dataset
    sel : Selection
    pruned, full, random : Estimate
        The selection's estimate and its references on the same folds.
    curve : DataFrame, optional
        A pruning curve (``core.pruning_curve``) to include.
    verdict : workbench.cards.Verdict, optional
        How the selection compares; a losing subset gets a plain warning at the top.
    exact : dict, optional
        The exact-model check of this selection (``{"Pruned": Estimate, ..., "model": name}``).
    """
    kept, dropped = charts.kept_and_dropped(ds, sel.mask)
    saving = 1 - sel.n_kept / max(ds.n_samples, 1)
    plots = _plots(ds, sel, pruned, full, random, curve, kept, dropped)
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    cards = _cards(ds, sel, pruned, full, random)
    rows = "".join(f"<tr><td>{html.escape(str(c))}</td><td>{int(k):,}</td><td>{int(d):,}</td></tr>"
                   for c, k, d in zip(ds.classes, kept, dropped))
    forced = sel.params.get("force_keep", []), sel.params.get("force_drop", [])
    warning = (f'<p class="warn"><b>Warning.</b> {html.escape(verdict.text)}</p>' if verdict is not None
               and verdict.warn_export else f'<p>{html.escape(verdict.text)}</p>' if verdict is not None else "")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Data pruning summary</title>
<style>{_CSS}</style></head><body>
<h1>Data pruning summary</h1>
<p class="sub">{html.escape(origin)} · {ds.n_samples:,} rows · {ds.n_classes} classes · generated {when}</p>
{warning}<div class="cards">{cards}</div>
<p><b>Strategy:</b> <code>{html.escape(sel.resolved_strategy)}</code>
{f"(auto chose it)" if sel.strategy == "auto" else ""} · <b>seed</b> {sel.seed} ·
<b>estimated training-time saving</b> ≈{saving:.0%} (assuming cost grows with rows)
{f" · map edits: {len(forced[0])} rows force-kept, {len(forced[1])} force-dropped" if any(forced) else ""}</p>
<div class="grid">{plots}</div>
{_exact_section(exact)}<h3>Rows per class</h3>
<p>{html.escape(skew_words([str(c) for c in ds.classes], kept, kept + dropped))}</p><table><tr><th>Class</th><th>Kept</th><th>Dropped</th></tr>{rows}</table>
<p class="note"><b>How this was measured.</b> {html.escape(evaluator_description)}. Pruning is applied to the
training folds only; every held-out fold is complete. "Random, same size" keeps random subsets with as many rows
as the selection, on the same folds (spread over repeats and folds).
{f"Scores used: {html.escape(', '.join(score_names))}." if score_names else ""}
Data fingerprint <code>{ds.fingerprint[:16]}</code>; the manifest JSON re-applies this selection exactly.</p>
</body></html>"""


def thinned_most(classes, kept: np.ndarray, totals: np.ndarray, top: int = 3) -> list:
    """The classes the subset thinned most: ``[(class, kept, total, kept share)]``, lowest share first.

    Only classes kept at a lower share than the subset as a whole are listed (at most ``top``).
    """
    totals = np.asarray(totals, dtype=float)
    overall = kept.sum() / max(totals.sum(), 1)
    shares = np.divide(kept, totals, out=np.zeros(len(totals)), where=totals > 0)
    ranked = [i for i in np.argsort(shares, kind="stable") if totals[i] > 0 and shares[i] < overall - 1e-9]
    return [(classes[i], int(kept[i]), int(totals[i]), float(shares[i])) for i in ranked[:top]]


def skew_words(classes, kept: np.ndarray, totals: np.ndarray) -> str:
    """One plain sentence on how unevenly the subset thinned the classes (the Export page shows it too)."""
    overall = kept.sum() / max(np.sum(totals), 1)
    thinned = thinned_most(classes, kept, totals)
    if not thinned or thinned[0][3] >= 0.8 * overall:
        return f"Every class keeps close to the overall {overall:.0%} of its rows (none below {0.8 * overall:.0%})."
    parts = [f"{name} keeps {k:,} of {n:,} rows ({share:.0%})" for name, k, n, share in thinned
             if share < 0.8 * overall]
    worst = thinned[0][3] / overall if overall else 0
    return (f"Thinned most: {'; '.join(parts)}, against {overall:.0%} overall; the most thinned class keeps "
            f"{worst:.1f}x the overall share. A model trained on this subset sees fewer of these classes.")


def _plots(ds, sel, pruned, full, random, curve, kept, dropped) -> str:
    figures = [charts.accuracy_comparison(pruned, full, random), charts.kept_per_class(ds.classes, kept, dropped)]
    if curve is not None:
        figures.append(charts.pruning_curve(curve, current_keep=sel.n_kept / ds.n_samples,
                                            full_accuracy=full.accuracy))
    return "".join(f'<div class="{"wide" if i == 2 else ""}">{_figure(fig, i == 0)}</div>'
                   for i, fig in enumerate(figures))


def _cards(ds, sel, pruned, full, random) -> str:
    vs_random, vs_full = 100 * (pruned.accuracy - random.accuracy), 100 * (pruned.accuracy - full.accuracy)
    return "".join([
        _card("Rows", f"{sel.n_kept:,} / {ds.n_samples:,}", f"{sel.n_kept / ds.n_samples:.0%} kept"),
        _card("Pruned accuracy", f"{pruned.accuracy:.1%}", f"± {pruned.std:.1%} over folds"),
        _card("vs full data", f"{vs_full:+.1f} pts", f"full: {full.accuracy:.1%} ± {full.std:.1%}"),
        _card("vs random, same size", f"{vs_random:+.1f} pts", f"random: {random.accuracy:.1%} ± {random.std:.1%}"),
    ])


def _exact_section(exact) -> str:
    """The exact-model check as a table, or nothing when none was run."""
    if not exact:
        return ""
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{est.accuracy:.1%}</td><td>± {est.std:.1%}</td>"
                   f"<td>{est.n_kept:,}</td></tr>" for name, est in exact.items() if name != "model")
    return (f"<h3>Check with an exact model ({html.escape(str(exact.get('model', '')))})</h3>"
            f"<table><tr><th></th><th>Accuracy</th><th>Spread</th><th>Rows</th></tr>{rows}</table>")
