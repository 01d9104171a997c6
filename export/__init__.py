"""Training and ONNX export of the fast (feed-forward) style networks.

`python -m export train ...` trains one network on a folder of photos; `python -m export
train-arbitrary ...` the any-painting network on folders of paintings and photos; `python -m
export onnx ...` exports a checkpoint to `ID.onnx` + `ID.json` for `engine/fast` (or the
any-painting pair for `engine/arbitrary`). May import `engine`, never the reverse.
"""
