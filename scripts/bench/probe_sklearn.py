"""scikit-learn side of `npm run bench:probe`: the same cross-validated ridge as src/probes/ridge.ts.

Reads features/targets/folds written by scripts/bench/probe.ts, and for each outer fold fits
StandardScaler on the training rows, then RidgeCV(alphas, alpha_per_target=True) with its default
exact (efficient) leave-one-out, and predicts the test rows. Prints one JSON line with wall and CPU
times (all threads) and peak RSS, and writes the out-of-fold predictions for comparison.

Usage: /usr/bin/python3 probe_sklearn.py <meta.json>
"""
import json
import resource
import sys
import time

import numpy as np
import sklearn
from sklearn.linear_model import RidgeCV
from sklearn.preprocessing import StandardScaler


def cross_validate(x, y, fold_of, alphas):
    predictions = np.empty_like(y)
    chosen = []
    for fold in np.unique(fold_of):
        test = fold_of == fold
        train = ~test
        scaler = StandardScaler().fit(x[train])
        model = RidgeCV(alphas=alphas, alpha_per_target=True).fit(scaler.transform(x[train]), y[train])
        predictions[test] = model.predict(scaler.transform(x[test]))
        chosen.append(model.alpha_)
    return predictions, np.array(chosen)


def main():
    meta = json.load(open(sys.argv[1]))
    n, d, m = meta["n"], meta["d"], meta["m"]
    x = np.fromfile(meta["features"], dtype="<f4").reshape(n, d).astype(np.float64)
    y = np.fromfile(meta["targets"], dtype="<f8").reshape(n, m)
    fold_of = np.fromfile(meta["folds"], dtype="<i4")
    alphas = np.array(meta["alphas"], dtype=np.float64)
    cross_validate(x, y, fold_of, alphas)  # warm-up
    seconds, cpu_seconds = [], []
    for _ in range(meta["repeats"]):
        started, cpu_started = time.perf_counter(), time.process_time()
        predictions, chosen = cross_validate(x, y, fold_of, alphas)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
    predictions.astype("<f8").tofile(meta["output"])
    chosen.astype("<f8").tofile(meta["output"] + ".alphas")
    print(json.dumps({
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
    }))


if __name__ == "__main__":
    main()
