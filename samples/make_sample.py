"""Write the bundled synthetic sample: a LiteLLM spend log, recorded small-tier answers, a config.

Everything here is invented by tiertool's authors; no real customer or benchmark data.
Run `python samples/make_sample.py` to regenerate; tests import `synth_log` to make larger logs.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

LARGE, SMALL = "gpt-4o", "openai/gpt-4o-mini"
LABELS = ["billing", "bug", "feature-request", "account", "shipping"]
PRODUCTS = ["desk lamp", "kettle", "headphones", "backpack", "monitor arm", "water bottle", "keyboard"]
NAMES = ["Ada", "Bo", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun"]


def _triage(rng: random.Random, i: int) -> tuple[str, str, str, str]:
    label = rng.choice(LABELS)
    text = {"billing": "I was charged twice for order #{n}", "bug": "The app crashes when I open order #{n}",
            "feature-request": "Could you add dark mode? (ref {n})", "account": "I cannot log in to account {n}",
            "shipping": "Parcel {n} has not arrived yet"}[label].format(n=1000 + i)
    return ("Classify the support ticket into one of: " + ", ".join(LABELS) + ". Answer with the label only.",
            text, label, label if rng.random() > 0.0 else "other")


def _extract(rng: random.Random, i: int) -> tuple[str, str, str, str]:
    qty, product, name = rng.randint(1, 9), rng.choice(PRODUCTS), rng.choice(NAMES)
    obj = {"customer": name, "product": product, "quantity": qty}
    text = f"Hi, this is {name}. Please send me {qty} x {product}. Thanks!"
    large = json.dumps(obj)
    small = json.dumps({"quantity": qty, "customer": name, "product": product}, indent=1)  # same data
    return "Extract the order as JSON with keys customer, product, quantity.", text, large, small


def _math(rng: random.Random, i: int) -> tuple[str, str, str, str]:
    a, b, price = rng.randint(2, 40), rng.randint(2, 40), rng.randint(2, 9)
    answer = (a + b) * price
    q = f"A shop sells {a} mugs in the morning and {b} in the afternoon at ${price} each. Revenue?"
    large = f"{a} + {b} = {a + b} mugs, times ${price} is ${answer}. The answer is {answer}."
    wrong = rng.random() < 0.25  # the small model slips on a quarter of these
    small_value = a * price + b if wrong else answer
    small = f"Revenue: {a + b} mugs... so ${small_value:,}. Answer: {small_value}"
    return "Solve the word problem. End with the final number.", q, large, small


def _reply(rng: random.Random, i: int) -> tuple[str, str, str, str]:
    name, product = rng.choice(NAMES), rng.choice(PRODUCTS)
    q = f"Write a friendly reply to {name}, whose {product} arrived damaged."
    large = (f"Dear {name}, I'm so sorry your {product} arrived damaged. We've sent a replacement today at no "
             f"cost, and you'll receive a tracking number by email shortly. Thank you for your patience!")
    small = f"Hi {name}! Sorry about the {product}. A new one is on its way. Cheers."
    return "You are a courteous customer-support agent.", q, large, small


TASKS = {"ticket-triage": _triage, "order-extract": _extract, "math-word-problems": _math,
         "support-reply": _reply}
TOKENS = {"ticket-triage": (60, 2), "order-extract": (70, 25), "math-word-problems": (80, 40),
          "support-reply": (50, 60)}


def synth_log(n: int, seed: int = 7, weights: dict[str, float] | None = None, model: str = LARGE,
              tag_style: str = "tag") -> tuple[list[dict], dict[str, str]]:
    """(spend-log rows, small answer by user prompt) for `n` invented requests over 30 days."""
    rng = random.Random(seed)
    weights = weights or {"ticket-triage": 0.4, "order-extract": 0.25, "math-word-problems": 0.2,
                          "support-reply": 0.15}
    names = list(weights)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    rows, small_answers = [], {}
    for i in range(n):
        task = rng.choices(names, [weights[t] for t in names])[0]
        system, user, large, small = TASKS[task](rng, i)
        user = f"{user} [#{i}]"
        small_answers[user] = small
        pin, pout = TOKENS[task]
        t0 = start + timedelta(seconds=i * (30 * 86400 / max(n, 1)))
        rows.append({
            "request_id": f"req-{i:06d}", "call_type": "acompletion", "api_key": "hashed-key",
            "spend": round((pin * 2.5 + pout * 10) / 1e6, 8), "total_tokens": pin + pout,
            "prompt_tokens": pin, "completion_tokens": pout,
            "startTime": t0.isoformat(), "endTime": (t0 + timedelta(seconds=1.2)).isoformat(),
            "model": model, "model_group": model, "custom_llm_provider": "openai",
            "metadata": {"task": task} if tag_style == "metadata" else {},
            "request_tags": [f"task:{task}"] if tag_style == "tag" else [],
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "response": {"id": f"chatcmpl-{i}", "object": "chat.completion", "model": model,
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": large}}],
                         "usage": {"prompt_tokens": pin, "completion_tokens": pout}},
            "status": "success",
        })
    return rows, small_answers


def main(folder: Path) -> None:
    rows, small = synth_log(1000)
    with (folder / "logs.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    with (folder / "recorded.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            user = r["messages"][1]["content"]
            fh.write(json.dumps({"model": SMALL, "messages": r["messages"], "output": small[user]}) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
