"""The comparison block: a selection's estimate beside the full data and random subsets.

One constructor for the record that the CLI prints, the app shows and manifests store. It only
calls the evaluator's ``full``, ``random``, ``folds``, ``seed`` and descriptions.
"""

from __future__ import annotations

from typing import Optional


def comparison_block(evaluator, est, repeats: int = 5, *,
                     leak_free: Optional[bool], method: str = "") -> dict:
    """The selection's estimate beside the full data and random subsets of the same size."""
    full = evaluator.full()
    rand = evaluator.random(est.n_kept, repeats)
    model = evaluator.model_description
    return {
        "selection": est.to_dict(), "full": full.to_dict(), "random": rand.to_dict(),
        "vs_random": est.accuracy - rand.accuracy, "vs_full": est.accuracy - full.accuracy,
        "leak_free": leak_free, "method": method,
        "model": model, "budget": evaluator.budget_description,
        "folds": evaluator.folds, "seed": evaluator.seed,
        "summary": (f"{100 * est.accuracy:.1f}% ± {100 * est.std:.1f} with {est.n_kept} of {est.n_input} rows"
                    f"{'' if leak_free in (True, None) else ' (optimistic: scores saw the test labels)'}; "
                    f"random subsets of that size: {100 * rand.accuracy:.1f}% ± {100 * rand.std:.1f}; "
                    f"full data: {100 * full.accuracy:.1f}% ± {100 * full.std:.1f} "
                    f"({evaluator.folds}-fold CV, {model.split(' (')[0]})."),
    }
