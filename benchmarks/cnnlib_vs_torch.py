r"""cnnlib against torch on this machine, side by side in one run: the three ratios of
the course's targets.

1. conv2d forward + backward for the two convolutions of the MNIST net
   (targets: cnnlib <= 1x torch for the first, 1 -> 16 channels, and <= 2x for the
   second, 16 -> 32), and max pooling forward + backward on what its first pooling
   layer sees (target: <= 1x);
2. one whole training step (forward, backward, Adam) of the net at batch 64 on real
   MNIST batches (target: <= 1.5x torch);

both on cnnlib's two paths: the tuned kernels that run by default (the targets are
theirs) and the readable ops that the book prints (``cnnlib.fast_kernels(False)``;
aim: a training step <= 4x torch, so that a chapter could train on them);
3. with ``--train``: wall time (training only, evaluation excluded) until the test
   accuracy reaches 99.0 %, both libraries with the same recipe, net, data order and
   initial weights, trained alternately epoch by epoch.

The two training curves differ in float32 only because the libraries round
differently (their products and sums run in other orders), and the test accuracy
hovers near 99.0 % for several epochs, so which epoch first reaches it is a toss-up:
torch's own curve moves with its thread count. ``--train --train-dtype float64``
trains both in float64, where the curves agree epoch by epoch.

The two libraries are timed alternately, several rounds, with a pause between them (BLAS
and OpenMP threads keep spinning after a call and would steal CPU from the other
library); medians are reported. The machine's load changes the absolute numbers a lot;
compare the ratios.

Run from the repository root::

    # ratios 1 and 2 (about a minute)
    .venv/bin/python benchmarks/cnnlib_vs_torch.py
    # plus ratio 3 (a few minutes)
    .venv/bin/python benchmarks/cnnlib_vs_torch.py --train
    # the same training in float64: the two libraries' curves agree
    .venv/bin/python benchmarks/cnnlib_vs_torch.py --train --train-dtype float64
    # steadier on a busy machine
    .venv/bin/python benchmarks/cnnlib_vs_torch.py --threads 1 --clock cpu
    # convolutions and pooling on channels-last arrays
    .venv/bin/python benchmarks/cnnlib_vs_torch.py --memory channels-last
    # the tuned kernels without their compiled (numba) parts: NumPy only
    .venv/bin/python benchmarks/cnnlib_vs_torch.py --numba off

The convolutions and the pooling get C-ordered NCHW arrays by default, as a user passes
them; cnnlib then spends part of its time on transposing copies into its channels-last
layout.
``--memory channels-last`` gives both libraries channels-last input and output gradients
instead: cnnlib's layout between its own layers, and torch's ``channels_last`` memory
format.

On a machine shared with other jobs, multi-threaded BLAS/OpenMP calls wait for a second
core and the timings become meaningless (tens of ms for a 1 ms op); use
``--threads 1 --clock cpu`` there (CPU time of this process, which other jobs disturb
much less than the wall clock). The time to 99 % is always wall time.

Both libraries allocate fresh arrays for their temporaries on every call. With glibc's
default settings, freed memory at the top of the heap goes back to the operating system
once more than about twice the largest recent block is free, and the next call faults
every page in again: in some runs, not others, that added ~0.9 ms to cnnlib's
conv 16 -> 32 (about 1.3 ms of work) and ~2.8 ms to torch's conv 1 -> 16 (about
0.8 ms). To compare the libraries rather than that heuristic, the benchmark asks glibc
(mallopt) to keep freed memory for reuse; ``--malloc default`` leaves glibc as it is.
The header says which.

The header gives the machine's load average and names the OpenBLAS kernel family
NumPy runs. The last line reports how steady the machine was: the same fixed work (a
copy of an array too large for the core's own cache, and a short in-cache
computation) is timed in every round, and its slowest round is compared with its
fastest. A load average near 0 does not prove a quiet machine: on a shared host,
another tenant's work can slow this one's memory or cores for seconds at a time
without showing in the load. Memory-bound work (cnnlib's copies) suffers more there
than cache-bound work (torch's convolutions), so ratios from a run whose steadiness
line warns are not the machine's ratios; run it again. Some machines set
``OPENBLAS_CORETYPE`` (and ``OPENBLAS_L2_SIZE``) in the environment to keep older
OpenBLAS builds off kernels that misbehave there; on an AVX-512 CPU that pins NumPy to
the slower AVX2 ("Haswell") kernels, while torch picks its own. To compare the libraries
as they run by default, unset both for the benchmark command alone::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv/bin/python benchmarks/cnnlib_vs_torch.py
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

if (
    "--threads" in sys.argv
):  # must be set before NumPy and torch start their thread pools
    _threads = sys.argv[sys.argv.index("--threads") + 1]
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = os.environ[
        "MKL_NUM_THREADS"
    ] = _threads

import numpy as np  # noqa: E402
import torch  # noqa: E402

import cnnlib  # noqa: E402
from cnnlib import functional as F  # noqa: E402
from cnnlib import init, nn, optim  # noqa: E402
from cnnlib.batching import iterate_minibatches  # noqa: E402
from cnnlib.data import load_mnist  # noqa: E402
from cnnlib.training import evaluate, train_step  # noqa: E402
from cnnlib.tuned import compiled  # noqa: E402

# The course's LeNet-style net, defined once for the tests and this benchmark.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import lenet, torch_lenet  # noqa: E402

PAUSE = 0.3  # seconds between the two libraries' timings
CLOCK = time.perf_counter  # --clock cpu switches to time.process_time
# (N, C_in, H, W, C_out, k): the two convolutions of the MNIST net at batch 64, and
# the target for each (the largest ratio to torch that passes)
CONV_SHAPES = [
    (64, 1, 28, 28, 16, 3),
    (64, 16, 13, 13, 32, 3),
]
CONV_TARGETS = [1.0, 2.0]
# A round whose fixed work took this many times as long as in the fastest round marks
# the machine as unsteady during the run.
UNSTEADY = 1.3
# its max pooling: 2x2, stride 2
POOL_KERNEL = 2


def openblas_core() -> str:
    """The kernel family OpenBLAS chose at load time (e.g. ``Haswell``, ``SkylakeX``),
    or ``unknown``."""
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            paths = {
                line.split()[-1]
                for line in maps
                if "openblas" in line.lower() and line.rstrip().endswith(".so")
            }
        for path in paths:
            library = ctypes.CDLL(path)
            for name in (
                "scipy_openblas_get_corename64_",
                "scipy_openblas_get_corename",
                "openblas_get_corename",
            ):
                if hasattr(library, name):
                    function = getattr(library, name)
                    function.restype = ctypes.c_char_p
                    return function().decode()
    except OSError:
        pass
    return "unknown"


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the heap for reuse; ``False`` where that is not
    possible.

    Same effect as starting Python with ``MALLOC_MMAP_THRESHOLD_`` and
    ``MALLOC_TRIM_THRESHOLD_`` set; changes this process only.
    """
    import ctypes

    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (
        OSError,
        AttributeError,
    ):  # not glibc (macOS, Windows, musl without mallopt)
        return False
    # Blocks up to 32 MiB (glibc's ceiling for this setting) come from the heap, and up
    # to 256 MiB of free heap is kept before any is returned.
    return bool(mallopt(M_MMAP_THRESHOLD, 32 * 2**20)) and bool(
        mallopt(M_TRIM_THRESHOLD, 256 * 2**20)
    )


