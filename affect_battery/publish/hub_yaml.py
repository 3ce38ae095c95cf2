"""The dataset card's YAML front matter, built with the libraries that read it back.

``huggingface_hub.DatasetCardData`` holds the Hub's metadata fields; ``datasets``' own
``MetadataConfigs`` writes ``configs:`` (which parquet file is which split of which config) and
``DatasetInfosDict`` writes ``dataset_info:`` from the one ``datasets.Features`` definition of
:mod:`affect_battery.core.columns`, so no dtype is spelled out here and the YAML is exactly what
``load_dataset`` and the Hub parse. The release (repository id, version, tag) sits in its own
``affect_battery`` mapping, which ``export --verify`` and ``push`` read back through
``DatasetCard``; the prose never has to be searched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# huggingface_hub comes with the core install: ``datasets`` requires it (the ``hub`` extra only
# pins the version ``push`` talks to the Hub with).
from huggingface_hub import DatasetCard, DatasetCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id

from .._version import __version__
from ..core.columns import features
from ..errors import UsageError
from .configs import DEFAULT_CONFIG, ConfigTables, parquet_bytes

RELEASE_KEY = "affect_battery"
"""The card's own metadata field: ``{repo_id, version, tag}`` of the release it describes."""

DATA_LICENSE = "apache-2.0"
"""Licence of the stimulus texts, norms and tables (the Hub's licence id); code: LICENSE."""

TAGS: tuple[str, ...] = ("emotion", "plutchik", "interpretability", "probing", "stimuli",
                         "keyword-free", "psychology", "minimal-pairs", "synthetic")


@dataclass(frozen=True)
class Release:
    """What the card says it is: the Hub repository and the version it is tagged as."""

    repo_id: str
    version: str = __version__

    @property
    def tag(self) -> str:
        return f"v{self.version}"


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` if it is a valid ``namespace/name`` Hub id; else :class:`UsageError`.

    ``huggingface_hub`` decides what is valid; the namespace is required on top of that, because
    the card, the citation and the loading examples must name the repository users will load.
    """
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise UsageError(f"--repo-id {repo_id!r} is not a valid Hub repository id: "
                         f"{str(exc).splitlines()[0]}") from None
    if "/" not in repo_id:
        raise UsageError(f"--repo-id {repo_id!r} needs its namespace: ORG/NAME or USER/NAME")
    return repo_id


def _size_category(n: int) -> str:
    return "n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K"


def card_data(configs: list[ConfigTables], release: Release) -> DatasetCardData:
    """The card's metadata: Hub fields, ``configs``, ``dataset_info`` and the release."""
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs

    n_items = sum(t.num_rows for t in next(c for c in configs
                                           if c.name == DEFAULT_CONFIG).splits.values())
    data = DatasetCardData(
        pretty_name="affect-battery",
        license=DATA_LICENSE,
        language=["en"],
        multilinguality=["monolingual"],
        # texts drafted with AI writing assistants, then edited and checked by people
        language_creators=["machine-generated", "expert-generated"],
        # labels are the authors' design intentions; the reading norms are AI readers' reads
        annotations_creators=["expert-generated", "machine-generated"],
        source_datasets=["original"],
        size_categories=[_size_category(n_items)],
        task_categories=["text-classification"],
        task_ids=["multi-class-classification"],
        tags=list(TAGS),
    )
    MetadataConfigs({
        c.name: {"data_files": [{"split": s, "path": c.path(s)} for s in c.splits],
                 **({"default": True} if c.name == DEFAULT_CONFIG else {})}
        for c in configs
    }).to_dataset_card_data(data)
    infos = {}
    for c in configs:
        splits = SplitDict({s: SplitInfo(name=s, num_bytes=int(t.nbytes), num_examples=t.num_rows)
                            for s, t in c.splits.items()})
        infos[c.name] = DatasetInfo(
            config_name=c.name, features=features(c.spec), splits=splits,
            dataset_size=sum(int(t.nbytes) for t in c.splits.values()),
            download_size=sum(len(parquet_bytes(t)) for t in c.splits.values()))
    DatasetInfosDict(infos).to_dataset_card_data(data)
    data[RELEASE_KEY] = {"repo_id": release.repo_id, "version": release.version,
                         "tag": release.tag}
    return data


def front_matter(configs: list[ConfigTables], release: Release) -> str:
    """The ``---``-fenced YAML block that opens README.md."""
    return "---\n" + card_data(configs, release).to_yaml() + "\n---\n"


def read_release(card_text: str) -> Release | None:
    """The release a card describes, parsed by ``huggingface_hub`` (None: not our card)."""
    meta: Any = DatasetCard(card_text).data.get(RELEASE_KEY)
    if not isinstance(meta, dict) or not isinstance(meta.get("repo_id"), str):
        return None
    return Release(meta["repo_id"], str(meta.get("version", "")))
