"""Publish an export folder to the Hugging Face Hub and tag the release.

Real ``huggingface_hub`` calls; the token comes from ``HF_TOKEN`` or the huggingface_hub login
and is never printed. Without a token or a network the command fails with one line (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .._version import __version__
from ..errors import HubError
from .export import MANIFEST, ExportError, verify_export

_REVISION = re.compile(r"^v\d+\.\d+\.\d+$")



@dataclass(frozen=True)
class UploadItem:
    path: str
    size: int
    sha256: str


def upload_plan(folder: str | Path) -> list[UploadItem]:
    """Exactly what a push uploads: every manifest entry plus the manifest itself."""
    folder = Path(folder)
    problems = verify_export(folder)
    if problems:
        raise ExportError(f"{folder}: export does not verify ({problems[0]}"
                          + (f"; and {len(problems) - 1} more" if len(problems) > 1 else "")
                          + "); re-export it")
    items = []
    for line in (folder / MANIFEST).read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        items.append(UploadItem(rel, (folder / rel).stat().st_size, digest))
    import hashlib

    man = (folder / MANIFEST).read_bytes()
    items.append(UploadItem(MANIFEST, len(man), hashlib.sha256(man).hexdigest()))
    return items


def check_revision(revision: str) -> None:
    if not _REVISION.match(revision):
        raise HubError(f"revision {revision!r} must look like v{__version__}")
    if revision != f"v{__version__}":
        raise HubError(f"revision {revision} does not match the battery version {__version__}")


def push(folder: str | Path, repo_id: str, revision: str, token: str | None = None,
         private: bool = False) -> str:
    """Upload the folder as one commit and tag it; returns the commit URL."""
    check_revision(revision)
    upload_plan(folder)
    from huggingface_hub import HfApi, get_token

    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run 'hf auth login' "
                       "(use --dry-run to see what would be uploaded)")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                                 commit_message=f"affect-battery {revision}")
        api.create_tag(repo_id, tag=revision, repo_type="dataset",
                       tag_message=f"affect-battery {revision}")
    except Exception as exc:  # network, auth and offline-mode errors all end here
        message = str(exc).replace(token, "***").strip().splitlines()
        first = message[0] if message else type(exc).__name__
        raise HubError(f"push to {repo_id} failed: {type(exc).__name__}: {first[:200]}") from None
    return str(getattr(info, "commit_url", info))