def compiled_kernels() -> str:
    """Which code the tuned kernels run: with numba's compiled parts, or NumPy only."""
    if compiled.numba_enabled():
        import numba

        return (
            f"numba {numba.__version__} for ReLU, max pooling (with ReLU), im2col, "
            "col2im and Adam"
        )
    return "NumPy only (numba switched off or not installed)"


def median_time(function, repeats: int, warmup: int = 3, clock=None) -> float:
    """Median time of ``function()`` in seconds, by ``clock`` (by default the wall
    clock, or this process's CPU time with ``--clock cpu``)."""
    clock = clock or CLOCK
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        times.append(clock() - start)
    return float(np.median(times))


def cnnlib_net(seed: int) -> nn.Sequential:
    return lenet(np.random.default_rng(seed))


def readable(function):
    """``function`` run on the readable ops instead of the tuned kernels."""

    def run():
        with cnnlib.fast_kernels(False):
            function()

    return run


def channels_last(array: np.ndarray) -> np.ndarray:
    """The same ``(N, C, H, W)`` values, stored channels-last: what cnnlib's layers hand
    each other."""
    return np.ascontiguousarray(array.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def conv_functions(shape, rng, memory: str = "nchw"):
    """``(cnnlib_fn, torch_fn)`` each running one conv2d forward + backward (all
    gradients).

    ``memory="nchw"``: C-ordered NCHW arrays, as a user passes them.
    ``"channels-last"``: input and output gradient stored channels-last for both
    libraries (cnnlib's own layout between layers; torch's ``channels_last`` memory
    format), weights as they are.
    """
    n, c_in, h, w, c_out, k = shape
    x = rng.random((n, c_in, h, w), dtype=np.float32)
    weight = (rng.random((c_out, c_in, k, k), dtype=np.float32) - 0.5) / k
    bias = rng.random(c_out, dtype=np.float32)
    grad_output = rng.random((n, c_out, h - k + 1, w - k + 1), dtype=np.float32)
    if memory == "channels-last":
        x, grad_output = channels_last(x), channels_last(grad_output)

    def ours():
        _, cache = F.conv2d_forward(x, weight, bias)
        F.conv2d_backward(grad_output, cache)

    # torch.from_numpy keeps the strides, so channels-last arrays become channels_last
    # tensors.
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, weight, bias))
    tg = torch.from_numpy(grad_output)
    assert tx.is_contiguous(
        memory_format=torch.channels_last
        if memory == "channels-last"
        else torch.contiguous_format
    )

    def theirs():
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.conv2d(tx, tw, tb).backward(tg)

    return ours, theirs


