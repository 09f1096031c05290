"""SQL views for people who review through SQL. Created and dropped by migrations.

Each version of a view is a separate constant that is never edited once a migration uses it: a
change is a new constant plus a new revision that drops the old view and creates the new one.
"""

# 0002: the first review queue
REVIEW_QUEUE_V1 = """
CREATE VIEW review_queue AS
SELECT
    p.id            AS pair_id,
    p.group_id      AS group_id,
    p.origin        AS origin,
    p.category      AS category,
    p.parent_id     AS parent_id,
    p.question_text AS question_text,
    p.answer_text   AS answer_text,
    parent.question_text AS parent_question_text,
    parent.answer_text   AS parent_answer_text,
    COALESCE(r.status, 'pending') AS status,
    r.reasons       AS reasons,
    r.reviewer      AS reviewer,
    r.updated_at    AS reviewed_at,
    g.operation     AS operation,
    g.model         AS model,
    g.template_name AS template_name,
    g.template_version AS template_version,
    p.version       AS version,
    p.created_at    AS created_at
FROM qa_pairs p
LEFT JOIN reviews r ON r.pair_id = p.id
LEFT JOIN qa_pairs parent ON parent.id = p.parent_id
LEFT JOIN generations g ON g.id = p.generation_id
"""

# 0003: adds the natural key, the split and the reviewer's note (same columns as `dobae export`)
REVIEW_QUEUE_V2 = """
CREATE VIEW review_queue AS
SELECT
    p.id            AS pair_id,
    p.key           AS key,
    p.group_id      AS group_id,
    p.origin        AS origin,
    p.category      AS category,
    p.split         AS split,
    p.parent_id     AS parent_id,
    p.question_text AS question_text,
    p.answer_text   AS answer_text,
    parent.question_text AS parent_question_text,
    parent.answer_text   AS parent_answer_text,
    COALESCE(r.status, 'pending') AS status,
    r.reasons       AS reasons,
    r.note          AS note,
    r.reviewer      AS reviewer,
    r.updated_at    AS reviewed_at,
    g.operation     AS operation,
    g.model         AS model,
    g.template_name AS template_name,
    g.template_version AS template_version,
    p.version       AS version,
    p.created_at    AS created_at
FROM qa_pairs p
LEFT JOIN reviews r ON r.pair_id = p.id
LEFT JOIN qa_pairs parent ON parent.id = p.parent_id
LEFT JOIN generations g ON g.id = p.generation_id
"""

REVIEW_QUEUE = REVIEW_QUEUE_V2  # the current definition
DROP_REVIEW_QUEUE = "DROP VIEW IF EXISTS review_queue"
