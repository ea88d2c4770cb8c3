"""The video demo (``python demo/vis.py --video ...``); see docs/DEMO.md."""
