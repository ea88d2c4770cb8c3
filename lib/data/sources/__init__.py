"""Sources that make Human3.6M-layout data without a download (the readers of real data in ``lib/data``
import nothing from here).

- :mod:`~lib.data.sources.h36m_cameras`: the public Human3.6M camera calibration.
- :mod:`~lib.data.sources.h36m_render`: world-space joints -> pickle arrays (cameras, 2.5D, 2D noise).
- :mod:`~lib.data.sources.synthetic_h36m`: procedural human motion; :mod:`~lib.data.sources.synthetic_3dhp`:
  the same in MPI-INF-3DHP's npz layout.
- :mod:`~lib.data.sources.bvh`: BVH files (``.bvh`` and ``.bvh.gz``); :mod:`~lib.data.sources.mocap`: BVH
  skeletons -> the 17 Human3.6M joints; :mod:`~lib.data.sources.mocap_corpus`: a corpus of BVH clips split
  by subject into a pickle; :mod:`~lib.data.sources.mocap_augment`: pose-level augmentation of that motion
  (limb/trunk recombination, body proportions, camera variety).
- :mod:`~lib.data.sources.plot_h36m`: a picture of a generated pickle.
"""
