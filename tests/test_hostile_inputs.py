"""Hostile inputs, second round (issue 25): output targets that are not files, forged
checkpoints (zip64 directories, encrypted or LZMA members, overflowing weights, huge
families), stray image formats, dot failing, and the misleading messages.

Every refusal is one line naming the file or value, in bounded time and memory
(``peak_mb``: ``tracemalloc`` peaks, which numpy reports its buffers to), writes nothing
and leaves nothing behind. Hostile files are crafted by hand, a few KB each. Output
targets are FIFOs, folders and symlinks inside ``tmp_path``; the real ``/dev/null`` is
never touched.
"""

from __future__ import annotations

import io
import json
import os
import resource
import stat
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradnn import checkpoint
from microgradnn.checkpoint import CheckpointError
from microgradnn.cli import main
from microgradnn.fileio import atomic_path, check_output_target, write_atomic
from microgradnn.models import (MAX_ACTIVATIONS, MAX_MULTIPLY_ADDS, MAX_PARAMETERS, build_model,
                                evaluation_cost, normalize_spec, parameter_shapes)

ROOT = Path(__file__).resolve().parent.parent
MLP = {"model": "mlp", "hidden": [8], "activation": "sigmoid", "seed": 0}
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}


def one_line(text: str) -> str:
    text = text.strip()
    assert len(text.splitlines()) == 1, text
    assert "Traceback" not in text
    return text


def cli_refusal(argv, capsys, seconds: float = 2.0, megabytes: float = 300.0) -> str:
    """Run the CLI in this process: exit status 2, one line on stderr, within bounds."""
    capsys.readouterr()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        try:
            status = main([str(a) for a in argv])
        except SystemExit as exit:  # argparse's usage errors
            status = exit.code
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert status == 2, err
    assert elapsed < seconds and peak < megabytes, (elapsed, peak)
    return one_line(err)


