"""Identity resolution: which records are the same person (deterministic rules, then Splink).

``resolve`` works on any table whose columns play known roles; the pipeline stage
(``identity/stage.py``) feeds it CRM customers, partner profiles, order contacts and web logins and
keeps person ids stable across runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from c360.identity.cluster import assign_ids, components
from c360.identity.match import LINKS, MatchSettings, links
from c360.identity.prepare import ROLES, features

__all__ = ["LINKS", "ROLES", "MatchSettings", "Resolved", "resolve"]


@dataclass(frozen=True)
class Resolved:
    """``clusters``: id column + cluster_id; ``pairs``: the links that made them; the model."""

    clusters: pa.Table
    pairs: pa.Table
    model: dict[str, Any]


def resolve(data: pa.Table, id_column: str, roles: dict[str, str], settings: MatchSettings = MatchSettings(),
            default_region: str | None = None) -> Resolved:
    """Cluster the rows of ``data`` into persons; ``roles`` maps a role (see ROLES) to a column."""
    feat = features(data, id_column, roles, default_region=default_region)
    pairs, model = links(feat, settings)
    keys = feat.column("record_key").combine_chunks()
    comp = components(keys, pairs)
    assigned = assign_ids(pa.table({"record_key": keys, "comp": comp}), None).persons
    # back to the caller's ids (record_key is "input:<id>"), in input order
    by_key = dict(zip(assigned.column("record_key").to_pylist(), assigned.column("person_id").to_pylist(),
                      strict=True))
    ids = data.column(id_column)
    cluster = [by_key[k] for k in keys.to_pylist()]
    strip = len("input:")
    pairs = pairs.set_column(0, "record_key_l", pa.array([k[strip:] for k in pairs.column(0).to_pylist()]))
    pairs = pairs.set_column(1, "record_key_r", pa.array([k[strip:] for k in pairs.column(1).to_pylist()]))
    pairs = pairs.rename_columns([f"{id_column}_l", f"{id_column}_r", *pairs.column_names[2:]])
    return Resolved(pa.table({id_column: ids, "cluster_id": pa.array(cluster, pa.string())}), pairs, model)
