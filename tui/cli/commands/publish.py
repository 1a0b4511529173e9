"""``lmi-wizard publish REPO_DIR DEST``: check the layout rule, sync the model, print LMI's model_id."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

from lmi_wizard.tui.cli.options import add_layout, add_s3_endpoint

NAME = "publish"
HELP = "upload the compiled model to S3 (or a local folder) the way LMI loads it, and print the model_id"
ORDER = 60


EPILOG = ("exit codes: 0 done; 2 bad input or a destination LMI cannot load (nothing sent), or S3 refused "
          "(credentials, access, bucket, region, a folder holding another model); 3 network or server trouble; "
          "130 cancelled (Ctrl-C). After 3 or 130 run the same command again: it sends only what is missing — "
          "an interrupted large file continues from the parts already stored. An S3 folder holds one model: "
          "publish keeps a marker (.lmi-wizard-model.json) there (a local destination folder too) and refuses a "
          "folder holding another model's files, or files it did not write, until --force. S3 waits are bounded: LMI_WIZARD_NET_TIMEOUT seconds "
          "of silence (default 60).")


def register(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("repo_dir", metavar="REPO_DIR",
                        help="Triton layout: the tensorrt_llm/ folder (or the Triton model repo holding it); "
                             "flat layout: the trtllm-build output folder with the tokenizer files")
    parser.add_argument("dest", metavar="DEST",
                        help="s3://bucket/folder1/folder2/ or a local folder (Triton layout: LMI gets folder1/)")
    add_layout(parser, "inferred from REPO_DIR")
    add_s3_endpoint(parser)
    parser.add_argument("--profile", metavar="NAME",
                        help="AWS profile to use (default: boto3's standard chain, e.g. AWS_PROFILE)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--model-name", metavar="NAME",
                        help="the model the destination's ownership marker records (default: the tokenizer's "
                             "name_or_path, else the folder's name; `run` records [model] source — give the same "
                             "name to publish a run's output again without --force)")
    parser.add_argument("--dry-run", action="store_true", help="check and show what would be sent; send nothing")
    parser.add_argument("--force", action="store_true",
                        help="publish into a folder (S3 or local) that holds another model's files or files not written by "
                             "lmi-wizard (they are overwritten where names match; the folder's owner becomes "
                             "this model)")


def _human(n: int) -> str:
    from lmi_wizard.core.base.fmt import human_bytes

    return human_bytes(n)


def publish(repo_dir, dest, *, layout=None, endpoint_url=None, dry_run=False, progress=None, cancel=None,
            client=None, profile=None, force=False, model_name=None) -> dict:
    """Check, sync, verify, list. Returns the report (the ``--json`` document)."""
    from lmi_wizard.core.layout import TRITON, check_listing, check_local, destination_findings, infer_layout, parse_destination, source_folder
    from lmi_wizard.core.base.findings import raise_first
    from lmi_wizard.core import s3

    layout = layout or infer_layout(repo_dir)
    src = source_folder(repo_dir, layout)
    dest = parse_destination(dest)
    model_id, findings = destination_findings(dest, layout)
    findings += check_local(repo_dir, layout)
    raise_first(findings)  # refuse before any byte is sent (and before any request)
    s3.check_local_destination(src, dest, model_id=model_id)

    if dest.is_s3 and client is None:
        client = s3.make_client(endpoint_url, profile=profile)
    files = s3.scan_local(src)
    owner = s3.owner_for(src, files, layout=layout, name=model_name)  # S3 or a local folder: one model per folder
    result = s3.sync(src, dest, endpoint_url=endpoint_url, client=client, progress=progress, cancel=cancel,
                     dry_run=dry_run, owner=owner, force=force)

    # what LMI will find under model_id once this is there
    keys = sorted({f.rel for f in files} | set(result.extra))

    def read_local(rel: str):
        try:
            return (src / rel).read_bytes() if (src / rel).stat().st_size < 16 * 1024 * 1024 else None
        except OSError:
            return None

    if layout == TRITON:
        rel_keys = [f"{dest.name}/{k}" for k in keys]
        siblings = [e.name for e in s3.list_entries(model_id, endpoint_url=endpoint_url, client=client)
                    if e.is_prefix and e.name.rstrip("/") != dest.name][:20]
        for sib in siblings:
            for e in s3.list_entries(_join(model_id, sib), endpoint_url=endpoint_url, client=client):
                if not e.is_prefix:
                    rel_keys.append(sib + e.name)
        after = check_listing(rel_keys, model_id, layout)
    else:
        after = check_listing(keys, model_id, layout, read=read_local)
    if result.extra:
        after.append(_extra_finding(result.extra, dest.url))
    seen_codes: set = set()
    findings = [f for f in findings + after  # the source's and the destination's check often say the same
                if f.level == "warning" and not (f.code in seen_codes or seen_codes.add(f.code))]
    listing = [] if (dry_run and not _exists(dest)) else s3.list_entries(dest, endpoint_url=endpoint_url,
                                                                        client=client)
    return {
        "model_id": model_id,
        "layout": layout,
        "source": str(src),
        "dest": dest.url,
        "dry_run": dry_run,
        "uploaded": result.uploaded,
        "skipped": result.skipped,
        "reasons": result.reasons,
        "bytes": result.bytes,
        "total_bytes": result.total_bytes,
        "extra": result.extra,
        "aborted": result.aborted,
        "resumed": result.resumed,
        "reused_bytes": result.reused_bytes,
        "left_out": result.left_out,
        "owner": ({"claim": result.owner, "previous": result.marker, "model": owner.name, "source": owner.source,
                   "engine_digest": owner.digest} if owner is not None else None),
        "warnings": [f.to_json() | {"level": f.severity} for f in findings],
        "listing": [e.to_dict() for e in listing],
        "_entries": listing,
    }


def _join(model_id: str, name: str) -> str:
    if model_id.startswith("s3://"):
        return model_id.rstrip("/") + "/" + name
    return os.path.join(model_id, name)


def _exists(dest) -> bool:
    return dest.is_s3 or (dest.path is not None and dest.path.is_dir())


def _extra_finding(extra, where):
    from lmi_wizard.core.base.findings import Finding

    shown = ", ".join(extra[:5]) + (" …" if len(extra) > 5 else "")
    return Finding("warning", "extra-objects",
                   f"{len(extra)} object(s) at {where} are not in the model folder (left from an earlier upload?): "
                   f"{shown}", "remove them if they do not belong to this model (LMI downloads them too)")


def run(args) -> int:
    from lmi_wizard.core.base.progress import CancelToken
    from lmi_wizard.core.s3 import render_listing

    cancel = CancelToken()
    is_tty = sys.stderr.isatty()
    state = {"last_pct": -1}

    def progress(ev) -> None:
        if args.json:
            return
        extra = ev.extra or {}
        if extra.get("waiting"):  # a silent S3 request (core.base.net): say what it waits for
            print(("\n" if is_tty and state["last_pct"] >= 0 else "") + f"  {ev.message}", file=sys.stderr)
        elif extra.get("finished"):
            print(f"  sent {extra['file']} ({_human(extra.get('file_total') or 0)}) "
                  f"[{extra.get('files_done')}/{extra.get('files_total')} files]", file=sys.stderr)
        elif is_tty and ev.total:
            pct = int(100 * (ev.done or 0) / ev.total)
            if pct != state["last_pct"]:
                state["last_pct"] = pct
                print(f"\r  {pct:3d}% of {_human(ev.total)}  {ev.message[:60]:<60}", end="", file=sys.stderr)

    def on_signal(signum, frame) -> None:
        # first Ctrl-C: stop cleanly (in-flight transfers cancelled, unfinished multipart aborted);
        # a second one stops at once, e.g. while a request to an unresponsive endpoint is waiting
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        try:
            print("\nlmi-wizard: cancelling the upload (Ctrl-C again to stop at once)", file=sys.stderr)
        except RuntimeError:  # the main thread was writing to stderr itself
            pass

    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old[sig] = signal.signal(sig, on_signal)
        except ValueError:  # not the main thread
            pass
    from lmi_wizard.core.base import net

    try:
        with net.reporting(progress, "publish"):
            report = publish(args.repo_dir, args.dest, layout=args.layout, endpoint_url=args.endpoint_url,
                             dry_run=args.dry_run, progress=progress, cancel=cancel, profile=args.profile,
                             force=args.force, model_name=args.model_name)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    entries = report.pop("_entries")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    verb = "would send" if args.dry_run else "sent"
    print(f"layout: {report['layout']}  source: {report['source']}")
    print(f"{verb} {len(report['uploaded'])} file(s), {_human(report['bytes'])}"
          + (f" ({', '.join(report['uploaded'][:8])}{' …' if len(report['uploaded']) > 8 else ''})"
             if args.dry_run and report["uploaded"] else "")
          + f"; {len(report['skipped'])} unchanged file(s) skipped")
    if report["resumed"]:
        print(f"resumed {len(report['resumed'])} interrupted upload(s): {sum(report['resumed'].values())} part(s), "
              f"{_human(report['reused_bytes'])} already at S3, not sent again")
    if report["aborted"]:
        print(f"aborted {len(report['aborted'])} unfinished multipart upload(s) that could not match the files now "
              f"({', '.join(report['aborted'][:5])})")
    if report["left_out"]:
        from lmi_wizard.core.s3 import describe_left_out

        print(describe_left_out(report["left_out"]))
    own = report.get("owner")
    if own:
        how = {"new": "claimed for", "same": "owned by", "forced": "taken over (--force) for"}.get(own["claim"], "")
        print(f"folder {how} model {own['model']!r} ({own['engine_digest'][:19]}…)")
    for w in report["warnings"]:
        print(f"warning: {w['problem']}" + (f" — fix: {w['fix']}" if w.get("fix") else ""))
    print(f"\n{report['dest']}:")
    print(render_listing(entries) or "  (empty)")
    print(f"\nLMI model_id: {report['model_id']}")
    print(f"  HF_MODEL_ID={report['model_id']}   or   option.model_id={report['model_id']}")
    return 0
