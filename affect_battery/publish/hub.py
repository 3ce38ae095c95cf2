"""Publish an export folder to the Hugging Face Hub as one commit, and tag that commit.

A release is repeatable and all-or-nothing as far as the Hub allows:

- the repository id is checked by ``huggingface_hub`` before anything is contacted, and must be
  the one the folder's card and CITATION.cff were exported for;
- existing tags are read *before* uploading: a tag that already exists is refused (exit 2,
  nothing uploaded) unless ``force``, which moves it to the new commit;
- ``upload_folder`` gets ``delete_patterns``, so a file removed from the export disappears
  from the Hub instead of lingering beside the new files;
- the tag is created on the commit just made (its ``oid``), never on whatever ``main`` is then.

The client is ``huggingface_hub.HfApi`` (the token comes from ``HF_TOKEN`` or the login and is
never printed); tests hand in a recording stand-in with the same methods.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import HubError
from .export import MANIFEST, ExportError, verify_export
from .hub_yaml import check_repo_id, read_release

_TAG = re.compile(r"^v\d+\.\d+\.\d+$")
DELETE_PATTERNS: tuple[str, ...] = ("*",)
"""Remote files to delete in the release commit: every file the export does not upload again
(``huggingface_hub`` always keeps ``.gitattributes``; ``*`` also matches across ``/``)."""


@dataclass(frozen=True)
class UploadItem:
    path: str
    size: int
    sha256: str


@dataclass
class PushPlan:
    """What a push will do; ``deletions`` and ``tag_exists`` are None when the Hub was not asked."""

    folder: Path
    repo_id: str
    tag: str
    uploads: list[UploadItem]
    deletions: list[str] | None = None
    tag_exists: bool | None = None
    force: bool = False
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The plan as the dry run prints it."""
        out = [f"{i.size:>10}  {i.sha256[:12]}  {i.path}" for i in self.uploads]
        if self.deletions is None:
            out.append(f"delete: every other file of datasets/{self.repo_id} except "
                       ".gitattributes (the Hub was not asked which files those are)")
        else:
            out += [f"{'delete':>10}  {'':12}  {p}" for p in self.deletions]
        out += self.notes
        if not self.tag_exists:
            tag = f"tag {self.tag} on the new commit"
        elif self.force:
            tag = f"move the existing tag {self.tag} to the new commit (--force)"
        else:
            tag = (f"REFUSED: the tag {self.tag} exists, nothing would be uploaded "
                   "(--force moves it)")
        out.append(f"dry run: {len(self.uploads)} files, {sum(i.size for i in self.uploads)} "
                   f"bytes would be uploaded to datasets/{self.repo_id}"
                   + (f", {len(self.deletions)} deleted" if self.deletions is not None else "")
                   + f"; {tag}")
        return out


@dataclass(frozen=True)
class PushResult:
    commit_url: str
    commit_oid: str
    tag: str
    replaced_tag: bool


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
    man = (folder / MANIFEST).read_bytes()
    items.append(UploadItem(MANIFEST, len(man), hashlib.sha256(man).hexdigest()))
    return items


def check_tag(tag: str) -> None:
    """A release tag is ``v`` plus the battery version of this package."""
    if not _TAG.match(tag):
        raise HubError(f"tag {tag!r} must look like v{__version__}")
    if tag != f"v{__version__}":
        raise HubError(f"tag {tag} does not match the battery version {__version__}")


def check_folder_release(folder: str | Path, repo_id: str, tag: str) -> None:
    """The folder's card must describe this repository and this tag (else re-export)."""
    release = read_release((Path(folder) / "README.md").read_text(encoding="utf-8"))
    if release is None:
        raise ExportError(f"{folder}: the card has no release metadata; re-export it")
    if release.repo_id != repo_id:
        raise HubError(f"{folder} was exported for {release.repo_id}, not {repo_id}: its card "
                       f"and CITATION.cff would name the wrong repository; run 'affect-battery "
                       f"export OUT --repo-id {repo_id}'")
    if release.tag != tag:
        raise HubError(f"{folder} holds version {release.version}, not {tag}")


def prepare(folder: str | Path, repo_id: str, tag: str) -> PushPlan:
    """Every local check, in the order a push makes them; nothing is contacted."""
    check_repo_id(repo_id)
    check_tag(tag)
    uploads = upload_plan(folder)
    check_folder_release(folder, repo_id, tag)
    return PushPlan(Path(folder), repo_id, tag, uploads)