def pool_functions(images, seed: int, memory: str = "nchw"):
    """``(cnnlib_fn, torch_fn)`` each running one max pooling forward + backward.

    Its input is what the net's first pooling layer sees: ``images`` ``(64, 1, 28,
    28)``, real digits, through the net's first convolution and ReLU (weights from
    ``seed``), so that about half of it is 0 and many windows tie, as in training;
    stored as ``memory`` says, as for :func:`conv_functions`.
    """
    first_layers = cnnlib_net(seed)
    with cnnlib.no_grad():
        x = np.ascontiguousarray(first_layers[1](first_layers[0](images)))
    rng = np.random.default_rng(seed)
    n, c, h, w = x.shape
    k = POOL_KERNEL
    grad_output = rng.standard_normal((n, c, h // k, w // k), dtype=np.float32)
    if memory == "channels-last":
        x, grad_output = channels_last(x), channels_last(grad_output)

    def ours():
        _, cache = F.max_pool2d_forward(x, k)
        F.max_pool2d_backward(grad_output, cache)

    tx, tg = torch.from_numpy(x).requires_grad_(), torch.from_numpy(grad_output)

    def theirs():
        tx.grad = None
        torch.nn.functional.max_pool2d(tx, k).backward(tg)

    return ours, theirs


def step_functions(seed: int, x_train, y_train, num_steps: int = 50):
    """``(cnnlib_fn, torch_fn)`` each running one training step of the net (batch 64,
    Adam) per call.

    The steps cycle through ``num_steps`` real MNIST training batches (both libraries
    the same ones, in the same order), as training does. Real digits matter: how fast a
    net runs depends on its data (torch's max pooling, for one, runs about twice as fast
    on digits, mostly zeros after the first ReLU, as on uniform noise), and repeating
    one batch would drive the loss to zero.
    """
    batches = list(
        iterate_minibatches(
            x_train[: 64 * num_steps],
            y_train[: 64 * num_steps],
            64,
            shuffle=True,
            seed=seed,
        )
    )
    torch_batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    model = cnnlib_net(seed)
    reference = torch_lenet(model)
    loss_fn, optimizer = nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3)
    t_optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3)
    ours_next, theirs_next = itertools.cycle(batches), itertools.cycle(torch_batches)

    def ours():
        train_step(model, loss_fn, optimizer, *next(ours_next))

    def theirs():
        tx, ty = next(theirs_next)
        t_optimizer.zero_grad()
        torch.nn.functional.cross_entropy(reference(tx), ty).backward()
        t_optimizer.step()

    return ours, theirs


