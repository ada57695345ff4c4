"""Task types built from ../shared/data/routellm (read where it lies; nothing is copied into the repo).

Each request gets a pass label for the small model (Mixtral-8x7B) against the large one (GPT-4-1106):
pass = the small answer is no worse than the reference's: on GSM8K and MMLU, the small model is correct
or the large one is wrong too; on MT-Bench, the small model's GPT-4 grade is >= the large one's minus 1.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

SMALL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
LARGE = "gpt-4-1106-preview"
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "routellm"

DOMAINS = {
    "mmlu-stem": ["abstract_algebra", "astronomy", "college_biology", "college_chemistry",
                  "college_computer_science", "college_mathematics", "college_physics", "computer_security",
                  "conceptual_physics", "electrical_engineering", "elementary_mathematics", "high_school_biology",
                  "high_school_chemistry", "high_school_computer_science", "high_school_mathematics",
                  "high_school_physics", "high_school_statistics", "machine_learning"],
    "mmlu-humanities": ["formal_logic", "high_school_european_history", "high_school_us_history",
                        "high_school_world_history", "logical_fallacies", "moral_disputes", "moral_scenarios",
                        "philosophy", "prehistory", "world_religions"],
    "mmlu-law": ["international_law", "jurisprudence", "professional_law"],
    "mmlu-social-sciences": ["econometrics", "high_school_geography", "high_school_government_and_politics",
                             "high_school_macroeconomics", "high_school_microeconomics", "high_school_psychology",
                             "human_sexuality", "professional_psychology", "public_relations", "security_studies",
                             "sociology", "us_foreign_policy"],
    "mmlu-health": ["anatomy", "clinical_knowledge", "college_medicine", "human_aging", "medical_genetics",
                    "nutrition", "professional_medicine", "virology"],
    "mmlu-business-other": ["business_ethics", "global_facts", "management", "marketing", "miscellaneous",
                            "professional_accounting"],
}


@dataclass(frozen=True)
class Labelled:
    id: str
    task: str
    passed: bool
    input_tokens: int
    output_tokens: int
    prompt: str = field(default="", repr=False)  # the request's text: the user turns, as sent


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)  # ~4 characters per token, stated in the README


def load(data: Path = DATA) -> list[Labelled]:
    if not data.is_dir():
        raise SystemExit(f"real data not found at {data}: this benchmark needs ../shared/data/routellm")
    out: list[Labelled] = []
    with (data / "gsm8k_responses.csv").open(encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            small_ok, large_ok = row[SMALL] == "True", row[LARGE] == "True"
            out.append(Labelled(f"gsm8k-{i}", "gsm8k", small_ok or not large_ok, _tokens(row["prompt"]),
                                _tokens(row[f"{LARGE}_response"]), row["prompt"]))
    for domain, subjects in DOMAINS.items():
        for subject in subjects:
            with (data / "mmlu_responses" / f"mmlu_{subject}.csv").open(encoding="utf-8") as fh:
                for i, row in enumerate(csv.DictReader(fh)):
                    small_ok, large_ok = row[SMALL] == "True", row[LARGE] == "True"
                    out.append(Labelled(f"{subject}-{i}", domain, small_ok or not large_ok, _tokens(row["prompt"]), 1,
                                         row["prompt"]))
    questions = {}
    for line in (data / "mt_bench_question.jsonl").open(encoding="utf-8"):
        q = json.loads(line)
        questions[q["question_id"]] = q
    grades: dict[tuple[int, int], dict[str, int]] = {}
    for line in (data / "mt_bench_judgements.jsonl").open(encoding="utf-8"):
        j = json.loads(line)
        grades.setdefault((j["question_id"], j["turn"]), {})[j["model"]] = int(j["score"])
    for (qid, turn), g in sorted(grades.items()):
        q = questions[qid]
        text = "\n".join(q["turns"][:turn])
        out.append(Labelled(f"mtbench-{qid}-{turn}", f"mtbench-{q['category']}", g[SMALL] >= g[LARGE] - 1,
                            _tokens(text), 400, text))
    return out