def _remote_tags(api: Any, repo_id: str) -> dict[str, str] | None:
    """Tag name -> commit of the repository; None when the repository does not exist yet."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        refs = api.list_repo_refs(repo_id, repo_type="dataset")
    except RepositoryNotFoundError:
        return None
    return {t.name: t.target_commit for t in refs.tags}


def _deletions(api: Any, plan: PushPlan, exists: bool) -> list[str]:
    """Remote files the release commit deletes: those the export no longer has."""
    if not exists:
        return []
    from huggingface_hub.utils import filter_repo_objects

    uploaded = {i.path for i in plan.uploads}
    remote = api.list_repo_files(plan.repo_id, repo_type="dataset")
    return sorted(p for p in filter_repo_objects(remote, allow_patterns=list(DELETE_PATTERNS))
                  if p not in uploaded and p != ".gitattributes")


def describe(plan: PushPlan, api: Any) -> PushPlan:
    """``plan`` completed with what the Hub says: files to delete and whether the tag exists."""
    tags = _remote_tags(api, plan.repo_id)
    plan.tag_exists = tags is not None and plan.tag in tags
    plan.deletions = _deletions(api, plan, tags is not None)
    if tags is None:
        plan.notes.append(f"datasets/{plan.repo_id} does not exist yet: it will be created")
    return plan


def _client(token: str | None) -> tuple[Any, str]:
    from huggingface_hub import HfApi, get_token

    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run 'hf auth login' "
                       "(use --dry-run to see what would be uploaded)")
    return HfApi(token=token), token


def push(folder: str | Path, repo_id: str, tag: str, *, token: str | None = None,
         private: bool = False, force: bool = False, api: Any = None) -> PushResult:
    """Upload the folder as one commit, tag that commit, and return both.

    ``api`` is an ``HfApi``-like client (default: a real one with the token). An existing tag
    raises :class:`HubError` before anything is uploaded unless ``force``.
    """
    plan = prepare(folder, repo_id, tag)
    secret = ""
    if api is None:
        api, secret = _client(token)
    info = None
    try:
        tags = _remote_tags(api, repo_id)
        replacing = tags is not None and tag in tags
        if replacing and not force:
            raise HubError(f"datasets/{repo_id} already has the tag {tag} (commit "
                           f"{str(tags[tag])[:12]}); nothing was uploaded. A released version "
                           "is immutable: bump the version, or use --force to move the tag")
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
        info = api.upload_folder(folder_path=str(plan.folder), repo_id=repo_id,
                                 repo_type="dataset", commit_message=f"affect-battery {tag}",
                                 delete_patterns=list(DELETE_PATTERNS))
        if replacing:
            api.delete_tag(repo_id, tag=tag, repo_type="dataset")
        api.create_tag(repo_id, tag=tag, revision=info.oid, repo_type="dataset",
                       tag_message=f"affect-battery {tag}")
    except HubError:
        raise
    except Exception as exc:  # network, auth and offline-mode errors all end here
        text = str(exc)
        if secret:
            text = text.replace(secret, "***")
        message = text.strip().splitlines()
        first = message[0] if message else type(exc).__name__
        after = ("" if info is None else f" after commit {str(info.oid)[:12]} was uploaded; "
                 "re-run the push to tag it")
        raise HubError(f"push to {repo_id} failed{after}: {type(exc).__name__}: "
                       f"{first[:200]}") from None
    return PushResult(str(info.commit_url), str(info.oid), tag, replacing)


def dry_run(folder: str | Path, repo_id: str, tag: str, *, force: bool = False,
            api: Any = None) -> PushPlan:
    """The plan of a push without writing anything; asks the Hub what it can (read-only).

    Without a reachable Hub the plan still lists every upload and says that all other remote
    files would be deleted, and why it cannot name them.
    """
    plan = prepare(folder, repo_id, tag)
    plan.force = force
    try:
        if api is None:
            from huggingface_hub import HfApi

            api = HfApi()
        return describe(plan, api)
    except Exception as exc:  # offline, unknown host, private repository without a token
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        plan.deletions = None
        plan.tag_exists = None
        plan.notes.append(f"(the Hub could not be asked: {type(exc).__name__}: {first[:160]})")
        return plan
