"""What djl-serving gets for the load test: exactly what will be uploaded.

* Flat layout (LMI 0.33+): the engine folder as it is — nothing is staged. The LMI options come as the
  ``OPTION_*`` variables of the env style (:func:`..lmi.env_vars`), without ``HF_MODEL_ID``.
* Triton layout (LMI 0.25–0.32): a folder laid out as the tutorial's *extracted* style —
  ``serving.properties`` (:func:`..lmi.extracted_properties`) beside ``tensorrt_llm/…`` whose files are hard
  links to the built ones (no copies). ``/opt/ml/model`` is used when it is free (missing or empty), so that
  ``gpt_model_path=/opt/ml/model/tensorrt_llm/1`` in ``config.pbtxt`` is true as it will be on SageMaker.
  Otherwise a temporary folder is used, and only the staged ``config.pbtxt`` gets that folder's engine path
  (the uploaded one keeps its own); the notes say which path and why.

The staged root always holds ``serving.properties`` beside the model sub-folder: djl-serving descends into a
folder that holds a single sub-folder (``Utils.getNestedModelDir``, used by ``ModelStore.mapModelUrl``),
which would hide ``tensorrt_llm/`` from LMI's prebuilt check (``LmiUtils.isValidTrtLlmModelRepo`` lists the
sub-folders of the model folder).

:meth:`Staging.cleanup` removes what was staged, and the folders it created, never anything else.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import lmi
from ..base.errors import WizardError
from ..base.fsutil import atomic_write_text

CONTAINER_ROOT = lmi.OPT_ML_MODEL
ENV_DROPPED = ("HF_MODEL_ID", "SERVING_LOAD_MODELS")  # each would change what djl-serving loads


@dataclass
class Staging:
    model_dir: Path  # what djl-serving gets: -m NAME=file:<model_dir>
    layout: str
    env: dict[str, str] = field(default_factory=dict)  # LMI options as environment variables (flat layout)
    notes: list[str] = field(default_factory=list)
    engine_path: Optional[str] = None  # triton: gpt_model_path as the staged config.pbtxt says
    staged: bool = False  # a folder was laid out (triton) rather than the engine folder used as it is
    _remove_tree: Optional[Path] = None  # a folder this staging created (removed whole)
    _remove_entries: list[Path] = field(default_factory=list)  # entries made inside a folder that existed

    def cleanup(self) -> None:
        """Remove what was staged (hard links and the files written for the test); idempotent."""
        for p in self._remove_entries:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    p.unlink()
                except OSError:
                    pass
        self._remove_entries = []
        if self._remove_tree is not None:
            shutil.rmtree(self._remove_tree, ignore_errors=True)
            self._remove_tree = None

    def to_dict(self) -> dict:
        return {"model_dir": str(self.model_dir), "layout": self.layout, "staged": self.staged,
                "engine_path": self.engine_path, "notes": list(self.notes),
                "env": dict(self.env)}


def _pick_root(container_root: str) -> tuple[Path, Optional[Path], Optional[str]]:
    """(root, folder created here to remove afterwards or None, why the container path was not used or None)."""
    root = Path(container_root)
    if root.exists() or root.is_symlink():
        if root.is_dir():
            try:
                entries = sorted(p.name for p in root.iterdir())
            except OSError as exc:
                entries, why = None, f"{root} cannot be read ({exc.strerror or exc})"
            if entries == []:
                return root, None, None
            if entries:
                shown = ", ".join(entries[:3]) + (" …" if len(entries) > 3 else "")
                why = f"{root} is in use (it holds {shown})"
        else:
            why = f"{root} is a file"
        return Path(tempfile.mkdtemp(prefix="lmi-wizard-serve-")), None, why
    # create it, remembering the top-most folder made here (removed afterwards)
    missing = [root]
    while not missing[-1].parent.exists() and missing[-1].parent != missing[-1]:
        missing.append(missing[-1].parent)
    try:
        root.mkdir(parents=True)
    except OSError as exc:
        tmp = Path(tempfile.mkdtemp(prefix="lmi-wizard-serve-"))
        return tmp, None, f"{root} cannot be created ({exc.strerror or exc})"
    return root, missing[-1], None


def _link(src: Path, dest: Path, state: dict) -> None:
    """Hard link ``src`` at ``dest``; a symbolic link where the file systems differ (noted once)."""
    real = Path(os.path.realpath(src))
    if not state.get("symlink"):
        try:
            os.link(real, dest)
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                raise
            state["symlink"] = exc.strerror or str(exc)
    os.symlink(real, dest)


def _link_tree(src: Path, dest: Path, state: dict, skip: set[str]) -> None:
    dest.mkdir()
    seen = {os.path.realpath(src)}
    for dirpath, dirnames, filenames in os.walk(src, followlinks=True):
        kept = []
        for d in dirnames:
            real = os.path.realpath(os.path.join(dirpath, d))
            if real not in seen:  # no loops through linked folders
                seen.add(real)
                kept.append(d)
        dirnames[:] = kept
        rel = Path(dirpath).relative_to(src)
        for d in dirnames:
            (dest / rel / d).mkdir()
        for f in filenames:
            if rel == Path(".") and f in skip:
                continue
            _link(Path(dirpath) / f, dest / rel / f, state)


def stage(model_dir: str | os.PathLike, layout: str, answers: lmi.LmiAnswers, *,
          container_root: str = CONTAINER_ROOT) -> Staging:
    """Lay out what LMI gets (see the module text). ``model_dir`` is the folder that holds ``config.pbtxt``
    (triton) or the engine folder (flat). Raises WizardError when the folder cannot be staged."""
    src = Path(os.path.abspath(os.fspath(model_dir)))
    if layout == "flat":
        env = {k: v for k, v in lmi.env_vars(answers).items() if k not in ENV_DROPPED}
        return Staging(src, layout, env=env, notes=[
            f"flat layout: djl-serving loads the engine folder {src} as it is; the LMI options are the env "
            "style's variables (" + ", ".join(f"{k}={v}" for k, v in env.items()) + ")"])
    if layout != "triton":
        raise WizardError(f"unknown layout {layout!r}", "use triton (LMI 0.25–0.32) or flat (LMI 0.33+)")
    root, created, why = _pick_root(container_root)
    st = Staging(root, layout, staged=True)
    if created is not None:
        st._remove_tree = created
    elif why is not None:
        st._remove_tree = root  # the temporary folder
    sub = answers.subfolder or lmi.TRITON_SUBFOLDER
    want = f"{root}/{sub}/1"
    try:
        if created is None and why is None:  # an empty folder that existed: remove only what is made here
            st._remove_entries = [root / "serving.properties", root / sub]
        state: dict = {}
        _link_tree(src, root / sub, state, skip={"config.pbtxt"})
        pbtxt_src = src / "config.pbtxt"
        text = pbtxt_src.read_text("utf-8")
        current = lmi.read_gpt_model_path(text)
        if current == want or current is None:
            _link(pbtxt_src, root / sub / "config.pbtxt", state)
            st.engine_path = current
            if current is None:
                st.notes.append("config.pbtxt has no gpt_model_path parameter: staged as it is")
        else:
            atomic_write_text(root / sub / "config.pbtxt", lmi.set_gpt_model_path(text, want))
            st.engine_path = want
            reason = why or f"the load test runs at {root}, not {CONTAINER_ROOT}"
            st.notes.append(f"staged at {root} because {reason}; so the staged config.pbtxt says "
                            f"gpt_model_path={want} while the uploaded one keeps {current}")
        atomic_write_text(root / "serving.properties", lmi.extracted_properties(answers))
        if state.get("symlink"):
            st.notes.append(f"hard links impossible from {src} to {root} ({state['symlink']}): symbolic links used")
        st.notes.insert(0, f"triton layout: staged {root}/{{serving.properties, {sub}/}} "
                           f"({'symbolic' if state.get('symlink') else 'hard'} links to {src}, no copies)")
    except OSError as exc:
        st.cleanup()
        raise WizardError(f"cannot stage the model at {root}: {exc.strerror or exc}",
                          "free some space or run where /opt/ml/model or the temporary folder is writable") from None
    except BaseException:
        st.cleanup()
        raise
    return st
