"""The writer thread on its own: a hand-off queue of fixed depth, rows committed in example order,
and a failure in the thread raised in the caller."""

import threading

import numpy as np
import pytest
import torch

from activations.writer import BatchOutput, WindowWriter


class RecordingSink:
    """Records every commit; optionally holds each one until released, or fails."""

    def __init__(self, hold: bool = False, fail: bool = False):
        self.commits: list[tuple] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        self.hold, self.fail = hold, fail

    def commit(self, examples, positions, rows, proj, stats, n_examples):
        self.entered.set()
        if self.hold:
            self.release.wait(timeout=10)
        if self.fail:
            raise OSError("disk full")
        self.commits.append((examples, positions, rows, proj, stats, n_examples))


def batch(examples: list[int], rows_each: int = 2, d: int = 3) -> BatchOutput:
    n = rows_each * len(examples)
    values = torch.tensor([[float(e)] * d for e in examples for _ in range(rows_each)])
    return BatchOutput(
        example_B=np.asarray(examples),
        counts_B=np.full(len(examples), rows_each),
        position_N=np.tile(np.arange(rows_each), len(examples)),
        rows={0: values.half()},
        proj={},
        stats={0: (values.sum(0, keepdim=True), (values**2).sum(0, keepdim=True), torch.tensor([n]))},
        event=None,
    )


def test_rows_are_committed_in_example_order_whatever_the_batch_order():
    sink = RecordingSink()
    writer = WindowWriter(sink, depth=2)
    writer.submit(batch([2, 0]))  # batches arrive sorted by length, not by example
    writer.submit(batch([1, 3]))
    writer.end_window(range(0, 4))
    writer.close()
    [(examples, positions, rows, _, stats, n_examples)] = sink.commits
    np.testing.assert_array_equal(examples, [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(positions, [0, 1] * 4)
    np.testing.assert_array_equal(rows[0][:, 0], [0, 0, 1, 1, 2, 2, 3, 3])
    assert n_examples == 4
    np.testing.assert_allclose(stats[0][0], [[12.0, 12.0, 12.0]])  # sums of both batches
    assert stats[0][2].tolist() == [8]


def test_a_slow_disk_blocks_the_producer_after_depth_items():
    sink = RecordingSink(hold=True)
    depth = 2
    writer = WindowWriter(sink, depth=depth)
    writer.submit(batch([0]))
    writer.end_window(range(0, 1))
    assert sink.entered.wait(timeout=10)  # the thread is now stuck in commit
    handed = []

    def produce():
        for example in range(1, 1 + depth + 3):
            writer.submit(batch([example]))
            handed.append(example)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    producer.join(timeout=1.0)
    assert producer.is_alive() and len(handed) == depth  # the queue holds `depth` items, no more
    assert writer.queue.qsize() == depth
    sink.release.set()
    producer.join(timeout=10)
    assert len(handed) == depth + 3
    writer.end_window(range(1, 1 + depth + 3))
    writer.close()
    assert [c[5] for c in sink.commits] == [1, depth + 3]


def test_a_failed_commit_is_raised_at_the_next_hand_off():
    sink = RecordingSink(fail=True)
    writer = WindowWriter(sink, depth=1)
    writer.submit(batch([0]))
    writer.end_window(range(0, 1))
    with pytest.raises(RuntimeError, match="writing activations failed: disk full"):
        for example in range(1, 50):  # the error surfaces within a few hand-offs, never hangs
            writer.submit(batch([example]))
    with pytest.raises(RuntimeError, match="disk full"):
        writer.close()
