"""Rebuild tests/data/fill_corpus.json: every ``fill_template.py … <config> <substitutions>`` command line in
triton-inference-server/tensorrtllm_backend's own docs, README, CI scripts and tools, at each release tag whose
``tools/fill_template.py`` behaves like one of the stored tools (../shared/fixtures/fill_template/).

Usage: python3 scripts/build_fill_corpus.py GIT_DIR_OF_TENSORRTLLM_BACKEND [OUT]

Each entry: tag, source file:line, the config path and model folder as written, where its template comes from
(``inflight_batcher_llm`` unless the page copies another ``all_models/<dir>/<model>`` there), the
substitution string exactly as the shell hands it to the tool (shell variables such as ``${ENGINE_PATH}`` kept
unexpanded: they are values to the tool), the stored tool that behaves like the tag's (``tool``; null: none
stored) and the stored template the test replays it on (``template``: the tag's own, else the newest stored
one before it; null: no stored template of that origin). This is test data derived from upstream text, not
upstream code; the tools and templates stay in ../shared/fixtures.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
PATHSPEC = ["*.md", "*.sh", "*.py", "ci/", "tools/"]  # README.md, docs/, ci/, tools/, scripts/, inflight_batcher_llm/README.md
SCRIPT = re.compile(r"(?:\S*fill_template\.py|\$\{?FILL_TEMPLATE_SCRIPT\}?)(?=\s|$)")
STOP = {"&&", "||", ";", "|", ">", ">>", "2>&1", "&"}


def git(gd: str, *args: str, check: bool = True) -> str:
    return subprocess.run(["git", "-C", gd, *args], capture_output=True, text=True, check=check).stdout


def vkey(tag: str) -> tuple[int, ...]:
    m = re.match(r"^(?:v|trtllm-)(\d+)\.(\d+)\.(\d+)", tag)
    return tuple(int(x) for x in m.groups()) if m else (0,)


def tool_for(gd: str, tag: str) -> str | None:
    """The stored tool whose behaviour is the tag's: the same text, or the same apart from the v0.5.0 help
    string's typo ("substitions")."""
    try:
        text = git(gd, "show", f"{tag}:tools/fill_template.py")
    except subprocess.CalledProcessError:
        return None
    for tool in sorted((FIXTURES / "fill_template").glob("*.py")):
        stored = tool.read_text()
        if stored == text or stored.replace("substitions", "substitutions") == text:
            return tool.stem
    return None


def logical_lines(text: str):
    """(first line number, text) with backslash-newline continuations joined."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        start, cur = i + 1, lines[i]
        while cur.endswith("\\") and i + 1 < len(lines):
            i += 1
            cur = cur[:-1] + " " + lines[i].strip()
        yield start, cur
        i += 1


def command(line: str):
    """(in_place, config, substitutions) of a fill_template command in ``line``, or None."""
    m = SCRIPT.search(line)
    if not m:
        return None
    rest = line[m.end():]
    if "`" in line[:m.start()] and "`" in rest:  # inline `...` in markdown: up to the closing backtick
        rest = rest[: rest.index("`")]
    try:
        toks = shlex.split(rest, comments=False, posix=True)
    except ValueError:
        return None
    pos, in_place, it = [], False, iter(toks)
    for t in it:
        if t in STOP or t.startswith((">", "2>")):
            break
        if t in ("-i", "--in_place"):
            in_place = True
        elif t == "--participant_ids":
            next(it, None)
        elif t.startswith("-"):
            continue
        else:
            pos.append(t)
    if len(pos) < 2:
        return None
    return in_place, pos[0], pos[1]


def origins(gd: str, tag: str, text: str) -> dict[str, str]:
    """model folder → all_models/<dir> the page copies it from, for dirs other than inflight_batcher_llm."""
    out = {}
    for m in re.finditer(r"all_models/(?!inflight_batcher_llm)(\w+)/?(\w+)?", text):
        if not re.search(r"\bcp\b", text[text.rfind("\n", 0, m.start()) + 1: m.start()]):
            continue
        src, model = m.group(1), m.group(2)
        if model:
            out[model] = src
        else:
            for name in git(gd, "ls-tree", "-d", "--name-only", f"{tag}:all_models/{src}", check=False).split():
                out[name] = src
    return out


def main(gd: str, out: Path) -> None:
    stored = sorted((p.name for p in (FIXTURES / "pbtxt").iterdir()), key=vkey)
    tags = sorted((t for t in git(gd, "tag").split() if re.match(r"^v\d+\.\d+\.\d+$", t)), key=vkey)
    entries, skipped = [], {}
    for tag in tags:
        if not git(gd, "ls-tree", "--name-only", tag, "tools/fill_template.py"):
            continue  # from v0.20.0 the tool and the templates live in NVIDIA/TensorRT-LLM (triton_backend/)
        tool = tool_for(gd, tag)
        files = git(gd, "grep", "-l", "-e", "fill_template", "-e", "FILL_TEMPLATE_SCRIPT", tag, "--", *PATHSPEC,
                    check=False)  # exit 1: no match at this tag
        for ref in files.split():
            path = ref.split(":", 1)[1]
            text = git(gd, "show", ref)
            orig = origins(gd, tag, text)
            for lineno, line in logical_lines(text):
                if "fill_template" not in line and "FILL_TEMPLATE_SCRIPT" not in line:
                    continue
                cmd = command(line)
                if cmd is None:
                    skipped[f"{tag}:{path}:{lineno}"] = line.strip()[:120]
                    continue
                in_place, config, subs = cmd
                parts = config.split("/")
                model = parts[-2] if len(parts) >= 2 and parts[-1] == "config.pbtxt" else None
                origin = orig.get(model, "inflight_batcher_llm") if model else None
                template = None
                if origin == "inflight_batcher_llm":
                    cands = [s for s in stored if vkey(s) <= vkey(tag) and (FIXTURES / "pbtxt" / s / model / "config.pbtxt").is_file()]
                    template = f"{cands[-1]}/{model}" if cands else None
                entries.append({"tag": tag, "source": f"{path}:{lineno}", "config": config, "model": model,
                                "origin": origin, "in_place": in_place, "substitutions": subs,
                                "tool": tool, "template": template})
    doc = {"_comment": __doc__.strip().split("\n\n")[0] + " Built by scripts/build_fill_corpus.py from the "
           "tensorrtllm_backend mirror; not a command line: " + str(len(skipped)) + " matching lines "
           "(assignments, links, prose).", "entries": entries}
    body = ",\n".join(json.dumps(e, ensure_ascii=False) for e in entries)  # one entry a line
    out.write_text(f'{{"_comment": {json.dumps(doc["_comment"], ensure_ascii=False)},\n"entries": [\n{body}\n]}}\n')
    print(f"{len(entries)} command lines at {len({e['tag'] for e in entries})} tags; "
          f"{sum(1 for e in entries if e['tool'] and e['template'])} replayable on stored tools+templates; "
          f"{len(skipped)} matching lines are not commands", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tests" / "data" / "fill_corpus.json")
