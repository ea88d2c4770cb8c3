"""Train or evaluate SCT on Human3.6M-format clips or MPI-INF-3DHP (MotionBERT/SCT command line).

  python train.py --config configs/MB_train_h36m.yaml --checkpoint checkpoint/sct_h36m
  python train.py --config configs/MB_train_h36m.yaml --evaluate checkpoint/best_epoch.bin
  python train.py --config configs/MB_train_3dhp.yaml --evaluate checkpoint/sct_3dhp/best_epoch.bin -c results
  torchrun --nproc_per_node 4 train.py --config configs/MB_train_h36m.yaml -c checkpoint/sct_h36m
"""

from __future__ import annotations

import argparse
import sys

from lib.engine.errors import InputError
from lib.engine.trainer import TrainOptions, run
from lib.utils.checkpoint import CheckpointError
from lib.utils.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train SCT (or evaluate a checkpoint) with the Human3.6M protocol, or with the MPI-INF-3DHP "
                    "one when the config says dataset: mpi_inf_3dhp. Run under "
                    "'torchrun --nproc_per_node N train.py ...' for DistributedDataParallel.",
        epilog="Overrides: any config key as key=value after the flags, e.g. epochs=10 learning_rate=1e-4.")
    parser.add_argument("--config", required=True, metavar="YAML",
                        help="experiment config (YAML), e.g. configs/MB_train_h36m.yaml")
    parser.add_argument("-c", "--checkpoint", default="checkpoint", metavar="DIR",
                        help="output directory for checkpoints, logs and results (default: checkpoint); "
                             "a latest_epoch.bin already there resumes the run")
    parser.add_argument("-p", "--pretrained", default=None, metavar="PATH",
                        help="fine-tune from this checkpoint file, or from DIR/SELECTION when a directory "
                             "(used when not resuming; names with other shapes are skipped with a warning)")
    parser.add_argument("-ms", "--selection", default="latest_epoch.bin", metavar="FILENAME",
                        help="file name inside --pretrained when it is a directory (default: latest_epoch.bin)")
    parser.add_argument("-r", "--resume", default="", metavar="FILE",
                        help="resume training from this checkpoint (model, optimizer, epoch, lr, best P1)")
    parser.add_argument("-e", "--evaluate", default="", metavar="FILE",
                        help="evaluate this checkpoint on the test split instead of training; the results "
                             "are saved in the --checkpoint DIR as <name>_results.json (never beside FILE; "
                             "MPI-INF-3DHP: also <name>_predictions.npz)")
    parser.add_argument("-sd", "--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="compute device (default: auto = CUDA when available)")
    parser.add_argument("--amp", default="none", choices=["none", "bf16", "fp16"],
                        help="automatic mixed precision (default: none = float32)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="data-loader worker processes per process (default: from the CPU count)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bars")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config entries to override")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    opts = TrainOptions(**vars(args))  # the parser's destinations are TrainOptions' fields
    try:
        run(opts)
    except (ConfigError, CheckpointError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the last saved checkpoint is kept; run the same command again to resume",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
