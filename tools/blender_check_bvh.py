"""Import a BVH written by this project into Blender and compare its joints with the positions it encodes.

Runs in a Python that has Blender as a module (`pip install bpy` in an environment of its own, about 0.4 GB;
not a project requirement), with this checkout and this project's environment on the path after it:

    PYTHONPATH=.:.venv/lib/python3.11/site-packages /path/to/bpy-env/bin/python tools/blender_check_bvh.py \
        demo/output/clip/person_0.bvh demo/output/clip/keypoints_3d.npz --person 0

The file is imported as docs/MOTION.md says (File > Import > Motion Capture: scale 0.001, forward -Z, up Y);
each bone's head in Blender's world (Z up, metres) is compared, at every frame, with the person's
`poses_world_mm` brought to the BVH's constant bone lengths (`sct.bvh.with_bone_lengths`). Prints the
largest and median difference in millimetres; exit 0 when the largest is under --tolerance, 1 when not,
2 on bad input.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bvh", help="a person_<i>.bvh written by demo/vis.py --bvh or sct-export-bvh")
    p.add_argument("npz", help="the keypoints_3d.npz it was written from")
    p.add_argument("--person", type=int, default=0, help="which person of the npz the BVH holds")
    p.add_argument("--tolerance", type=float, default=1.0, help="largest allowed difference in mm")
    args = p.parse_args(argv)
    try:
        import bpy
    except ImportError:
        print("error: this check needs Blender as a Python module: pip install bpy (Python 3.11)", file=sys.stderr)
        return 2
    import numpy as np

    from sct.bvh import fill_missing, with_bone_lengths

    try:
        data = np.load(args.npz)
        positions = with_bone_lengths(fill_missing(data["poses_world_mm"][args.person]))
        names = [str(n) for n in data["joint_names"]]
    except (OSError, KeyError, IndexError, ValueError) as exc:
        print(f"error: cannot read person {args.person} of {args.npz}: {exc}", file=sys.stderr)
        return 2
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_anim.bvh(filepath=args.bvh, global_scale=0.001, axis_forward="-Z", axis_up="Y",
                            update_scene_fps=True, update_scene_duration=True)
    (armature,) = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    errors = []
    for t in range(len(positions)):
        bpy.context.scene.frame_set(t + 1)
        for j, name in enumerate(names):
            bone = armature.pose.bones.get(name)
            if bone is not None:
                x, y, z = positions[t, j]
                head = np.array(armature.matrix_world @ bone.head) * 1000.0
                errors.append(float(np.linalg.norm(head - [x, -z, y])))  # Y up, forward -Z -> Blender's Z up
    worst, median = max(errors), float(np.median(errors))
    print(f"{len(positions)} frames, {len(errors) // len(positions)} joints: largest difference {worst:.4f} mm, "
          f"median {median:.4f} mm (Blender {bpy.app.version_string}, fps {bpy.context.scene.render.fps})")
    return 0 if worst < args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