def refusal(action, expected, megabytes: float = 300.0):
    """``action()`` raises ``expected`` in one line, within 2 s and ``megabytes``."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(expected) as info:
            action()
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert elapsed < 2 and peak < megabytes, (elapsed, peak)
    return one_line(str(info.value))


def listing(folder: Path):
    return sorted((p.name, stat.S_IFMT(os.lstat(p).st_mode)) for p in folder.iterdir())


@pytest.fixture
def saved(tmp_path):
    model = build_model(MLP)
    return checkpoint.save(model, tmp_path / "m.npz", model.spec)


@pytest.fixture
def digit_png(tmp_path):
    from PIL import Image

    pixels = np.zeros((28, 28), np.uint8)
    pixels[6:22, 12:16] = 255
    path = tmp_path / "digit.png"
    Image.fromarray(pixels).save(path)
    return path


# ------------------------------------------------------------------ outputs that are not files

def make_target(tmp_path: Path, kind: str, name: str) -> Path:
    target = tmp_path / name
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    else:  # a symlink to a character device: replacing it would replace the link, never
        target.symlink_to("/dev/null")  # the device, and nothing here ever opens it
    return target


OUTPUTS = [  # (argv with {t} the target and {c}/{i} a checkpoint/image, target suffix)
    (["graph", "x*y", "--set", "x=1", "y=2", "-o", "{t}"], ".svg"),
    (["graph", "x*y", "--set", "x=1", "y=2", "-o", "{t}"], ".dot"),
    (["architecture", "lenet5", "-o", "{t}"], ".svg"),
    (["backprop", "x*y", "--set", "x=1", "y=2", "--quiet", "--html", "{t}"], ".html"),
    (["backprop", "x*y", "--set", "x=1", "y=2", "--quiet", "--gif", "{t}"], ".gif"),
    (["explain", "{c}", "--image", "{i}", "-o", "{t}"], ".html"),
    (["export", "{c}", "--torch", "{t}"], ".pt"),
    (["descent", "-o", "{t}"], ".png"),
    (["landscape", "{c}", "-o", "{t}"], ".png"),
    (["train", "mnist", "--limit", "10", "--save", "{t}"], ".npz"),
    (["train", "mnist", "--limit", "10", "--history", "{t}"], ".json"),
]


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
@pytest.mark.parametrize("argv, suffix", OUTPUTS,
                         ids=[f"{a[0]}{s}" for a, s in OUTPUTS])
def test_every_command_refuses_an_output_that_is_not_a_regular_file(
        tmp_path, saved, digit_png, capsys, monkeypatch, argv, suffix, kind):
    from microgradnn.datasets import mnist

    monkeypatch.setattr(mnist, "load_mnist", lambda *a, **k: pytest.fail("MNIST was read"))
    target = make_target(tmp_path, kind, "out" + suffix)
    before = listing(tmp_path)
    err = cli_refusal([a.format(t=target, c=saved, i=digit_png) for a in argv], capsys)
    assert str(target) in err and ".tmp" not in err
    assert {"fifo": "FIFO", "folder": "folder", "device": "device"}[kind] in err
    assert listing(tmp_path) == before  # the target unchanged, nothing written beside it


def test_train_checks_the_snapshots_target_before_training(tmp_path, capsys, monkeypatch):
    from microgradnn.datasets import mnist

    monkeypatch.setattr(mnist, "load_mnist", lambda *a, **k: pytest.fail("MNIST was read"))
    os.mkfifo(tmp_path / "m.snapshots.npz")
    err = cli_refusal(["train", "mnist", "--limit", "10", "--save", tmp_path / "m.npz",
                       "--snapshots", "3"], capsys)
    assert "--snapshots" in err and "m.snapshots.npz is a FIFO" in err
    assert [p.name for p in tmp_path.iterdir()] == ["m.snapshots.npz"]


def test_demo_refuses_an_out_that_is_not_a_folder_and_never_replaces_a_fifo_in_it(
        tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe")
    err = cli_refusal(["demo", "--out", tmp_path / "pipe", "--steps", "1", "--no-mnist"], capsys)
    assert "is not a folder" in err
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "moons_sample_graph.svg")  # the first file the demo writes
    assert main(["demo", "--out", str(out), "--steps", "1", "--no-mnist", "--quiet"]) == 2
    err = one_line(capsys.readouterr().err)
    assert "moons_sample_graph.svg" in err and "FIFO" in err
    assert stat.S_ISFIFO(os.lstat(out / "moons_sample_graph.svg").st_mode)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_atomic_writes_refuse_before_writing_and_again_before_replacing(tmp_path, kind):
    target = make_target(tmp_path, kind, "out.json")
    before = listing(tmp_path)
    message = refusal(lambda: write_atomic(target, "[]"), (ValueError, OSError))
    assert str(target) in message and ".tmp" not in message
    assert listing(tmp_path) == before
    # The target appears while the file is written: still refused, nothing replaced.
    late = tmp_path / "late.json"
    with pytest.raises((ValueError, OSError), match="late.json"):
        with atomic_path(late) as tmp:
            tmp.write_text("[]")
            late.unlink(missing_ok=True) if kind == "device" else None
            make_target(tmp_path, kind, "late.json")
    assert listing(tmp_path) == sorted(before + [("late.json", stat.S_IFMT(os.lstat(late).st_mode))])
    assert check_output_target(tmp_path / "new.json") == tmp_path / "new.json"


def test_a_full_disk_names_the_file_not_an_errno(tmp_path):
    """A file size limit (EFBIG, as a full disk's ENOSPC) met while writing."""
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
        "from microgradnn.fileio import write_atomic\n"
        "try:\n"
        "    write_atomic(sys.argv[1], b'x' * 100000)\n"
        "except OSError as error:\n"
        "    print(error.errno, error)\n")
    target = tmp_path / "history.json"
    result = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True,
                            text=True, timeout=60, env=ENV)
    out = one_line(result.stdout)
    assert out.startswith("27 ") and f"cannot write '{target}'" in out and "Errno" not in out
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ zip archives

def checkpoint_bytes(tmp_path) -> bytes:
    model = build_model(MLP)
    path = checkpoint.save(model, tmp_path / "source.npz", model.spec)
    data = path.read_bytes()
    path.unlink()
    return data


def with_zip64_claim(data: bytes, entries: int, directory: int) -> bytes:
    """``data`` (a zip) with a zip64 end record and locator claiming ``entries`` entries
    in ``directory`` bytes. The classic end record keeps its modest figures: ``zipfile``
    believes the zip64 record whenever a locator is there."""
    end = data.rindex(b"PK\x05\x06")
    classic = data[end:end + 22]
    offset = struct.unpack("<I", data[end + 16:end + 20])[0]
    record = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries,
                         directory, offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, end, 1)
    return data[:end] + record + locator + classic


def test_a_zip64_directory_claim_is_refused_before_zipfile_reads_it(tmp_path):
    path = tmp_path / "zip64.npz"
    path.write_bytes(with_zip64_claim(checkpoint_bytes(tmp_path), 1_600_000, 100 << 20))
    assert path.stat().st_size < 64_000
    message = refusal(lambda: checkpoint.load(path), CheckpointError, megabytes=5)
    assert str(path) in message and "claims 1600000 entries" in message


