"""Options several verbs share, declared once (the verbs' own options stay in their modules)."""

from __future__ import annotations

import argparse

LAYOUTS = ("triton", "flat")


def add_layout(p: argparse.ArgumentParser, default: str) -> None:
    """``--layout triton|flat``; ``default`` says what is used without it (e.g. "inferred from the files")."""
    p.add_argument("--layout", choices=LAYOUTS, help=f"triton (LMI 0.25–0.32) or flat (LMI 0.33+); default: {default}")


def add_s3_endpoint(p: argparse.ArgumentParser) -> None:
    """``--endpoint-url`` of an S3-compatible store."""
    p.add_argument("--endpoint-url", metavar="URL",
                   help="S3-compatible endpoint (default: AWS, or the AWS_ENDPOINT_URL variable)")