class HostProbe:
    """The same fixed work, timed once per round: how steady the machine is.

    ``memory``: copying an 8 MB array (beyond a core's L2 cache, so it goes through the
    shared cache or main memory, as cnnlib's column matrices do); ``compute``: a sine
    over 1,024 numbers in L1 cache.
    """

    def __init__(self):
        rng = np.random.default_rng(0)
        self.big = rng.random(2 * 2**20, dtype=np.float32)
        self.big_out = np.empty_like(self.big)
        self.small = rng.random(1024, dtype=np.float32)
        self.small_out = np.empty_like(self.small)
        self.memory, self.compute = [], []

    def measure(self) -> None:
        """Time both probes once more. Always by the wall clock, whatever ``--clock``
        says: the probes are too short for the CPU clock's resolution, and a host that
        takes the CPU away shows in wall time."""
        wall = time.perf_counter
        self.memory.append(median_time(self._copy, 15, warmup=1, clock=wall))
        self.compute.append(median_time(self._sine, 200, warmup=1, clock=wall))

    def _copy(self) -> None:
        np.copyto(self.big_out, self.big)

    def _sine(self) -> None:
        np.sin(self.small, out=self.small_out)

    def report(self) -> str:
        """One line: each probe's fastest and slowest round, and a warning when they
        differ by more than ``UNSTEADY`` times."""
        parts, unsteady = [], False
        for name, times, unit, scale in (
            ("8 MB copy", self.memory, "ms", 1e3),
            ("in-cache sine", self.compute, "us", 1e6),
        ):
            low, high = min(times), max(times)
            unsteady |= high > UNSTEADY * low
            span = f"{low * scale:.2f}-{high * scale:.2f} {unit}"
            parts.append(f"{name} {span} ({high / low:.1f}x)")
        verdict = (
            f"UNSTEADY (a round over {UNSTEADY}x the fastest): the ratios above "
            "are not this machine's; run again"
            if unsteady
            else "steady"
        )
        return (
            f"\nmachine steadiness over {len(self.memory)} rounds: "
            + ", ".join(parts)
            + f": {verdict}"
        )


PROBE: HostProbe | None = None  # set by main()


def side_by_side(functions: dict, rounds: int, repeats: int) -> dict:
    """Time ``functions`` (``{name: function}``, the last one torch) in turn, ``rounds``
    times. Returns ``{name: (median seconds, median ratio to torch)}`` over rounds."""
    times = {name: [] for name in functions}
    for _ in range(rounds):
        if PROBE is not None:
            PROBE.measure()
        for name, function in functions.items():
            times[name].append(median_time(function, repeats))
            time.sleep(PAUSE)
    reference = np.array(times[list(functions)[-1]])
    return {
        name: (float(np.median(t)), float(np.median(np.array(t) / reference)))
        for name, t in times.items()
    }


def training_epochs(library: str, lr: float, gamma: float, seed: int, data):
    """Train the net with ``library`` in the dtype of ``data``'s images (float32 or
    float64) one epoch per ``next()``: Adam(lr), the rate decaying by ``gamma`` per
    epoch.

    Yields ``(seconds, test accuracy)`` after each epoch; the seconds count training
    only, not evaluation.
    """
    (x, y), (x_test, y_test) = data
    model = cnnlib_net(seed).to(x.dtype)
    if library == "cnnlib":
        loss_fn, optimizer = (
            nn.CrossEntropyLoss(),
            optim.Adam(model.parameters(), lr=lr),
        )
    else:
        # torch's layers made in the dtype, so that the weights load unrounded
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.from_numpy(x[:0]).dtype)
        try:
            net = torch_lenet(model)
        finally:
            torch.set_default_dtype(previous)
        t_optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        t_x_test = torch.from_numpy(x_test)
    for epoch in itertools.count():
        start = time.perf_counter()
        for x_batch, y_batch in iterate_minibatches(
            x, y, 64, shuffle=True, seed=seed + epoch
        ):
            if library == "cnnlib":
                train_step(model, loss_fn, optimizer, x_batch, y_batch)
            else:
                t_optimizer.zero_grad()
                torch.nn.functional.cross_entropy(
                    net(torch.from_numpy(x_batch)), torch.from_numpy(y_batch)
                ).backward()
                t_optimizer.step()
        seconds = time.perf_counter() - start
        if library == "cnnlib":
            optimizer.lr = lr * gamma ** (epoch + 1)
            accuracy = evaluate(model, x_test, y_test).accuracy
        else:
            for group in t_optimizer.param_groups:
                group["lr"] = lr * gamma ** (epoch + 1)
            with torch.no_grad():
                accuracy = float((net(t_x_test).argmax(1).numpy() == y_test).mean())
        yield seconds, accuracy


