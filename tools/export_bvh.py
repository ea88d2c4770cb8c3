"""Write one BVH file per person from the demo's keypoints_3d.npz (the console script ``sct-export-bvh``).

    python tools/export_bvh.py demo/output/street/keypoints_3d.npz

The command lives in :mod:`sct.export_bvh` so that it also works from an installed wheel; see ``--help``.
"""

from __future__ import annotations

import sys

from sct.export_bvh import main

if __name__ == "__main__":
    sys.exit(main())
