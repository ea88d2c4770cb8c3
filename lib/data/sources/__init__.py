"""Sources that make Human3.6M-layout data without a download.

- :mod:`~lib.data.sources.h36m_cameras`: the public Human3.6M camera calibration.
- :mod:`~lib.data.sources.h36m_render`: world-space joints -> pickle arrays (cameras, 2.5D, 2D noise).
- :mod:`~lib.data.sources.synthetic_h36m`: procedural human motion.
- :mod:`~lib.data.sources.bvh` and :mod:`~lib.data.sources.mocap`: motion capture (BVH) files.
- :mod:`~lib.data.sources.plot_h36m`: a picture of a generated pickle.
"""
