import hashlib

import pandas as pd

from affect_battery.core.battery import battery_frame
from affect_battery.validators.blind_read import agreement, load_ratings


def _sha(t: str) -> str:
    return hashlib.sha256(t.encode()).hexdigest()


def test_agreement_counts_only_current_texts(mini_battery):
    frame = battery_frame(mini_battery / "stimuli")
    by = frame.set_index("id")["text"]
    ratings = pd.DataFrame([
        {"round": 1, "reader": "r1", "item_id": "C-anger-d1-1", "label": "anger", "second": None,
         "text_sha256": _sha(by["C-anger-d1-1"])},
        {"round": 1, "reader": "r1", "item_id": "C-fear-d1-1", "label": "surprise",
         "second": None, "text_sha256": _sha(by["C-fear-d1-1"])},
        {"round": 1, "reader": "r1", "item_id": "N-anger-d1-1", "label": "none", "second": None,
         "text_sha256": _sha(by["N-anger-d1-1"])},
        {"round": 1, "reader": "r1", "item_id": "N-fear-d1-1", "label": "fear", "second": None,
         "text_sha256": _sha("an older version of the text")},
    ])
    a = agreement(frame, ratings)
    assert a["n_current"] == 3 and a["n_stale"] == 1
    assert a["by_split"]["clinical"]["agreement"] == 0.5
    assert a["by_split"]["clinical"]["meets_target"] is False
    assert a["by_split"]["neutral"] == {"agreement": 1.0, "n_ratings": 1, "items_rated": 1,
                                        "items_in_split": 16, "meets_target": True}
    assert a["disagreements"] == [{"item_id": "C-fear-d1-1", "label": "surprise"}]


def test_shipped_ratings_cover_the_battery_and_meet_targets():
    a = agreement(battery_frame(), load_ratings())
    for split, d in a["by_split"].items():
        assert d["items_rated"] == d["items_in_split"], split
        assert d["meets_target"], (split, d)
