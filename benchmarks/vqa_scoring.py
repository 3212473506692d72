"""Time `blip2-bench score vqav2` against the official VQA evaluation on VQAv2-val-sized files.

Usage: python benchmarks/vqa_scoring.py [--questions 214354] [--repeats 3] [--distinct 0.0]
       [--scorer official|lavis] [--keep DIR] [--command "env PYTHONPATH=CHECKOUT python -P -m blip2_bench.cli"]

Builds official-format questions, annotations and results files by replicating the demo
fixture's messy questions (benchmarks/_official_vqa_driver.py says how the official side is
run), then runs each side as its own process, alternating, `--repeats` times. Prints min and
median wall seconds (start-up included), each process's peak RSS, the ratio, and whether the
overall, per-answer-type, per-question-type and per-question accuracies agree exactly.
`--distinct F` gives a fraction F of the questions answer strings found nowhere else (pure
replication repeats every string, which flatters any cache). Nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = Path(sys.executable).with_name("blip2-bench")
FILES = (
    "v2_OpenEnded_mscoco_val2014_questions.json",
    "v2_mscoco_val2014_annotations.json",
    "vqav2_val2014_results.json",
)


def build_files(out: Path, n_questions: int, distinct: float) -> tuple[Path, ...]:
    """Questions, annotations and results files with `n_questions` questions (ids unique)."""
    from blip2_bench.demo.vqav2_fixture import write_vqav2_fixture

    fixture = write_vqav2_fixture(out / "template", n_images=13, questions_per_image=13)
    assert fixture.annotations_file is not None
    qdoc = json.loads(fixture.questions_file.read_text())
    adoc = json.loads(fixture.annotations_file.read_text())
    templates = list(zip(qdoc["questions"], adoc["annotations"], strict=True))
    questions, annotations, results = [], [], []
    every = round(1 / distinct) if distinct > 0 else 0
    for i in range(n_questions):
        q, a = templates[i % len(templates)]
        image_id = 1_000_000 + i // 5
        qid = image_id * 1000 + i % 5
        suffix = f" x{i}" if every and i % every == 0 else ""
        answers = [{**h, "answer": h["answer"] + suffix} for h in a["answers"]]
        # The prediction is one of the human answers (rotating), so every answer type scores 0-100.
        prediction = a["answers"][(i // len(templates)) % 10]["answer"] + suffix
        questions.append({**q, "image_id": image_id, "question_id": qid})
        annotations.append({**a, "answers": answers, "image_id": image_id, "question_id": qid})
        results.append({"question_id": qid, "answer": prediction})
    paths = tuple(out / name for name in FILES)
    paths[0].write_text(json.dumps({**qdoc, "questions": questions}))
    paths[1].write_text(json.dumps({**adoc, "annotations": annotations}))
    paths[2].write_text(json.dumps(results))
    shutil.rmtree(out / "template")
    return paths


def run_timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process (wait4 gives that child's own usage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed (exit {proc.returncode}): {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024  # ru_maxrss is KiB on Linux


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def agreement(ours: dict, official: dict) -> list[str]:
    """Differences between our --json output and the official evaluator's accuracy dict."""
    pairs = [
        ("overall", ours["accuracy"], official["overall"]),
        ("per answer type", ours["per_answer_type"], official["perAnswerType"]),
        ("per question type", ours["per_question_type"], official["perQuestionType"]),
        ("per question", ours["per_question"], official["perQuestion"]),
    ]
    return [name for name, a, b in pairs if a != b]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=214_354, help="VQAv2 val has 214,354")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--distinct", type=float, default=0.0, help="fraction of questions with unique strings")
    parser.add_argument("--scorer", choices=("official", "lavis"), default="official")
    parser.add_argument("--keep", type=Path, help="build the files here and keep them")
    parser.add_argument("--command", help="how to run blip2-bench (shell words), e.g. to time another checkout")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="vqa_scoring_"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # Built in a child process: a child's peak RSS counts what it inherited at fork, so this
    # process must stay small while it times the two sides.
    builder = multiprocessing.get_context("spawn").Process(
        target=build_files, args=(work, args.questions, args.distinct)
    )
    builder.start()
    builder.join()
    if builder.exitcode != 0:
        raise SystemExit(f"building the files failed (exit {builder.exitcode})")
    qfile, afile, rfile = (work / name for name in FILES)
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 2**20:.0f} MiB" for p in (qfile, afile, rfile))
    built = time.perf_counter() - start
    print(f"{args.questions} questions (distinct {args.distinct}), built in {built:.1f} s: {sizes}")
    print(f"machine: {os.cpu_count()} CPUs, load average before {_load()}")

    ours_json, official_json = work / "ours.json", work / "official.json"
    bench = shlex.split(args.command) if args.command else [str(BENCH)]
    files = ["--questions", str(qfile), "--annotations", str(afile), "--predictions", str(rfile)]
    driver = [sys.executable, str(HERE / "_official_vqa_driver.py"), str(qfile), str(afile), str(rfile)]
    commands = {
        "blip2-bench": [*bench, "score", "vqav2", *files, "--scorer", args.scorer, "--json", str(ours_json)],
        "official": [*driver, str(official_json), "--scorer", args.scorer],
    }
    walls: dict[str, list[float]] = {k: [] for k in commands}
    peaks: dict[str, list[float]] = {k: [] for k in commands}
    for r in range(args.repeats):
        for name in commands if r % 2 == 0 else reversed(commands):  # alternate who goes first
            wall, peak = run_timed(commands[name])
            walls[name].append(wall)
            peaks[name].append(peak)
            print(f"  repeat {r + 1} {name:<12} {wall:8.2f} s  {peak:7.0f} MiB", flush=True)

    print(f"{'':<12} {'min s':>8} {'median s':>9} {'peak RSS MiB':>13}")
    for name in commands:
        print(f"{name:<12} {min(walls[name]):>8.2f} {statistics.median(walls[name]):>9.2f} {max(peaks[name]):>13.0f}")
    ratio = statistics.median(walls["official"]) / statistics.median(walls["blip2-bench"])
    mem = max(peaks["blip2-bench"]) / max(peaks["official"])
    print(f"official / blip2-bench median wall: {ratio:.1f}x; blip2-bench / official peak RSS: {mem:.2f}x")
    ours, official = json.loads(ours_json.read_text()), json.loads(official_json.read_text())
    differ = agreement(ours, official)
    busy = " (above the CPU count: other work shared the machine)" if os.getloadavg()[0] > (os.cpu_count() or 1) else ""
    print(f"load average after {_load()}{busy}")
    print(f"overall accuracy: blip2-bench {ours['accuracy']}, official {official['overall']}")
    same = "identical (overall, per answer type, per question type, per question)"
    print("agreement: " + (f"DIFFERS in {', '.join(differ)}" if differ else same))
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
