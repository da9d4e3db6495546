"""Writes notebooks/retrain.ipynb (kept as code so the notebook diff stays reviewable).

Run: python notebooks/build_retrain.py
"""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell(
        "# Retrain, evaluate and promote the gigmatch ranker\n\n"
        "Simulate a county market, train the LambdaRank model on its event log (features point-in-time, "
        "split by time), compare it with the baselines and the simulator's oracle, look at feature "
        "importance and at how scores relate to completion, then promote it in the registry.\n\n"
        "Sizes come from `GIGMATCH_NB_WORKERS`, `GIGMATCH_NB_JOBS` and `GIGMATCH_NB_DAYS` so CI can run it small."
    ),
    nbf.v4.new_code_cell(
        "%matplotlib inline\n"
        "import os\n"
        "import tempfile\n"
        "from pathlib import Path\n\n"
        "import matplotlib.pyplot as plt\n"
        "import pandas as pd\n\n"
        "from features.pairs import FEATURE_NAMES\n"
        "from gigmatch.core.contract import load_market\n"
        "from gigmatch.sim import SimulationConfig, write_simulation\n"
        "from models.dataset import build_training_set, time_split\n"
        "from models.registry import Registry\n"
        "from models.train import promote, train\n\n"
        "WORKERS = int(os.environ.get('GIGMATCH_NB_WORKERS', 20000))\n"
        "JOBS = int(os.environ.get('GIGMATCH_NB_JOBS', 8000))\n"
        "DAYS = int(os.environ.get('GIGMATCH_NB_DAYS', 60))\n"
        "work = Path(tempfile.mkdtemp(prefix='gigmatch-nb-'))\n"
        "market_dir, registry = work / 'market', work / 'registry'"
    ),
    nbf.v4.new_markdown_cell("## 1. Simulate a market"),
    nbf.v4.new_code_cell(
        "summary = write_simulation(SimulationConfig(region='将乐县', workers=WORKERS, jobs=JOBS, days=DAYS, seed=7), market_dir)\n"
        "{k: summary[k] for k in ('workers', 'jobs', 'events', 'shown_pairs')}"
    ),
    nbf.v4.new_markdown_cell("## 2. Train (time split, early stopping on validation NDCG@10)"),
    nbf.v4.new_code_cell(
        "scorer, meta = train(market_dir, registry, seed=7)\n"
        "print(meta['version'], meta['data']['train'], meta['data']['test'], sep='\\n')"
    ),
    nbf.v4.new_markdown_cell("## 3. Evaluate against the baselines and the oracle (test period)"),
    nbf.v4.new_code_cell(
        "scores = pd.DataFrame(meta['metrics']['test']['scores']).T\n"
        "ax = scores['ndcg@10'].sort_values().plot.barh(title='NDCG@10 on the test period')\n"
        "plt.show()\n"
        "print('model / oracle NDCG@10:', meta['metrics']['test'].get('model_vs_oracle_ndcg@10'))\n"
        "scores"
    ),
    nbf.v4.new_markdown_cell("## 4. Feature importance (total gain)"),
    nbf.v4.new_code_cell(
        "booster = scorer.ranker.model_.booster_\n"
        "importance = pd.Series(booster.feature_importance('gain'), index=FEATURE_NAMES).sort_values()\n"
        "importance.tail(15).plot.barh(title='feature importance (gain)')\n"
        "plt.show()"
    ),
    nbf.v4.new_markdown_cell(
        "## 5. Calibration: does a higher score mean more completed jobs?\n\n"
        "Test-period pairs binned by score decile; the share that ended completed (label >= 3) per bin."
    ),
    nbf.v4.new_code_cell(
        "data = build_training_set(load_market(market_dir))\n"
        "_, _, te = time_split(data)\n"
        "test = data.subset(te)\n"
        "frame = pd.DataFrame({'score': scorer.score(test.X), 'completed': test.y >= 3})\n"
        "frame['decile'] = pd.qcut(frame['score'].rank(method='first'), 10, labels=False)\n"
        "calibration = frame.groupby('decile').agg(score=('score', 'mean'), completion=('completed', 'mean'))\n"
        "calibration.plot(x='score', y='completion', marker='o', title='completion rate by score decile')\n"
        "plt.show()\n"
        "assert calibration['completion'].iloc[-1] > calibration['completion'].iloc[0]\n"
        "calibration"
    ),
    nbf.v4.new_markdown_cell(
        "### Calibrated P(completed): reliability curve and expected calibration error\n\n"
        "Isotonic, fitted on the validation days and stored in the model artifact; judged here on the "
        "test days (slates add these probabilities up)."
    ),
    nbf.v4.new_code_cell(
        "cal = meta['metrics']['test']['calibration']\n"
        "curve = pd.DataFrame(cal['reliability'])\n"
        "ax = curve.plot(x='mean_p', y='rate', marker='o', title=f\"reliability: ECE {cal['ece']:.4f} \"\n"
        "                f\"(uncalibrated {cal['ece_uncalibrated']:.4f})\")\n"
        "ax.plot([0, 1], [0, 1], ls='--', c='grey')\n"
        "plt.show()\n"
        "assert cal['ece'] < cal['ece_uncalibrated']\n"
        "curve"
    ),
    nbf.v4.new_markdown_cell("## 6. Promote (refused if worse than the current model on the same holdout)"),
    nbf.v4.new_code_cell(
        "reg = Registry(registry)\n"
        "print(promote(registry, meta['version'], data_dir=market_dir))\n"
        "print('current:', reg.current(), 'versions:', reg.versions())"
    ),
]
nb = nbf.v4.new_notebook(
    cells=cells,
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
)
nbf.write(nb, Path(__file__).with_name("retrain.ipynb"))
