"""Hostile or careless input to the CLI (issue #14 part 2): each case exits with a one-line message and no
traceback, writes nothing outside its output path, and leaves inputs and previous outputs as they were.

Cases that could hang (a FIFO, /dev/zero) run in a subprocess with a timeout; the rest call ``app.cli.main``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import resource
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image
from scenes import make_scene
from test_cli_reconstruct import gt_network, room  # noqa: F401  (fixtures)
from test_export_fixtures import make_export_scene

from app.cli import main
from app.scene import Instance
from app.scene_io import load_scene, save_scene

NONUTF8 = os.fsdecode(b"caf\xe9")  # a Latin-1 file name, as copied from an old system


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder``: kind, content (files), link target (links)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            out[str(p.relative_to(folder))] = ("link", os.readlink(p))
        elif stat.S_ISREG(st.st_mode):
            out[str(p.relative_to(folder))] = ("file", p.read_bytes())
        else:
            out[str(p.relative_to(folder))] = (stat.S_IFMT(st.st_mode), st.st_ino)
    return out


def one_error_line(err: str, fragment: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and "Logging error" not in err, err
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], err


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout, errors="surrogateescape",
    )  # fmt: skip


@pytest.fixture
def scene_file(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    return save_scene(make_export_scene(tmp_path / "photos"), tmp_path / "in" / "room.iggt")


# ------------------------------------------------------------------------------ writing over odd things
def _odd_target(kind: str, folder: Path, name: str = "target") -> Path:
    target = folder / name
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "link_to_dev_null":
        target.symlink_to("/dev/null")
    elif kind == "char_device":  # a copy of /dev/full's node (root only)
        os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    return target


ODD_KINDS = ["fifo", "link_to_dev_null"] + (["char_device"] if os.geteuid() == 0 else [])


@pytest.mark.parametrize("kind", ODD_KINDS)
@pytest.mark.parametrize("fmt", ["ply", "coco", "table", "glb"])
def test_export_with_force_refuses_devices_fifos_and_links_to_them(
    scene_file: Path, tmp_path: Path, kind: str, fmt: str, capsys
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = _odd_target(kind, out, {"ply": "c.ply", "coco": "c.json", "table": "t.csv", "glb": "s.glb"}[fmt])
    before = snapshot(tmp_path)
    assert main(["export", str(scene_file), "-f", fmt, "-o", str(target), "--force"]) == 1
    one_error_line(capsys.readouterr().err, "not a regular file")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ODD_KINDS)
def test_reconstruct_never_moves_a_device_or_fifo_to_bak(
    kind: str, tmp_path: Path, room, gt_network, capsys  # noqa: F811
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = _odd_target(kind, out)
    before = snapshot(tmp_path)
    assert main(["reconstruct", str(room[1]), "-o", str(target)]) == 1
    one_error_line(capsys.readouterr().err, "not a regular file")
    assert snapshot(tmp_path) == before


def test_reconstruct_refuses_to_replace_its_input_photo(tmp_path: Path, room, gt_network, capsys) -> None:  # noqa: F811
    photo = sorted(room[1].iterdir())[0]
    before = snapshot(room[1])
    assert main(["reconstruct", str(room[1]), "-o", str(photo)]) == 1
    one_error_line(capsys.readouterr().err, "is not an IGGT scene file; refusing to replace it")
    assert snapshot(room[1]) == before  # the photo is intact and no .bak appeared


def test_a_backup_that_is_not_a_scene_is_never_replaced(tmp_path: Path, room, gt_network, capsys) -> None:  # noqa: F811
    out = tmp_path / "out"
    out.mkdir()
    scene = save_scene(make_scene(), out / "room.iggt")
    Image.new("RGB", (8, 8), "red").save(out / "room.iggt.bak", format="PNG")  # the only copy of a photo
    before = snapshot(tmp_path)
    assert main(["reconstruct", str(room[1]), "-o", str(scene), "--width", "168"]) == 1
    one_error_line(capsys.readouterr().err, "room.iggt.bak exists and is not a scene backup")
    assert snapshot(tmp_path) == before


def test_reconstruct_with_odd_names_quiet_reports_each_skipped_file_once(
    tmp_path: Path, room, gt_network, capsys  # noqa: F811
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in sorted(room[1].iterdir()):
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / f"{NONUTF8}.jpg").write_bytes(b"")  # a bad image with a non-UTF-8 name
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    out.mkdir()
    target = out / f"{NONUTF8}.iggt"
    assert main(["reconstruct", str(folder), "-o", str(target), "--width", "168", "-q"]) == 0
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err and "Logging error" not in err, err
    lines = err.splitlines()
    assert lines == ["skipped caf\\xe9.jpg: empty file (0 bytes)"], err  # once; no saving/note lines
    assert "caf\\xe9.iggt" in captured.out
    assert load_scene(target).n_views == len(list(room[1].iterdir()))
    assert sorted(os.listdir(out)) == [f"{NONUTF8}.iggt"]


def test_non_utf8_output_name_prints_without_traceback(scene_file: Path, tmp_path: Path) -> None:
    target = tmp_path / f"{NONUTF8}.ply"
    proc = run_cli("export", str(scene_file), "-f", "ply", "-o", str(target), "-q")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Logging error" not in proc.stderr
    assert proc.stdout.strip().endswith("caf\\xe9.ply") and target.is_file()


# ------------------------------------------------------------------------------ disk full
LIMIT = 8 << 10  # the exports of the test scene are 15-30 kB


def _limit_file_size() -> None:
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _mount_small_tmpfs(folder: Path) -> bool:
    """A real full disk (ENOSPC): a 1 MB tmpfs, filled up to the last ``LIMIT`` bytes. Needs root."""
    if os.geteuid() != 0:
        return False
    argv = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)]
    return subprocess.run(argv, capture_output=True).returncode == 0


def _can_mount_tmpfs() -> bool:
    return os.geteuid() == 0 and sys.platform == "linux"


# RLIMIT_FSIZE (EFBIG) works for anyone; a tmpfs (ENOSPC) where this user may mount one
FULL_KINDS = ["rlimit_fsize"] + (["tmpfs"] if _can_mount_tmpfs() else [])


@pytest.mark.parametrize("kind", FULL_KINDS)
@pytest.mark.parametrize("fmt", ["ply", "colmap"])
def test_disk_full_export_is_one_line_and_keeps_the_previous_output(
    scene_file: Path, tmp_path: Path, kind: str, fmt: str
) -> None:
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = kind == "tmpfs" and _mount_small_tmpfs(folder)
    assert mounted or kind != "tmpfs", "cannot mount a tmpfs as root"
    try:
        target = folder / ("c.ply" if fmt == "ply" else "colmap")
        if fmt == "ply":
            target.write_bytes(b"previous export")
        else:
            target.mkdir()
            (target / "cameras.txt").write_text("previous export")
        if mounted:
            st = os.statvfs(folder)
            (folder / "filler").write_bytes(bytes(st.f_bavail * st.f_frsize - LIMIT))
        before = snapshot(folder)
        env = dict(os.environ, LANG="C.UTF-8", XDG_STATE_HOME=str(tmp_path / "state"))
        extra = {} if mounted else {"preexec_fn": _limit_file_size}
        argv = ["export", str(scene_file), "-f", fmt, "-o", str(target), "--force", "-q"]
        argv = [sys.executable, "-m", "app.cli", *argv]
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, **extra)
        assert proc.returncode == 1, proc.stderr
        one_error_line(proc.stderr, "No space left on device" if kind == "tmpfs" else "File too large")
        assert snapshot(folder) == before  # previous output intact, no .part left
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="mounting a tmpfs needs root on Linux")
def test_disk_full_reconstruct_is_one_line_and_keeps_the_previous_scene(
    tmp_path: Path, room, gt_network, capsys  # noqa: F811
) -> None:
    folder = tmp_path / "small"
    folder.mkdir()
    assert _mount_small_tmpfs(folder)
    try:
        previous = save_scene(make_scene(), folder / "room.iggt", keep_backup=False)
        st = os.statvfs(folder)
        (folder / "filler").write_bytes(bytes(st.f_bavail * st.f_frsize - LIMIT))
        before = snapshot(folder)
        assert main(["reconstruct", str(room[1]), "-o", str(previous), "--width", "168", "-q"]) == 1
        one_error_line(capsys.readouterr().err, "No space left on device")
        assert snapshot(folder) == before  # the previous scene intact, no .bak or .part left
    finally:
        subprocess.run(["umount", str(folder)], check=False)


# ------------------------------------------------------------------------------ reading what it is told
def test_scene_that_is_a_fifo_or_dev_zero_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.iggt"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.iggt"
    zero.symlink_to("/dev/zero")
    for path in (fifo, zero):
        proc = run_cli("info", str(path), timeout=60)
        assert proc.returncode == 1, proc.stderr
        one_error_line(proc.stderr, "not a regular file")


def test_image_paths_pointing_at_dev_zero_or_a_fifo_do_not_hang(tmp_path: Path) -> None:
    scene = make_export_scene(tmp_path / "photos")
    os.mkfifo(tmp_path / "fifo.png")
    targets = ["/dev/zero", str(tmp_path / "fifo.png"), "/dev/zero"]
    scene.views = [dataclasses.replace(v, path=t) for v, t in zip(scene.views, targets, strict=True)]
    scene.image_storage = "paths"
    path = save_scene(scene, tmp_path / "paths.iggt")
    proc = run_cli("info", str(path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("cannot be read (not a regular file") == 3, proc.stdout
    proc = run_cli("export", str(path), "-f", "masks", "-o", str(tmp_path / "masks"), "-q", timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == len(set(lines)) == 6, proc.stderr  # each problem once: 3 on loading, 3 in the export
    assert all("not a regular file" in line for line in lines) and (tmp_path / "masks" / "ids").is_dir()


def _rewrite(src: Path, dst: Path, member: str, data: bytes | None = None, manifest=None) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename == "scene.json" and manifest is not None:
                zout.writestr(info.filename, manifest(json.loads(zin.read(info.filename))))
            elif info.filename == member and data is not None:
                zout.writestr(info.filename, data)
            else:
                zout.writestr(info, zin.read(info.filename))


def test_npy_header_with_an_absurd_shape_is_refused_before_allocating(tmp_path: Path) -> None:
    good = save_scene(make_scene(), tmp_path / "good.iggt")
    header = b"{'descr': '<i4', 'fortran_order': False, 'shape': (1000000, 1000000, 1000), }"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64
    bad = tmp_path / "bad.iggt"
    _rewrite(good, bad, "arrays/labels.npy", npy)
    before = snapshot(tmp_path)
    proc = run_cli("info", str(bad))
    assert proc.returncode == 1, proc.stderr
    one_error_line(proc.stderr, "index says")
    assert snapshot(tmp_path) == before


def test_a_small_file_inflating_to_gigabytes_is_refused_before_decompressing(tmp_path: Path) -> None:
    """labels.npy deflates 600 MB of zeros into well under 1 MB; the header's shape is refused first."""
    good = save_scene(make_scene(), tmp_path / "good.iggt")
    bomb = tmp_path / "bomb.iggt"
    n = 150_000_000  # int32 -> 600 MB
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.int32)) | {"shape": (n,)}
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != "arrays/labels.npy":
                zout.writestr(info, zin.read(info.filename))
                continue
            with zout.open("arrays/labels.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array_header_1_0(fh, header)
                block = bytes(16 << 20)
                for _ in range(4 * n // len(block)):
                    fh.write(block)
                fh.write(bytes(4 * n % len(block)))
    assert bomb.stat().st_size < 2 << 20
    code = (
        "import resource, sys\nfrom app.cli import main\ncode = main(['info', sys.argv[1]])\n"
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(code)\n"
    )
    peaks = {}
    for path in (good, bomb):
        argv = [sys.executable, "-c", code, str(path)]
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
        peaks[path.name] = int(proc.stderr.split("PEAK")[1]) / 1024
    assert proc.returncode == 1
    one_error_line(proc.stderr.split("PEAK")[0], "index says int32[2, 28, 42]")
    assert peaks["bomb.iggt"] < peaks["good.iggt"] + 100, f"peak MB {peaks}: the bomb was inflated"


def test_oversized_or_deeply_nested_manifest_is_one_line(tmp_path: Path) -> None:
    good = save_scene(make_scene(), tmp_path / "good.iggt")
    huge, deep = tmp_path / "huge.iggt", tmp_path / "deep.iggt"
    _rewrite(good, huge, "", manifest=lambda m: json.dumps(m) + " " * (65 << 20))
    _rewrite(good, deep, "", manifest=lambda m: "[" * 100_001 + "]" * 100_001)
    for path, fragment in ((huge, "the manifest declares"), (deep, "nested too deeply")):
        proc = run_cli("info", str(path))
        assert proc.returncode == 1, proc.stderr
        one_error_line(proc.stderr, fragment)


def test_safetensors_header_nested_100001_deep_is_one_line(tmp_path: Path) -> None:
    body = b"[" * 100_001
    path = tmp_path / "w.safetensors"
    path.write_bytes(len(body).to_bytes(8, "little") + body)
    proc = run_cli("info", str(path))
    assert proc.returncode == 1, proc.stderr
    one_error_line(proc.stderr, "w.safetensors")


# ------------------------------------------------------------------------------ terminals and spreadsheets
EVIL = "\x1b]0;pwned\x07\x1b[2J" + "chair\nfake row"


def test_instance_names_cannot_drive_the_terminal(tmp_path: Path) -> None:
    scene = make_scene()
    scene.instances[2] = Instance.new(2, name=EVIL)
    path = save_scene(scene, tmp_path / "s.iggt")
    proc = run_cli("info", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if "pwned" in line)
    assert row.split()[1].startswith("\\x1b]0;pwned\\x07")  # one row, escaped; no newline inside it


def test_csv_cells_that_spreadsheets_would_run_are_escaped(tmp_path: Path) -> None:
    scene = make_export_scene(tmp_path / "photos")
    names = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "plain"]
    ids = list(scene.instances)
    for iid, name in zip(ids, names, strict=False):
        scene.update_instance(iid, name=name)
    scene.update_instance(ids[0], category="=cmd|' /C calc'!A0")
    path = save_scene(scene, tmp_path / "s.iggt")
    assert main(["export", str(path), "-f", "table", "-o", str(tmp_path / "t.csv"), "-q"]) == 0
    rows = list(csv.DictReader((tmp_path / "t.csv").open(encoding="utf-8")))
    used = [r["name"] for r in rows]
    assert used == ["'" + n if n[0] in "=+-@" else n for n in names[: len(used)]]
    assert rows[0]["category"].startswith("'=")
    assert all(not r[k].startswith("'") for r in rows for k in ("centroid_x", "bbox_min_x"))  # numbers stay


# ------------------------------------------------------------------------------ modes and leftovers
def test_exports_follow_the_umask_like_scenes(scene_file: Path, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        for fmt, name in (("ply", "c.ply"), ("masks", "masks"), ("colmap", "colmap"), ("coco", "c.json")):
            assert main(["export", str(scene_file), "-f", fmt, "-o", str(tmp_path / name), "-q"]) == 0
            mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
            assert mode == (0o755 if (tmp_path / name).is_dir() else 0o644), (fmt, oct(mode))
    finally:
        os.umask(old)
