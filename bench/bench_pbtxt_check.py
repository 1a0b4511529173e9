"""Speed of ``pbtxt check`` (the scanner) on big config.pbtxt files built from a real template.

    .venv/bin/python bench/bench_pbtxt_check.py [MB]

Four shapes of ~MB megabytes each: parameters blocks full of ${placeholders} (one finding per block, the
worst case), the same blocks filled, repeated input tensors (nested messages, the generic path), and one
huge comment. Prints CPU seconds and MB/s (CPU time, so a busy machine does not skew it much).

Measured 2026-11-28 on an idle 16-core host (Python 3.12), 50 MB, new scanner vs the one before it:
placeholder parameters 22.8 vs 3.7 MB/s; filled parameters 36.4 vs 7.1; input tensors 12.0 vs 8.4;
one big comment 200 vs 239.

"distinct placeholders" is the hostile shape of tests/test_hostile.py (one ${name} per parameters block, all
different). placeholder_names used to search the text once per distinct name (O(names × size): 1 MB 12 s,
4 MB 144 s, 50 MB never finished); now one pass. Measured 2026-11-28 on the shared 2-CPU VM (load ~3), 50 MB:
placeholder_names 1.5 s CPU for 641k names, check_text 5.1 s; the whole ``lmi-wizard pbtxt check`` ~10 s CPU, 0.8 GB peak.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lmi_wizard.core import triton as pbtxt  # the config.pbtxt API (fill, check, edit)

TEMPLATE = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "pbtxt" / "v0.19.0" / "tensorrt_llm" / "config.pbtxt"


def shapes(mb: float) -> dict[str, str]:
    src = TEMPLATE.read_text("utf-8")
    size = int(mb * 1e6)
    i = src.index("parameters")
    head, params = src[:i], src[i:]
    a, b = src.index("input ["), src.index("output [")
    inputs = src[a:b]
    return {
        "placeholder parameters": head + params * (size // len(params) + 1),
        "filled parameters": (head + params * (size // len(params) + 1)).replace("${", "v{"),
        "input tensors": src[:a] + inputs * (size // len(inputs) + 1) + src[b:],
        "one big comment": src + ("# " + "x" * 98 + "\n") * (size // 101),
        "distinct placeholders": src + "".join(
            f'parameters: {{\n  key: "p{i}"\n  value: {{\n    string_value: "${{v{i}}}"\n  }}\n}}\n'
            for i in range(size // 78)),
    }


def main() -> None:
    mb = float(sys.argv[1]) if len(sys.argv) > 1 else 50.0
    for name, text in shapes(mb).items():
        size = len(text.encode("utf-8")) / 1e6
        c = time.process_time()
        report = pbtxt.check_text(text, "big.pbtxt", parse=False)
        c = time.process_time() - c
        n = time.process_time()
        live, _ = pbtxt.placeholder_names(text)
        n = time.process_time() - n
        print(f"{name:<24} {size:6.1f} MB  check (no protobuf parse): {c:6.2f} s CPU  {size / c:6.1f} MB/s  "
              f"{len(report.findings)} findings; placeholder_names {n:5.2f} s ({len(live)} names)")


if __name__ == "__main__":
    main()
