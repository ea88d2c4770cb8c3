"""Speed tooling: the benchmark (rows, timing of inference and training steps, costs, reports, Pareto
figure), FLOP counting, the inference fast paths (``prepare_for_inference``), ONNX export, and the plain
reference implementation of SCT that the benchmark times."""
