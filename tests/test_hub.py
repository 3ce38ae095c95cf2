"""Releasing to the Hub: a real export pushed to a recording stand-in for ``HfApi``.

The stand-in keeps a repository's files, commits and tags in memory and records every call, so
the tests see exactly what ``push`` asks of the Hub: the call order, ``delete_patterns``, the
commit the tag is put on, and that a refused release makes no write at all. It returns the real
``huggingface_hub`` result types (``GitRefs``, ``CommitInfo``, ``RepositoryNotFoundError``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx2
import pytest
from huggingface_hub import CommitInfo
from huggingface_hub.errors import RepositoryNotFoundError
from huggingface_hub.hf_api import GitRefInfo, GitRefs
from huggingface_hub.utils import filter_repo_objects

from affect_battery.cli import main
from affect_battery.core.battery import battery_frame
from affect_battery.errors import HubError, UsageError
from affect_battery.publish import hub
from affect_battery.publish.export import export
from affect_battery.publish.hub import dry_run, push
from affect_battery.validators.defence import run_defence

REPO = "org/affect-battery"
TAG = "v0.1.0"
STALE = "data/retired-00000-of-00001.parquet"
READS = {"list_repo_refs", "list_repo_files"}


class RecordingHub:
    """An in-memory Hub dataset repository with the ``HfApi`` methods ``push`` uses."""

    def __init__(self, files: set[str] | None = None, tags: dict[str, str] | None = None,
                 exists: bool = True) -> None:
        self.exists = exists
        self.files = {".gitattributes", *(files or set())} if exists else set()
        self.tags = dict(tags or {})
        self.head = "0" * 40 if exists else None
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _not_found(self, repo_id: str) -> RepositoryNotFoundError:
        url = f"https://huggingface.co/api/datasets/{repo_id}/refs"
        return RepositoryNotFoundError(f"404 Client Error: Repository Not Found for url: {url}",
                                       response=httpx2.Response(
                                           404, request=httpx2.Request("GET", url)))

    def list_repo_refs(self, repo_id: str, *, repo_type: str | None = None) -> GitRefs:
        self.calls.append(("list_repo_refs", {"repo_id": repo_id, "repo_type": repo_type}))
        if not self.exists:
            raise self._not_found(repo_id)
        return GitRefs(branches=[GitRefInfo("main", "refs/heads/main", self.head)], converts=[],
                       tags=[GitRefInfo(t, f"refs/tags/{t}", c) for t, c in self.tags.items()])

    def list_repo_files(self, repo_id: str, *, repo_type: str | None = None) -> list[str]:
        self.calls.append(("list_repo_files", {"repo_id": repo_id, "repo_type": repo_type}))
        return sorted(self.files)

    def create_repo(self, repo_id: str, *, repo_type: str, exist_ok: bool,
                    private: bool) -> None:
        self.calls.append(("create_repo", {"repo_id": repo_id, "repo_type": repo_type,
                                           "exist_ok": exist_ok, "private": private}))
        if self.exists and not exist_ok:
            raise AssertionError("create_repo on an existing repository without exist_ok")
        if not self.exists:
            self.exists, self.files, self.head = True, {".gitattributes"}, "0" * 40

    def upload_folder(self, *, folder_path: str, repo_id: str, repo_type: str,
                      commit_message: str, delete_patterns: list[str] | None = None
                      ) -> CommitInfo:
        local = {p.relative_to(folder_path).as_posix() for p in Path(folder_path).rglob("*")
                 if p.is_file()}
        # what huggingface_hub does with delete_patterns: remote matches not uploaded again
        deleted = {p for p in filter_repo_objects(sorted(self.files),
                                                  allow_patterns=delete_patterns)
                   if p not in local and p != ".gitattributes"} if delete_patterns else set()
        self.files = (self.files - deleted) | local
        self.head = hashlib.sha1(f"{self.head}{sorted(self.files)}{len(self.calls)}"
                                 .encode()).hexdigest()
        self.calls.append(("upload_folder", {
            "repo_id": repo_id, "repo_type": repo_type, "commit_message": commit_message,
            "delete_patterns": delete_patterns, "uploaded": len(local),
            "deleted": sorted(deleted), "oid": self.head}))
        return CommitInfo(commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/"
                          f"{self.head}", commit_message=commit_message, commit_description="",
                          oid=self.head)

    def delete_tag(self, repo_id: str, *, tag: str, repo_type: str) -> None:
        self.calls.append(("delete_tag", {"repo_id": repo_id, "tag": tag}))
        del self.tags[tag]

    def create_tag(self, repo_id: str, *, tag: str, revision: str | None = None,
                   repo_type: str | None = None, tag_message: str | None = None) -> None:
        self.calls.append(("create_tag", {"repo_id": repo_id, "tag": tag,
                                          "revision": revision}))
        if tag in self.tags:
            raise AssertionError(f"409 Conflict: tag {tag} already exists")
        self.tags[tag] = revision or self.head

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    report, _ = run_defence(battery_frame(), classifier=None, strict=True)
    return export(tmp_path_factory.mktemp("release") / "hub-out", report.to_dict(),
                  repo_id=REPO)


def exported_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_first_release_creates_uploads_and_tags_the_commit_it_made(folder):
    api = RecordingHub(exists=False)
    result = push(folder, REPO, TAG, api=api)
    assert api.names() == ["list_repo_refs", "create_repo", "upload_folder", "create_tag"]
    upload = api.calls[2][1]
    assert upload["delete_patterns"] == ["*"] and upload["uploaded"] == len(exported_files(folder))
    assert api.calls[3][1] == {"repo_id": REPO, "tag": TAG, "revision": upload["oid"]}
    assert api.tags == {TAG: upload["oid"]} == {TAG: result.commit_oid}
    assert api.files == exported_files(folder) | {".gitattributes"}
    assert not result.replaced_tag and result.commit_url.endswith(upload["oid"])


def test_rerun_of_a_released_version_is_refused_before_any_upload(folder, monkeypatch, capsys):
    api = RecordingHub(exists=False)
    push(folder, REPO, TAG, api=api)
    released, files = dict(api.tags), set(api.files)
    api.calls.clear()
    with pytest.raises(HubError, match=f"already has the tag {TAG}.*nothing was uploaded"):
        push(folder, REPO, TAG, api=api)
    assert api.names() == ["list_repo_refs"]
    assert api.tags == released and api.files == files
    # the same through the command line: one line on stderr, exit 2
    monkeypatch.setattr(hub, "_client", lambda token: (api, ""))
    api.calls.clear()
    code = main(["push", str(folder), "--repo-id", REPO, "--tag", TAG])
    err = capsys.readouterr().err
    assert code == 2 and "already has the tag" in err and len(err.strip().splitlines()) == 1
    assert api.names() == ["list_repo_refs"]


def test_force_moves_the_tag_and_deletes_files_the_export_no_longer_has(folder):
    old = "1" * 40
    api = RecordingHub(files={STALE, "README.md"}, tags={TAG: old})
    result = push(folder, REPO, TAG, api=api, force=True)
    assert api.names() == ["list_repo_refs", "create_repo", "upload_folder", "delete_tag",
                           "create_tag"]
    upload = api.calls[2][1]
    assert upload["deleted"] == [STALE] and STALE not in api.files
    assert api.tags[TAG] == upload["oid"] == result.commit_oid != old
    assert result.replaced_tag


def test_bad_or_foreign_repo_ids_are_refused_before_any_call(folder):
    api = RecordingHub()
    for bad in ("not-a-valid/repo/id", "no-namespace", "org/x..y"):
        with pytest.raises(UsageError, match="repo-id"):
            push(folder, bad, TAG, api=api)
    with pytest.raises(HubError, match=f"exported for {REPO}, not other/name"):
        push(folder, "other/name", TAG, api=api)
    with pytest.raises(HubError, match="does not match the battery version"):
        push(folder, REPO, "v9.9.9", api=api)
    assert api.calls == []


def test_dry_run_plans_uploads_deletions_and_the_tag_with_reads_only(folder):
    api = RecordingHub(files={STALE}, tags={TAG: "1" * 40})
    plan = dry_run(folder, REPO, TAG, api=api)
    assert set(api.names()) <= READS
    assert plan.deletions == [STALE] and plan.tag_exists is True
    assert {i.path for i in plan.uploads} == exported_files(folder)
    text = "\n".join(plan.lines())
    assert f"delete  {' ' * 12}  {STALE}" in text
    assert text.endswith(f"1 deleted; REFUSED: the tag {TAG} exists, nothing would be uploaded "
                         "(--force moves it)")
    forced = dry_run(folder, REPO, TAG, force=True, api=api)
    assert forced.lines()[-1].endswith(f"move the existing tag {TAG} to the new commit (--force)")
    assert set(api.names()) <= READS
    new_repo = RecordingHub(exists=False)
    plan = dry_run(folder, REPO, TAG, api=new_repo)
    assert plan.deletions == [] and plan.tag_exists is False
    assert any("does not exist yet" in line for line in plan.lines())


def test_revision_is_a_deprecated_alias_of_tag(folder, capsys):
    code = main(["push", str(folder), "--repo-id", REPO, "--revision", TAG, "--dry-run"])
    out = capsys.readouterr()
    assert code == 0 and out.err.count("--revision is deprecated, use --tag") == 1
    assert out.out.strip().splitlines()[-1].endswith(f"tag {TAG} on the new commit")
    code = main(["push", str(folder), "--repo-id", REPO, "--revision", TAG, "--tag", "v0.2.0",
                 "--dry-run"])
    assert code == 2 and "disagree" in capsys.readouterr().err
    code = main(["push", str(folder), "--repo-id", REPO, "--dry-run"])
    assert code == 2 and "--tag v0.1.0" in capsys.readouterr().err


def test_a_failure_after_the_upload_says_the_commit_is_untagged_and_a_rerun_tags_it(folder):
    class TagFails(RecordingHub):
        def create_tag(self, repo_id: str, **kwargs: Any) -> None:
            self.calls.append(("create_tag", kwargs))
            raise RuntimeError("503 Service Unavailable")

    api = TagFails(exists=False)
    with pytest.raises(HubError, match=r"failed after commit [0-9a-f]{12} was uploaded; re-run"):
        push(folder, REPO, TAG, api=api)
    assert api.tags == {}
    again = RecordingHub()
    again.files, again.head = api.files, api.head
    result = push(folder, REPO, TAG, api=again)
    assert again.tags == {TAG: result.commit_oid}
