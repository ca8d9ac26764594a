"""``hotline stt models | fetch-model NAME | transcribe FILE... | evaluate DIR``: the speech
models, and trying or measuring them on files, with the same decoder the controller uses."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hotline.cli.main import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stt", help="speech-to-text models: list, fetch, try, evaluate")
    ssub = p.add_subparsers(dest="stt_command", metavar="ACTION")
    ssub.required = True
    models = ssub.add_parser("models", help="list the configured models and whether each is "
                                            "installed here")
    models.set_defaults(func=_models)
    fetch = ssub.add_parser("fetch-model", help="download a model, check it, install it under "
                                                "stt.model_dir (needs internet)")
    fetch.add_argument("name", help="a model name from [stt.models.*]")
    fetch.add_argument("--url", help="download from here instead of the configured url")
    fetch.add_argument("--sha256", help="expected SHA-256 of the download")
    fetch.set_defaults(func=_fetch)
    tr = ssub.add_parser("transcribe", help="decode recordings (16-bit mono WAV) and print "
                                            "what was said, with times")
    tr.add_argument("files", nargs="+", metavar="FILE")
    tr.add_argument("--model", help="model name (default: stt.model)")
    tr.set_defaults(func=_transcribe)
    ev = ssub.add_parser("evaluate", help="character error rate of the model on NAME.wav files "
                                          "with NAME.txt reference texts")
    ev.add_argument("directory", metavar="DIR")
    ev.add_argument("--model", help="model name (default: stt.model)")
    ev.set_defaults(func=_evaluate)


def _registry(cfg: Any):
    from hotline.stt.models import ModelRegistry

    return ModelRegistry(cfg)


def _models(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.stt.models import ModelError, resolve_path

    registry = _registry(cfg)
    current = cfg["stt"]["model"]
    print(f"{'':2}{'NAME':<12}{'LANGUAGE':<10}STATUS")
    for name, spec in sorted(registry.specs.items()):
        try:
            status = f"installed: {resolve_path(spec, registry.base_dir)}"
        except ModelError as e:
            status = f"not usable: {e}"
        print(f"{'*' if name == current else ' ':2}{name:<12}{spec.language:<10}{status}")
    print(f"(* = stt.model; calls are in '{cfg['stt']['call_language']}')")
    return 0


def _fetch(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.stt.models import ModelError, fetch

    registry = _registry(cfg)
    try:
        spec = registry.spec(args.name)
        folder, digest = fetch(spec, registry.base_dir / "models", url=args.url,
                               sha256=args.sha256)
    except ModelError as e:
        raise CommandError(str(e)) from None
    print(f"installed model {spec.name} in {folder}")
    print(f"sha256 of the download: {digest}")
    print(f"use it: set stt.models.{spec.name}.path = \"{folder}\" (and sha256 to pin it)")
    return 0


def _model(cfg: Any, name: str | None):
    from hotline.stt.models import ModelError

    registry = _registry(cfg)
    try:
        spec = registry.current if name is None else registry.spec(name)
        return spec, registry.get(spec.name)
    except ModelError as e:
        raise CommandError(str(e)) from None


def _transcribe(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.stt.decoder import AudioError, decode_file
    from hotline.stt.jobs import clock_text as _clock

    spec, model = _model(cfg, args.model)
    chunk = cfg["stt"]["chunk_frames"]
    failed = 0
    for name in args.files:
        try:
            result = decode_file(model, Path(name), chunk_frames=chunk)
        except AudioError as e:
            print(f"{name}: cannot transcribe: {e}")
            failed += 1
            continue
        print(f"{name} ({result.duration_s:.1f} s, {result.sample_rate} Hz, model {spec.name}):")
        if not result.utterances:
            print("  (no speech recognised)")
        for u in result.utterances:
            conf = f" ({u.confidence:.2f})" if u.confidence is not None else ""
            print(f"  [{_clock(u.start_s)}-{_clock(u.end_s)}] {u.text}{conf}")
    if spec.language != cfg["stt"]["call_language"]:
        print(f"note: model {spec.name} is for '{spec.language}', calls are in "
              f"'{cfg['stt']['call_language']}'")
    return 1 if failed else 0


def _evaluate(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.stt.decoder import AudioError, decode_file
    from hotline.stt.evaluate import evaluate_dir

    spec, model = _model(cfg, args.model)
    chunk = cfg["stt"]["chunk_frames"]

    def transcribe(path: Path) -> str:
        try:
            return decode_file(model, path, chunk_frames=chunk).text
        except AudioError as e:
            print(f"  {path.name}: {e} (scored as nothing recognised)")
            return ""

    try:
        evaluation = evaluate_dir(Path(args.directory), transcribe)
    except ValueError as e:
        raise CommandError(str(e)) from None
    print(f"{'FILE':<32}{'CER':>7}  HYPOTHESIS")
    for f in evaluation.files:
        print(f"{f.name:<32}{f.cer:>7.3f}  {f.hypothesis}")
    for name in evaluation.skipped:
        print(f"{name:<32}{'-':>7}  (no {Path(name).stem}.txt reference: skipped)")
    print(f"model {spec.name}: CER {evaluation.cer:.3f} over {len(evaluation.files)} file(s)")
    return 0
