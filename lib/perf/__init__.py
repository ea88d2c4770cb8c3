"""Speed tooling: FLOP counting, the CPU inference fast path, ONNX export, the plain reference
implementation that the benchmark times, and the benchmark itself."""
