"""SQL views for people who review through SQL. Created and dropped by migrations."""

REVIEW_QUEUE = """
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

DROP_REVIEW_QUEUE = "DROP VIEW IF EXISTS review_queue"