def time_to_accuracy(
    target: float, max_epochs: int, lr: float, gamma: float, seed: int, data, dtype
) -> dict:
    """Train both libraries in ``dtype`` until each reaches ``target`` test accuracy,
    alternating epoch by epoch so that a slow spell of the machine falls on both rather
    than on whichever happened to be running.

    Returns ``{library: (training seconds until the target, epochs)}``; the seconds are
    ``inf`` if the target was not reached within ``max_epochs``.
    """
    # the images in the dtype once, for both libraries
    data = [(images.astype(dtype, copy=False), labels) for images, labels in data]
    # An epoch of two batches first, on a net thrown away, so that no timed epoch pays a
    # one-time cost: numba compiling cnnlib's kernels for this dtype (several seconds in
    # a fresh checkout), torch setting itself up.
    two_batches = [(images[:128], labels[:128]) for images, labels in data]
    for library in ("cnnlib", "torch"):
        next(training_epochs(library, lr, gamma, seed, two_batches))
    runs = {
        library: training_epochs(library, lr, gamma, seed, data)
        for library in ("cnnlib", "torch")
    }
    totals = dict.fromkeys(runs, 0.0)
    results = {}
    for epoch in range(1, max_epochs + 1):
        for library, run in runs.items():
            if library in results:
                continue
            seconds, accuracy = next(run)
            totals[library] += seconds
            print(
                f"    {library}: epoch {epoch}, test accuracy {accuracy:.4f}, "
                f"{totals[library]:.1f} s of training",
                flush=True,
            )
            if accuracy >= target:
                results[library] = (totals[library], epoch)
            time.sleep(PAUSE)
    for library in runs:
        results.setdefault(library, (float("inf"), max_epochs))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="alternating rounds per measurement (median reported)",
    )
    parser.add_argument(
        "--repeats", type=int, default=20, help="timed calls per round (median taken)"
    )
    parser.add_argument(
        "--train",
        action="store_true",
        help="also measure the wall time to 99.0 %% test accuracy",
    )
    parser.add_argument(
        "--train-dtype",
        choices=["float32", "float64"],
        default="float32",
        help="float64: --train in double precision, where the two libraries' "
        "curves agree epoch by epoch (default: float32)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for both libraries (default: their own choice); "
        "1 gives stable ratios on a machine shared with other jobs",
    )
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: time.process_time, which other "
        "jobs on a busy machine disturb far less than the wall clock "
        "(meaningful with --threads 1)",
    )
    parser.add_argument(
        "--malloc",
        choices=["keep", "default"],
        default="keep",
        help="keep: glibc keeps freed "
        "memory for reuse (no page faults on each call's fresh temporaries); "
        "default: glibc as it is",
    )
    parser.add_argument(
        "--memory",
        choices=["nchw", "channels-last"],
        default="nchw",
        help="memory layout of the "
        "convolutions' and the pooling's input and output gradient, the same for "
        "both libraries (default: nchw)",
    )
    parser.add_argument(
        "--numba",
        choices=["on", "off"],
        default="on",
        help="off: the tuned kernels run their NumPy code only, as where numba is "
        "not installed",
    )
    args = parser.parse_args()
    compiled.use_numba(args.numba == "on")
    allocator = "glibc default"
    if args.malloc == "keep":
        allocator = (
            "freed memory kept for reuse"
            if keep_freed_memory()
            else "allocator left as it is (no glibc mallopt)"
        )
    global CLOCK, PROBE
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    PROBE = HostProbe()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    init.manual_seed(args.seed)
    print(
        f"numpy {np.__version__} (OpenBLAS {openblas_core()} kernels), "
        f"torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {args.clock} clock, {allocator}"
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load}; {os.cpu_count()} CPUs")
    print(f"tuned kernels: {compiled_kernels()}")

    rng = np.random.default_rng(args.seed)
    memory = (
        "C-ordered NCHW"
        if args.memory == "nchw"
        else "channels-last (torch.channels_last)"
    )
    print(
        f"\nconv2d forward + backward (float32, {memory} arrays in, "
        "all three gradients out):"
    )
    conv_results = []
    for shape in CONV_SHAPES:
        tuned, torch_fn = conv_functions(shape, rng, args.memory)
        functions = {"tuned": tuned, "readable": readable(tuned), "torch": torch_fn}
        result = side_by_side(functions, args.rounds, args.repeats)
        conv_results.append(result)
        print(
            f"  x {shape[:4]} -> {shape[4]} channels, {shape[5]}x{shape[5]}: "
            + "  ".join(f"{name} {t * 1e3:6.2f} ms" for name, (t, _) in result.items())
        )

    data = load_mnist()
    (x_train, y_train), _ = data
    tuned, torch_fn = pool_functions(x_train[:64], args.seed, args.memory)
    functions = {"tuned": tuned, "readable": readable(tuned), "torch": torch_fn}
    pool = side_by_side(functions, args.rounds, args.repeats)
    print(
        f"\nmax_pool2d forward + backward ({memory}), {POOL_KERNEL}x{POOL_KERNEL}, "
        "on the net's first ReLU output for 64 digits: "
        + "  ".join(f"{name} {t * 1e3:.2f} ms" for name, (t, _) in pool.items())
    )
    tuned, torch_fn = step_functions(args.seed, x_train, y_train)
    readable_step, _ = step_functions(args.seed, x_train, y_train)
    functions = {"tuned": tuned, "readable": readable(readable_step), "torch": torch_fn}
    step = side_by_side(functions, args.rounds, args.repeats)
    print(
        "\ntraining step (batch 64, forward + backward + Adam): "
        + "  ".join(f"{name} {t * 1e3:.2f} ms" for name, (t, _) in step.items())
    )

    print(
        "\nRATIOS (cnnlib / torch, lower is better; medians over alternating rounds):"
    )
    print(f"  {'':33}  tuned  readable")
    for shape, target, result in zip(CONV_SHAPES, CONV_TARGETS, conv_results):
        name = f"conv2d fwd+bwd, {shape[1]:>2} -> {shape[4]:<2} channels"
        print(
            f"  {name:33}  {result['tuned'][1]:5.2f}  {result['readable'][1]:5.2f}"
            f"     (target for tuned <= {target:.1f})"
        )
    print(
        f"  {'max_pool2d fwd+bwd, 2x2':33}  {pool['tuned'][1]:5.2f}  "
        f"{pool['readable'][1]:5.2f}     (target for tuned <= 1.0)"
    )
    print(
        f"  {'training step':33}  {step['tuned'][1]:5.2f}  {step['readable'][1]:5.2f}"
        "     (target for tuned <= 1.5; aim for readable <= 4)"
    )
    print(PROBE.report())

    if args.train:
        print(
            f"\ntime to 99.0 % test accuracy (Adam lr {args.lr}, "
            f"x{args.gamma} per epoch, batch 64, seed {args.seed}, {args.train_dtype}):"
        )
        results = time_to_accuracy(
            0.99,
            args.max_epochs,
            args.lr,
            args.gamma,
            args.seed,
            data,
            np.dtype(args.train_dtype),
        )
        (ours, ours_epochs), (theirs, theirs_epochs) = (
            results["cnnlib"],
            results["torch"],
        )
        print(
            f"  cnnlib {ours:.1f} s ({ours_epochs} epochs), "
            f"torch {theirs:.1f} s ({theirs_epochs} epochs)"
        )
        print(f"  time-to-99.0% ratio            : {ours / theirs:5.2f}")
        # The epoch count is a threshold effect (float rounding can move 99.0 % by an
        # epoch); time per epoch is not.
        print(
            "  time-per-epoch ratio           : "
            f"{(ours / ours_epochs) / (theirs / theirs_epochs):5.2f}"
        )


if __name__ == "__main__":
    main()