def test_the_snapshots_loader_checks_the_zip64_directory_too(tmp_path):
    from microgradnn.snapshots import WeightSnapshots, load_snapshots

    recorder = WeightSnapshots(build_model(MLP), 2, 1)
    recorder(1)
    good = recorder.save(tmp_path / "good.snapshots.npz")
    assert len(load_snapshots(good)) == 2
    path = tmp_path / "zip64.snapshots.npz"
    path.write_bytes(with_zip64_claim(good.read_bytes(), 1_600_000, 100 << 20))
    message = refusal(lambda: load_snapshots(path), ValueError, megabytes=5)
    assert str(path) in message and "claims 1600000 entries" in message


def rewritten(tmp_path, name: str, compression=zipfile.ZIP_STORED, patch=None) -> Path:
    """A good checkpoint rewritten with another compression, then byte-patched."""
    source = zipfile.ZipFile(io.BytesIO(checkpoint_bytes(tmp_path)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info))
    data = bytearray(buffer.getvalue())
    if patch is not None:
        patch(data)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def set_in_every_header(data: bytearray, field: int, value: int) -> None:
    """Overwrite a 2-byte field (local header offset ``field``) in every local and central
    header: flags at 6 (central 8), method at 8 (central 10)."""
    for signature, shift in ((b"PK\x03\x04", 0), (b"PK\x01\x02", 2)):
        at = data.find(signature)
        while at >= 0:
            struct.pack_into("<H", data, at + field + shift, value)
            at = data.find(signature, at + 4)


def corrupt_lzma(data: bytearray) -> None:
    at = data.find(b"PK\x03\x04")
    name_length, extra_length = struct.unpack("<HH", data[at + 26:at + 30])
    start = at + 30 + name_length + extra_length
    data[start + 9:start + 40] = bytes(31)  # inside the LZMA stream of the first member


DAMAGED = {
    "encrypted": ("encrypted.npz", zipfile.ZIP_STORED, lambda d: set_in_every_header(d, 6, 1),
                  "is encrypted"),
    "method99": ("method99.npz", zipfile.ZIP_STORED, lambda d: set_in_every_header(d, 8, 99),
                 "compression method 99"),
    "lzma": ("lzma.npz", zipfile.ZIP_LZMA, corrupt_lzma, "compression method 14"),
    "bzip2": ("bzip2.npz", zipfile.ZIP_BZIP2, None, "compression method 12"),
}
LOADERS = [["eval", "{c}"], ["predict", "{c}", "--noise"], ["explain", "{c}", "--image", "{i}",
           "-o", "{o}"], ["architecture", "{c}"], ["export", "{c}", "--torch", "{o}"],
           ["landscape", "{c}", "-o", "{o}"]]


@pytest.mark.parametrize("defect", sorted(DAMAGED))
@pytest.mark.parametrize("argv", LOADERS, ids=[a[0] for a in LOADERS])
def test_zip_level_defects_are_one_line_in_every_command(tmp_path, digit_png, capsys, defect,
                                                         argv):
    name, compression, patch, message = DAMAGED[defect]
    path = rewritten(tmp_path, name, compression, patch)
    output = tmp_path / ("out.html" if argv[0] == "explain" else
                         "out.pt" if argv[0] == "export" else "out.png")
    err = cli_refusal([a.format(c=path, i=digit_png, o=output) for a in argv], capsys)
    assert str(path) in err and message in err
    assert not output.exists()


def test_the_snapshots_loader_refuses_zip_level_defects_in_one_line(tmp_path):
    from microgradnn.snapshots import load_snapshots

    for name, compression, patch, message in DAMAGED.values():
        path = rewritten(tmp_path, name, compression, patch)
        assert message in refusal(lambda: load_snapshots(path), ValueError)


# ------------------------------------------------------------------ checkpoint members

def forged(tmp_path, name, arrays, compression=zipfile.ZIP_DEFLATED, digest=True) -> Path:
    """A checkpoint from ``arrays`` (name -> array, or raw .npy bytes), its digest
    recomputed so only the forged part can be refused."""
    if digest:
        plain = {k: v for k, v in arrays.items() if isinstance(v, np.ndarray)}
        arrays = {**arrays, "sha256": np.frombuffer(checkpoint._digest(plain).encode(),
                                                    dtype=np.uint8)}
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for key, value in arrays.items():
            if isinstance(value, np.ndarray):
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, value, allow_pickle=False)
                value = buffer.getvalue()
            archive.writestr(key + ".npy", value)
    return path


