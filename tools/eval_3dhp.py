"""Score MPI-INF-3DHP predictions with every averaging convention in use (pooled, sequence mean, legacy
weighted), in Python: no MATLAB needed.

    python tools/eval_3dhp.py --gt data/mpi_inf_3dhp/data_test_3dhp.npz --pred PRED.npz [--json OUT.json]

PRED.npz holds one (N, 17, 3) array in millimetres per test sequence (TS1 ... TS6), for all N frames of the
sequence, in MPI-INF-3DHP's joint order, absolute or relative to the pelvis; only valid frames count
(``train.py --evaluate`` writes this file). See docs/TRAINING.md for the protocol and the conventions.
"""

from __future__ import annotations

import argparse
import json
import sys

from lib.data.mpi_inf_3dhp import Mpi3dhpFormatError, read_test_file
from lib.engine.evaluate_3dhp import evaluate_3dhp, format_table_3dhp, load_predictions
from lib.utils.atomic_io import write_text_atomic
from lib.utils.safe_pickle import UnsafePickleError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gt", required=True, metavar="NPZ",
                   help="the test ground truth, data_test_3dhp.npz (P-STMO's layout)")
    p.add_argument("--pred", required=True, metavar="NPZ",
                   help="predictions: one (N, 17, 3) array in mm per test sequence (TS1 ... TS6)")
    p.add_argument("--json", metavar="OUT.json",
                   help="also write the numbers as JSON: pooled, sequence_mean, legacy_weighted (pck, auc, "
                        "mpjpe; pooled also frames) and per_sequence (pck, auc, mpjpe, frames)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        gt = read_test_file(args.gt)
        predictions = load_predictions(args.pred, gt)
        result = evaluate_3dhp(gt, predictions)
        print(format_table_3dhp(result))
        if args.json:
            write_text_atomic(args.json, json.dumps(result.to_json(), indent=2) + "\n")
            print(f"wrote {args.json}")
    except (FileNotFoundError, Mpi3dhpFormatError, UnsafePickleError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
