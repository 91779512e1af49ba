"""Run a frozen TensorFlow graph with TensorFlow itself: the parity reference of vad's
TF-free GraphDef converter (`vad/encoders/frozen_graph.py`).

Runs in its own virtualenv (`make tf-reference` -> bench/tf/.venv), never in vad's: TensorFlow is
a test reference, not a dependency. Usage:

    bench/tf/.venv/bin/python bench/tf/run_frozen_graph.py GRAPH.pb IN.npz OUT.npz FETCH...

IN.npz maps tensor names ("Preprocessor/sub:0", "image_tensor:0") to the arrays fed; OUT.npz
gets every FETCH tensor by name.
"""

import sys

import numpy as np
import tensorflow as tf


def main(graph_path: str, inputs_path: str, outputs_path: str, *fetches: str) -> None:
    graph_def = tf.compat.v1.GraphDef()
    with open(graph_path, "rb") as handle:
        graph_def.ParseFromString(handle.read())
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    feeds = dict(np.load(inputs_path))
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=1, inter_op_parallelism_threads=1
    )
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        values = session.run(list(fetches), feed_dict=feeds)
    np.savez(outputs_path, **dict(zip(fetches, values, strict=True)))


if __name__ == "__main__":
    main(*sys.argv[1:])