def arrays_of(tmp_path, spec=MLP):
    model = build_model(spec)
    path = checkpoint.save(model, tmp_path / "good.npz", model.spec)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    path.unlink()
    return arrays


def npy_claiming(shape, fortran: bool, descr: str = "|u1", zeros: int = 0) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": fortran,
                                                  "shape": shape})
    return header.getvalue() + bytes(zeros)


@pytest.mark.parametrize("shape, fortran", [((8192, 8192), True), ((17 << 20,), False)])
def test_the_extra_member_is_checked_before_it_is_inflated_or_hashed(tmp_path, shape, fortran):
    """The issue's file: 26.6 KB, a Fortran-ordered 2-D extra; 4.28 GB and 30 s before."""
    arrays = arrays_of(tmp_path)
    arrays["extra"] = npy_claiming(shape, fortran, zeros=int(np.prod(shape)))
    path = forged(tmp_path, "extra.npz", arrays)
    assert path.stat().st_size < 200_000
    message = refusal(lambda: checkpoint.load(path), CheckpointError, megabytes=5)
    assert "entry 'extra' should be uint8 JSON bytes" in message and str(shape) in message


def test_a_fortran_ordered_weight_loads_and_is_hashed_without_a_whole_copy(tmp_path):
    spec = {"model": "mlp", "hidden": [4000], "seed": 0}
    model = build_model(spec)
    state = model.state_dict()
    arrays = {"format": np.array([1]), "spec": np.frombuffer(json.dumps(spec).encode(), np.uint8),
              "extra": np.frombuffer(b"{}", np.uint8)}
    for name, value in state.items():
        arrays["param/" + name] = np.asfortranarray(value)
    path = forged(tmp_path, "fortran.npz", arrays, compression=zipfile.ZIP_STORED)
    loaded = checkpoint.load(path)  # the digest (over C order) holds
    for name, value in state.items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value)
    with zipfile.ZipFile(path) as archive:
        entries = checkpoint._list_entries(archive, path)
        assert entries["param/0.weight"].fortran
        tracemalloc.start()
        try:
            checkpoint._streamed_digest(archive, entries)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    # the array read once, hashed a slab of rows at a time (a whole C copy and its bytes
    # made it 3 times the array)
    assert peak < 1.5 * state["0.weight"].nbytes, (peak, state["0.weight"].nbytes)


def test_weights_that_overflow_the_models_precision_are_refused(tmp_path, capsys):
    """float64 1e300 is finite, and inf in float32: predict printed "probability nan"."""
    arrays = arrays_of(tmp_path)
    arrays["param/0.weight"] = arrays["param/0.weight"].astype(np.float64)
    arrays["param/0.weight"][0, 0] = 1e300
    path = forged(tmp_path, "huge.npz", arrays)
    message = refusal(lambda: checkpoint.load(path), CheckpointError)
    assert "'0.weight' holds 1e+300, which is inf as float32" in message
    out = tmp_path / "out.pt"
    for argv in (["predict", path, "--noise"], ["eval", path], ["export", path, "--torch", out]):
        assert "'0.weight' holds 1e+300" in cli_refusal(argv, capsys)
    assert not out.exists()


RESNET = {"model": "resnet", "channels": [2, 3], "blocks": 1, "seed": 0}


@pytest.mark.parametrize("key, value, message", [
    ("param/1.running_var", -1.0, "'1.running_var' holds -1; it must be >= 0"),
    ("param/1.num_batches_tracked", -5, "'1.num_batches_tracked' holds -5; it must be >= 0"),
    ("param/1.num_batches_tracked", 2**70, "must hold whole numbers that fit int64"),
])
def test_buffers_are_checked_in_their_own_domains(tmp_path, capsys, key, value, message):
    """A running variance of -1 made every output NaN, and eval reported every image as 0."""
    arrays = arrays_of(tmp_path, RESNET)
    if key.endswith("num_batches_tracked") and value > 2**63:
        arrays[key] = np.array(float(value))
    else:
        arrays[key] = np.full_like(arrays[key], value)
    path = forged(tmp_path, "buffer.npz", arrays)
    assert message in refusal(lambda: checkpoint.load(path), CheckpointError)
    for argv in (["predict", path, "--noise"], ["eval", path]):
        assert message in cli_refusal(argv, capsys)
