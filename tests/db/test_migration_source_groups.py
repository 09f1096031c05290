"""Migration 0004 fills `qa_pairs.source_groups` of augmented pairs made before it existed, from
their generation's params (a compound's `partner_group`, a seeded pair's `source_pair_ids`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text

from db.migrate import downgrade, upgrade
from db.models import QAPair
from db.session import dispose_engines, get_engine, session_scope


def test_upgrade_fills_source_groups_of_older_augmented_pairs(db_url):
    downgrade(db_url, "0003")
    dispose_engines()
    now = datetime.now(UTC)
    gens = {
        1: ("compound", {"item": "pair:1:0", "partner_id": 2, "partner_group": "dacon:B"}),
        2: ("seeded", {"item": "keyword:곰팡이", "source_pair_ids": [2, 1, 2]}),
        3: ("paraphrase-questions", {"item": "pair:1"}),
    }
    pairs = [  # id, group, generation
        (1, "dacon:A", None),
        (2, "dacon:B", None),
        (3, "dacon:A", 1),
        (4, "dacon:B", 2),
        (5, "dacon:A", 3),
    ]
    with get_engine(db_url).begin() as conn:
        for gid, (op, params) in gens.items():
            conn.execute(
                text(
                    "INSERT INTO generations (id, operation, model, params, status, created_at) "
                    "VALUES (:id, :op, 'm', :params, 'ok', :now)"
                ),
                {"id": gid, "op": op, "params": json.dumps(params), "now": now},
            )
        for pid, group, gen in pairs:
            conn.execute(
                text(
                    "INSERT INTO qa_pairs (id, key, question_text, answer_text, origin, group_id, "
                    "generation_id, version, created_at, updated_at) VALUES (:id, :key, '질문', '답변', "
                    ":origin, :group, :gen, 1, :now, :now)"
                ),
                {
                    "id": pid,
                    "key": f"k{pid}",
                    "origin": "augment" if gen else "dacon",
                    "group": group,
                    "gen": gen,
                    "now": now,
                },
            )
    dispose_engines()
    upgrade(db_url)
    dispose_engines()
    with session_scope(db_url) as s:
        got = {p.id: (p.source_groups, p.groups) for p in s.query(QAPair).order_by(QAPair.id)}
    assert got == {
        1: (None, ["dacon:A"]),
        2: (None, ["dacon:B"]),
        3: (["dacon:A", "dacon:B"], ["dacon:A", "dacon:B"]),  # compound: both groups
        4: (["dacon:B", "dacon:A"], ["dacon:B", "dacon:A"]),  # seeded: every grounding pair's group
        5: (None, ["dacon:A"]),  # one group only: nothing to add
    }
