"""Compiled optimisation loops that keep snapshots of their state at given steps, at no per-step cost.

- `scan_with_snapshots` (a fixed number of steps): an outer scan over equal segments, an inner
  scan of static length over the steps of one segment, and after each segment one write of the
  snapshot (a copy of the variational parameters) into a small buffer: a slot of its own at the
  checkpoints, a scratch slot otherwise. Measured against one plain scan in
  benchmarks/checkpoint_overhead.py.
- `run_in_segments` (a run that may stop early): the same idea over a while loop.

Nothing returns to the host until the whole run is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bench.spec.checkpoints import schedule


def run_in_segments(
    advance: Callable[[Any, jax.Array], Any],
    carry: Any,
    ends: Sequence[int],
    snapshot: Callable[[Any], Any],
    keep_going: Callable[[Any], jax.Array] | None = None,
) -> tuple[Any, jax.Array, Any, jax.Array]:
    """Apply advance(carry, i) for i = 0, 1, ... up to ends[-1]; after each end keep snapshot(carry).

    keep_going(carry), when given, is checked before every step and stops the run early; later
    segments then take no steps. Returns (carry, steps taken, stacked snapshots, steps taken at
    each snapshot).
    """

    def segment(state, end):
        carry, i = state

        def more(s):
            ok = s[1] < end
            return ok if keep_going is None else ok & keep_going(s[0])

        def body(s):
            return advance(s[0], s[1]), s[1] + 1

        carry, i = jax.lax.while_loop(more, body, (carry, i))
        return (carry, i), (snapshot(carry), i)

    (carry, taken), (snapshots, taken_at) = jax.lax.scan(segment, (carry, jnp.asarray(0)), jnp.asarray(list(ends)))
    return carry, taken, snapshots, taken_at


# At most 256 segments: benchmarks/checkpoint_overhead.py measured the segmented loop at 0.80x (coinflip)
# and 0.92x (moons) the time per step of one flat scan with 256 segments, but 2.2x (coinflip) with 1,024
# segments of 5 steps. So the JAX loops' first checkpoint is at steps / 256 (the schedule's denser
# points below it merge into it), while torch, PyMC and MCMC prefixes take the schedule as it is.
MAX_SEGMENTS = 256


def segment_length(steps: int) -> int:
    """Steps per segment: steps / (the largest divisor of steps up to MAX_SEGMENTS); checkpoints
    fall on multiples of it."""
    segments = max(d for d in range(1, min(steps, MAX_SEGMENTS) + 1) if steps % d == 0)
    return steps // segments


def checkpoint_steps(steps: int) -> list[int]:
    """The checkpoint schedule on a fixed-length loop's segment boundaries."""
    return schedule(steps, every=segment_length(steps))


def scan_with_snapshots(
    step: Callable[[Any, Any], tuple[Any, Any]],
    carry: Any,
    steps: int,
    keep: Sequence[int],
    snapshot: Callable[[Any], Any],
    xs: Any = None,
) -> tuple[Any, Any, Any]:
    """`lax.scan(step, carry, xs, length=steps)`, plus snapshot(carry) after each step in `keep`
    (multiples of segment_length(steps)). Returns (carry, per-step outputs, stacked snapshots)."""
    length = segment_length(steps)
    segments = steps // length
    if any(k % length or not 0 < k <= steps for k in keep):
        raise ValueError(f"checkpoints {list(keep)} are not multiples of the segment length {length} in 1..{steps}")
    slots = np.full(segments, len(keep))  # the scratch slot
    slots[[k // length - 1 for k in keep]] = np.arange(len(keep))
    if xs is not None:
        xs = jax.tree_util.tree_map(lambda x: x.reshape(segments, length, *x.shape[1:]), xs)
    buffer = jax.tree_util.tree_map(lambda x: jnp.zeros((len(keep) + 1, *x.shape), x.dtype), snapshot(carry))

    def segment(state, inputs):
        carry, buffer = state
        slot, segment_xs = inputs
        carry, outs = jax.lax.scan(step, carry, segment_xs, length=length)
        buffer = jax.tree_util.tree_map(lambda b, x: b.at[slot].set(x), buffer, snapshot(carry))
        return (carry, buffer), outs

    (carry, buffer), outs = jax.lax.scan(segment, (carry, buffer), (jnp.asarray(slots), xs))
    outs = jax.tree_util.tree_map(lambda o: o.reshape(steps, *o.shape[2:]), outs)
    return carry, outs, jax.tree_util.tree_map(lambda b: b[:-1], buffer)


def snapshot_at(snapshots: Any, index: int) -> Any:
    """One snapshot out of the stacked ones (indexed on the host: an eager device slice compiles)."""
    return jax.tree_util.tree_map(lambda leaf: np.asarray(leaf)[index], snapshots)
