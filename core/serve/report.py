"""The load test's result as text (the verb's human output and the Done screen's lines)."""

from __future__ import annotations

from .loadtest import ServeResult


def summary_line(res: ServeResult) -> str:
    """One line: what the load test proved (or why not)."""
    if res.status == "ok":
        tps = f", {res.tokens_per_s:g} tokens/s" if res.tokens_per_s is not None else ""
        return f"LMI loaded the model in {res.ready_s:.1f} s and answered in {res.latency_s:.2f} s{tps}"
    if res.status == "skipped":
        return res.error or "load test skipped"
    if res.status == "cancelled":
        return "load test cancelled: nothing left running"
    return f"LMI did not load or did not answer: {res.error}"


def render_human(res: ServeResult) -> str:
    lines = [("✓ " if res.ok else "✗ ") + summary_line(res)]
    if not res.ok and res.fix:
        lines.append(f"  fix: {res.fix}")
    if res.text is not None:
        lines.append("  answer: " + res.text.replace("\n", "\n          "))
    if res.gpu_used_bytes is not None:
        lines.append(f"  GPU memory held while loaded: {res.gpu_used_bytes / 2**30:.1f} GiB")
    if res.model_arg:
        lines.append(f"  server: djl-serving -m {res.model_arg} on 127.0.0.1:{res.port}")
    if res.stop:
        s = res.stop
        how = ", ".join(w for w, on in (("model deleted", s.get("deleted")), ("SIGTERM", s.get("sigterm")),
                                        ("SIGKILL", s.get("sigkill"))) if on) or "it had exited"
        lines.append(f"  stopped: {how}; nothing of its process group left"
                     if not s.get("survivors") else f"  stopped: survivors {s['survivors']}")
    for n in res.notes:
        lines.append(f"  note: {n}")
    return "\n".join(lines)


def done_lines(doc: dict | None) -> list[str]:
    """What Done shows of the load test, from the run report's ``outputs["serve_test"]`` (:meth:`ServeResult.to_json`
    plus ``model_dir``): ready time, latency, tokens/s when known and the generated text. ``[]`` when it did not
    run."""
    if not doc:
        return []
    if doc.get("status") == "skipped":
        return ["load test: skipped (djl-serving not found here)"]
    if not doc.get("ok"):
        return [f"load test: failed — {doc.get('error')}"]
    parts = [f"ready in {doc['ready_s']:.1f} s" if doc.get("ready_s") is not None else None,
             f"answered in {doc['latency_s']:.2f} s" if doc.get("latency_s") is not None else None,
             f"{doc['tokens_per_s']:g} tokens/s" if doc.get("tokens_per_s") is not None else None]
    lines = ["load test: LMI loaded the model, " + ", ".join(p for p in parts if p)]
    if doc.get("text") is not None:
        lines.append("answer: " + " ".join(str(doc["text"]).split()))
    return lines
